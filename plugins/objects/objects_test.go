package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/encode"
)

func TestPartitionerDirs(t *testing.T) {
	tm := time.Date(2026, 12, 6, 15, 4, 5, 0, time.FixedZone("", 8*3600)) // 07:04:05 UTC
	rec := []byte(`{"ClientRequestHost":"www.example.com","SecAction":"deny","Status":403,"Empty":"","Null":null,"Path":"/a b/ü?x=1","Dots":"..","Obj":{"a":1}}`)
	for _, c := range []struct {
		by    []string
		style string
		want  string
	}{
		{[]string{"date", "hour"}, "hive", "dt=2026-12-06/hour=07"},
		{[]string{"date", "hour"}, "", "dt=2026-12-06/hour=07"},
		{[]string{"date", "hour"}, "plain", "2026-12-06/07"},
		{[]string{"ClientRequestHost"}, "hive", "ClientRequestHost=www.example.com"},
		{[]string{"date", "SecAction"}, "plain", "2026-12-06/deny"},
		{[]string{"SecAction", "date", "hour"}, "hive", "SecAction=deny/dt=2026-12-06/hour=07"},
		{[]string{"Status"}, "hive", "Status=403"},
		{[]string{"Empty", "Null", "Missing"}, "hive", "Empty=__HIVE_DEFAULT_PARTITION__/Null=__HIVE_DEFAULT_PARTITION__/Missing=__HIVE_DEFAULT_PARTITION__"},
		{[]string{"Empty", "Missing"}, "plain", "-/-"},
		{[]string{"Path"}, "plain", "%2Fa%20b%2F%C3%BC%3Fx%3D1"},
		{[]string{"Dots"}, "plain", "%2E%2E"},
		{[]string{"Obj"}, "hive", "Obj=%7B%22a%22%3A1%7D"},
	} {
		p, err := NewPartitioner(c.by, c.style)
		if err != nil {
			t.Fatalf("%v %s: %v", c.by, c.style, err)
		}
		if got := string(p.AppendDir([]byte("x/"), rec, tm)); got != "x/"+c.want {
			t.Errorf("%v %s: %q, want %q", c.by, c.style, got, "x/"+c.want)
		}
		if p.Time() != (c.by[0] == "date" || len(c.by) > 1 && c.by[1] == "date") {
			t.Errorf("%v: Time() = %v", c.by, p.Time())
		}
	}
	for _, c := range []struct {
		by    []string
		style string
		want  string
	}{
		{nil, "hive", "no level"},
		{[]string{"hour", "date"}, "hive", "hour needs date before it"},
		{[]string{"date", "date"}, "hive", "given twice"},
		{[]string{"date", "hour", "A", "B", "C"}, "hive", "at most 4"},
		{[]string{"date"}, "flat", "not hive or plain"},
		{[]string{"a/b"}, "hive", "not a field name"},
		{[]string{""}, "hive", "empty"},
	} {
		if _, err := NewPartitioner(c.by, c.style); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %s: %v, want %q", c.by, c.style, err, c.want)
		}
	}
}

// TestAppendEscaped: safe bytes kept, others %XX, long values cut with a hash that keeps them apart.
func TestAppendEscaped(t *testing.T) {
	for in, want := range map[string]string{
		"abc-XYZ_0.9": "abc-XYZ_0.9", "a b": "a%20b", "a/b": "a%2Fb", "=%~": "%3D%25%7E", ".": "%2E", "a.": "a.",
	} {
		if got := string(AppendEscaped(nil, []byte(in))); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	long1 := strings.Repeat("a", 200)
	long2 := strings.Repeat("a", 199) + "b"
	e1, e2 := string(AppendEscaped(nil, []byte(long1))), string(AppendEscaped(nil, []byte(long2)))
	if len(e1) > 96 || len(e2) > 96 || e1 == e2 || !regexp.MustCompile(`^a{79}~[0-9a-f]{16}$`).MatchString(e1) {
		t.Errorf("long values: %q %q", e1, e2)
	}
	slashes := string(AppendEscaped(nil, []byte(strings.Repeat("/", 40))))
	if len(slashes) > 96 || !strings.HasSuffix(slashes[:len(slashes)-17], "%2F") {
		t.Errorf("long escaped value %q (%d bytes) cut inside an escape", slashes, len(slashes))
	}
}

// memStore keeps the objects it is given, decompressed.
type memStore struct {
	t    *testing.T
	dir  string
	mu   sync.Mutex
	objs map[string]stored
	fail func(key string) error
	puts int
}

type stored struct {
	body            []byte
	contentEncoding string
	records         int
}

func newMemStore(t *testing.T) *memStore {
	return &memStore{t: t, dir: t.TempDir(), objs: map[string]stored{}}
}

func (s *memStore) Spool() (*os.File, error) { return os.CreateTemp(s.dir, "spool-*") }

func (s *memStore) Put(_ context.Context, o *Object) error {
	s.mu.Lock()
	s.puts++
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		if err := fail(o.Key); err != nil {
			return err
		}
	}
	raw, err := io.ReadAll(io.NewSectionReader(o.Body, 0, o.Size))
	if err != nil {
		return err
	}
	var body []byte
	switch o.ContentEncoding {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return err
		}
		if body, err = io.ReadAll(zr); err != nil {
			return err
		}
	case "zstd":
		d, _ := zstd.NewReader(nil)
		defer d.Close()
		if body, err = d.DecodeAll(raw, nil); err != nil {
			return err
		}
	default:
		return fmt.Errorf("content encoding %q", o.ContentEncoding)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.objs[o.Key]; dup {
		s.t.Errorf("key %s stored twice", o.Key)
	}
	s.objs[o.Key] = stored{body: body, contentEncoding: o.ContentEncoding, records: o.Records}
	return nil
}

