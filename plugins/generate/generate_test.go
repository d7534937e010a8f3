package generate

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/record"
)

var fixedNow = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func newGen(t testing.TB, cat string, seed int64) *Generator {
	t.Helper()
	g, err := New(cat, seed)
	if err != nil {
		t.Fatal(err)
	}
	g.SetClock(func() time.Time { return fixedNow })
	return g
}

// TestEveryFieldWithItsType decodes many records of every category with encoding/json and checks that
// each catalog field is present with its catalog type, and that nothing else but the header maps is.
func TestEveryFieldWithItsType(t *testing.T) {
	for _, cat := range config.Categories() {
		t.Run(cat.Name, func(t *testing.T) {
			g := newGen(t, cat.Name, 1)
			var buf []byte
			sel, out, sh := record.NewSelector(), []record.Value(nil), &record.Shape{}
			for i := 0; i < 2000; i++ {
				buf = g.Next(buf[:0])
				// esa_generate marks its records as checked (valid, distinct names): they must be.
				if err := sel.ScanShape(buf, out, sh); err != nil || !sh.Unique() {
					t.Fatalf("record %d: strict validation %v, distinct names %v\n%s", i, err, sh.Unique(), buf)
				}
				var m map[string]any
				dec := json.NewDecoder(bytes.NewReader(buf))
				dec.UseNumber()
				if err := dec.Decode(&m); err != nil {
					t.Fatalf("record %d is not JSON: %v\n%s", i, err, buf)
				}
				if bytes.IndexByte(buf, '\n') >= 0 {
					t.Fatalf("record %d contains a newline", i)
				}
				want := len(cat.Fields)
				if cat.CustomFields {
					want += 2
				}
				if len(m) != want {
					t.Fatalf("record %d has %d members, want %d", i, len(m), want)
				}
				for _, f := range cat.Fields {
					v, ok := m[f.Name]
					if !ok {
						t.Fatalf("record %d lacks %s", i, f.Name)
					}
					checkType(t, f, v, buf)
				}
				if cat.CustomFields {
					rh, ok := m["RequestHeaders"].(map[string]any)
					if !ok || rh["host"] == nil || rh["user-agent"] == nil || rh["x-trace-id"] == nil {
						t.Fatalf("record %d: bad RequestHeaders %v", i, m["RequestHeaders"])
					}
					if _, ok := m["ResponseHeaders"].(map[string]any); !ok {
						t.Fatalf("record %d: bad ResponseHeaders", i)
					}
				}
			}
		})
	}
}

func checkType(t *testing.T, f config.Field, v any, rec []byte) {
	t.Helper()
	switch f.Type {
	case config.TypeString:
		if _, ok := v.(string); !ok {
			t.Fatalf("%s = %v (%T), want a string\n%s", f.Name, v, v, rec)
		}
	case config.TypeTimestamp:
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%s = %v, want a timestamp string", f.Name, v)
		}
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !strings.HasSuffix(s, "+08:00") || !strings.Contains(s, ".") {
			t.Fatalf("%s = %q: want RFC 3339 with sub-second precision at +08:00 (%v)", f.Name, s, err)
		}
		if d := fixedNow.Sub(ts); d > 48*time.Hour || d < -time.Minute {
			t.Fatalf("%s = %q is not near now (%s)", f.Name, s, fixedNow)
		}
	case config.TypeInt:
		n, ok := v.(json.Number)
		if !ok {
			t.Fatalf("%s = %v (%T), want a number", f.Name, v, v)
		}
		if _, err := n.Int64(); err != nil {
			t.Fatalf("%s = %v, want an integer", f.Name, v)
		}
	case config.TypeFloat:
		n, ok := v.(json.Number)
		if !ok {
			t.Fatalf("%s = %v (%T), want a number", f.Name, v, v)
		}
		if _, err := n.Float64(); err != nil {
			t.Fatalf("%s = %v, want a float", f.Name, v)
		}
	case config.TypeBool:
		if _, ok := v.(bool); !ok {
			t.Fatalf("%s = %v (%T), want a bool", f.Name, v, v)
		}
	default:
		t.Fatalf("%s has unknown catalog type %q", f.Name, f.Type)
	}
}

