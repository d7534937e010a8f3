package record

import "bytes"

// The top-level fields of an access record that carry the raw material of custom fields
// (docs/processing.md#custom-fields).
const (
	FieldRequestHeaders  = "RequestHeaders"
	FieldResponseHeaders = "ResponseHeaders"
	FieldCookies         = "Cookies"
)

// AppendHeader appends to dst the value of the header name in the raw JSON object headers (name →
// value), matching names ASCII case-insensitively; the first match wins. A string value is decoded,
// a number or bool is its JSON text, an array of strings is joined with ", " (repeated header lines).
// ok is false when the header is absent or its value is null, an object or an array of non-strings.
func AppendHeader(dst, headers []byte, name string) (out []byte, ok bool) {
	if len(headers) == 0 {
		return dst, false
	}
	var keyBuf [64]byte
	for it := MembersOf(headers); it.Next(); {
		key := it.Key()
		if it.KeyEscaped() {
			key = AppendUnescaped(keyBuf[:0], key)
		}
		if !EqualFoldASCII(key, name) {
			continue
		}
		return AppendHeaderValue(dst, it.Value())
	}
	return dst, false
}

// FindHeaders looks up all of names (lower-case) in the raw headers object in one pass, matching
// names ASCII case-insensitively: out[j] receives the first member matching names[j] (the zero Value
// when absent). It returns the value of the first "cookie" header as well.
func FindHeaders(headers []byte, names []string, out []Value) (cookie Value) {
	clear(out)
	if len(headers) == 0 {
		return Value{}
	}
	var keyBuf [64]byte
	for it := MembersOf(headers); it.Next(); {
		key := it.Key()
		if it.KeyEscaped() {
			key = AppendUnescaped(keyBuf[:0], key)
		}
		if cookie.Kind == Invalid && EqualFoldASCII(key, "cookie") {
			cookie = it.Value()
		}
		for j, n := range names {
			if out[j].Kind == Invalid && EqualFoldASCII(key, n) {
				out[j] = it.Value()
			}
		}
	}
	return cookie
}

// CookieFromHeader returns the value of the cookie name (case-sensitive) in the decoded text of a
// Cookie header ("a=1; b=2"); a value in double quotes loses them.
func CookieFromHeader(header []byte, name string) ([]byte, bool) {
	for len(header) > 0 {
		var pair []byte
		if i := bytes.IndexByte(header, ';'); i >= 0 {
			pair, header = header[:i], header[i+1:]
		} else {
			pair, header = header, nil
		}
		eq := bytes.IndexByte(pair, '=')
		if eq < 0 || string(bytes.TrimSpace(pair[:eq])) != name {
			continue
		}
		val := bytes.TrimSpace(pair[eq+1:])
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		return val, true
	}
	return nil, false
}

// AppendHeaderValue appends the text of a header value as AppendHeader does: a string decoded, a
// number or bool as its JSON text, an array of strings joined with ", "; ok is false for other values.
func AppendHeaderValue(dst []byte, v Value) ([]byte, bool) {
	return appendJoined(dst, v, ", ")
}

// AppendCookieHeaderValue appends the text of a Cookie header value as AppendHeaderValue does, but
// joins repeated Cookie headers (an array) with "; " as RFC 6265 requires.
func AppendCookieHeaderValue(dst []byte, v Value) ([]byte, bool) {
	return appendJoined(dst, v, "; ")
}

func appendJoined(dst []byte, v Value, sep string) ([]byte, bool) {
	switch v.Kind {
	case String, Number, Bool:
		return v.AppendText(dst), true
	case Array:
		n := len(dst)
		first := true
		for i := skipWS(v.Raw, 1); i < len(v.Raw); {
			end, kind, esc, err := scanValue(v.Raw, i, MaxDepth-1)
			if err != nil || kind != String {
				return dst[:n], false
			}
			if !first {
				dst = append(dst, sep...)
			}
			first = false
			dst = Value{Raw: v.Raw[i:end], Kind: String, Escaped: esc}.AppendText(dst)
			i = skipWS(v.Raw, end)
			if i < len(v.Raw) && v.Raw[i] == ',' {
				i = skipWS(v.Raw, i+1)
				continue
			}
			break
		}
		return dst, !first
	}
	return dst, false
}

// AppendCookie appends to dst the value of the cookie name (case-sensitive): from the raw JSON object
// cookies (name → value) when it has the cookie, otherwise from the Cookie header in the raw
// request-headers object reqHeaders ("a=1; b=2"; a value in double quotes loses them). ok is false
// when the cookie is absent.
func AppendCookie(dst, cookies, reqHeaders []byte, name string) (out []byte, ok bool) {
	if len(cookies) > 0 {
		var keyBuf [64]byte
		for it := MembersOf(cookies); it.Next(); {
			key := it.Key()
			if it.KeyEscaped() {
				key = AppendUnescaped(keyBuf[:0], key)
			}
			if string(key) == name {
				if out, ok := AppendHeaderValue(dst, it.Value()); ok {
					return out, true
				}
			}
		}
	}
	if len(reqHeaders) == 0 {
		return dst, false
	}
	n := len(dst)
	dst, ok = AppendCookieHeaderValue(dst, FindHeaders(reqHeaders, nil, nil))
	if !ok {
		return dst[:n], false
	}
	val, ok := CookieFromHeader(dst[n:], name)
	if !ok {
		return dst[:n], false
	}
	// val lies inside dst[n:]: move it to the front (append copies with memmove semantics).
	return append(dst[:n], val...), true
}

// EqualFoldASCII reports whether b and s are equal under ASCII case folding.
func EqualFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// AppendLowerASCII appends b with ASCII letters lower-cased.
func AppendLowerASCII(dst, b []byte) []byte {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
