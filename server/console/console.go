// Package console is esa-connect serve's web console at /console/: ESA's Create Delivery Task flow
// (name and category, fields and filters, destination, its details — validated live by config.Load,
// the validation of the API and run), the list of tasks with their status and health (pause, resume,
// edit, delete), and the ownership step of AWS S3 and S3-compatible tasks.
//
// The pages are hand-written HTML, CSS and JavaScript embedded in the binary: no framework, no build
// step, nothing loaded from elsewhere. Every action goes through api.Server's Go methods (Do, Health,
// VerifyOwnership), so the console can do nothing the signed API cannot.
//
// Access: a user signs in with an AccessKey pair that serve accepts and gets a session cookie (a
// random 256-bit id, HttpOnly, SameSite=Strict, Secure over TLS; the store is server-side and bounded).
// Every page and endpoint but the sign-in page and its assets needs the session; every request that
// changes something needs the session's CSRF token in X-CSRF-Token and an Origin of this host. Every
// answer forbids framing and carries a Content-Security-Policy that allows only the console's own
// scripts and styles (no inline script or style, Trusted Types for the DOM sinks). Sign-in attempts
// are rate-limited per client address. No secret is ever sent to the browser: secret parameters show
// as set or not set.
package console

import (
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/server/acs3"
	"github.com/esa-connect/esa-connect/server/api"
)

//go:embed ui
var ui embed.FS

// Prefix is where the console is served.
const Prefix = "/console/"

// Options tune the console; the zero value is the defaults.
type Options struct {
	// SessionTTL is how long a session lasts after sign-in (default 12h).
	SessionTTL time.Duration
	// MaxSessions bounds the stored sessions (default 1000): a new sign-in drops the oldest.
	MaxSessions int
	// SignInBurst sign-in attempts per client address are allowed at once, then one per
	// SignInEvery (defaults 10 and 6s: 10 a minute).
	SignInBurst int
	SignInEvery time.Duration
	// Log receives sign-ins and refusals (default: discarded).
	Log *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Console serves the console. Make it with New.
type Console struct {
	api      *api.Server
	keys     acs3.Keys
	sessions *sessions
	limiter  *limiter
	log      *slog.Logger
	now      func() time.Time
	catalog  []byte
	mux      *http.ServeMux
}

// New returns the console of srv, signing in with the AccessKey pairs of keys. Mount it at Prefix.
func New(srv *api.Server, keys acs3.Keys, o Options) *Console {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 1000
	}
	if o.SignInBurst <= 0 {
		o.SignInBurst = 10
	}
	if o.SignInEvery <= 0 {
		o.SignInEvery = 6 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	cat, err := json.Marshal(buildCatalog())
	if err != nil {
		panic("console: catalog: " + err.Error())
	}
	c := &Console{api: srv, keys: keys, sessions: newSessions(o.MaxSessions, o.SessionTTL, o.Now),
		limiter: newLimiter(o.SignInBurst, o.SignInEvery, o.Now), log: o.Log, now: o.Now, catalog: cat}
	c.routes()
	return c
}

func (c *Console) routes() {
	m := http.NewServeMux()
	// Public: the sign-in page and its assets.
	m.HandleFunc("GET /console/signin", c.signInPage)
	m.HandleFunc("GET /console/static/{file}", c.static)
	m.HandleFunc("POST /console/api/signin", c.signIn)
	// Everything else needs a session (and, to change anything, the CSRF token).
	m.HandleFunc("GET /console/{$}", c.page)
	m.HandleFunc("GET /console/app/{file}", c.authed(c.appAsset))
	m.HandleFunc("POST /console/api/signout", c.authed(c.signOut))
	m.HandleFunc("GET /console/api/session", c.authed(c.sessionInfo))
	m.HandleFunc("GET /console/api/catalog", c.authed(c.catalogInfo))
	m.HandleFunc("POST /console/api/validate", c.authed(c.validate))
	m.HandleFunc("GET /console/api/tasks", c.authed(c.listTasks))
	m.HandleFunc("POST /console/api/tasks", c.authed(c.createTask))
	m.HandleFunc("GET /console/api/tasks/{name}", c.authed(c.getTask))
	m.HandleFunc("PATCH /console/api/tasks/{name}", c.authed(c.updateTask))
	m.HandleFunc("POST /console/api/tasks/{name}/validate", c.authed(c.validateUpdate))
	m.HandleFunc("POST /console/api/tasks/{name}/status", c.authed(c.setStatus))
	m.HandleFunc("POST /console/api/tasks/{name}/verify", c.authed(c.verify))
	m.HandleFunc("DELETE /console/api/tasks/{name}", c.authed(c.deleteTask))
	m.HandleFunc("/console/", c.notFound)
	c.mux = m
}

// contentSecurityPolicy allows the console's own scripts, styles and requests only: no inline script
// or style, no plugin, no framing, no form posting elsewhere, and Trusted Types for the DOM's
// HTML sinks (the pages build their DOM with createElement and textContent only).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'"

// ServeHTTP sets the security headers of every answer and routes the request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
	if secureRequest(r) {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	c.mux.ServeHTTP(w, r)
}

// current is the request's live session.
func (c *Console) current(r *http.Request) (*session, string, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil, "", false
	}
	ss, ok := c.sessions.get(ck.Value)
	return ss, ck.Value, ok
}

type ctxHandler func(w http.ResponseWriter, r *http.Request, ss *session, id string)

