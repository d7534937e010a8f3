// Package authkey is ESA's HTTP server authentication: the auth_key query parameter
// "<expiry>-<rand>-<md5hash>" that an ESA HTTP delivery signs every request with, and its verification
// as a receiver (or the esa_http_server ingest) does it.
package authkey

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Param is the name of the query parameter that carries the ESA server-authentication signature.
const Param = "auth_key"

// Reasons a verifier rejects an auth_key. Verify wraps one of them, so callers test with
// errors.Is.
var (
	// ErrMissing: the request has no auth_key.
	ErrMissing = errors.New("auth_key missing")
	// ErrMalformed: the auth_key is not <timestamp>-<rand>-<md5hash>.
	ErrMalformed = errors.New("auth_key malformed")
	// ErrExpired: the timestamp (the expiry) has passed.
	ErrExpired = errors.New("auth_key expired")
	// ErrBadHash: the md5hash does not match the path, timestamp, rand and private key.
	ErrBadHash = errors.New("auth_key signature mismatch")
)

// Hash returns the lower-case hex MD5 of "<uriPath>-<timestamp>-<rnd>-<privateKey>", the md5hash of
// ESA's server authentication (docs/destinations.md#server-authentication).
func Hash(uriPath string, timestamp int64, rnd, privateKey string) string {
	h := md5.New()
	h.Write([]byte(uriPath))
	h.Write([]byte{'-'})
	h.Write(strconv.AppendInt(nil, timestamp, 10))
	h.Write([]byte{'-'})
	h.Write([]byte(rnd))
	h.Write([]byte{'-'})
	h.Write([]byte(privateKey))
	var sum [md5.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// Sign returns the auth_key value "<timestamp>-<rnd>-<md5hash>" for uriPath, where timestamp is
// the expiry in Unix seconds and rnd a random string without '-'.
func Sign(uriPath string, timestamp int64, rnd, privateKey string) string {
	return strconv.FormatInt(timestamp, 10) + "-" + rnd + "-" + Hash(uriPath, timestamp, rnd, privateKey)
}

// Signer makes fresh auth_key values: each call to Sign uses a new random part and an expiry of
// now + ExpiredTime. The zero value is not usable; build it with NewSigner.
type Signer struct {
	path       string
	privateKey string
	expiry     time.Duration
}

// NewSigner returns a signer for the signed path uriPath (without query string), private key and
// validity expiredTime (> 0).
func NewSigner(uriPath, privateKey string, expiredTime time.Duration) (*Signer, error) {
	if err := ValidatePrivateKey(privateKey); err != nil {
		return nil, err
	}
	if expiredTime <= 0 {
		return nil, errors.New("auth.expired_time must be > 0 seconds")
	}
	if uriPath == "" {
		uriPath = "/"
	}
	return &Signer{path: uriPath, privateKey: privateKey, expiry: expiredTime}, nil
}

// Path returns the signed path.
func (s *Signer) Path() string { return s.path }

// Sign returns a fresh auth_key valid until now + the expired time.
func (s *Signer) Sign(now time.Time) string {
	ts := now.Add(s.expiry).Unix()
	return Sign(s.path, ts, randomPart(), s.privateKey)
}

// randomPart is a version-4 UUID written without dashes (32 lower-case hex characters).
func randomPart() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; a clock-derived value keeps keys unique.
		ns := uint64(time.Now().UnixNano())
		for i := range 8 {
			b[i] = byte(ns >> (8 * i))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// ValidatePrivateKey checks ESA's rule for a private key: 6–18 characters, letters and digits only, at
// least one of each. The error never contains the key.
func ValidatePrivateKey(key string) error {
	if n := len(key); n < 6 || n > 18 {
		return fmt.Errorf("auth.private_key must be 6–18 characters, got %d", len(key))
	}
	letter, digit := false, false
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		default:
			return fmt.Errorf("auth.private_key may contain only letters and digits (character %d is not)", i+1)
		}
	}
	if !letter || !digit {
		return errors.New("auth.private_key must contain at least one letter and one digit")
	}
	return nil
}

// Verify checks an auth_key against the signed path uriPath and privateKey at time now, as an
// ESA HTTP receiver does: the key must be "<timestamp>-<rand>-<md5hash>", the timestamp (the expiry,
// Unix seconds) must not have passed, and md5hash must equal Hash(uriPath, timestamp, rand,
// privateKey). A nil result means the request is authentic; otherwise the error wraps one of
// ErrMissing, ErrMalformed, ErrExpired or ErrBadHash, and a receiver answers 403 with
// it. The error never contains the private key.
func Verify(authKey, uriPath, privateKey string, now time.Time) error {
	if authKey == "" {
		return ErrMissing
	}
	first := strings.IndexByte(authKey, '-')
	last := strings.LastIndexByte(authKey, '-')
	if first <= 0 || last == first || last == len(authKey)-1 {
		return fmt.Errorf("%w: want <timestamp>-<rand>-<md5hash>", ErrMalformed)
	}
	tsText, rnd, hash := authKey[:first], authKey[first+1:last], authKey[last+1:]
	if strings.IndexByte(rnd, '-') >= 0 || rnd == "" {
		return fmt.Errorf("%w: want <timestamp>-<rand>-<md5hash> with a rand without '-'", ErrMalformed)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || ts < 0 {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrMalformed, truncate(tsText, 20))
	}
	if len(hash) != 2*md5.Size {
		return fmt.Errorf("%w: md5hash must be 32 hex characters", ErrMalformed)
	}
	if now.Unix() > ts {
		return fmt.Errorf("%w: at %s (now %s)", ErrExpired,
			time.Unix(ts, 0).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	want := Hash(uriPath, ts, rnd, privateKey)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(hash)), []byte(want)) != 1 {
		return fmt.Errorf("%w for path %q", ErrBadHash, uriPath)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
