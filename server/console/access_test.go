package console

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for sessions and the sign-in limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestSecurityHeaders: every answer of the console, public or not, forbids framing, sniffing and
// anything but its own scripts and styles.
func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t, Options{})
	c := ts.client()
	for _, p := range []string{"/console/signin", "/console/static/console.css", "/console/static/signin.js", "/console/", "/console/api/tasks",
		"/console/app/app.js", "/console/nothing"} {
		_, h, _ := c.do("GET", p, nil)
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'",
			"base-uri 'none'", "require-trusted-types-for 'script'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP allows something unsafe: %s", p, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", p, h)
		}
	}
	for p, ct := range map[string]string{"/console/signin": "text/html", "/console/static/console.css": "text/css", "/console/static/signin.js": "text/javascript"} {
		if code, h, _ := c.do("GET", p, nil); code != 200 || !strings.HasPrefix(h.Get("Content-Type"), ct) {
			t.Errorf("%s: %d %s", p, code, h.Get("Content-Type"))
		}
	}
	// The pages load nothing from elsewhere and hold no inline script or style.
	for _, name := range []string{"ui/index.html", "ui/signin.html"} {
		b, _ := ui.ReadFile(name)
		page := string(b)
		for _, bad := range []string{"<script>", "style=", "<style", "http://", "https://", "javascript:", " on"} {
			if bad == " on" {
				for _, attr := range []string{" onclick=", " onload=", " onsubmit=", " oninput="} {
					if strings.Contains(page, attr) {
						t.Errorf("%s has an inline handler %s", name, attr)
					}
				}
				continue
			}
			if strings.Contains(page, bad) {
				t.Errorf("%s holds %q", name, bad)
			}
		}
	}
	js, _ := ui.ReadFile("ui/app/app.js")
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(string(js), sink) {
			t.Errorf("app.js uses %s", sink)
		}
	}
}

// TestSessionRequired: nothing but the sign-in page and its assets answers without a session.
func TestSessionRequired(t *testing.T) {
	ts := newTestServer(t, Options{})
	c := ts.client()
	if code, h, _ := c.do("GET", "/console/", nil); code != http.StatusSeeOther || h.Get("Location") != "/console/signin" {
		t.Errorf("GET /console/ without a session: %d %s", code, h.Get("Location"))
	}
	if code, h, _ := c.do("GET", "/console/somewhere", nil); code != http.StatusSeeOther || h.Get("Location") != "/console/signin" {
		t.Errorf("GET /console/somewhere without a session: %d %s", code, h.Get("Location"))
	}
	for _, r := range [][2]string{{"GET", "/console/app/app.js"}, {"GET", "/console/api/session"}, {"GET", "/console/api/catalog"},
		{"GET", "/console/api/tasks"}, {"GET", "/console/api/tasks/x"}, {"POST", "/console/api/validate"}, {"POST", "/console/api/tasks"},
		{"PATCH", "/console/api/tasks/x"}, {"DELETE", "/console/api/tasks/x"}, {"POST", "/console/api/tasks/x/status"},
		{"POST", "/console/api/tasks/x/verify"}, {"POST", "/console/api/signout"}, {"POST", "/console/api/nothing"}} {
		code, _, b := c.do(r[0], r[1], map[string]any{})
		if code != http.StatusUnauthorized {
			t.Errorf("%s %s without a session: %d %s", r[0], r[1], code, b)
		}
	}
	// No escaped path reaches a signed-in page's asset through the public directory.
	for _, p := range []string{"/console/static/..%2Fapp%2Fapp.js", "/console/static/%2E%2E%2Fapp%2Fapp.js", "/console/static/..%2Findex.html",
		"/console/static/%2e%2e%2f%2e%2e%2fconsole.go"} {
		if code, _, b := c.do("GET", p, nil); code == 200 {
			t.Errorf("GET %s without a session: %d %.60s", p, code, b)
		}
	}
	// A made-up cookie is no session.
	req, _ := http.NewRequest("GET", ts.srv.URL+"/console/api/tasks", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: randomToken()})
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a made-up session id: %v %v", err, resp)
	}
}

func TestSignIn(t *testing.T) {
	ts := newTestServer(t, Options{})
	c := ts.client()
	for _, bad := range []signInRequest{{testKeyID, "wrong"}, {testKeyID, ""}, {"LTAI5tUnknown", testKeySecret}, {"", ""},
		{testKeyID, testKeySecret + " "}, {strings.ToLower(testKeyID), testKeySecret}} {
		code, h, b := c.do("POST", "/console/api/signin", bad)
		if code != http.StatusUnauthorized || h.Get("Set-Cookie") != "" || strings.Contains(string(b), testKeySecret) {
			t.Errorf("sign in with %q: %d %s %s", bad.AccessKeyID, code, h.Get("Set-Cookie"), b)
		}
	}
	code, h, b := c.do("POST", "/console/api/signin", signInRequest{testKeyID, testKeySecret})
	if code != 200 {
		t.Fatalf("sign in: %d %s", code, b)
	}
	ck := parseCookie(t, h)
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console/" || ck.Secure || len(ck.Value) != 43 ||
		ck.MaxAge < 12*3600-5 || ck.MaxAge > 12*3600 {
		t.Errorf("session cookie %+v", ck)
	}
	// The page gets its CSRF token and the key ID masked; never the secret.
	code, _, b = c.do("GET", "/console/api/session", nil)
	if code != 200 || !strings.Contains(string(b), `"access_key_id":"LTAI`) || strings.Contains(string(b), testKeyID) || strings.Contains(string(b), testKeySecret) {
		t.Errorf("session: %d %s", code, b)
	}
	if code, _, _ := c.do("GET", "/console/", nil); code != 200 {
		t.Errorf("the page with a session: %d", code)
	}
	if code, h, _ := c.do("GET", "/console/signin", nil); code != http.StatusSeeOther || h.Get("Location") != "/console/" {
		t.Errorf("the sign-in page with a session: %d %s", code, h.Get("Location"))
	}
	// Behind a TLS proxy the cookie is Secure (and HSTS is set).
	_, h, _ = ts.client().do("POST", "/console/api/signin", signInRequest{testKeyID, testKeySecret}, "X-Forwarded-Proto", "https")
	if ck := parseCookie(t, h); !ck.Secure || h.Get("Strict-Transport-Security") == "" {
		t.Errorf("over TLS: cookie %+v, HSTS %q", ck, h.Get("Strict-Transport-Security"))
	}
	// Signing in from another site is refused.
	if code, _, _ := ts.client().do("POST", "/console/api/signin", signInRequest{testKeyID, testKeySecret}, "Origin", "https://evil.example"); code != http.StatusForbidden {
		t.Errorf("a sign-in from another origin: %d", code)
	}
	// Sign out ends the session.
	c.signIn()
	code, h, _ = c.do("POST", "/console/api/signout", nil)
	if code != 200 || !strings.Contains(h.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("sign out: %d %s", code, h.Get("Set-Cookie"))
	}
	if code, _, _ := c.do("GET", "/console/api/tasks", nil); code != http.StatusUnauthorized {
		t.Errorf("after sign-out: %d", code)
	}
	if n := ts.con.sessions.len(); n != 1 { // the TLS client's
		t.Errorf("%d sessions stored", n)
	}
}

