// Package generate makes synthetic ESA log records with realistic distributions, for demos,
// benchmarks and tests: a Zipf-like set of hosts, paths and clients, mostly-200 status codes with some
// 304/404/5xx, log-normal sizes and latencies, cache hits without origin fetches ("-" / -1 sentinels
// on the origin fields), and event times near now in RFC 3339 with milliseconds and a +08:00 offset.
//
// A Generator writes every catalog field of its category with the catalog's type (and, for the access
// category, the raw RequestHeaders / ResponseHeaders maps that custom fields are taken from). It appends
// bytes directly (no encoding/json) and is deterministic for a given seed and clock.
package generate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/esa-connect/esa-connect/config"
)

// Generator produces records of one category. It is not safe for concurrent use; create one per
// goroutine.
type Generator struct {
	cat    *config.Category
	rng    *rand.Rand
	clock  func() time.Time
	fields []fieldWriter
	fill   func(g *Generator)
	w      *world
	st     state

	// Zipf samplers over the world's pools.
	zClient, zPath, zHost *rand.Zipf

	// A two-entry cache of formatted "2006-01-02T15:04:05" prefixes (+08:00) keyed by Unix second.
	tsec    [2]int64
	tprefix [2][]byte
	tnext   int
}

// fieldWriter appends one member ("Name":value) of a record.
type fieldWriter struct {
	key   []byte // `"Name":`
	write func(g *Generator, dst []byte) []byte
}

// zone is the +08:00 offset ESA writes its timestamps in.
var zone = time.FixedZone("CST", 8*3600)

// New returns a generator of records of category (a catalog name or ESA alias), seeded with seed.
func New(category string, seed int64) (*Generator, error) {
	cat, ok := config.LookupCategory(category)
	if !ok {
		return nil, fmt.Errorf("generate: unknown log category %q", category)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	g := &Generator{cat: cat, rng: rng, clock: time.Now, tsec: [2]int64{math.MinInt64, math.MinInt64}}
	g.w = newWorld(rand.New(rand.NewPCG(uint64(seed)+1, 0x5eed)))
	g.zClient = rand.NewZipf(rng, 1.07, 4, uint64(len(g.w.clients)-1))
	g.zPath = rand.NewZipf(rng, 1.1, 8, uint64(len(g.w.paths)-1))
	g.zHost = rand.NewZipf(rng, 1.3, 2, uint64(len(g.w.dnsNames)-1))

	var table map[string]writeFunc
	switch cat.Name {
	case "access":
		g.fill, table = fillAccess, accessWriters
	case "firewall":
		g.fill, table = fillFirewall, firewallWriters
	case "tcp_udp_proxy":
		g.fill, table = fillProxy, proxyWriters
	case "dns":
		g.fill, table = fillDNS, dnsWriters
	case "edge_routine":
		g.fill, table = fillRoutine, routineWriters
	case "edge_container":
		g.fill, table = fillContainer, containerWriters
	default:
		g.fill = func(g *Generator) { g.st.start = g.clock().Add(-time.Duration(g.rng.IntN(1000)) * time.Millisecond) }
	}
	for _, f := range cat.Fields {
		w := table[f.Name]
		if w == nil {
			w = fallbackWriter(string(f.Type))
		}
		g.fields = append(g.fields, fieldWriter{key: []byte(strconv.Quote(f.Name) + ":"), write: w})
	}
	return g, nil
}

// Category returns the generator's category.
func (g *Generator) Category() *config.Category { return g.cat }

// SetClock replaces the clock event times are derived from (time.Now by default). With a fixed clock
// the output is fully deterministic for a seed.
func (g *Generator) SetClock(now func() time.Time) { g.clock = now }

// Next appends one JSON record (no trailing newline) to dst and returns the extended slice.
func (g *Generator) Next(dst []byte) []byte {
	g.fill(g)
	dst = append(dst, '{')
	for i := range g.fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, g.fields[i].key...)
		dst = g.fields[i].write(g, dst)
	}
	if g.cat.CustomFields {
		dst = appendHeaders(g, dst)
	}
	return append(dst, '}')
}

