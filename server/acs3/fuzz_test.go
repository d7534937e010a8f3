package acs3

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzVerify feeds Verify requests whose Authorization header, query string, signed headers and
// body come from the fuzzer: it must not panic, must answer every refusal with a 4xx and a code, and
// must accept nothing but the untouched seed request.
func FuzzVerify(f *testing.F) {
	keys := testKeys(f)
	// Fixed date and nonce, so that every fuzzing process builds the same seed.
	seed := signed(f, "GET", "localhost:1", "SiteId=1&TaskName=a+b", nil,
		map[string]string{HeaderDate: "2024-09-10T12:00:00Z", HeaderSignatureNonce: "fuzz-seed"}, testID, testSecret)
	date := seed.Header.Get(HeaderDate)
	f.Add(seed.Header.Get("Authorization"), seed.URL.RawQuery, date, seed.Header.Get(HeaderSignatureNonce), seed.Header.Get(HeaderContentSHA256), []byte(nil))
	f.Add("ACS3-HMAC-SHA256 Credential=,SignedHeaders=;;,Signature=", "a=%zz&&=&b", "2024-09-10T12:00:00Z", "n", "00", []byte("x"))
	f.Add("ACS3-HMAC-SHA256 ", "", "", "", "", []byte(nil))
	now, _ := time.Parse(DateLayout, date)
	f.Fuzz(func(t *testing.T, auth, query, date, nonce, payload string, body []byte) {
		r := httptest.NewRequest(http.MethodGet, "http://localhost:1/", nil)
		r.URL.RawQuery = query
		for k, v := range seed.Header {
			r.Header[k] = v
		}
		r.Header.Set("Authorization", auth)
		r.Header.Set(HeaderDate, date)
		r.Header.Set(HeaderSignatureNonce, nonce)
		r.Header.Set(HeaderContentSHA256, payload)
		v := NewVerifier(keys)
		v.Now = func() time.Time { return now }
		id, err := v.Verify(r, body)
		if err == nil {
			got, _ := canonicalQuery(query)
			want, _ := canonicalQuery(seed.URL.RawQuery)
			if got != want || id != testID || string(body) != "" {
				t.Fatalf("accepted a request the fuzzer changed: %q %q %q", auth, query, body)
			}
			return
		}
		if err.Status < 400 || err.Status > 499 || err.Code == "" || err.Message == "" {
			t.Fatalf("refusal %d %q %q", err.Status, err.Code, err.Message)
		}
	})
}
