// Package tap lets a user watch, live, the records a task hands to its destination (`esa-connect
// tap`, like Logpush's Instant Logs or `vector tap`) without ever slowing or blocking the task: esa_fields
// publishes each record it delivers to the stream's Hub only while someone watches, each watcher gets
// a sample of them through a bounded channel, and a watcher that does not keep up loses tap records
// (counted), never task records.
package tap

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Buffer is how many batches of records a watcher may be behind before it loses records.
const Buffer = 64

// MaxWatchers bounds the watchers of one task.
const MaxWatchers = 16

type key struct{}

// Hub is a stream's tap: the watchers of the records it delivers. It is safe for concurrent use.
type Hub struct {
	active atomic.Int32
	mu     sync.Mutex
	subs   map[*Watcher]struct{}
}

// From returns the Hub of the stream that owns res, creating it on first use (a nil res yields a
// fresh Hub).
func From(res *service.Resources) *Hub {
	if res == nil {
		return &Hub{}
	}
	v, _ := res.GetOrSetGeneric(key{}, &Hub{})
	return v.(*Hub)
}

// Active reports whether anyone watches: publishers check it once per batch and skip all tap work
// when not.
func (h *Hub) Active() bool { return h != nil && h.active.Load() > 0 }

// Publish offers a batch of delivered records to every watcher: sampled per watcher, copied into one
// buffer per watcher and batch, never waited for (a watcher that is Buffer batches behind loses the
// batch, counted).
func (h *Hub) Publish(recs [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.subs {
		size, n := 0, 0
		keep := w.keep[:0]
		for _, rec := range recs {
			if w.sample < 1 && rand.Float64() >= w.sample {
				continue
			}
			keep = append(keep, rec)
			size += len(rec)
			n++
		}
		w.keep = keep
		if n == 0 {
			continue
		}
		if len(w.ch) == cap(w.ch) {
			w.dropped.Add(int64(n))
			continue
		}
		buf := make([]byte, 0, size)
		out := make([][]byte, n)
		for i, rec := range keep {
			start := len(buf)
			buf = append(buf, rec...)
			out[i] = buf[start:len(buf):len(buf)]
		}
		clear(w.keep)
		select {
		case w.ch <- out:
		default:
			w.dropped.Add(int64(n))
		}
	}
}

// Watcher receives a sample of a task's delivered records.
type Watcher struct {
	h       *Hub
	ch      chan [][]byte
	keep    [][]byte // Publish's scratch (under the hub's lock)
	sample  float64
	dropped atomic.Int64
	once    sync.Once
}

// ErrTooManyWatchers is returned by Watch when the task has MaxWatchers already.
var ErrTooManyWatchers = fmt.Errorf("the task has %d watchers already", MaxWatchers)

// Watch adds a watcher receiving the fraction sample (0 < sample ≤ 1) of the records.
func (h *Hub) Watch(sample float64) (*Watcher, error) {
	w := &Watcher{h: h, ch: make(chan [][]byte, Buffer), sample: sample}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= MaxWatchers {
		return nil, ErrTooManyWatchers
	}
	if h.subs == nil {
		h.subs = map[*Watcher]struct{}{}
	}
	h.subs[w] = struct{}{}
	h.active.Add(1)
	return w, nil
}

// Batches is the channel of batches of records.
func (w *Watcher) Batches() <-chan [][]byte { return w.ch }

// Dropped is the number of records the watcher lost because it was behind.
func (w *Watcher) Dropped() int64 { return w.dropped.Load() }

// Close removes the watcher.
func (w *Watcher) Close() {
	w.once.Do(func() {
		w.h.mu.Lock()
		delete(w.h.subs, w)
		w.h.mu.Unlock()
		w.h.active.Add(-1)
	})
}

// Handler serves a tap of hub: GET with `limit` (records, default 100, at most 100000) and `sample`
// (percent, default 100) streams the records as NDJSON until the limit, the client leaves or the
// stream's records stop for `idle` (default 60s, at most 1h); a last line
// `{"tap_dropped": N}` says how many records the client lost by being slow.
func Handler(hub func() (*Hub, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "only GET", http.StatusMethodNotAllowed)
			return
		}
		q := r.URL.Query()
		limit, err := intParam(q.Get("limit"), 100, 1, 100_000)
		if err != nil {
			http.Error(w, "limit: "+err.Error(), http.StatusBadRequest)
			return
		}
		pct := 100.0
		if v := q.Get("sample"); v != "" {
			if pct, err = strconv.ParseFloat(v, 64); err != nil || pct <= 0 || pct > 100 {
				http.Error(w, "sample: a percentage in (0, 100]", http.StatusBadRequest)
				return
			}
		}
		idle := time.Minute
		if v := q.Get("idle"); v != "" {
			if idle, err = time.ParseDuration(v); err != nil || idle <= 0 || idle > time.Hour {
				http.Error(w, "idle: a duration up to 1h", http.StatusBadRequest)
				return
			}
		}
		h, err := hub()
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		watcher, err := h.Watch(pct / 100)
		if err != nil {
			http.Error(w, err.Error(), http.StatusTooManyRequests)
			return
		}
		defer watcher.Close()
		Stream(r.Context(), w, watcher, limit, idle)
	}
}

// Stream writes the watcher's records to w as NDJSON (flushing as they come) until limit records,
// ctx ends or no record came for idle; then the count of lost records.
func Stream(ctx context.Context, w http.ResponseWriter, watcher *Watcher, limit int, idle time.Duration) {
	// A tap lasts longer than a server's write timeout for ordinary answers.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		_ = bw.Flush()
		if flusher != nil {
			flusher.Flush()
		}
	}
	flush()
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for sent := 0; sent < limit; {
		select {
		case batch := <-watcher.Batches():
			for _, rec := range batch {
				if sent == limit {
					break
				}
				_, _ = bw.Write(rec)
				_ = bw.WriteByte('\n')
				sent++
			}
			if len(watcher.Batches()) == 0 {
				flush()
			}
			if !timer.Stop() {
				<-timer.C
			}
			timer.Reset(idle)
		case <-timer.C:
			sent = limit
		case <-ctx.Done():
			return
		}
	}
	fmt.Fprintf(bw, "{\"tap_dropped\":%d}\n", watcher.Dropped())
	flush()
}

func intParam(v string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("an integer from %d to %d", lo, hi)
	}
	return n, nil
}
