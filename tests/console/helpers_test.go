// Package console tests esa-connect serve's web console in a real browser: headless Chromium driven
// by chromedp, against `esa-connect serve` running as a real process, with real destinations (an HTTP
// receiver, kfake, versitygw, a directory). Every step is saved as a screenshot under
// $ESA_CONNECT_ARTIFACTS/console (default tests/console/artifacts, git-ignored).
package console

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/esa-connect/esa-connect/tests/testutil"
)

const (
	keyID           = "LTAI5tConsoleTestKey1"
	keySecret       = "console-test-secret-0123456789abcdef"
	token           = "console-ingest-token-0123456789"
	ownershipSecret = "console-ownership-secret-0123456789abcdef"
	site            = int64(7301)
)

// chromium returns the path of a Chromium (or Chrome) executable. Without one the test fails when it
// runs as root (CI installs Debian's chromium: go tool task test-chromium) and skips otherwise.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ESA_CONNECT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found (chromium, chromium-browser, google-chrome or $ESA_CONNECT_CHROMIUM): install it with `go tool task test-chromium` (Debian's chromium)"
	if os.Geteuid() == 0 {
		t.Fatal(msg)
	}
	t.Skip(msg + "; skipping the console's browser tests because this is not root")
	return ""
}

// artifacts is the directory of a test's screenshots: $ESA_CONNECT_ARTIFACTS/console/<test>, or
// tests/console/artifacts/<test>. It is emptied first.
func artifacts(t *testing.T) string {
	t.Helper()
	base := os.Getenv("ESA_CONNECT_ARTIFACTS")
	if base != "" {
		base = filepath.Join(base, "console")
	} else {
		base = filepath.Join(testutil.RepoRoot(t), "tests", "console", "artifacts")
	}
	dir := filepath.Join(base, t.Name())
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// server is a running esa-connect serve.
type server struct {
	p    *testutil.Process
	addr string
	base string // http://addr
}

var listening = regexp.MustCompile(`listening at http://(\S+)`)

func startServe(t *testing.T, extraEnv ...string) *server {
	t.Helper()
	env := append([]string{"ESA_CONNECT_ACCESS_KEY_ID=" + keyID, "ESA_CONNECT_ACCESS_KEY_SECRET=" + keySecret,
		"ESA_CONNECT_INGEST_TOKEN=" + token, "ESA_OWNERSHIP_SECRET=" + ownershipSecret,
		"ALIBABA_CLOUD_ACCESS_KEY_ID=", "ALIBABA_CLOUD_ACCESS_KEY_SECRET="}, extraEnv...)
	p := testutil.StartBinary(t, testutil.RunOptions{Env: env}, "serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--log-level", "warn")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := listening.FindStringSubmatch(p.Stdout()); m != nil {
			return &server{p: p, addr: m[1], base: "http://" + m[1]}
		}
		select {
		case <-p.Done():
			t.Fatalf("serve exited: %s%s", p.Stdout(), p.Stderr())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen: %s%s", p.Stdout(), p.Stderr())
		}
	}
}

// ingest POSTs gzip NDJSON records of a site's category to serve.
func (s *server) ingest(t *testing.T, category string, body []byte) (int, string) {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(body)
	_ = zw.Close()
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/v1/sites/%d/logs/%s", s.base, site, category), &z)
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// records is n access records with ids prefix-i.
func records(prefix string, n int) ([]byte, []string) {
	var b bytes.Buffer
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		fmt.Fprintf(&b, `{"EdgeStartTimestamp":"2026-12-06T01:02:03Z","ClientRequestID":%q,"ClientIP":"192.0.2.%d","ClientRequestHost":"example.com","ClientRequestMethod":"GET","EdgeResponseStatusCode":%d}`+"\n",
			ids[i], i%250, 200+i%3)
	}
	return b.Bytes(), ids
}

// sink is an HTTP receiver of deliveries; each task posts to /t/<task>.
// sink receives HTTP deliveries: task t delivers to sk.URL(t) (testutil.Sink).
type sink = testutil.Sink

