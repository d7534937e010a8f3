package diskbuffer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/delivery"
	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"
	bolt "go.etcd.io/bbolt"

	"github.com/esa-connect/esa-connect/plugins/generate"
)

func open(t *testing.T, dir string, mutate ...func(*Config)) *Buffer {
	t.Helper()
	c := Config{Dir: dir, Task: "t", MaxBytes: 64 << 20}
	for _, m := range mutate {
		m(&c)
	}
	b, err := Open(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.backoff = delivery.Backoff{Initial: time.Millisecond, Max: time.Millisecond, MaxRetries: -1}
	return b
}

// store stores recs and waits for the buffer's acknowledgement (the batch is then on disk).
func store(t *testing.T, b *Buffer, recs [][]byte) {
	t.Helper()
	storeBatch(t, b, pipelinetest.Batch(recs))
}

// storeBatch is store for a batch of messages.
func storeBatch(t *testing.T, b *Buffer, batch service.MessageBatch) {
	t.Helper()
	acked := make(chan error, 1)
	if err := b.WriteBatch(context.Background(), batch, func(_ context.Context, err error) error {
		acked <- err
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := <-acked; err != nil {
		t.Fatal(err)
	}
}

// read returns the next batch that is not a flush marker, with its records.
func read(t *testing.T, b *Buffer) (service.MessageBatch, [][]byte, service.AckFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		msgs, ack, err := b.ReadBatch(ctx)
		if err != nil {
			t.Fatalf("ReadBatch: %v", err)
		}
		msgs = pipeline.WithoutMarkers(msgs)
		if len(msgs) == 0 {
			continue
		}
		recs := make([][]byte, len(msgs))
		for i, m := range msgs {
			recs[i], _ = m.AsBytes()
		}
		return msgs, recs, ack
	}
}

func same(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// endOfBuffer reads until the buffer ends, failing on a batch with records.
func endOfBuffer(t *testing.T, b *Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		msgs, _, err := b.ReadBatch(ctx)
		if errors.Is(err, service.ErrEndOfBuffer) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := len(pipeline.WithoutMarkers(msgs)); n > 0 {
			t.Fatalf("a batch of %d records, want the end of the buffer", n)
		}
	}
}

func TestOrderAckAndRestart(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir)
	a, c, d := records(3, "a"), records(5, "c"), records(2, "d")
	store(t, b, a)
	store(t, b, c)
	store(t, b, d)
	_, got, ack := read(t, b)
	same(t, got, a)
	_ = ack(context.Background(), nil)
	_, got, _ = read(t, b) // c is handed out but never acknowledged: a crash before the destination answered
	same(t, got, c)
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// After a restart, what was not acknowledged is delivered again, in order.
	b = open(t, dir)
	if b.records != int64(len(c)+len(d)) {
		t.Fatalf("reopened buffer holds %d records, want %d", b.records, len(c)+len(d))
	}
	for _, want := range [][][]byte{c, d} {
		_, got, ack := read(t, b)
		same(t, got, want)
		_ = ack(context.Background(), nil)
	}
	b.EndOfInput()
	endOfBuffer(t, b)
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b = open(t, dir)
	defer b.Close(context.Background())
	if b.records != 0 || b.size != 0 {
		t.Fatalf("after every batch was acknowledged the buffer holds %d records (%d bytes)", b.records, b.size)
	}
}

// TestPartialNack: a nack that names records delivers again only those; a permanent failure is counted
// as not delivered and not retried.
func TestPartialNack(t *testing.T) {
	b := open(t, t.TempDir())
	defer b.Close(context.Background())
	recs := records(6, "p")
	store(t, b, recs)
	msgs, _, ack := read(t, b)
	berr := service.NewBatchError(msgs, errors.New("some failed")).
		Failed(1, errors.New("timeout")).
		Failed(4, errors.New("timeout")).
		Failed(5, &delivery.Permanent{Err: errors.New("rejected")})
	_ = ack(context.Background(), berr)
	msgs, got, ack := read(t, b)
	same(t, got, [][]byte{recs[1], recs[4]})
	if u := b.out.Undelivered(); u != 1 {
		t.Fatalf("%d records counted as not delivered, want 1", u)
	}
	// A second partial failure maps back to the stored batch's records.
	_ = ack(context.Background(), service.NewBatchError(msgs, errors.New("again")).Failed(1, errors.New("timeout")))
	_, got, ack = read(t, b)
	same(t, got, [][]byte{recs[4]})
	_ = ack(context.Background(), nil)
	b.EndOfInput()
	endOfBuffer(t, b)
}

// randomRecords are n records of about size bytes that do not compress.
func randomRecords(n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		raw := make([]byte, size*3/4)
		_, _ = rand.Read(raw)
		out[i] = []byte(`{"r":"` + base64.StdEncoding.EncodeToString(raw) + `"}`)
	}
	return out
}

