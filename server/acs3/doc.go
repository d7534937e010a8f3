// Package acs3 verifies, on the server side, the ACS3-HMAC-SHA256 signatures with which Alibaba
// Cloud's SDKs (among them github.com/alibabacloud-go/esa-20240910) sign OpenAPI requests, so that
// esa-connect serve accepts a request only from a holder of one of its AccessKey pairs.
//
// # What is verified
//
// A request carries
//
//	Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<names>,Signature=<hex>
//	x-acs-date: 2024-09-10T12:00:00Z
//	x-acs-signature-nonce: <unique per request>
//	x-acs-content-sha256: <hex SHA-256 of the body>
//
// and its signature is hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex(SHA-256(canonical request))))
// where the canonical request is
//
//	method \n canonical URI \n canonical query \n canonical headers \n signed header names \n x-acs-content-sha256
//
// with the query's parameters decoded, sorted and percent-encoded per RFC 3986, and each signed
// header as "name:trimmed value\n" in the order of SignedHeaders (lower-case, sorted, ';'-joined).
//
// Verifier.Verify recomputes that signature with the secret of the named AccessKey and compares it
// in constant time. It also requires that host, every x-acs-* header of the request (so x-acs-action
// and x-acs-version, which choose the operation) and content-type are signed, that x-acs-date is
// within MaxSkew (15 minutes by default) of the server's clock, that the body received hashes to
// x-acs-content-sha256 (the signature covers that header, not the body itself), and that the nonce
// has not been used by an accepted request of the same AccessKey. Refusals carry the status and
// error code Alibaba Cloud answers with (see the Code constants); a SignatureDoesNotMatch message
// gives the string to sign the server computed, which holds no secret, so that a client can find
// where its canonical request differs.
//
// The Host header is signed: a reverse proxy in front of the server must pass it unchanged.
//
// # Bounds
//
// A nonce is remembered from the moment its request is accepted for 2×MaxSkew, which covers the
// whole time its x-acs-date is acceptable, and then forgotten. At most MaxNonces nonces (1,000,000
// by default) are remembered; each takes about 60 bytes (a 128-bit hash of AccessKey ID and nonce
// in a set, and the hash and its expiry in a ring), so the cache stays around 60 MB at the default
// cap, and gives its memory back once the nonces have expired. Should more requests than that be accepted within 2×MaxSkew, the oldest nonces are forgotten
// first; only requests that pass every other check are remembered, so only holders of a key can
// fill the cache. The Authorization header is limited to 64 signed headers; values quoted in
// messages are cut to 64 bytes. Verify does not read the body: the caller reads it (and bounds its
// size) before calling it.
//
// AccessKey pairs come from the environment and an optional keys file (LoadKeys); a secret is
// never put in an error, a log line or a String.
package acs3
