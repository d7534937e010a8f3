package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func loadFixture(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/access.json")
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// BadRecords are malformed records of many kinds with the reason each must be reported with.
var badRecords = []struct {
	name, rec, reason string
}{
	{"empty line", "", ReasonEmpty},
	{"whitespace only", " \t\r\n", ReasonEmpty},
	{"truncated object", `{"a":1,"b":"x`, ReasonMalformed},
	{"truncated after comma", `{"a":1,`, ReasonMalformed},
	{"truncated after colon", `{"a":`, ReasonMalformed},
	{"bare string", `"hello"`, ReasonNotObject},
	{"array", `[{"a":1}]`, ReasonNotObject},
	{"number", `42`, ReasonNotObject},
	{"null", `null`, ReasonNotObject},
	{"bool", `true`, ReasonNotObject},
	{"invalid utf8 in value", "{\"a\":\"\xff\xfe\"}", ReasonInvalidUTF8},
	{"invalid utf8 in key", "{\"\xc3\x28\":1}", ReasonInvalidUTF8},
	{"nested garbage", `{"a":{"b":[1,2,tru]}}`, ReasonMalformed},
	{"nested unclosed", `{"a":{"b":[1,2}}`, ReasonMalformed},
	{"unterminated string", `{"a":"abc}`, ReasonMalformed},
	{"trailing garbage", `{"a":1} x`, ReasonMalformed},
	{"two objects", `{"a":1}{"b":2}`, ReasonMalformed},
	{"BOM", "\xef\xbb\xbf{\"a\":1}", ReasonMalformed},
	{"unquoted key", `{a:1}`, ReasonMalformed},
	{"single quotes", `{'a':1}`, ReasonMalformed},
	{"trailing comma", `{"a":1,}`, ReasonMalformed},
	{"leading zero", `{"a":01}`, ReasonMalformed},
	{"bad number", `{"a":1.}`, ReasonMalformed},
	{"bad exponent", `{"a":1e}`, ReasonMalformed},
	{"NaN", `{"a":NaN}`, ReasonMalformed},
	{"bad escape", `{"a":"\x"}`, ReasonMalformed},
	{"bad unicode escape", `{"a":"\u12G4"}`, ReasonMalformed},
	{"raw control char", "{\"a\":\"x\ny\"}", ReasonMalformed},
	{"missing colon", `{"a" 1}`, ReasonMalformed},
	{"missing value", `{"a":}`, ReasonMalformed},
	{"bare word", `hello`, ReasonMalformed},
	{"NUL byte", "{\"a\":1}\x00", ReasonMalformed},
	{"too deep", strings.Repeat(`{"a":`, MaxDepth+2) + "1" + strings.Repeat("}", MaxDepth+2), ReasonTooDeep},
	{"too large", `{"a":"` + strings.Repeat("x", MaxRecordSize) + `"}`, ReasonTooLarge},
}

func TestValidateBadRecords(t *testing.T) {
	for _, tc := range badRecords {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate([]byte(tc.rec))
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("Validate(%.40q) = %v, want an *InvalidError", tc.rec, err)
			}
			if ie.Reason != tc.reason {
				t.Fatalf("reason = %q (%v), want %q", ie.Reason, err, tc.reason)
			}
			if ReasonIndex(ie.Reason) < 0 {
				t.Fatalf("reason %q not in Reasons", ie.Reason)
			}
		})
	}
}

func TestValidateGood(t *testing.T) {
	good := []string{
		`{}`, ` { } `, "{\"a\":1}\n", `{"a":-0.5e+10,"b":[],"c":{},"d":[1,"x",{"y":null}],"e":true,"f":false,"g":null}`,
		`{"a":"\u00e9\ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t","ü":"日本"}`,
		string(loadFixture(t)),
		`{"a":"` + strings.Repeat("x", MaxRecordSize-10) + `"}`,
	}
	for _, g := range good {
		if err := Validate([]byte(g)); err != nil {
			t.Errorf("Validate(%.60q) = %v, want nil", g, err)
		}
	}
}