// TestEveryFieldHasAGenerator makes sure no catalog field falls back to a type-only placeholder.
func TestEveryFieldHasAGenerator(t *testing.T) {
	tables := map[string]map[string]writeFunc{
		"access": accessWriters, "firewall": firewallWriters, "tcp_udp_proxy": proxyWriters,
		"dns": dnsWriters, "edge_routine": routineWriters, "edge_container": containerWriters,
	}
	for _, cat := range config.Categories() {
		table, ok := tables[cat.Name]
		if !ok {
			t.Errorf("no generator for category %s", cat.Name)
			continue
		}
		for _, f := range cat.Fields {
			if table[f.Name] == nil {
				t.Errorf("%s.%s has no specific generator", cat.Name, f.Name)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	for _, cat := range config.Categories() {
		a, b, c := newGen(t, cat.Name, 42), newGen(t, cat.Name, 42), newGen(t, cat.Name, 43)
		same := true
		for i := 0; i < 200; i++ {
			ra, rb, rc := a.Next(nil), b.Next(nil), c.Next(nil)
			if !bytes.Equal(ra, rb) {
				t.Fatalf("%s: record %d differs for the same seed:\n%s\n%s", cat.Name, i, ra, rb)
			}
			if !bytes.Equal(ra, rc) {
				same = false
			}
		}
		if same {
			t.Fatalf("%s: seeds 42 and 43 gave the same records", cat.Name)
		}
	}
}

func TestAliasAndUnknown(t *testing.T) {
	g, err := New("dcdn_log_access_l1", 1)
	if err != nil || g.Category().Name != "access" {
		t.Fatalf("alias: %v %v", g, err)
	}
	if _, err := New("nope", 1); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown category: %v", err)
	}
}

// TestAccessDistributions checks the shape of the access records: mostly 200 with some 304/404/5xx,
// a dominant host, cache hits without origin fetch, log-normal sizes and about 1.3 KB per record.
func TestAccessDistributions(t *testing.T) {
	g := newGen(t, "access", 7)
	const n = 50000
	status := map[int64]int{}
	hosts := map[string]int{}
	ips := map[string]int{}
	var total int
	var hits, hitsWithOrigin, misses, missesWithOrigin int
	var sizes []float64
	var cookies int
	var buf []byte
	for i := 0; i < n; i++ {
		buf = g.Next(buf[:0])
		total += len(buf)
		st := intField(t, buf, "EdgeResponseStatusCode")
		status[st]++
		hosts[strField(t, buf, "ClientRequestHost")]++
		ips[strField(t, buf, "ClientIP")]++
		cache := strField(t, buf, "EdgeCacheStatus")
		origin := strField(t, buf, "OriginIP")
		ost := intField(t, buf, "OriginResponseStatusCode")
		switch cache {
		case "HIT":
			hits++
			if origin != "-" || ost != -1 || intField(t, buf, "OriginResponseDurationMs") != -1 {
				hitsWithOrigin++
			}
		case "MISS":
			misses++
			if origin != "-" {
				missesWithOrigin++
			}
		}
		if st == 200 {
			sizes = append(sizes, float64(intField(t, buf, "EdgeResponseBodyBytes")))
		}
		start, _ := record.EventTime(buf, "EdgeStartTimestamp")
		end, _ := record.EventTime(buf, "EdgeEndTimestamp")
		if end.Before(start) {
			t.Fatalf("end before start: %s", buf)
		}
		if bytes.Contains(buf, []byte(`"cookie":"sid=`)) {
			cookies++
		}
	}
	frac := func(c int) float64 { return float64(c) / n }
	if f := frac(status[200]); f < 0.6 || f > 0.9 {
		t.Errorf("200 fraction %.3f, want mostly 200", f)
	}
	for _, code := range []int64{304, 404, 502, 206} {
		if status[code] == 0 {
			t.Errorf("no %d in %d records: %v", code, n, status)
		}
	}
	if f := frac(status[304]); f < 0.02 || f > 0.15 {
		t.Errorf("304 fraction %.3f", f)
	}
	var s5 int
	for code, c := range status {
		if code >= 500 {
			s5 += c
		}
	}
	if f := frac(s5); f < 0.003 || f > 0.05 {
		t.Errorf("5xx fraction %.4f", f)
	}
	if hits < n/4 || hitsWithOrigin != 0 {
		t.Errorf("hits %d, hits with origin fields %d (want none)", hits, hitsWithOrigin)
	}
	if misses == 0 || missesWithOrigin != misses {
		t.Errorf("misses %d, with origin %d (want all)", misses, missesWithOrigin)
	}
	// Zipf-like: the most frequent client IP is much more frequent than the median one, and there are many.
	if len(ips) < 1000 || len(hosts) < 5 {
		t.Errorf("%d distinct IPs, %d hosts", len(ips), len(hosts))
	}
	top := 0
	for _, c := range ips {
		top = max(top, c)
	}
	if top < 20*n/len(ips) {
		t.Errorf("top IP has %d of %d requests over %d IPs: not skewed", top, n, len(ips))
	}
	// Log-normal sizes: the log is roughly symmetric (mean ≈ median) while the mean of sizes is far
	// above their median.
	var logs []float64
	var logSum float64
	for _, s := range sizes {
		logs = append(logs, math.Log(math.Max(s, 1)))
		logSum += logs[len(logs)-1]
	}
	if lm, lmed := logSum/float64(len(logs)), median(logs); math.Abs(lm-lmed) > 0.6 {
		t.Errorf("log sizes mean %.2f median %.2f: not log-normal-like", lm, lmed)
	}
	mean := 0.0
	for _, s := range sizes {
		mean += s
	}
	mean /= float64(len(sizes))
	med := median(sizes)
	if mean < 1.5*med {
		t.Errorf("sizes mean %.0f median %.0f: not heavy-tailed", mean, med)
	}
	if f := frac(cookies); f < 0.5 || f > 0.9 {
		t.Errorf("cookie fraction %.2f", f)
	}
	avg := total / n
	// All 57 catalog fields (about 1.2 KB of names alone) plus the header maps.
	if avg < 1800 || avg > 2800 {
		t.Errorf("average access record %d bytes, want about 2.3 KB", avg)
	}
	t.Logf("avg %d bytes; status %v; %d hosts; %d IPs (top %d)", avg, status, len(hosts), len(ips), top)
}

func median(v []float64) float64 {
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	return c[len(c)/2]
}

func intField(t *testing.T, rec []byte, name string) int64 {
	t.Helper()
	raw, kind, ok := record.Lookup(rec, name)
	if !ok || kind != record.Number {
		t.Fatalf("%s missing or not a number in %s", name, rec)
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func strField(t *testing.T, rec []byte, name string) string {
	t.Helper()
	raw, kind, ok := record.Lookup(rec, name)
	if !ok || kind != record.String {
		t.Fatalf("%s missing or not a string in %s", name, rec)
	}
	return record.UnquoteString(raw)
}

func TestTimesFollowTheClock(t *testing.T) {
	g, _ := New("access", 1)
	now := time.Now()
	rec := g.Next(nil)
	ts, ok := record.EventTime(rec, "EdgeStartTimestamp")
	if !ok {
		t.Fatalf("no time in %s", rec)
	}
	if d := now.Sub(ts); d < -time.Second || d > 10*time.Second {
		t.Fatalf("EdgeStartTimestamp %s is not near now %s", ts, now)
	}
}

func BenchmarkNext(b *testing.B) {
	for _, cat := range []string{"access", "firewall", "dns"} {
		b.Run(cat, func(b *testing.B) {
			g := newGen(b, cat, 1)
			buf := make([]byte, 0, 4096)
			var bytesOut int
			b.ReportAllocs()
			for b.Loop() {
				buf = g.Next(buf[:0])
				bytesOut += len(buf)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(bytesOut)/float64(b.N), "bytes/record")
		})
	}
}