func (s *memStore) Describe(key string) string { return "mem://" + key }

// keys returns the stored keys, sorted.
func (s *memStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ks []string
	for k := range s.objs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (s *memStore) get(key string) stored {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.objs[key]
}

func newAssembler(t *testing.T, store Store, mod func(*Config)) *Assembler {
	t.Helper()
	cfg := Config{Name: "test", Task: "tk", Path: "logs/esa", TimeField: "T", Encoding: encode.DefaultOptions(),
		Count: 100000, Bytes: 64 << 20, Period: time.Hour, Uploads: 1, Metrics: delivery.NewMetrics(nil, "tk")}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	a.SetRetryDelays(time.Millisecond, time.Millisecond)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return a
}

func msgs(recs ...string) service.MessageBatch {
	var b service.MessageBatch
	for _, r := range recs {
		b = append(b, service.NewMessage([]byte(r)))
	}
	return b
}

// bundle is one message holding recs as esa_fields's bundle mode makes it.
func bundle(first, last string, recs ...string) *service.Message {
	m := service.NewMessage([]byte(strings.Join(recs, "\n")))
	m.MetaSetMut(pipeline.MetaRecords, int64(len(recs)))
	m.MetaSetMut(pipeline.MetaFirstTime, first)
	m.MetaSetMut(pipeline.MetaLastTime, last)
	return m
}

var keyRE = regexp.MustCompile(`^logs/esa/(.+)/tk_(\d{8}T\d{6}Z)_(\d{8}T\d{6}Z)_(\d{6})_([0-9a-f]{8})\.log\.(gz|zst)$`)

// split returns a key's directory (under logs/esa), first and last times.
func split(t *testing.T, key string) (dir, first, last string) {
	t.Helper()
	m := keyRE.FindStringSubmatch(key)
	if m == nil {
		t.Fatalf("key %q does not match %s", key, keyRE)
	}
	return m[1], m[2], m[3]
}

func partition(t *testing.T, by []string, style string) *Partitioner {
	t.Helper()
	p, err := NewPartitioner(by, style)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDefaultLayoutUnchanged: without a partition, a batch spanning a UTC midnight is one object under
// the date of its earliest record.
func TestDefaultLayoutUnchanged(t *testing.T) {
	st := newMemStore(t)
	a := newAssembler(t, st, nil)
	batch := append(msgs(`{"T":"2026-12-06T00:00:01Z","i":1}`, `{"T":"2026-12-05T23:59:59Z","i":2}`), pipeline.NewFlushMarker())
	if err := a.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	keys := st.keys()
	if len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
	dir, first, last := split(t, keys[0])
	if dir != "20261205" || first != "20261205T235959Z" || last != "20261206T000001Z" || !strings.HasSuffix(keys[0], ".log.gz") {
		t.Errorf("key %s", keys[0])
	}
	if o := st.get(keys[0]); o.contentEncoding != "gzip" || o.records != 2 {
		t.Errorf("object %+v", o)
	}
}

// TestPartitionsByDateAndHour: a batch spanning midnight becomes two objects in two partitions, each
// named by its own records' times; the batch is acknowledged once both are stored, and a failure of
// either fails it. Bundles are split by each line's time.
func TestPartitionsByDateAndHour(t *testing.T) {
	st := newMemStore(t)
	a := newAssembler(t, st, func(c *Config) { c.Partition = partition(t, []string{"date", "hour"}, "hive") })
	batch := append(msgs(
		`{"T":"2026-12-05T23:59:58Z","i":1}`,
		`{"T":"2026-12-06T08:00:00+08:00","i":2}`, // 00:00:00 UTC
		`{"T":"2026-12-05T23:59:59.5Z","i":3}`,
		`{"T":1765000000,"i":4}`, // unix seconds: 2025-12-06T05:46:40Z
	), pipeline.NewFlushMarker())
	if err := a.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	want := map[string][3]string{
		"dt=2026-12-05/hour=23": {"20261205T235958Z", "20261205T235959Z", `{"T":"2026-12-05T23:59:58Z","i":1}` + "\n" + `{"T":"2026-12-05T23:59:59.5Z","i":3}` + "\n"},
		"dt=2026-12-06/hour=00": {"20261206T000000Z", "20261206T000000Z", `{"T":"2026-12-06T08:00:00+08:00","i":2}` + "\n"},
		"dt=2025-12-06/hour=05": {"20251206T054640Z", "20251206T054640Z", `{"T":1765000000,"i":4}` + "\n"},
	}
	keys := st.keys()
	if len(keys) != len(want) {
		t.Fatalf("keys %v", keys)
	}
	for _, k := range keys {
		dir, first, last := split(t, k)
		w, ok := want[dir]
		if !ok || first != w[0] || last != w[1] || string(st.get(k).body) != w[2] {
			t.Errorf("%s: %q, want %v", k, st.get(k).body, w)
		}
	}

	// A bundle whose lines span two hours: split by each line's own time.
	b := bundle("2026-12-06T06:59:59Z", "2026-12-06T07:00:01Z",
		`{"T":"2026-12-06T06:59:59Z","i":5}`, `{"T":"2026-12-06T07:00:01Z","i":6}`, `{"i":7}`)
	if err := a.Write(context.Background(), service.MessageBatch{b, pipeline.NewFlushMarker()}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, k := range st.keys() {
		dir, first, last := split(t, k)
		got[dir] = first + " " + last + " " + string(st.get(k).body)
	}
	// The line without a time goes to the partition of the bundle's earliest time, with its span.
	if g := got["dt=2026-12-06/hour=06"]; g != "20261206T065959Z 20261206T070001Z "+`{"T":"2026-12-06T06:59:59Z","i":5}`+"\n"+`{"i":7}`+"\n" {
		t.Errorf("hour 06: %q", g)
	}
	if g := got["dt=2026-12-06/hour=07"]; g != "20261206T070001Z 20261206T070001Z "+`{"T":"2026-12-06T07:00:01Z","i":6}`+"\n" {
		t.Errorf("hour 07: %q", g)
	}

	// One partition's object fails: the batch fails, though the other partition's object was stored.
	st.fail = func(key string) error {
		if strings.Contains(key, "hour=10") {
			return errors.New("boom")
		}
		return nil
	}
	before := len(st.keys())
	err := a.Write(context.Background(), append(msgs(`{"T":"2026-12-06T09:00:00Z"}`, `{"T":"2026-12-06T10:00:00Z"}`), pipeline.NewFlushMarker()))
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Write = %v, want the failure of hour 10", err)
	}
	if n := len(st.keys()); n != before+1 {
		t.Errorf("%d objects stored, want %d", n, before+1)
	}
}

// TestPartitionsBundleEventTimes: a bundle whose records do not hold their time (the time field is not
// delivered) carries their times beside them (pipeline.MetaEventTimes): spanning a UTC midnight, its
// records go to the two date partitions by their own times, each object named by its own records'
// times. Lines beyond the packed times fall back to the bundle's span.
func TestPartitionsBundleEventTimes(t *testing.T) {
	st := newMemStore(t)
	a := newAssembler(t, st, func(c *Config) { c.Partition = partition(t, []string{"date"}, "hive") })
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	var times pipeline.TimePacker
	for _, s := range []string{"2026-12-05T23:59:58Z", "2026-12-06T08:00:01+08:00", "2026-12-05T23:59:59.5Z", "2026-12-06T00:00:00Z"} {
		times.Add(at(s))
	}
	b := bundle("2026-12-05T23:59:58Z", "2026-12-06T00:00:01Z", `{"i":1}`, `{"i":2}`, `{"i":3}`, `{"i":4}`)
	b.MetaSetMut(pipeline.MetaEventTimes, times.Take())
	if err := a.Write(context.Background(), service.MessageBatch{b, pipeline.NewFlushMarker()}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"dt=2026-12-05": "20261205T235958Z 20261205T235959Z {\"i\":1}\n{\"i\":3}\n",
		"dt=2026-12-06": "20261206T000000Z 20261206T000001Z {\"i\":2}\n{\"i\":4}\n",
	}
	got := map[string]string{}
	for _, k := range st.keys() {
		dir, first, last := split(t, k)
		got[dir] = first + " " + last + " " + string(st.get(k).body)
	}
	if len(got) != len(want) || got["dt=2026-12-05"] != want["dt=2026-12-05"] || got["dt=2026-12-06"] != want["dt=2026-12-06"] {
		t.Errorf("objects %q, want %q", got, want)
	}

	// Two times for three lines: the third gets the bundle's span, in the partition of its first time.
	times.Add(at("2026-12-07T00:00:00Z"))
	times.Add(at("2026-12-08T00:00:00Z"))
	b = bundle("2026-12-09T01:00:00Z", "2026-12-09T02:00:00Z", `{"i":5}`, `{"i":6}`, `{"i":7}`)
	b.MetaSetMut(pipeline.MetaEventTimes, times.Take())
	if err := a.Write(context.Background(), service.MessageBatch{b, pipeline.NewFlushMarker()}); err != nil {
		t.Fatal(err)
	}
	got = map[string]string{}
	for _, k := range st.keys() {
		dir, first, last := split(t, k)
		got[dir] = first + " " + last + " " + string(st.get(k).body)
	}
	for dir, w := range map[string]string{
		"dt=2026-12-07": "20261207T000000Z 20261207T000000Z {\"i\":5}\n",
		"dt=2026-12-08": "20261208T000000Z 20261208T000000Z {\"i\":6}\n",
		"dt=2026-12-09": "20261209T010000Z 20261209T020000Z {\"i\":7}\n",
	} {
		if got[dir] != w {
			t.Errorf("%s: %q, want %q", dir, got[dir], w)
		}
	}
}

// TestPartitionsByField: records filed by a field's value (plain style), in input order within each
// partition; zstd objects.
func TestPartitionsByField(t *testing.T) {
	st := newMemStore(t)
	a := newAssembler(t, st, func(c *Config) {
		c.Partition = partition(t, []string{"SecAction"}, "plain")
		c.Compression = "zstd"
		c.Level = 7
	})
	var recs []string
	for i := range 30 {
		act := []string{"deny", "monitor", "-", ""}[i%4]
		recs = append(recs, fmt.Sprintf(`{"T":"2026-12-06T07:00:%02dZ","SecAction":%q,"i":%d}`, i, act, i))
	}
	if err := a.Write(context.Background(), append(msgs(recs...), pipeline.NewFlushMarker())); err != nil {
		t.Fatal(err)
	}
	keys := st.keys()
	if len(keys) != 3 {
		t.Fatalf("keys %v", keys)
	}
	total := 0
	for _, k := range keys {
		dir, _, _ := split(t, k)
		o := st.get(k)
		if !strings.HasSuffix(k, ".log.zst") || o.contentEncoding != "zstd" {
			t.Errorf("%s: %s", k, o.contentEncoding)
		}
		lines := strings.Split(strings.TrimSuffix(string(o.body), "\n"), "\n")
		prev := -1
		for _, l := range lines {
			var i int
			fmt.Sscanf(l[strings.Index(l, `"i":`)+4:], "%d", &i)
			act := []string{"deny", "monitor", "-", "-"}[i%4]
			if act != dir || i <= prev {
				t.Errorf("%s: record %s (after %d)", k, l, prev)
			}
			prev = i
		}
		total += len(lines)
	}
	if total != 30 {
		t.Errorf("%d records stored", total)
	}
}

// TestMaxOpen: with two partitions open at most, a third closes the one written to longest ago; no
// more than max_open objects are ever being filled.
func TestMaxOpen(t *testing.T) {
	st := newMemStore(t)
	a := newAssembler(t, st, func(c *Config) {
		c.Partition = partition(t, []string{"H"}, "hive")
		c.MaxOpen = 2
		c.Uploads = 2
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 4)
	write := func(recs ...string) {
		go func() { done <- a.Write(ctx, msgs(recs...)) }()
	}
	write(`{"H":"a"}`)
	waitFor(t, func() bool { return openCount(a) == 1 })
	write(`{"H":"b"}`)
	waitFor(t, func() bool { return openCount(a) == 2 })
	write(`{"H":"a"}`) // a is now the most recent
	waitFor(t, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.open["H=a"] != nil && a.open["H=a"].stream.Records() == 2
	})
	write(`{"H":"c"}`) // closes b
	waitFor(t, func() bool { return len(st.keys()) == 1 })
	if dir, _, _ := split(t, st.keys()[0]); dir != "H=b" {
		t.Fatalf("closed %s, want H=b", dir)
	}
	if n := openCount(a); n != 2 {
		t.Fatalf("%d open", n)
	}
	if err := <-done; err != nil { // the write of b
		t.Fatal(err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(st.keys()); n != 3 {
		t.Fatalf("%d objects: %v", n, st.keys())
	}
}

func openCount(a *Assembler) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.open)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestWaitingWritesSealObjects: when every write Benthos may have in flight waits for open objects
// (small batches spread over partitions), the open objects are closed: nothing waits for the period.
func TestWaitingWritesSealObjects(t *testing.T) {
	st := newMemStore(t)
	a := newAssembler(t, st, func(c *Config) {
		c.Partition = partition(t, []string{"H"}, "hive")
		c.Count, c.Bytes = 3000, 2<<20 // 3 writes an object: max_in_flight 5
	})
	if got := a.MaxInFlight(); got != 5 {
		t.Fatalf("MaxInFlight %d", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 3)
	for _, h := range []string{"a", "b", "c"} {
		go func() { errs <- a.Write(ctx, msgs(`{"H":"`+h+`"}`)) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(st.keys()); n != 3 {
		t.Fatalf("%d objects", n)
	}
}

// TestLevelsAndCodecs: the level is honoured (gzip 1 makes a larger object than 9) and a wrong level
// is refused.
func TestLevelsAndCodecs(t *testing.T) {
	var recs []string
	for i := range 3000 {
		recs = append(recs, fmt.Sprintf(`{"T":"2026-12-06T07:00:00Z","i":%d,"v":"%x"}`, i, i*7919%1000))
	}
	sizes := map[int]int64{}
	for _, level := range []int{1, 9} {
		st := newMemStore(t)
		var size int64
		a := newAssembler(t, &sizeStore{memStore: st, size: &size}, func(c *Config) { c.Level = level })
		if err := a.Write(context.Background(), append(msgs(recs...), pipeline.NewFlushMarker())); err != nil {
			t.Fatal(err)
		}
		sizes[level] = size
		if k := st.keys(); len(k) != 1 || st.get(k[0]).records != 3000 {
			t.Fatalf("level %d: %v", level, k)
		}
	}
	if sizes[1] <= sizes[9] {
		t.Errorf("gzip level 1: %d bytes, level 9: %d", sizes[1], sizes[9])
	}
	for _, c := range []Config{{Compression: "gzip", Level: 10}, {Compression: "zstd", Level: 23}, {Compression: "lz4"}} {
		c.Count, c.Bytes, c.Period, c.Encoding = 1, 1, time.Second, encode.DefaultOptions()
		if _, err := New(c, newMemStore(t)); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// sizeStore records the compressed size of what it stores.
type sizeStore struct {
	*memStore
	size *int64
}

func (s *sizeStore) Put(ctx context.Context, o *Object) error {
	*s.size = o.Size
	return s.memStore.Put(ctx, o)
}

// TestOpenObjectsBudget: the open objects of all partitions together hold at most `count` records:
// when they reach it they all close, and the batch is acknowledged once they are stored.
func TestOpenObjectsBudget(t *testing.T) {
	st := newMemStore(t)
	a := newAssembler(t, st, func(c *Config) {
		c.Partition = partition(t, []string{"H"}, "hive")
		c.Count = 10
	})
	var recs []string
	for i := range 9 {
		recs = append(recs, fmt.Sprintf(`{"H":"%c","i":%d}`, 'a'+i%3, i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Write(ctx, msgs(recs...)) }()
	waitFor(t, func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.openRecords == 9 })
	if n := len(st.keys()); n != 0 {
		t.Fatalf("%d objects stored before the budget was reached", n)
	}
	// The tenth record (of a fourth partition) reaches the budget: all four objects close.
	if err := a.Write(ctx, msgs(`{"H":"d","i":9}`)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(st.keys()); n != 4 {
		t.Fatalf("%d objects: %v", n, st.keys())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.openRecords != 0 || a.openBytes != 0 || a.sealedRecords != 0 || a.sealedBytes != 0 || a.active != 0 {
		t.Errorf("accounting after the stores: open %d/%d sealed %d/%d active %d", a.openRecords, a.openBytes, a.sealedRecords, a.sealedBytes, a.active)
	}
}
