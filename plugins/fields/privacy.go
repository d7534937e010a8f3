package fields

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/maphash"
	"net/netip"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/record"
)

// Transform kinds.
const (
	// TransformHash replaces a value with HMAC-SHA256(key, value), hex or base64url.
	TransformHash = "hash"
	// TransformTruncateIP keeps the network part of an IP address (IPv4 /24, IPv6 /48 by default).
	TransformTruncateIP = "truncate_ip"
	// TransformRedact replaces a value with a fixed string.
	TransformRedact = "redact"
)

// Transform is one privacy transform of a delivered field.
type Transform struct {
	// Field is the delivered field it applies to (a string field of the task's fields).
	Field string
	// Kind is TransformHash, TransformTruncateIP or TransformRedact.
	Kind string
	// Key and Encoding ("hex" or "base64url") are the hash's.
	Key, Encoding string
	// IPv4Prefix and IPv6Prefix are truncate_ip's prefix lengths (24 and 48 when 0).
	IPv4Prefix, IPv6Prefix int
	// With is redact's replacement.
	With string
}

// transformer is a compiled Transform.
type transformer struct {
	kind       string
	key        []byte
	b64        bool
	v4, v6     int
	redactWith []byte // the replacement as a JSON string
}

// compileTransforms checks ts against the task's output fields and attaches each to its field.
func (p *Processor) compileTransforms(ts []Transform) []string {
	var problems []string
	byName := map[string]int{}
	for i, f := range p.fields {
		byName[f.name] = i
	}
	for i, t := range ts {
		at := fmt.Sprintf("transforms[%d]", i)
		fi, ok := byName[t.Field]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s.field: %q is not one of the delivered fields", at, t.Field))
			continue
		}
		f := &p.fields[fi]
		if f.tr != nil {
			problems = append(problems, fmt.Sprintf("%s.field: %q has a transform already", at, t.Field))
			continue
		}
		if f.typ != config.TypeString {
			problems = append(problems, fmt.Sprintf("%s.field: %q is a %s field; transforms apply to string fields", at, t.Field, f.typ))
			continue
		}
		tr := &transformer{kind: t.Kind}
		switch t.Kind {
		case TransformHash:
			if len(t.Key) < config.MinHashKeyBytes {
				problems = append(problems, fmt.Sprintf("%s.hash.key: at least %d bytes", at, config.MinHashKeyBytes))
				continue
			}
			tr.key = []byte(t.Key)
			switch t.Encoding {
			case "", "hex":
			case "base64url":
				tr.b64 = true
			default:
				problems = append(problems, fmt.Sprintf("%s.hash.encoding: %q is not hex or base64url", at, t.Encoding))
				continue
			}
		case TransformTruncateIP:
			tr.v4, tr.v6 = t.IPv4Prefix, t.IPv6Prefix
			if tr.v4 == 0 {
				tr.v4 = config.DefaultIPv4Prefix
			}
			if tr.v6 == 0 {
				tr.v6 = config.DefaultIPv6Prefix
			}
			if tr.v4 < 0 || tr.v4 > 32 || tr.v6 < 0 || tr.v6 > 128 {
				problems = append(problems, fmt.Sprintf("%s.truncate_ip: prefixes must be 0–32 (IPv4) and 0–128 (IPv6)", at))
				continue
			}
		case TransformRedact:
			tr.redactWith = record.AppendString(nil, t.With)
		default:
			problems = append(problems, fmt.Sprintf("%s: %q is not a transform (hash, truncate_ip, redact)", at, t.Kind))
			continue
		}
		f.tr = tr
	}
	return problems
}

// appendTransformed appends v (a string field's value) transformed by tr. Absent values stay the
// field's sentinel: there is nothing to protect.
func (p *Processor) appendTransformed(dst []byte, tr *transformer, v record.Value, st *state) []byte {
	if absent(v) || marker(v) {
		return append(dst, `"-"`...)
	}
	if tr.kind == TransformRedact {
		return append(dst, tr.redactWith...)
	}
	st.text = appendText(st.text[:0], v)
	switch tr.kind {
	case TransformHash:
		sum := st.hashOf(tr, st.text)
		dst = append(dst, '"')
		if tr.b64 {
			dst = base64.RawURLEncoding.AppendEncode(dst, sum)
		} else {
			dst = hex.AppendEncode(dst, sum)
		}
		return append(dst, '"')
	default: // truncate_ip
		a, ok := parseIP(st.text)
		if !ok {
			return append(dst, `"-"`...) // not an address: nothing of it is delivered
		}
		bits := tr.v6
		if a.Is4() {
			bits = tr.v4
		}
		pfx, err := a.Prefix(bits)
		if err != nil {
			return append(dst, `"-"`...)
		}
		dst = append(dst, '"')
		dst = pfx.Addr().AppendTo(dst)
		return append(dst, '"')
	}
}