func startSink(t *testing.T) *sink { return testutil.StartSink(t, "") }

// browser is a headless Chromium tab with a window of w×h.
type browser struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	n    int
	base string
}

func newBrowser(t *testing.T, base string, w, h int) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.WindowSize(w, h),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	b := &browser{t: t, ctx: ctx, dir: artifacts(t), base: base}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(w), int64(h))); err != nil { // starts the browser
		t.Fatalf("chromium: %v", err)
	}
	// Every exception of the page's scripts and every refusal of the Content-Security-Policy (an
	// inline style, a DOM sink without Trusted Types, …) fails the test.
	msgs := chromedp.Console(ctx)
	var mu sync.Mutex
	var bad []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			text := m.String()
			if m.IsException() || strings.Contains(text, "Refused to") || strings.Contains(text, "Content Security Policy") ||
				strings.Contains(text, "Trusted") {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("%s (%s:%d)", text, m.URL, m.Line))
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancelC()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, m := range bad {
			t.Errorf("the page's console: %s", m)
		}
	})
	return b
}

// run runs actions with a timeout, failing the test on error (with a screenshot of the moment).
func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("FAILED")
		b.t.Fatalf("browser: %v\npage text: %s", err, b.text("body"))
	}
}

// shot saves a full-page screenshot as NN-name.png.
func (b *browser) shot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	b.n++
	path := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}

// view saves a screenshot of the viewport only (what a screen of that size shows) as NN-name.png.
func (b *browser) view(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.n++
	path := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}

// resize changes the viewport.
func (b *browser) resize(w, h int) {
	b.t.Helper()
	b.run(chromedp.EmulateViewport(int64(w), int64(h)))
}

// text returns the text of the first element matching sel ("" when none).
func (b *browser) text(sel string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).innerText||""`, sel)))
	return s
}

// eval evaluates a JavaScript expression into out (a pointer to its JSON value's type).
func (b *browser) eval(js string, out any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](js))
	if err != nil {
		b.shot("FAILED")
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			b.t.Fatalf("evaluate %s: %s: %v", js, raw, err)
		}
	}
}

// wait waits until the JavaScript expression is truthy (across page loads).
func (b *browser) wait(js string) {
	b.t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+js+")"))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	b.shot("FAILED")
	b.t.Fatalf("waiting for %s: %v\npage text: %s", js, last, b.text("body"))
}

// waitText waits until the element sel holds substr.
func (b *browser) waitText(sel, substr string) {
	b.t.Helper()
	b.wait(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.innerText.includes(%q); })()`, sel, substr))
}

// set replaces the value of a form control as a user does (input and change events).
func (b *browser) set(sel, value string) {
	b.t.Helper()
	b.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) throw new Error("no " + %q);
		e.focus(); e.value = %q; e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`,
		sel, sel, value), nil)
}

// typeIn types text into an element with the keyboard.
func (b *browser) typeIn(sel, text string) {
	b.t.Helper()
	b.run(chromedp.SendKeys(chromedp.CSS(sel), text))
}

// click clicks the element sel.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.run(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// unlabelled returns a description of every visible form control without a label.
func (b *browser) unlabelled() []string {
	b.t.Helper()
	var out []string
	b.eval(`[...document.querySelectorAll('input, select, textarea')].filter((e) => e.type !== 'hidden' && e.offsetParent !== null &&
		!(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
		.map((e) => e.outerHTML.slice(0, 120))`, &out)
	return out
}

// checkLabels fails the test when a visible control has no label.
func (b *browser) checkLabels(where string) {
	b.t.Helper()
	if u := b.unlabelled(); len(u) > 0 {
		b.t.Errorf("%s: controls without a label: %v", where, u)
	}
}

// overflow returns the elements wider than the viewport (a layout that does not fit).
func (b *browser) overflow() []string {
	b.t.Helper()
	var out []string
	b.eval(`(() => { const w = document.documentElement.clientWidth; const out = [];
		if (document.documentElement.scrollWidth > w + 1) out.push('page ' + document.documentElement.scrollWidth + ' > ' + w);
		return out; })()`, &out)
	return out
}