func TestSelectorScan(t *testing.T) {
	s := NewSelector("ClientRequestID", "EdgeResponseStatusCode", "Missing", "RequestHeaders", "EdgeResponseCompressionRatio", "")
	if s.Add("Missing") != 2 || s.Len() != 6 || s.Index("nope") != -1 || s.Index("") != 5 {
		t.Fatalf("Add/Index/Len inconsistent")
	}
	out := make([]Value, s.Len())
	rec := loadFixture(t)
	if err := s.Scan(rec, out); err != nil {
		t.Fatal(err)
	}
	want := []string{`"6f1c2a9e8b7d4c3fa1e2b3c4d5e6f708"`, `200`, ``, `{"accept":"application/json","x-trace-id":"t-8a7b6c","cookie":"sid=abc123; region=eu"}`, `3.42`, ``}
	kinds := []Kind{String, Number, Invalid, Object, Number, Invalid}
	for i := range want {
		if string(out[i].Raw) != want[i] || out[i].Kind != kinds[i] {
			t.Errorf("field %s = %s (kind %d), want %s (kind %d)", s.Names()[i], out[i].Raw, out[i].Kind, want[i], kinds[i])
		}
	}
	// Escaped keys are matched by their decoded name; the empty key is a name too.
	if err := s.Scan([]byte(`{"Client\u0052equestID":"x\"y","":1}`), out); err != nil {
		t.Fatal(err)
	}
	if out[0].Text() != `x"y` || !out[0].Escaped || string(out[5].Raw) != "1" {
		t.Errorf("escaped key: got %q / %q", out[0].Text(), out[5].Raw)
	}
	// A selected key occurring twice is a duplicate; an unselected one is not checked.
	err := s.Scan([]byte(`{"EdgeResponseStatusCode":200,"x":1,"x":2,"EdgeResponseStatusCode":404}`), out)
	var ie *InvalidError
	if !errors.As(err, &ie) || ie.Reason != ReasonDuplicateKey {
		t.Errorf("duplicate key: err = %v", err)
	}
	if err := s.Scan([]byte(`{"x":1,"x":2}`), out); err != nil {
		t.Errorf("unselected duplicate: %v", err)
	}
}

// TestSelectorManyNames checks the bucket table with many colliding names.
func TestSelectorManyNames(t *testing.T) {
	var names []string
	obj := []byte{'{'}
	for i := 0; i < 300; i++ {
		n := strings.Repeat("k", i%17+1) + string(rune('a'+i%26)) + strings.Repeat("z", i/26)
		names = append(names, n)
		if i > 0 {
			obj = append(obj, ',')
		}
		obj = AppendString(obj, n)
		obj = append(obj, ':')
		obj = append(obj, []byte(string(rune('0'+i%10)))...)
	}
	obj = append(obj, '}')
	s := NewSelector(names...)
	out := make([]Value, s.Len())
	if err := s.Scan(obj, out); err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		if got := string(out[s.Index(n)].Raw); got != string(rune('0'+i%10)) {
			t.Fatalf("%s = %q", n, got)
		}
	}
}

func TestAppendStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "tab\tnl\n\x01\x1f", "é日本😀", "bad\xffutf8", "</script>"} {
		enc := AppendString(nil, s)
		var dec string
		if err := json.Unmarshal(enc, &dec); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, enc, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if dec != want {
			t.Errorf("round trip %q -> %s -> %q", s, enc, dec)
		}
		if got := string(AppendUnquoted(nil, enc)); got != want {
			t.Errorf("AppendUnquoted(%s) = %q, want %q", enc, got, want)
		}
		if got := UnquoteString(enc); got != want {
			t.Errorf("UnquoteString(%s) = %q, want %q", enc, got, want)
		}
	}
	if got := string(AppendUnquoted(nil, []byte(`"\ud83d\ude00\u00e9\ud800x"`))); got != "😀é\uFFFDx" {
		t.Errorf("surrogates: %q", got)
	}
}

