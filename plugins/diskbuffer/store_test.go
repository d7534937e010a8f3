package diskbuffer

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/esa-connect/esa-connect/plugins/pipeline"
)

func records(n int, prefix string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"id":"%s-%d","pad":"%s"}`, prefix, i, bytes.Repeat([]byte("x"), i%50))
	}
	return out
}

func TestBatchRoundTrip(t *testing.T) {
	created := time.Unix(1764028800, 123456789)
	for _, n := range []int{1, 7, 1000} {
		recs := records(n, "r")
		recs[0] = []byte{} // an empty record survives too
		var scratch []byte
		v := encodeBatch(nil, recs, flagChecked, created, &scratch, nil)
		got, _, flags, err := decodeBatch(v, nil)
		if err != nil {
			t.Fatalf("%d records: %v", n, err)
		}
		if flags != flagChecked {
			t.Fatalf("flags = %b, want %b", flags, flagChecked)
		}
		if len(got) != n {
			t.Fatalf("%d records decoded, want %d", len(got), n)
		}
		for i := range recs {
			if !bytes.Equal(got[i], recs[i]) {
				t.Fatalf("record %d = %q, want %q", i, got[i], recs[i])
			}
		}
		c, when, err := header(v)
		if err != nil || c != n || !when.Equal(created) {
			t.Fatalf("header = %d, %v, %v; want %d, %v", c, when, err, n, created)
		}
	}
}

// TestBatchDamage: any changed byte, a cut tail or a foreign value is reported as damage, never
// decoded into wrong records or a panic.
func TestBatchDamage(t *testing.T) {
	var scratch []byte
	v := encodeBatch(nil, records(100, "d"), 0, time.Now(), &scratch, nil)
	for i := 0; i < len(v); i += max(1, len(v)/200) {
		bad := bytes.Clone(v)
		bad[i] ^= 0x40
		if _, _, _, err := decodeBatch(bad, nil); !errors.Is(err, errDamaged) {
			t.Fatalf("byte %d flipped: err = %v, want errDamaged", i, err)
		}
	}
	for _, cut := range []int{0, 1, 3, len(v) / 2, len(v) - 1} {
		if _, _, _, err := decodeBatch(v[:cut], nil); !errors.Is(err, errDamaged) {
			t.Fatalf("cut at %d: err = %v, want errDamaged", cut, err)
		}
	}
	if _, _, _, err := decodeBatch([]byte("not a batch at all"), nil); !errors.Is(err, errDamaged) {
		t.Fatalf("foreign value: err = %v, want errDamaged", err)
	}
}

// received returns n records as the lines of a gzip body (with a final line ending or not), the
// records being sub-slices of the decompressed bytes, as the HTTP ingest hands them over.
func received(t testing.TB, n int, finalNewline bool) (*pipeline.Received, [][]byte) {
	t.Helper()
	lines := bytes.Join(records(n, "g"), []byte{'\n'})
	if finalNewline {
		lines = append(lines, '\n')
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(lines); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	for rest := lines; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		recs = append(recs, line)
	}
	return &pipeline.Received{Gzip: gz.Bytes(), Lines: lines}, recs
}

// TestBatchRoundTripGzip: records that are the lines of the gzip body they arrived in are stored as
// that body (not compressed again) and decoded back; records that are not (a copy) are stored as S2.
func TestBatchRoundTripGzip(t *testing.T) {
	for _, n := range []int{1, 7, 1000} {
		for _, final := range []bool{true, false} {
			rcv, recs := received(t, n, final)
			var scratch []byte
			v := encodeBatch(nil, recs, flagChecked, time.Now(), &scratch, rcv)
			if !bytes.Contains(v, rcv.Gzip) {
				t.Fatalf("%d records: the gzip body is not stored as it came", n)
			}
			got, _, flags, err := decodeBatch(v, make([]byte, 0, 100))
			if err != nil {
				t.Fatalf("%d records, final line ending %v: %v", n, final, err)
			}
			if flags != flagChecked|flagGzip {
				t.Fatalf("flags = %b, want %b", flags, flagChecked|flagGzip)
			}
			if len(got) != n {
				t.Fatalf("%d records decoded, want %d", len(got), n)
			}
			for i := range recs {
				if !bytes.Equal(got[i], recs[i]) {
					t.Fatalf("record %d = %q, want %q", i, got[i], recs[i])
				}
			}
			copied := append([][]byte{bytes.Clone(recs[0])}, recs[1:]...)
			v = encodeBatch(nil, copied, flagChecked, time.Now(), &scratch, rcv)
			if got, _, flags, err = decodeBatch(v, nil); err != nil || flags != flagChecked || len(got) != n || !bytes.Equal(got[0], recs[0]) {
				t.Fatalf("records not held by the body: %d records, flags %b, %v", len(got), flags, err)
			}
		}
	}
}

// TestBatchDamageGzip: a gzip block whose bytes changed, or whose records do not have the stored
// lengths, is damage.
func TestBatchDamageGzip(t *testing.T) {
	rcv, recs := received(t, 50, true)
	var scratch []byte
	v := encodeBatch(nil, recs, 0, time.Now(), &scratch, rcv)
	for i := 0; i < len(v); i += max(1, len(v)/200) {
		bad := bytes.Clone(v)
		bad[i] ^= 0x40
		if _, _, _, err := decodeBatch(bad, nil); !errors.Is(err, errDamaged) {
			t.Fatalf("byte %d flipped: err = %v, want errDamaged", i, err)
		}
	}
	// A checksum that matches but a body that is not the records: longer, shorter, other separators.
	for name, lines := range map[string][]byte{
		"longer":  append(bytes.Clone(rcv.Lines), "{\"more\":1}\n"...),
		"shorter": rcv.Lines[:len(rcv.Lines)/2],
		"CR LF":   bytes.ReplaceAll(rcv.Lines, []byte{'\n'}, []byte("\r\n")),
	} {
		other, _ := received(t, 1, true)
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write(lines)
		_ = zw.Close()
		other.Gzip, other.Lines = gz.Bytes(), rcv.Lines // Holds looks at Lines only
		v := encodeBatch(nil, recs, 0, time.Now(), &scratch, other)
		if _, _, _, err := decodeBatch(v, nil); !errors.Is(err, errDamaged) {
			t.Fatalf("%s body: err = %v, want errDamaged", name, err)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	var scratch []byte
	f.Add(encodeBatch(nil, records(3, "f"), flagChecked|flagUnique, time.Unix(0, 0), &scratch, nil))
	rcv, recs := received(f, 3, true)
	f.Add(encodeBatch(nil, recs, flagChecked, time.Unix(0, 0), &scratch, rcv))
	f.Add([]byte("EB1"))
	f.Fuzz(func(t *testing.T, v []byte) {
		recs, _, _, err := decodeBatch(v, nil)
		if err != nil {
			return
		}
		n, _, herr := header(v)
		if herr != nil || n != len(recs) {
			t.Fatalf("decoded %d records but header says %d (%v)", len(recs), n, herr)
		}
	})
}
