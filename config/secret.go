package config

import (
	"net/url"
	"strings"
)

// MaskKeyID returns an access key ID (AccessKey ID, AWS access key id) as messages show it: its first
// four and last three characters with '*' for every one between, so that it can be recognised without
// being printed ("LTAI5tAbCdEfGhIjKlMn" → "LTAI*************lMn"). An ID of at most 8 characters is
// all '*'. Every error and log line that names a key ID uses it; quote the result with %q.
func MaskKeyID(id string) string {
	r := []rune(id)
	if len(r) <= 8 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:4]) + strings.Repeat("*", len(r)-7) + string(r[len(r)-3:])
}

// RedactURL returns a URL, or a bare host[:port], as errors and logs show it: without user info, with
// REDACTED in place of the query and without a fragment, so that neither a password nor a token-like
// query value is printed: "https://u:p@host:8443/in?token=x" → "https://host:8443/in?REDACTED". A URL
// that does not parse loses everything up to its last '@' (a password may hold '/', '?' or '#').
func RedactURL(s string) string {
	scheme, rest := "", s
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, rest = s[:i+3], s[i+3:]
	}
	userEnd := len(rest)
	if _, err := url.Parse(s); err == nil {
		// The authority ends at the first '/', '?' or '#' (RFC 3986 §3.2).
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			userEnd = i
		}
	}
	if at := strings.LastIndexByte(rest[:userEnd], '@'); at >= 0 {
		rest = rest[at+1:]
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		query := rest[i] == '?'
		rest = rest[:i]
		if query {
			rest += "?REDACTED"
		}
	}
	return scheme + rest
}

// URLSecrets are the secret parts of a URL that MapURLSecrets rewrites: given each part as written
// (percent-encoded) they return its replacement.
type URLSecrets struct {
	User, Password func(v string) string
	// Query rewrites the value of a query parameter whose name (decoded) is token-like (IsSecretName).
	Query func(name, v string) string
}

// MapURLSecrets returns u (a URL, or host[:port]) with its user name, password and token-like query
// values replaced by f; every other byte is kept as written. The one place that knows where the
// secrets of a URL are: the translator makes them references, an export masks them.
func MapURLSecrets(u string, f URLSecrets) string {
	var out strings.Builder
	rest := u
	if i := strings.Index(rest, "://"); i >= 0 {
		out.WriteString(rest[:i+3])
		rest = rest[i+3:]
	}
	// The authority ends at the first '/', '?' or '#' (RFC 3986 §3.2), the user info at its last '@'.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		user, pass, hasPass := strings.Cut(rest[:at], ":")
		out.WriteString(f.User(user))
		if hasPass {
			out.WriteString(":" + f.Password(pass))
		}
		out.WriteByte('@')
		rest = rest[at+1:]
	}
	fragment := ""
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest, fragment = rest[:i], rest[i:]
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	out.WriteString(path)
	if hasQuery {
		out.WriteByte('?')
		for j, param := range strings.Split(query, "&") {
			if j > 0 {
				out.WriteByte('&')
			}
			name, value, hasValue := strings.Cut(param, "=")
			plain := name
			if n, err := url.QueryUnescape(name); err == nil {
				plain = n
			}
			out.WriteString(name)
			if hasValue {
				if IsSecretName(plain) {
					value = f.Query(plain, value)
				}
				out.WriteString("=" + value)
			}
		}
	}
	return out.String() + fragment
}

// IsSecretName reports whether an HTTP header or query parameter name is token-like, so that its
// value is a secret: the translator writes such values as environment references, never literally.
// The test is a case-insensitive substring match against
//
//	auth cookie cred hmac jwt key pass pwd secret session sig token
//
// which covers Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key, apikey, api_key,
// access_token, X-Amz-Security-Token, password, passwd, credential, signature, sign, session_id and
// the like. A name matched needlessly costs nothing but an environment variable (the request is the
// same), so the list errs on the side of matching.
func IsSecretName(name string) bool {
	n := strings.ToLower(name)
	for _, part := range [...]string{"auth", "cookie", "cred", "hmac", "jwt", "key", "pass", "pwd", "secret", "session", "sig", "token"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}