func TestParseNumbers(t *testing.T) {
	ints := map[string]bool{"0": true, "-1": true, "9223372036854775807": true, "-9223372036854775808": true,
		"9223372036854775808": false, "": false, "-": false, "1.0": false, "+1": false, "12a": false}
	for s, ok := range ints {
		if _, got := ParseInt([]byte(s)); got != ok {
			t.Errorf("ParseInt(%q) ok = %v, want %v", s, got, ok)
		}
	}
	floats := map[string]bool{"1.5": true, "-2e3": true, ".5": true, "NaN": false, "Inf": false, "0x10": false, "1_0": false, "": false}
	for s, ok := range floats {
		if _, got := ParseFloat([]byte(s)); got != ok {
			t.Errorf("ParseFloat(%q) ok = %v, want %v", s, got, ok)
		}
	}
	if IsJSONNumber([]byte(".5")) || !IsJSONNumber([]byte("-0.5e3")) || IsJSONNumber([]byte("1 ")) {
		t.Error("IsJSONNumber")
	}
}

func TestMembers(t *testing.T) {
	var keys, vals []string
	for it := MembersOf([]byte(` {"a" : "x", "b\n":[1,{"c":2}] ,"d":null}`)); it.Next(); {
		keys = append(keys, string(it.Key()))
		vals = append(vals, string(it.Value().Raw))
	}
	if strings.Join(keys, "|") != `a|b\n|d` || strings.Join(vals, "|") != `"x"|[1,{"c":2}]|null` {
		t.Errorf("members: %q %q", keys, vals)
	}
	for it := MembersOf([]byte(`[1]`)); it.Next(); {
		t.Error("array yielded members")
	}
}

