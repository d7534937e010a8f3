package acs3

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Algorithm is the only signature algorithm a Verifier accepts.
const Algorithm = "ACS3-HMAC-SHA256"

// DefaultMaxSkew is how far x-acs-date may be from the server's clock, either way, by default. It is
// Alibaba Cloud's.
const DefaultMaxSkew = 15 * time.Minute

// DateLayout is the layout of x-acs-date: ISO 8601 in UTC, to the second (yyyy-MM-ddTHH:mm:ssZ).
const DateLayout = "2006-01-02T15:04:05Z"

// The headers of the signature protocol.
const (
	HeaderAuthorization  = "Authorization"
	HeaderDate           = "x-acs-date"
	HeaderSignatureNonce = "x-acs-signature-nonce"
	HeaderContentSHA256  = "x-acs-content-sha256"
)

// Error codes of a refusal; they are the codes Alibaba Cloud's API gateway answers with for the same
// problems, except MissingAuthorization, which follows its Missing<Parameter> naming.
const (
	// CodeMissingAuthorization (400): the request has no Authorization header.
	CodeMissingAuthorization = "MissingAuthorization"
	// CodeIncompleteSignature (400): the Authorization header is malformed, names an algorithm
	// other than ACS3-HMAC-SHA256, or leaves out a header that must be signed.
	CodeIncompleteSignature = "IncompleteSignature"
	// CodeMissingParameter (400): x-acs-date, x-acs-signature-nonce or x-acs-content-sha256 is
	// missing.
	CodeMissingParameter = "MissingParameter"
	// CodeInvalidParameter (400): the query string cannot be decoded.
	CodeInvalidParameter = "InvalidParameter"
	// CodeAccessKeyNotFound (404): the AccessKey ID of the Credential is not one of the Keys.
	CodeAccessKeyNotFound = "InvalidAccessKeyId.NotFound"
	// CodeTimeStampFormat (400): x-acs-date is not yyyy-MM-ddTHH:mm:ssZ.
	CodeTimeStampFormat = "InvalidTimeStamp.Format"
	// CodeTimeStampExpired (400): x-acs-date is more than MaxSkew away from the server's clock.
	CodeTimeStampExpired = "InvalidTimeStamp.Expired"
	// CodeSignatureDoesNotMatch (400): the signature is not the one the server computes, or the
	// body received is not the one x-acs-content-sha256 describes.
	CodeSignatureDoesNotMatch = "SignatureDoesNotMatch"
	// CodeSignatureNonceUsed (400): an accepted request was signed with the same nonce already.
	CodeSignatureNonceUsed = "SignatureNonceUsed"
)

// maxSignedHeaders bounds the SignedHeaders list (the SDK signs about ten).
const maxSignedHeaders = 64

// Error is a refused request: the HTTP status, the error code and the message the API answers with
// (as {"RequestId", "Code", "Message"}); the SDK surfaces Code as its error code. A Message never
// holds a secret.
type Error struct {
	Status  int
	Code    string
	Message string
}

// Error returns the code and the message.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

