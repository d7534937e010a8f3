package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// cookieName is the console's session cookie (path /console/).
const cookieName = "esa_console"

// csrfHeader carries a session's CSRF token on every state-changing request.
const csrfHeader = "X-CSRF-Token"

// session is one signed-in browser.
type session struct {
	keyID   string // the AccessKey ID it signed in with
	csrf    string // its CSRF token
	created time.Time
	expires time.Time
}

// sessions is the server-side session store: ids are 256-bit random values, kept only as their
// SHA-256 digests; at most max sessions live at once (the oldest is dropped for a new one).
type sessions struct {
	mu   sync.Mutex
	byID map[[32]byte]*session
	max  int
	ttl  time.Duration
	now  func() time.Time
}

func newSessions(max int, ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{byID: map[[32]byte]*session{}, max: max, ttl: ttl, now: now}
}

// randomToken returns 32 random bytes, base64url-encoded without padding.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("console: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session for keyID and returns its id.
func (s *sessions) create(keyID string) (string, *session) {
	id := randomToken()
	now := s.now()
	ss := &session{keyID: keyID, csrf: randomToken(), created: now, expires: now.Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= s.max {
		s.pruneLocked(now)
	}
	for len(s.byID) >= s.max {
		var oldest [32]byte
		var at time.Time
		first := true
		for k, v := range s.byID {
			if first || v.created.Before(at) {
				oldest, at, first = k, v.created, false
			}
		}
		delete(s.byID, oldest)
	}
	s.byID[sha256.Sum256([]byte(id))] = ss
	return id, ss
}

// get returns the live session of id.
func (s *sessions) get(id string) (*session, bool) {
	if id == "" {
		return nil, false
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[k]
	if !ok {
		return nil, false
	}
	if !s.now().Before(ss.expires) {
		delete(s.byID, k)
		return nil, false
	}
	return ss, true
}

// remove ends the session id.
func (s *sessions) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, sha256.Sum256([]byte(id)))
}

// len is the number of stored sessions.
func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

func (s *sessions) pruneLocked(now time.Time) {
	for k, v := range s.byID {
		if !now.Before(v.expires) {
			delete(s.byID, k)
		}
	}
}

// checkCSRF compares the request's CSRF header with the session's token in constant time.
func (ss *session) checkCSRF(r *http.Request) bool {
	got := r.Header.Get(csrfHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(ss.csrf)) == 1
}

// sameOrigin reports whether a state-changing request comes from the console's own pages: its Origin
// names this host (browsers send Origin with every POST, PATCH and DELETE); without Origin,
// Sec-Fetch-Site must be absent or same-origin (a client that is not a browser; it still needs the
// session cookie and the CSRF token).
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		site := r.Header.Get("Sec-Fetch-Site")
		return site == "" || site == "same-origin"
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false // includes "null"
	}
	return strings.EqualFold(u.Host, r.Host)
}

// secureRequest reports whether the browser reached the console over TLS (directly, or through a
// proxy that says so): the session cookie is then Secure.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// limiter bounds sign-in attempts per client address (a token bucket each) and in total.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	total   bucket
	burst   float64
	per     time.Duration // one attempt more per this much time
	now     func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxLimiterClients bounds the addresses remembered; full buckets are forgotten first.
const maxLimiterClients = 10000

func newLimiter(burst int, per time.Duration, now func() time.Time) *limiter {
	return &limiter{buckets: map[string]*bucket{}, burst: float64(burst), per: per, now: now,
		total: bucket{tokens: float64(burst * 20), last: now()}}
}

// take spends one attempt of client; when none is left it returns false and how long to wait.
func (l *limiter) take(client string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[client]
	if b == nil {
		if len(l.buckets) >= maxLimiterClients {
			l.pruneLocked(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[client] = b
	}
	l.refill(b, now, l.burst, l.per)
	l.refill(&l.total, now, l.burst*20, l.per/20)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(l.per))
	}
	if l.total.tokens < 1 {
		return false, time.Duration((1 - l.total.tokens) * float64(l.per/20))
	}
	b.tokens--
	l.total.tokens--
	return true, 0
}

func (l *limiter) refill(b *bucket, now time.Time, burst float64, per time.Duration) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(burst, b.tokens+float64(el)/float64(per))
		b.last = now
	}
}

func (l *limiter) pruneLocked(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now, l.burst, l.per)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets { // still full of busy clients: forget any
		if len(l.buckets) < maxLimiterClients {
			break
		}
		delete(l.buckets, k)
	}
}

// clientAddr is the address a request came from (the connection's, not a header a client chooses).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