// FuzzValidate checks Validate against encoding/json: it never panics, accepts exactly the JSON
// objects that encoding/json accepts (within the size and depth limits) and Selector.Scan finds the
// same top-level values as Lookup.
func FuzzValidate(f *testing.F) {
	f.Add(loadFixture(f))
	for _, tc := range badRecords {
		if len(tc.rec) < 10000 {
			f.Add([]byte(tc.rec))
		}
	}
	f.Add([]byte(`{"a":"\u00e9","b":[1,2,{"c":null}],"a ":-1.5e3}`))
	f.Add([]byte(`{"c":"x\"y","ClientIP":1,"":true,"a":null,"c":2}`))
	f.Add([]byte(` { "ClientIP" : "1.2.3.4" , "c":[] } `))
	sel := NewSelector("a", "b", "c", "ClientIP")
	out := make([]Value, sel.Len())
	shapeOut := make([]Value, sel.Len())
	fixtureShape, fuzzShape := &Shape{}, &Shape{}
	fixture := loadFixture(f)
	loadFixtureQuiet := func() []byte { return fixture }
	_ = sel.ScanShape(fixture, shapeOut, fixtureShape)
	f.Fuzz(func(t *testing.T, rec []byte) {
		err := Validate(rec)
		var ie *InvalidError
		if err != nil && !errors.As(err, &ie) {
			t.Fatalf("error is not *InvalidError: %v", err)
		}
		var m map[string]json.RawMessage
		stdOK := json.Unmarshal(rec, &m) == nil && m != nil && bytes.TrimSpace(rec)[0] == '{'
		if ie != nil && (ie.Reason == ReasonTooDeep || ie.Reason == ReasonInvalidUTF8) {
			// encoding/json has other limits and accepts invalid UTF-8 (replacing it).
			return
		}
		if ie == nil && !utf8.Valid(rec) {
			t.Fatalf("Validate accepted invalid UTF-8: %q", rec)
		}
		if (err == nil) != stdOK {
			t.Fatalf("Validate(%q) = %v, encoding/json ok = %v", rec, err, stdOK)
		}
		serr := sel.Scan(rec, out)
		// ScanShape agrees with Scan, with a shape learnt from the fixture and from the previous input.
		for _, sh := range []*Shape{fixtureShape, fuzzShape} {
			if herr := sel.ScanShape(rec, shapeOut, sh); (herr == nil) != (serr == nil) {
				t.Fatalf("ScanShape err %v, Scan err %v", herr, serr)
			} else if serr == nil {
				for i := range out {
					if !bytes.Equal(out[i].Raw, shapeOut[i].Raw) || out[i].Kind != shapeOut[i].Kind || out[i].Escaped != shapeOut[i].Escaped {
						t.Fatalf("ScanShape %v, Scan %v", shapeOut[i], out[i])
					}
				}
			}
		}
		_ = sel.ScanShape(loadFixtureQuiet(), shapeOut, fixtureShape)
		if err == nil {
			// Find on a valid record gives Scan's result, stopping early or not.
			checkShape := &Shape{keep: true}
			herr := sel.ScanShape(rec, shapeOut, checkShape)
			for _, unique := range []bool{false, checkShape.Unique()} {
				for _, sh := range []*Shape{fixtureShape, fuzzShape, checkShape} {
					ferr := sel.Find(rec, shapeOut, sh, unique)
					if (ferr == nil) != (serr == nil) && !unique {
						t.Fatalf("Find err %v, Scan err %v", ferr, serr)
					}
					if serr == nil && herr == nil {
						for i := range out {
							if !bytes.Equal(out[i].Raw, shapeOut[i].Raw) || out[i].Kind != shapeOut[i].Kind || out[i].Escaped != shapeOut[i].Escaped {
								t.Fatalf("Find(unique %v) %v, Scan %v", unique, shapeOut[i], out[i])
							}
						}
					}
				}
			}
			// An Index made while validating with one selector gives another selector what Scan gives.
			if herr == nil {
				_ = sel.ScanShape(rec, shapeOut, checkShape) // along the layout learnt from rec itself
			}
			longName := false
			for _, l := range checkShape.lits {
				longName = longName || l.n == 0 // a literal over maxLiteral is never matched
			}
			if herr == nil && !checkShape.indexed && !longName && len(checkShape.lits) > 0 {
				t.Fatalf("a valid record scanned twice is not indexed: %q", rec)
			}
			if herr == nil && checkShape.indexed {
				ix := Index{layout: checkShape.snapshot(), starts: append([]uint32(nil), checkShape.spans[:len(checkShape.lits)+1]...)}
				other := NewSelector("c", "ClientIP", "a", "")
				want, got := make([]Value, other.Len()), make([]Value, other.Len())
				werr := other.Scan(rec, want)
				var im IndexMap
				gerr := other.FromIndex(rec, got, ix, &im)
				if (werr == nil) != (gerr == nil) {
					t.Fatalf("FromIndex err %v, Scan err %v", gerr, werr)
				}
				for i := range want {
					if werr == nil && (!bytes.Equal(want[i].Raw, got[i].Raw) || want[i].Kind != got[i].Kind || want[i].Escaped != got[i].Escaped) {
						t.Fatalf("FromIndex %v, Scan %v", got[i], want[i])
					}
				}
			}
			if checkShape.Unique() && len(m) != countMembers(rec) {
				t.Fatalf("Unique() true for %q with %d distinct of %d names", rec, len(m), countMembers(rec))
			}
		} else {
			// Find must not panic on input that is not valid.
			_ = sel.Find(rec, shapeOut, fuzzShape, true)
			_ = sel.Find(rec, shapeOut, fixtureShape, false)
		}
		if err == nil && serr == nil {
			for i, n := range sel.Names() {
				raw, _, found := Lookup(rec, n)
				if found != out[i].Found() || (found && !bytes.Equal(raw, out[i].Raw)) {
					t.Fatalf("%s: Lookup %q/%v, Scan %q", n, raw, found, out[i].Raw)
				}
			}
		}
		_ = Each(rec, func(k, v []byte, kind Kind) bool { return true })
		_, _ = EventTime(rec, "a")
	})
}