func refuse(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Verifier checks the ACS3-HMAC-SHA256 signature of requests against a set of AccessKeys, and that
// no signed request is accepted twice. Set its fields, if at all, before its first use; it is then
// safe for concurrent use.
type Verifier struct {
	// MaxSkew is how far x-acs-date may be from Now, either way (DefaultMaxSkew if zero or
	// negative). The nonces of accepted requests are remembered for 2×MaxSkew.
	MaxSkew time.Duration
	// MaxNonces caps the nonces remembered (DefaultMaxNonces if zero or negative); once it is
	// reached, the oldest is forgotten to make room.
	MaxNonces int
	// Now is the server's clock (time.Now if nil); tests set it.
	Now func() time.Time

	keys   Keys
	nonces nonceCache
}

// NewVerifier returns a Verifier that accepts the signatures of keys, with the default bounds.
func NewVerifier(keys Keys) *Verifier {
	return &Verifier{keys: keys, MaxSkew: DefaultMaxSkew, MaxNonces: DefaultMaxNonces, Now: time.Now}
}

// Verify checks that r, whose body has been read into body, is signed with ACS3-HMAC-SHA256 by one
// of the Verifier's AccessKeys, and returns that AccessKey's ID. It refuses the request (the Error
// says why, with the status and code to answer) if
//   - the Authorization header is missing or malformed, or names another algorithm;
//   - a header that must be signed is not (host, every x-acs-* header, content-type if present);
//   - x-acs-date, x-acs-signature-nonce or x-acs-content-sha256 is missing;
//   - the AccessKey ID is unknown;
//   - x-acs-date is not yyyy-MM-ddTHH:mm:ssZ, or is more than MaxSkew from Now;
//   - the signature is not the one computed from the request and the AccessKey's secret (the
//     message then gives the string to sign the server computed, as Alibaba Cloud does);
//   - body is not the content that x-acs-content-sha256 describes;
//   - an accepted request already used the same x-acs-signature-nonce with the same AccessKey.
//
// Only a request that passes every other check has its nonce remembered, so only holders of a key
// can fill the nonce cache. The returned error is a *Error: compare it with nil as such.
func (v *Verifier) Verify(r *http.Request, body []byte) (accessKeyID string, err *Error) {
	auths := r.Header.Values(HeaderAuthorization)
	if len(auths) == 0 || (len(auths) == 1 && strings.TrimSpace(auths[0]) == "") {
		return "", refuse(http.StatusBadRequest, CodeMissingAuthorization,
			"The Authorization header that is mandatory for processing this request is not supplied: sign the request with %s.", Algorithm)
	}
	if len(auths) > 1 {
		return "", refuse(http.StatusBadRequest, CodeIncompleteSignature,
			"The request signature does not conform to Aliyun standards: the Authorization header is given %d times.", len(auths))
	}
	a, err := parseAuthorization(strings.TrimSpace(auths[0]))
	if err != nil {
		return "", err
	}

	// The values as signed: trimmed (the nonce cache is keyed by what the signature covers).
	var values [3]string
	for i, name := range [...]string{HeaderDate, HeaderSignatureNonce, HeaderContentSHA256} {
		vs := r.Header.Values(name)
		if len(vs) > 1 {
			return "", refuse(http.StatusBadRequest, CodeIncompleteSignature,
				"The request signature does not conform to Aliyun standards: the %s header is given %d times.", name, len(vs))
		}
		if len(vs) == 0 || strings.TrimSpace(vs[0]) == "" {
			return "", refuse(http.StatusBadRequest, CodeMissingParameter,
				"The input parameter %q that is mandatory for processing this request is not supplied.", name)
		}
		values[i] = strings.TrimSpace(vs[0])
	}
	date, nonce, payload := values[0], values[1], values[2]
	if err := checkSignedHeaders(r, a.signedHeaders); err != nil {
		return "", err
	}

	secret, ok := v.keys.secret(a.keyID)
	if !ok {
		return "", refuse(http.StatusNotFound, CodeAccessKeyNotFound, "Specified access key is not found: %q.", truncate(a.keyID))
	}

	now := v.now()
	skew := v.maxSkew()
	signed, perr := time.Parse(DateLayout, date)
	if perr != nil || signed.Format(DateLayout) != date { // Parse would take fractional seconds
		return "", refuse(http.StatusBadRequest, CodeTimeStampFormat,
			"Specified time stamp or date value is not well formatted: x-acs-date %q is not yyyy-MM-ddTHH:mm:ssZ (UTC).", truncate(date))
	}
	if d := now.Sub(signed); d > skew || d < -skew {
		return "", refuse(http.StatusBadRequest, CodeTimeStampExpired,
			"Specified time stamp or date value is expired: x-acs-date is %s, the server's time is %s, at most %s apart is accepted.",
			signed.Format(DateLayout), now.UTC().Format(DateLayout), skew)
	}

	canonical, qerr := canonicalRequest(r, a, payload)
	if qerr != nil {
		return "", refuse(http.StatusBadRequest, CodeInvalidParameter, "The query string cannot be decoded: %v.", qerr)
	}
	stringToSign := StringToSign(canonical)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(stringToSign))
	if !hmac.Equal(mac.Sum(nil), a.signature) {
		return "", refuse(http.StatusBadRequest, CodeSignatureDoesNotMatch,
			"Specified signature is not matched with our calculation. server string to sign is:%s", stringToSign)
	}

	sum := sha256.Sum256(body)
	if claimed, herr := hex.DecodeString(payload); herr != nil || !hmac.Equal(claimed, sum[:]) {
		return "", refuse(http.StatusBadRequest, CodeSignatureDoesNotMatch,
			"The body received does not match x-acs-content-sha256: the header is %q but the %d-byte body hashes to %s (was it changed on the way?).",
			truncate(payload), len(body), hex.EncodeToString(sum[:]))
	}

	expiry := now.Add(2 * skew).UnixNano()
	if v.nonces.use(makeNonceKey(a.keyID, nonce), now.UnixNano(), expiry, v.maxNonces()) {
		return "", refuse(http.StatusBadRequest, CodeSignatureNonceUsed,
			"Specified signature nonce was used already: each request must have its own x-acs-signature-nonce.")
	}
	return a.keyID, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

func (v *Verifier) maxNonces() int {
	if v.MaxNonces > 0 {
		return v.MaxNonces
	}
	return DefaultMaxNonces
}

// authorization is a parsed Authorization header.
type authorization struct {
	keyID         string
	signedHeaders []string // lower-case, sorted
	signedList    string   // as sent: the names joined by ';'
	signature     []byte
}

// parseAuthorization parses "ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>".
func parseAuthorization(h string) (authorization, *Error) {
	malformed := func(format string, args ...any) *Error {
		return refuse(http.StatusBadRequest, CodeIncompleteSignature,
			"The request signature does not conform to Aliyun standards: "+format+
				" (expected Authorization: "+Algorithm+" Credential=<AccessKeyId>,SignedHeaders=<names>,Signature=<hex>).", args...)
	}
	alg, rest, _ := strings.Cut(h, " ")
	if alg != Algorithm {
		return authorization{}, malformed("the signature algorithm %q is not supported, only %s is", truncate(alg), Algorithm)
	}
	var a authorization
	var seen [3]bool
	for _, part := range strings.Split(rest, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return authorization{}, malformed("%q is not name=value", truncate(part))
		}
		var i int
		switch name {
		case "Credential":
			i, a.keyID = 0, value
		case "SignedHeaders":
			i, a.signedList = 1, value
		case "Signature":
			i = 2
			sig, err := hex.DecodeString(value)
			if err != nil || len(sig) != sha256.Size {
				return authorization{}, malformed("Signature is not %d hexadecimal digits", 2*sha256.Size)
			}
			a.signature = sig
		default:
			return authorization{}, malformed("unknown field %q", truncate(name))
		}
		if seen[i] {
			return authorization{}, malformed("%s is given twice", name)
		}
		seen[i] = true
	}
	for i, name := range [...]string{"Credential", "SignedHeaders", "Signature"} {
		if !seen[i] {
			return authorization{}, malformed("%s is missing", name)
		}
	}
	if a.keyID == "" {
		return authorization{}, malformed("Credential is empty")
	}
	a.signedHeaders = strings.Split(a.signedList, ";")
	if len(a.signedHeaders) > maxSignedHeaders {
		return authorization{}, malformed("SignedHeaders names more than %d headers", maxSignedHeaders)
	}
	for i, name := range a.signedHeaders {
		if name == "" || !isLowerToken(name) {
			return authorization{}, malformed("SignedHeaders %q is not a list of lower-case header names joined by ';'", truncate(a.signedList))
		}
		if i > 0 && a.signedHeaders[i-1] >= name {
			return authorization{}, malformed("SignedHeaders %q is not sorted or names a header twice", truncate(a.signedList))
		}
	}
	return a, nil
}