// writeFunc appends one value.
type writeFunc func(g *Generator, dst []byte) []byte

// fallbackWriter covers catalog fields this package has no specific generator for.
func fallbackWriter(typ string) writeFunc {
	switch typ {
	case "int":
		return func(g *Generator, dst []byte) []byte { return strconv.AppendInt(dst, int64(g.rng.IntN(1000)), 10) }
	case "float":
		return func(g *Generator, dst []byte) []byte {
			return strconv.AppendFloat(dst, math.Round(g.rng.Float64()*1000)/1000, 'f', -1, 64)
		}
	case "bool":
		return func(g *Generator, dst []byte) []byte { return strconv.AppendBool(dst, g.rng.IntN(2) == 0) }
	case "timestamp":
		return func(g *Generator, dst []byte) []byte { return g.appendTime(dst, g.st.start) }
	}
	return func(g *Generator, dst []byte) []byte { return appendStr(dst, "-") }
}

// ---- small appenders ----

// appendStr appends s as a JSON string. Generated strings never need escaping (tests check it).
func appendStr(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

const hexDigits = "0123456789abcdef"

// appendHex appends the n low hex digits of v (n ≤ 16).
func appendHex(dst []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, hexDigits[(v>>(4*uint(i)))&0xf])
	}
	return dst
}

// appendTime appends t as a JSON string in RFC 3339 with milliseconds at +08:00.
func (g *Generator) appendTime(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	var prefix []byte
	switch sec {
	case g.tsec[0]:
		prefix = g.tprefix[0]
	case g.tsec[1]:
		prefix = g.tprefix[1]
	default:
		i := g.tnext
		g.tnext ^= 1
		g.tsec[i] = sec
		g.tprefix[i] = t.In(zone).AppendFormat(g.tprefix[i][:0], "2006-01-02T15:04:05")
		prefix = g.tprefix[i]
	}
	ms := t.Nanosecond() / 1e6
	dst = append(dst, '"')
	dst = append(dst, prefix...)
	dst = append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(dst, "+08:00\""...)
}

// appendHTTPDate appends t as an HTTP date (RFC 1123, GMT) JSON string.
func appendHTTPDate(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, "Mon, 02 Jan 2006 15:04:05 GMT")
	return append(dst, '"')
}

// ---- random helpers ----

// logNormal returns exp(mu + sigma·N(0,1)) rounded, at least min.
func (g *Generator) logNormal(median, sigma float64, min int64) int64 {
	v := int64(median * math.Exp(sigma*g.rng.NormFloat64()))
	if v < min {
		return min
	}
	return v
}

// pick returns an index into a weighted table.
func (g *Generator) pick(w *weights) int { return w.pick(g.rng) }

// weights is a cumulative weight table.
type weights struct {
	cum   []int
	total int
}

func newWeights(ws ...int) *weights {
	w := &weights{cum: make([]int, len(ws))}
	for i, x := range ws {
		w.total += x
		w.cum[i] = w.total
	}
	return w
}

func (w *weights) pick(r *rand.Rand) int {
	n := r.IntN(w.total)
	for i, c := range w.cum {
		if n < c {
			return i
		}
	}
	return len(w.cum) - 1
}

// choice is a weighted set of strings.
type choice struct {
	vals []string
	w    *weights
}

func newChoice(pairs ...any) *choice {
	c := &choice{}
	var ws []int
	for i := 0; i < len(pairs); i += 2 {
		c.vals = append(c.vals, pairs[i].(string))
		ws = append(ws, pairs[i+1].(int))
	}
	c.w = newWeights(ws...)
	return c
}

func (c *choice) pick(r *rand.Rand) string { return c.vals[c.w.pick(r)] }