// TestScanShape checks ScanShape returns what Scan returns while layouts change, names are escaped
// and fields repeat.
func TestScanShape(t *testing.T) {
	sel := NewSelector("a", "b", "ClientIP", "EdgeResponseStatusCode")
	recs := []string{
		string(loadFixture(t)),
		string(loadFixture(t)),
		`{"a":1,"b":2,"c":3}`,
		`{"a":1,"b":2,"c":3}`,
		`{"a":1,"x":9,"b":2}`,
		`{"\u0061":1,"b":2}`,
		`{"\u0061":1,"b":2}`,
		`{"a":1,"b":2,"a":3}`,
		`{"ab":1,"b":2}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5}`,
		`{"a":1}`,
		`{"a":1,"b":"\"quoted\""}`,
		`{"a" :1, "b" : 2}`,
		`{"a":1,"b`,
		string(loadFixture(t)),
	}
	var sh Shape
	o1, o2 := make([]Value, sel.Len()), make([]Value, sel.Len())
	for _, r := range recs {
		e1, e2 := sel.Scan([]byte(r), o1), sel.ScanShape([]byte(r), o2, &sh)
		if (e1 == nil) != (e2 == nil) || (e1 != nil && e1.Error() != e2.Error()) {
			t.Fatalf("%s: Scan %v, ScanShape %v", r, e1, e2)
		}
		for i := range o1 {
			if !bytes.Equal(o1[i].Raw, o2[i].Raw) || o1[i].Kind != o2[i].Kind || o1[i].Escaped != o2[i].Escaped {
				t.Fatalf("%s: field %s: Scan %q, ScanShape %q", r, sel.Names()[i], o1[i].Raw, o2[i].Raw)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = sel.ScanShape(loadFixtureBytes, o2, &sh) }); n != 0 {
		t.Errorf("ScanShape allocates %v times per record", n)
	}
}

// countMembers returns the number of top-level members of the valid object rec.
func countMembers(rec []byte) int {
	n := 0
	_ = Each(rec, func(k, v []byte, kind Kind) bool { n++; return true })
	return n
}

// TestUnique checks Shape.Unique while layouts change, and Find's early stop.
func TestUnique(t *testing.T) {
	sel := NewSelector("a", "c")
	cases := []struct {
		rec    string
		unique bool
	}{
		{`{"a":1,"b":2,"c":3}`, true},
		{`{"a":1,"b":2,"c":3}`, true},
		{`{"a":1,"b":2,"b":3}`, false},
		{`{"a":1,"b":2,"b":3}`, false},
		{`{"a":1,"b":2,"\u0062":3}`, false},
		{`{"a":1,"b":2,"c":3}`, true},
		{`{}`, true},
		{`{"x":{"y":1,"y":2},"a":[1,1]}`, true},
		{`{"a":1,"b":2,"c":3,"a":4}`, false},
		{`{"a":1,"b":2,"c":3}`, true},
		{`{"a":1,"b":2,"c":3`, false},
	}
	var sh Shape
	out := make([]Value, sel.Len())
	for _, c := range cases {
		_ = sel.ScanShape([]byte(c.rec), out, &sh)
		if sh.Unique() != c.unique {
			t.Errorf("%s: Unique() = %v, want %v", c.rec, sh.Unique(), c.unique)
		}
	}
	// More members than maxUniqueCheck: not known to be unique.
	var big bytes.Buffer
	big.WriteString("{")
	for i := range maxUniqueCheck + 1 {
		fmt.Fprintf(&big, "%q:%d,", fmt.Sprint("k", i), i)
	}
	big.WriteString(`"z":0}`)
	if err := sel.ScanShape(big.Bytes(), out, &sh); err != nil || sh.Unique() {
		t.Errorf("record of %d members: err %v, Unique() %v", maxUniqueCheck+2, err, sh.Unique())
	}
	// Find with unique stops at the last selected field: what follows is not looked at.
	rec := []byte(`{"a":1,"b":2,"c":"x","a":2,`)
	if err := sel.Find(rec, out, &sh, true); err != nil || string(out[1].Raw) != `"x"` {
		t.Errorf("Find(unique) = %v, %q", err, out[1].Raw)
	}
	if err := sel.Find(rec, out, &sh, false); err == nil || err.(*InvalidError).Reason != ReasonDuplicateKey {
		t.Errorf("Find(not unique) = %v, want a duplicate_key error", err)
	}
}

var loadFixtureBytes = func() []byte {
	b, _ := os.ReadFile("testdata/access.json")
	return bytes.TrimSpace(b)
}()
