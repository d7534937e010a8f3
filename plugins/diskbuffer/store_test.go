package diskbuffer

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
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
		v := encodeBatch(nil, recs, flagChecked, created, &scratch)
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
	v := encodeBatch(nil, records(100, "d"), 0, time.Now(), &scratch)
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

func FuzzDecodeBatch(f *testing.F) {
	var scratch []byte
	f.Add(encodeBatch(nil, records(3, "f"), flagChecked|flagUnique, time.Unix(0, 0), &scratch))
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