func TestFullReject(t *testing.T) {
	b := open(t, t.TempDir(), func(c *Config) { c.MaxBytes = 16 << 20; c.Reject = true; c.NoSync = true })
	defer b.Close(context.Background())
	var err error
	for i := 0; i < 40 && err == nil; i++ {
		err = b.WriteBatch(context.Background(), pipelinetest.Batch(randomRecords(100, 10<<10)), func(context.Context, error) error { return nil })
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("writing 40 MB into 16 MB: %v, want ErrFull", err)
	}
	if !b.out.Full() {
		t.Fatal("the outcome does not say the buffer is full")
	}
}

// TestFullBlocks: with when_full: block a write waits until a delivery frees space.
func TestFullBlocks(t *testing.T) {
	b := open(t, t.TempDir(), func(c *Config) { c.MaxBytes = 16 << 20; c.NoSync = true })
	defer b.Close(context.Background())
	written := 0
	for b.size+(1<<20)+(64<<10) <= b.c.MaxBytes {
		store(t, b, randomRecords(100, 10<<10))
		written++
	}
	done := make(chan error, 1)
	go func() {
		done <- b.WriteBatch(context.Background(), pipelinetest.Batch(randomRecords(100, 10<<10)), func(context.Context, error) error { return nil })
	}()
	for !b.out.Full() {
		time.Sleep(time.Millisecond) // the writer found the buffer full
	}
	select {
	case err := <-done:
		t.Fatalf("a write into a full buffer returned (%v) before anything was delivered", err)
	default:
	}
	_, _, ack := read(t, b)
	_ = ack(context.Background(), nil)
	if err := <-done; err != nil {
		t.Fatalf("the blocked write failed: %v", err)
	}
	if written < 10 {
		t.Fatalf("only %d batches of 1 MB fit in 16 MB", written)
	}
}

// TestDamagedBatchCut: a stored batch whose bytes changed on disk is cut and counted; the others are
// delivered. Small batches are values of the batches bucket, large ones in buckets of their own.
func TestDamagedBatchCut(t *testing.T) {
	for _, size := range []string{"small", "large"} {
		t.Run(size, func(t *testing.T) {
			dir := t.TempDir()
			b := open(t, dir)
			a, c, d := records(3, "a"), records(4, "c"), records(5, "d")
			if size == "large" {
				a, c, d = randomRecords(3, 2000), randomRecords(4, 2000), randomRecords(5, 2000)
			}
			store(t, b, a)
			store(t, b, c)
			store(t, b, d)
			_ = b.Close(context.Background())

			db, err := bolt.Open(filepath.Join(dir, "t.buffer"), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket(bucket)
				v := bytes.Clone(getBatch(bk, keyOf(2)))
				v[len(v)/2] ^= 0xff
				if sub := bk.Bucket(keyOf(2)); sub != nil {
					return sub.Put(valueKey, v)
				}
				return bk.Put(keyOf(2), v)
			}); err != nil {
				t.Fatal(err)
			}
			_ = db.Close()

			b = open(t, dir)
			defer b.Close(context.Background())
			if got := b.damagedRecords.Load(); got != 1 {
				t.Fatalf("%d damaged records counted, want 1 (a batch whose count cannot be read)", got)
			}
			for _, want := range [][][]byte{a, d} {
				_, got, ack := read(t, b)
				same(t, got, want)
				_ = ack(context.Background(), nil)
			}
		})
	}
}