// hashCacheSize is the number of recent values whose digest a state remembers per hash transform:
// the values of a field repeat (user agents, hosts, paths), and a digest costs several SHA-256 blocks.
const hashCacheSize = 256

// maxCachedValue is the longest value whose digest is remembered.
const maxCachedValue = 256

// hashCache remembers the digests of recent values of one hash transform (direct-mapped).
type hashCache struct {
	mac  hash.Hash
	seed maphash.Seed
	vals [hashCacheSize][]byte
	sums [hashCacheSize][sha256.Size]byte
}

// hashOf returns HMAC-SHA256(tr.key, text), from the state's cache when text was seen recently.
func (st *state) hashOf(tr *transformer, text []byte) []byte {
	c := st.hashes[tr]
	if c == nil {
		c = &hashCache{mac: hmac.New(sha256.New, tr.key), seed: maphash.MakeSeed()}
		if st.hashes == nil {
			st.hashes = map[*transformer]*hashCache{}
		}
		st.hashes[tr] = c
	}
	slot := -1
	if len(text) <= maxCachedValue {
		slot = int(maphash.Bytes(c.seed, text) % hashCacheSize)
		if v := c.vals[slot]; v != nil && string(v) == string(text) {
			return c.sums[slot][:]
		}
	}
	c.mac.Reset()
	c.mac.Write(text)
	var sum [sha256.Size]byte
	c.mac.Sum(sum[:0])
	if slot < 0 {
		st.sum = append(st.sum[:0], sum[:]...)
		return st.sum
	}
	c.vals[slot] = append(c.vals[slot][:0], text...)
	c.sums[slot] = sum
	return c.sums[slot][:]
}

// appendText appends the text of v: a string decoded, any other value's JSON text.
func appendText(dst []byte, v record.Value) []byte {
	if v.Kind == record.String && !v.Escaped {
		return append(dst, v.Inner()...)
	}
	return append(dst, v.Text()...)
}

// parseIP parses an IPv4 (without allocating) or IPv6 address; an IPv4-mapped IPv6 address counts as
// IPv4.
func parseIP(b []byte) (netip.Addr, bool) {
	var a4 [4]byte
	n, part, digits := 0, 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			part = part*10 + int(c-'0')
			digits++
			if part > 255 || digits > 3 {
				return parseIPSlow(b)
			}
		case c == '.' && digits > 0 && n < 3:
			a4[n] = byte(part)
			n, part, digits = n+1, 0, 0
		default:
			return parseIPSlow(b)
		}
	}
	if n != 3 || digits == 0 {
		return parseIPSlow(b)
	}
	a4[3] = byte(part)
	return netip.AddrFrom4(a4), true
}

func parseIPSlow(b []byte) (netip.Addr, bool) {
	a, err := netip.ParseAddr(string(b))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// guardLog4Shell rewrites "${" to "x{" in the JSON text out (a delivered record): the lookup syntax
// of CVE-2021-44228 never reaches a consumer, however it was escaped ("\u0024{", "$\u007b").
func guardLog4Shell(out []byte) []byte {
	if bytes.Contains(out, []byte(`\u00`)) {
		out = unescapeDollarBrace(out)
	}
	for i := bytes.Index(out, []byte("${")); i >= 0; {
		out[i] = 'x'
		j := bytes.Index(out[i+2:], []byte("${"))
		if j < 0 {
			break
		}
		i += 2 + j
	}
	return out
}

// unescapeDollarBrace replaces the JSON escapes of '$' and '{' (\u0024, \u007b, \u007B) with the
// characters, in place (the text only gets shorter).
func unescapeDollarBrace(b []byte) []byte {
	w := 0
	for r := 0; r < len(b); {
		c := b[r]
		if c != '\\' || r+1 >= len(b) {
			b[w] = c
			w, r = w+1, r+1
			continue
		}
		if b[r+1] == 'u' && r+6 <= len(b) {
			switch string(b[r+2 : r+6]) {
			case "0024":
				b[w] = '$'
				w, r = w+1, r+6
				continue
			case "007b", "007B":
				b[w] = '{'
				w, r = w+1, r+6
				continue
			}
		}
		// Any other escape is kept whole (so an escaped backslash is never read as the start of one).
		b[w], b[w+1] = b[r], b[r+1]
		w, r = w+2, r+2
	}
	return b[:w]
}