func parseCookie(t *testing.T, h http.Header) *http.Cookie {
	t.Helper()
	cs := (&http.Response{Header: h}).Cookies()
	if len(cs) != 1 || cs[0].Name != cookieName {
		t.Fatalf("Set-Cookie %v", h.Values("Set-Cookie"))
	}
	return cs[0]
}

// TestCSRF: a request that changes something needs the session's token and the console's origin.
func TestCSRF(t *testing.T) {
	ts := newTestServer(t, Options{})
	c := ts.client()
	c.signIn()
	good := c.csrf
	body := httpDraft("csrf", "http://127.0.0.1:1/")
	for _, tc := range []struct {
		name string
		hdr  []string
		want int
	}{
		{"no token", []string{csrfHeader, ""}, http.StatusForbidden},
		{"a wrong token", []string{csrfHeader, randomToken()}, http.StatusForbidden},
		{"a truncated token", []string{csrfHeader, good[:len(good)-1]}, http.StatusForbidden},
		{"another origin", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"a look-alike origin", []string{"Origin", ts.srv.URL + ".evil.example"}, http.StatusForbidden},
		{"a null origin", []string{"Origin", "null"}, http.StatusForbidden},
		{"no origin, cross-site fetch", []string{"Origin", "", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"no origin, not a browser", []string{"Origin", ""}, http.StatusOK},
		{"the page", nil, http.StatusOK},
	} {
		if code, _, b := c.do("POST", "/console/api/validate", body, tc.hdr...); code != tc.want {
			t.Errorf("%s: %d %s", tc.name, code, b)
		}
	}
	// Another session's token does not do.
	other := ts.client()
	other.signIn()
	if code, _, _ := c.do("POST", "/console/api/validate", body, csrfHeader, other.csrf); code != http.StatusForbidden {
		t.Errorf("another session's token: %d", code)
	}
	// A form post (text/plain, as a cross-site form can send) is refused even with the token.
	if code, _, _ := c.do("POST", "/console/api/validate", body, "Content-Type", "text/plain"); code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", code)
	}
}

// TestSignInRateLimit: attempts beyond the burst wait, whatever the key, and come back with time.
func TestSignInRateLimit(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)}
	ts := newTestServer(t, Options{SignInBurst: 3, SignInEvery: 10 * time.Second, Now: clk.now})
	c := ts.client()
	for i := range 3 {
		if code, _, _ := c.do("POST", "/console/api/signin", signInRequest{testKeyID, "wrong"}); code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, code)
		}
	}
	code, h, b := c.do("POST", "/console/api/signin", signInRequest{testKeyID, testKeySecret})
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" || h.Get("Set-Cookie") != "" {
		t.Fatalf("the 4th attempt, with the right key: %d %s %s", code, h.Get("Retry-After"), b)
	}
	clk.add(10 * time.Second)
	if code, _, _ := c.do("POST", "/console/api/signin", signInRequest{testKeyID, testKeySecret}); code != 200 {
		t.Fatalf("after waiting: %d", code)
	}
}

// TestSessionLifetime: sessions end after their TTL, and the store keeps at most MaxSessions.
func TestSessionLifetime(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)}
	ts := newTestServer(t, Options{SessionTTL: time.Hour, MaxSessions: 2, Now: clk.now})
	a, b, c := ts.client(), ts.client(), ts.client()
	a.signIn()
	clk.add(time.Minute)
	b.signIn()
	clk.add(time.Minute)
	c.signIn() // drops a's, the oldest
	if code, _, _ := a.do("GET", "/console/api/tasks", nil); code != http.StatusUnauthorized {
		t.Errorf("the oldest session beyond MaxSessions: %d", code)
	}
	for _, cl := range []*client{b, c} {
		if code, _, _ := cl.do("GET", "/console/api/tasks", nil); code != 200 {
			t.Errorf("a live session: %d", code)
		}
	}
	if n := ts.con.sessions.len(); n != 2 {
		t.Errorf("%d sessions stored", n)
	}
	clk.add(time.Hour)
	if code, _, _ := c.do("GET", "/console/api/tasks", nil); code != http.StatusUnauthorized {
		t.Errorf("an expired session: %d", code)
	}
}