// TestTruncatedFile: a buffer file cut short (or overwritten) is set aside, what can be read of it is
// saved, and the buffer starts.
func TestTruncatedFile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"truncated", func(t *testing.T, path string) {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, st.Size()/3); err != nil {
				t.Fatal(err)
			}
		}},
		{"overwritten", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("garbage ", 4096)), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b := open(t, dir)
			for range 20 {
				store(t, b, randomRecords(20, 2<<10))
			}
			_ = b.Close(context.Background())
			tc.damage(t, filepath.Join(dir, "t.buffer"))

			b = open(t, dir)
			defer b.Close(context.Background())
			aside, _ := filepath.Glob(filepath.Join(dir, "t.buffer.damaged-*"))
			if len(aside) != 1 {
				t.Fatalf("damaged file set aside as %v, want one t.buffer.damaged-*", aside)
			}
			if b.damagedRecords.Load() == 0 {
				t.Fatal("no damaged record counted")
			}
			if b.records%20 != 0 || b.records >= 400 {
				t.Fatalf("the new buffer holds %d records: want whole batches of the 400 written, fewer than all", b.records)
			}
			// The buffer works: a new batch goes through.
			fresh := records(2, "fresh")
			store(t, b, fresh)
			for {
				_, got, ack := read(t, b)
				_ = ack(context.Background(), nil)
				if bytes.Equal(got[0], fresh[0]) {
					break
				}
			}
		})
	}
}

// TestFlushMarkers: a flush marker from the input is handed out after the batch written before it.
func TestFlushMarkers(t *testing.T) {
	b := open(t, t.TempDir())
	defer b.Close(context.Background())
	recs := records(2, "m")
	in := append(pipelinetest.Batch(recs), pipeline.NewFlushMarker())
	acked := make(chan error, 1)
	if err := b.WriteBatch(context.Background(), in, func(_ context.Context, err error) error { acked <- err; return nil }); err != nil {
		t.Fatal(err)
	}
	<-acked
	ctx := context.Background()
	msgs, _, _ := b.ReadBatch(ctx)
	if len(msgs) != 2 || pipeline.IsFlushMarker(msgs[0]) {
		t.Fatalf("first read: %d messages, want the 2 records", len(msgs))
	}
	msgs, _, _ = b.ReadBatch(ctx)
	if len(msgs) != 1 || !pipeline.IsFlushMarker(msgs[0]) {
		t.Fatalf("second read: %d messages, want a flush marker", len(msgs))
	}
}

// accessBatch is n generated access records (about 1.3 KB each).
func accessBatch(b *testing.B, n int) [][]byte {
	g, err := generate.New("access", 1)
	if err != nil {
		b.Fatal(err)
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.Next(nil)
	}
	return out
}