// authed requires a session, and for anything but GET and HEAD the session's CSRF token and a
// same-origin request.
func (c *Console) authed(h ctxHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, id, ok := c.current(r)
		if !ok {
			if strings.HasPrefix(r.URL.Path, "/console/api/") {
				replyError(w, http.StatusUnauthorized, "SessionRequired", "sign in first")
			} else {
				http.Error(w, "sign in first: /console/signin", http.StatusUnauthorized)
			}
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(r) {
				c.log.Warn("console: cross-origin request refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"), "client", clientAddr(r))
				replyError(w, http.StatusForbidden, "CrossOrigin", "the request does not come from the console's own page")
				return
			}
			if !ss.checkCSRF(r) {
				c.log.Warn("console: request without a valid CSRF token refused", "path", r.URL.Path, "client", clientAddr(r))
				replyError(w, http.StatusForbidden, "InvalidCSRFToken", "missing or wrong "+csrfHeader+" (reload the page)")
				return
			}
		}
		h(w, r, ss, id)
	}
}

// page serves the console's page, or sends the browser to the sign-in page.
func (c *Console) page(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := c.current(r); !ok {
		http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
		return
	}
	c.file(w, "ui/index.html", "no-store")
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := c.current(r); ok {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	c.file(w, "ui/signin.html", "no-store")
}

// assetName matches the names of the embedded assets; anything else (an escaped "/" or "..") is not
// one.
var assetName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)

// static serves the public assets (those of the sign-in page).
func (c *Console) static(w http.ResponseWriter, r *http.Request) {
	c.asset(w, "ui/static", r.PathValue("file"))
}

// appAsset serves the assets of the signed-in page.
func (c *Console) appAsset(w http.ResponseWriter, r *http.Request, _ *session, _ string) {
	c.asset(w, "ui/app", r.PathValue("file"))
}

func (c *Console) asset(w http.ResponseWriter, dir, name string) {
	if !assetName.MatchString(name) || strings.Contains(name, "..") {
		http.NotFound(w, nil)
		return
	}
	c.file(w, dir+"/"+name, "no-cache")
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
}

func (c *Console) file(w http.ResponseWriter, name, cache string) {
	ct, ok := contentTypes[path.Ext(name)]
	b, err := fs.ReadFile(ui, name)
	if !ok || err != nil {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", cache)
	_, _ = w.Write(b)
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := c.current(r); !ok {
		if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/console/api/") {
			http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
			return
		}
		replyError(w, http.StatusUnauthorized, "SessionRequired", "sign in first")
		return
	}
	replyError(w, http.StatusNotFound, "NotFound", "no such console endpoint: "+r.Method+" "+r.URL.Path)
}

// maxBody bounds a request body: a task definition is at most config.MaxDefinitionBytes.
const maxBody = config.MaxDefinitionBytes + 64<<10

// decode reads a JSON request body into v; it answers 400 or 415 and returns false on failure.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		replyError(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "send application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		replyError(w, http.StatusBadRequest, "InvalidRequest", "the request body is not the expected JSON: "+err.Error())
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		replyError(w, http.StatusBadRequest, "InvalidRequest", "the request body holds more than one JSON value")
		return false
	}
	return true
}

func reply(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalError","message":"encoding the answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func replyError(w http.ResponseWriter, status int, code, msg string) {
	reply(w, status, map[string]any{"error": apiErrorBody{Code: code, Message: msg}})
}

// signInRequest is the sign-in form.
type signInRequest struct {
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
}

// signIn checks an AccessKey pair and starts a session.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		replyError(w, http.StatusForbidden, "CrossOrigin", "sign in from the console's own page")
		return
	}
	client := clientAddr(r)
	if ok, wait := c.limiter.take(client); !ok {
		secs := int(wait/time.Second) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.log.Warn("console: sign-in attempts limited", "client", client)
		replyError(w, http.StatusTooManyRequests, "TooManyAttempts", "too many sign-in attempts: try again in "+strconv.Itoa(secs)+" s")
		return
	}
	var req signInRequest
	if !decode(w, r, &req) {
		return
	}
	id := strings.TrimSpace(req.AccessKeyID)
	if !c.keys.Check(id, req.AccessKeySecret) {
		c.log.Warn("console: sign-in refused", "access_key_id", config.MaskKeyID(id), "client", client)
		replyError(w, http.StatusUnauthorized, "InvalidAccessKey", "wrong AccessKey ID or secret: not a key pair of this serve")
		return
	}
	if _, old, ok := c.current(r); ok {
		c.sessions.remove(old)
	}
	sid, ss := c.sessions.create(id)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: sid, Path: Prefix, HttpOnly: true, Secure: secureRequest(r),
		SameSite: http.SameSiteStrictMode, Expires: ss.expires, MaxAge: int(ss.expires.Sub(c.now()) / time.Second)})
	c.log.Info("console: signed in", "access_key_id", config.MaskKeyID(id), "client", client)
	reply(w, http.StatusOK, map[string]any{"signed_in": true})
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, ss *session, id string) {
	c.sessions.remove(id)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, HttpOnly: true, Secure: secureRequest(r),
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	c.log.Info("console: signed out", "access_key_id", config.MaskKeyID(ss.keyID), "client", clientAddr(r))
	reply(w, http.StatusOK, map[string]any{"signed_in": false})
}

// sessionInfo gives the page its CSRF token and who is signed in (the key ID masked).
func (c *Console) sessionInfo(w http.ResponseWriter, _ *http.Request, ss *session, _ string) {
	reply(w, http.StatusOK, map[string]any{"access_key_id": config.MaskKeyID(ss.keyID), "csrf_token": ss.csrf,
		"expires": ss.expires.UTC().Format(time.RFC3339)})
}

func (c *Console) catalogInfo(w http.ResponseWriter, _ *http.Request, _ *session, _ string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(c.catalog)
}