// checkSignedHeaders refuses a request that does not sign host, each of its x-acs-* headers and its
// content-type, or that signs a header it does not have.
func checkSignedHeaders(r *http.Request, signed []string) *Error {
	incomplete := func(format string, args ...any) *Error {
		return refuse(http.StatusBadRequest, CodeIncompleteSignature,
			"The request signature does not conform to Aliyun standards: "+format+".", args...)
	}
	has := func(name string) bool {
		i := sort.SearchStrings(signed, name)
		return i < len(signed) && signed[i] == name
	}
	if !has("host") {
		return incomplete("SignedHeaders must include host")
	}
	for name := range r.Header {
		lower := strings.ToLower(name)
		if (strings.HasPrefix(lower, "x-acs-") || lower == "content-type") && !has(lower) {
			return incomplete("the request has a %s header that SignedHeaders does not include", truncate(lower))
		}
	}
	for _, name := range signed {
		if name != "host" && len(r.Header.Values(name)) == 0 {
			return incomplete("SignedHeaders includes %s, which the request does not have", name)
		}
	}
	return nil
}

// canonicalRequest returns the canonical request of r: method, canonical URI, canonical query
// string, canonical headers, signed header names and hashed payload, each on its own line.
func canonicalRequest(r *http.Request, a authorization, payload string) (string, error) {
	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	uri := r.URL.EscapedPath()
	if uri == "" {
		uri = "/"
	}
	var b strings.Builder
	b.Grow(len(r.Method) + len(uri) + len(query) + len(a.signedList) + len(payload) + 64*len(a.signedHeaders) + 8)
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	for _, name := range a.signedHeaders {
		b.WriteString(name)
		b.WriteByte(':')
		if name == "host" {
			b.WriteString(strings.TrimSpace(r.Host))
		} else {
			writeHeaderValues(&b, r.Header.Values(name))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(a.signedList)
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String(), nil
}

// writeHeaderValues writes the values of a header, trimmed, sorted and joined by ','.
func writeHeaderValues(b *strings.Builder, values []string) {
	if len(values) == 1 {
		b.WriteString(strings.TrimSpace(values[0]))
		return
	}
	vs := make([]string, len(values))
	for i, v := range values {
		vs[i] = strings.TrimSpace(v)
	}
	sort.Strings(vs)
	b.WriteString(strings.Join(vs, ","))
}

// StringToSign returns the string that ACS3-HMAC-SHA256 signs for a canonical request:
// "ACS3-HMAC-SHA256\n" followed by the hexadecimal SHA-256 of the canonical request.
func StringToSign(canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + hex.EncodeToString(sum[:])
}

// canonicalQuery returns the canonical query string of a raw (URL-encoded) query: every parameter
// decoded, sorted by name then value, name and value percent-encoded per RFC 3986 (unreserved
// characters kept, everything else %XX, a space %20), as name=value joined by '&'.
//
// The official Go SDK encodes the values only, the specification names and values; the two agree on
// every parameter name made of unreserved characters, as all of ESA's are.
func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	size := len(raw)
	type param struct{ name, value string }
	params := make([]param, 0, strings.Count(raw, "&")+1)
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if seg == "" {
			continue
		}
		name, value, _ := strings.Cut(seg, "=")
		n, err := url.QueryUnescape(name)
		if err != nil {
			return "", fmt.Errorf("parameter name %q: %w", truncate(name), err)
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			return "", fmt.Errorf("parameter %q: %w", truncate(n), err)
		}
		params = append(params, param{n, v})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].name != params[j].name {
			return params[i].name < params[j].name
		}
		return params[i].value < params[j].value
	})
	var b strings.Builder
	b.Grow(size + size/2)
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		percentEncode(&b, p.name)
		b.WriteByte('=')
		percentEncode(&b, p.value)
	}
	return b.String(), nil
}

const upperHex = "0123456789ABCDEF"

// percentEncode writes s percent-encoded per RFC 3986: unreserved characters (A-Z a-z 0-9 - . _ ~)
// as they are, every other byte as %XX with upper-case hexadecimal digits.
func percentEncode(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
}

// isLowerToken reports whether s is a header name (an RFC 9110 token) without upper-case letters.
func isLowerToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