// BenchmarkRoundTrip: a batch of 1,000 access records written (synced), read back and acknowledged
// (deleted), one batch at a time: the buffer's cost per record on top of the pipeline.
func BenchmarkRoundTrip(b *testing.B) {
	for _, mode := range []struct {
		name string
		sync bool
	}{{"sync", true}, {"nosync", false}} {
		b.Run(mode.name, func(b *testing.B) {
			recs := accessBatch(b, 1000)
			size := 0
			for _, r := range recs {
				size += len(r)
			}
			buf, err := Open(Config{Dir: b.TempDir(), Task: "bench", MaxBytes: 1 << 30, NoSync: !mode.sync}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer buf.Close(context.Background())
			ctx := context.Background()
			acked := make(chan error, 1)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := buf.WriteBatch(ctx, pipelinetest.Batch(recs), func(_ context.Context, err error) error { acked <- err; return nil }); err != nil {
					b.Fatal(err)
				}
				if err := <-acked; err != nil {
					b.Fatal(err)
				}
				msgs, ack, err := buf.ReadBatch(ctx)
				if err != nil || len(msgs) != len(recs) {
					b.Fatalf("read %d messages: %v", len(msgs), err)
				}
				_ = ack(ctx, nil)
			}
			b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// TestCheckedMarksKept: records marked valid before the buffer are marked valid when read back from
// disk (the esa_* processors then skip validating them again); a batch with one unmarked record is not
// marked.
func TestCheckedMarksKept(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir)
	recs := records(3, "v")
	marked := pipelinetest.Batch(recs)
	pipeline.MarkChecked(marked, true)
	mixed := pipelinetest.Batch(recs)
	pipeline.MarkChecked(mixed[:2], true)
	for _, in := range []service.MessageBatch{marked, mixed} {
		acked := make(chan error, 1)
		if err := b.WriteBatch(context.Background(), in, func(_ context.Context, err error) error { acked <- err; return nil }); err != nil {
			t.Fatal(err)
		}
		<-acked
	}
	_ = b.Close(context.Background())
	b = open(t, dir) // read from disk, not from the input's messages
	defer b.Close(context.Background())
	for i, want := range []bool{true, false} {
		msgs, got, ack := read(t, b)
		for j, m := range msgs {
			if ok, unique := pipeline.Checked(m, got[j]); ok != want || unique != want {
				t.Fatalf("batch %d record %d: checked %v unique %v, want %v", i, j, ok, unique, want)
			}
		}
		_ = ack(context.Background(), nil)
	}
}

// TestHotThenDisk: a batch's first delivery comes from the input's messages while they are kept in
// memory; after a failure it is read from disk, records and order unchanged.
func TestHotThenDisk(t *testing.T) {
	b := open(t, t.TempDir())
	defer b.Close(context.Background())
	recs := records(4, "h")
	store(t, b, recs)
	if len(b.hot) != 1 {
		t.Fatalf("%d batches kept in memory, want 1", len(b.hot))
	}
	msgs, got, ack := read(t, b)
	same(t, got, recs)
	if len(b.hot) != 0 || b.hotBytes != 0 {
		t.Fatalf("after the first delivery %d batches (%d bytes) are still kept", len(b.hot), b.hotBytes)
	}
	_ = ack(context.Background(), service.NewBatchError(msgs, errors.New("x")).Failed(2, errors.New("timeout")))
	_, got, ack = read(t, b)
	same(t, got, [][]byte{recs[2]})
	_ = ack(context.Background(), nil)
}

// storedFlags returns the flags of every batch stored in dir's buffer file (closed), by sequence.
func storedFlags(t *testing.T, dir string) map[uint64]byte {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "t.buffer"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[uint64]byte{}
	if err := db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		return bk.ForEach(func(k, v []byte) error {
			_, flags, _, _, _, err := parse(batchValue(bk, k, v))
			out[seqOf(k)] = flags
			return err
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReceivedStoredAsIs: a batch that arrived as the lines of one gzip body (pipeline.Received) and
// is kept in memory for its first delivery is stored as that body; one that is not kept (the memory
// for first deliveries is full) is S2-compressed, which reads back faster. After a restart both are
// read from disk, records and order unchanged.
func TestReceivedStoredAsIs(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir)
	withBody := func(n int) (service.MessageBatch, [][]byte) {
		rcv, recs := received(t, n, true)
		batch := pipelinetest.Batch(recs)
		batch[0] = pipeline.WithReceived(batch[0], rcv)
		return batch, recs
	}
	hotBatch, hotRecs := withBody(20)
	storeBatch(t, b, hotBatch)
	b.mu.Lock()
	kept := b.hotBytes
	b.hotBytes = hotMax // full: the next batch is not kept
	b.mu.Unlock()
	coldBatch, coldRecs := withBody(30)
	storeBatch(t, b, coldBatch)
	b.mu.Lock()
	b.hotBytes = kept
	b.mu.Unlock()
	if len(b.hot) != 1 {
		t.Fatalf("%d batches kept in memory, want 1", len(b.hot))
	}
	_ = b.Close(context.Background())

	flags := storedFlags(t, dir)
	if flags[1]&flagGzip == 0 || flags[2]&flagGzip != 0 {
		t.Fatalf("stored flags %b and %b: want the kept batch as its gzip body and the other as S2", flags[1], flags[2])
	}
	b = open(t, dir)
	defer b.Close(context.Background())
	for _, want := range [][][]byte{hotRecs, coldRecs} {
		_, got, ack := read(t, b)
		same(t, got, want)
		_ = ack(context.Background(), nil)
	}
}

// TestPacing: while the batches kept in memory fill their room and the pipeline takes them, a write
// waits until one is taken and is then kept in memory too; once the pipeline stopped taking
// batches, a write does not wait and goes to disk only.
func TestPacing(t *testing.T) {
	b := open(t, t.TempDir())
	defer b.Close(context.Background())
	b.pace = time.Minute // a write waits for a take, however slow the machine

	first := records(10, "p")
	store(t, b, first)
	b.mu.Lock()
	filler := hotMax - b.hotBytes // the room left, taken as if by other batches
	b.hotBytes += filler
	b.lastTake = time.Now() // the pipeline is taking batches
	b.mu.Unlock()

	second := records(10, "q")
	done := make(chan struct{})
	go func() {
		defer close(done)
		store(t, b, second)
	}()
	for waiting := false; !waiting; {
		select {
		case <-done:
			t.Fatal("the write did not wait for room while the pipeline was taking batches")
		case <-time.After(time.Millisecond):
		}
		b.mu.Lock()
		waiting = b.pacing > 0
		b.mu.Unlock()
	}
	_, got, ack := read(t, b) // the pipeline takes the first batch: room for the second
	same(t, got, first)
	_ = ack(context.Background(), nil)
	<-done
	b.mu.Lock()
	_, secondHot := b.hot[2]
	b.hotBytes -= filler
	b.mu.Unlock()
	if !secondHot {
		t.Fatal("the paced write was not kept in memory")
	}
	_, got, ack = read(t, b)
	same(t, got, second)
	_ = ack(context.Background(), nil)

	// The pipeline stopped taking batches a while ago: a write with no room goes straight to disk.
	b.mu.Lock()
	b.hotBytes += hotMax
	b.lastTake = time.Now().Add(-2 * time.Minute)
	b.mu.Unlock()
	third := records(10, "r")
	store(t, b, third)
	b.mu.Lock()
	_, thirdHot := b.hot[3]
	b.hotBytes -= hotMax
	b.mu.Unlock()
	if thirdHot {
		t.Fatal("a batch was kept in memory that had no room")
	}
	_, got, ack = read(t, b)
	same(t, got, third)
	_ = ack(context.Background(), nil)
}

// TestEarlierFileForm: a buffer file whose large batches are values of the batches bucket (as
// written before they had a bucket of their own) is read, and its batches deleted once delivered,
// beside batches written now.
func TestEarlierFileForm(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir)
	_ = b.Close(context.Background())
	old := randomRecords(5, 2000)
	db, err := bolt.Open(filepath.Join(dir, "t.buffer"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	var scratch []byte
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).Put(keyOf(1), encodeBatch(nil, old, flagChecked, time.Now(), &scratch, nil))
	}); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	b = open(t, dir)
	if b.records != int64(len(old)) {
		t.Fatalf("%d records found, want %d", b.records, len(old))
	}
	recent := randomRecords(3, 2000)
	store(t, b, recent)
	for _, want := range [][][]byte{old, recent} {
		_, got, ack := read(t, b)
		same(t, got, want)
		_ = ack(context.Background(), nil)
	}
	_ = b.Close(context.Background()) // commits the deletions
	if left := storedFlags(t, dir); len(left) != 0 {
		t.Fatalf("%d batches left after they were delivered", len(left))
	}
}

// TestBatchWrittenOnce: storing a batch and deleting one write about the batch's own bytes, not the
// batches beside it (as when batches were values of one bucket: two to four per B+tree leaf).
func TestBatchWrittenOnce(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir)
	defer b.Close(context.Background())
	recs := randomRecords(200, 2000) // about 400 KB a batch, S2 barely shrinks them
	for range 6 {
		store(t, b, recs)
	}
	allocated := func() int64 { st := b.db.Stats().TxStats; return st.GetPageAlloc() }
	before := allocated()
	store(t, b, recs)
	_, _, ack := read(t, b)
	_ = ack(context.Background(), nil)
	store(t, b, recs)               // its commit also deletes the batch delivered
	written := allocated() - before // the pages of the commits, before they are written
	size := int64(len(encodeBatch(nil, recs, 0, time.Now(), new([]byte), nil)))
	if written > 3*size {
		t.Fatalf("two batches of %d bytes stored and one deleted: %d bytes written", size, written)
	}
	t.Logf("two batches of %d bytes stored and one deleted: %d bytes written", size, written)

	// A small batch is a value of the batches bucket, many to a page.
	store(t, b, records(2, "small"))
	if err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		if bk.Bucket(keyOf(9)) != nil || bk.Get(keyOf(9)) == nil || bk.Bucket(keyOf(8)) == nil {
			return errors.New("want batch 8 in a bucket of its own and batch 9 a value of the batches bucket")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
