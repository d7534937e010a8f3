package tap

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHub(t *testing.T) {
	h := &Hub{}
	if h.Active() {
		t.Fatal("a hub without watchers is active")
	}
	w, err := h.Watch(1)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Active() {
		t.Fatal("a watched hub is not active")
	}
	recs := [][]byte{[]byte(`{"a":1}`), []byte(`{"a":2}`)}
	h.Publish(recs)
	recs[0][5] = '9' // the publisher reuses its buffer: the watcher has a copy
	if got := <-w.Batches(); len(got) != 2 || string(got[0]) != `{"a":1}` || string(got[1]) != `{"a":2}` {
		t.Fatalf("first batch %q", got)
	}
	// Nobody reads: Publish never waits, the overflow is counted.
	for range Buffer + 10 {
		h.Publish([][]byte{[]byte(`{}`), []byte(`{}`)})
	}
	if w.Dropped() != 20 || len(w.Batches()) != Buffer {
		t.Fatalf("dropped %d, buffered %d", w.Dropped(), len(w.Batches()))
	}
	w.Close()
	w.Close()
	if h.Active() {
		t.Fatal("active after the last watcher left")
	}
	var ws []*Watcher
	for range MaxWatchers {
		x, err := h.Watch(0.5)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, x)
	}
	if _, err := h.Watch(1); err == nil {
		t.Fatal("more than MaxWatchers")
	}
	for _, x := range ws {
		x.Close()
	}
}

// The sample is a fraction of the records (10 % of 20,000 within a wide margin).
func TestSample(t *testing.T) {
	h := &Hub{}
	w, _ := h.Watch(0.1)
	defer w.Close()
	n := 0
	for range 20 {
		batch := make([][]byte, 1000)
		for i := range batch {
			batch[i] = []byte(`{}`)
		}
		h.Publish(batch)
		for len(w.Batches()) > 0 {
			n += len(<-w.Batches())
		}
	}
	if n < 1500 || n > 2500 {
		t.Fatalf("a 10 %% sample of 20000 records gave %d", n)
	}
}

func TestHandler(t *testing.T) {
	h := &Hub{}
	srv := httptest.NewServer(Handler(func() (*Hub, error) { return h, nil }))
	defer srv.Close()
	for _, bad := range []string{"limit=0", "limit=x", "sample=0", "sample=101", "idle=2h"} {
		resp, err := http.Get(srv.URL + "?" + bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, resp.StatusCode)
		}
	}
	resp, err := http.Get(srv.URL + "?limit=3")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if !h.Active() {
		t.Fatal("the hub is not watched once the answer started")
	}
	for i := range 5 {
		h.Publish([][]byte{[]byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if strings.Join(lines, "|") != `{"n":0}|{"n":1}|{"n":2}|{"tap_dropped":0}` {
		t.Fatalf("tap answered %q", lines)
	}
}
