package encode

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
)

func TestEncodeFormats(t *testing.T) {
	recs := [][]byte{
		[]byte(`{"Host":"a.example.com","Status":200,"Path":"/a,b","UA":"say \"hi\"","C":{"x":1}}`),
		[]byte(`{"Host":"b\tc","Status":-1,"Path":"line\nbreak","UA":"-","C":null}`),
	}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"ndjson", DefaultOptions(), string(recs[0]) + "\n" + string(recs[1]) + "\n"},
		{"ndjson no last delimiter", Options{Format: FormatNDJSON, RecordDelimiter: ",", BatchPrefix: "[", BatchSuffix: "]"},
			"[" + string(recs[0]) + "," + string(recs[1]) + "]"},
		{"prefix suffix", Options{Format: FormatNDJSON, RecordPrefix: "<", RecordSuffix: ">", RecordDelimiter: "\n", DelimiterAfterLast: true},
			"<" + string(recs[0]) + ">\n<" + string(recs[1]) + ">\n"},
		{"csv header from first record", Options{Format: FormatCSV, RecordDelimiter: "\n", DelimiterAfterLast: true},
			"Host,Status,Path,UA,C\n" +
				"a.example.com,200,\"/a,b\",\"say \"\"hi\"\"\",\"{\"\"x\"\":1}\"\n" +
				"b\tc,-1,\"line\nbreak\",-,\n"},
		{"csv configured columns", Options{Format: FormatCSV, Fields: []string{"Status", "Missing", "Host"}, RecordDelimiter: "\n", DelimiterAfterLast: true},
			"Status,Missing,Host\n200,,a.example.com\n-1,,b\tc\n"},
		{"tsv escapes", Options{Format: FormatTSV, Fields: []string{"Host", "Path"}, RecordDelimiter: "\n", DelimiterAfterLast: true},
			"Host\tPath\na.example.com\t/a,b\nb\\tc\tline\\nbreak\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := NewEncoder(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := enc.Encode(nil, recs)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
			// The same batch streamed in parts (one record, then none, then the other) is the same.
			st := enc.NewStream()
			var parts []byte
			for _, part := range [][][]byte{recs[:1], nil, recs[1:]} {
				if parts, err = st.Append(parts, part); err != nil {
					t.Fatal(err)
				}
			}
			if parts = st.Finish(parts); string(parts) != tc.want || st.Records() != 2 {
				t.Errorf("streamed in parts:\n%q\nwant\n%q", parts, tc.want)
			}
			empty, _ := enc.Encode(nil, nil)
			if got := enc.NewStream().Finish(nil); string(got) != string(empty) {
				t.Errorf("empty stream %q, empty batch %q", got, empty)
			}
		})
	}
	if _, err := NewEncoder(Options{Format: "xml"}); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestCompressRoundTrip(t *testing.T) {
	src := bytes.Repeat([]byte(`{"ClientIP":"10.0.0.1","EdgeResponseStatusCode":200}`+"\n"), 500)
	for _, codec := range []string{CodecNone, CodecGzip, CodecZlib, CodecSnappy, CodecZstd} {
		t.Run(codec, func(t *testing.T) {
			out, err := Compress(codec, []byte("keep:"), src)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(out, []byte("keep:")) {
				t.Fatal("dst prefix lost")
			}
			out = out[5:]
			var got []byte
			switch codec {
			case CodecNone:
				got = out
			case CodecGzip:
				r, err := gzip.NewReader(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				got, err = io.ReadAll(r)
				if err != nil {
					t.Fatal(err)
				}
			case CodecZlib:
				r, err := zlib.NewReader(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				got, err = io.ReadAll(r)
				if err != nil {
					t.Fatal(err)
				}
			case CodecSnappy:
				got, err = s2.Decode(nil, out)
				if err != nil {
					t.Fatal(err)
				}
			case CodecZstd:
				got = unzstd(t, out)
			}
			if !bytes.Equal(got, src) {
				t.Fatal("round trip differs")
			}
			if codec != CodecNone && len(out) >= len(src)/2 {
				t.Errorf("%s: %d bytes from %d: not compressed", codec, len(out), len(src))
			}
		})
	}
	if _, err := Compress("brotli", nil, src); err == nil {
		t.Error("unknown codec accepted")
	}
	for codec, want := range map[string]string{CodecGzip: "gzip", CodecZlib: "deflate", CodecSnappy: "snappy", CodecZstd: "zstd", CodecNone: ""} {
		if got := ContentEncoding(codec); got != want {
			t.Errorf("ContentEncoding(%s) = %q, want %q", codec, got, want)
		}
	}
}

// TestNamer: keys of the object layout (the whole vector, with event times read from the records, is
// objects.TestObjectNameVector); names never collide, even for identical time spans.
func TestNamer(t *testing.T) {
	first := time.Date(2026, 11, 24, 23, 59, 0, 0, time.UTC)
	last := time.Date(2026, 11, 25, 8, 0, 59, 0, time.FixedZone("", 8*3600))
	n := NewNamer("access-to-s3", "esa/access/")
	re := regexp.MustCompile(`^esa/access/20261124/access-to-s3_20261124T235900Z_20261125T000059Z_(\d+)_([0-9a-f]{8})\.log\.gz$`)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		k := n.Key(first, last)
		if !re.MatchString(k) {
			t.Fatalf("key %q does not match %s", k, re)
		}
		if seen[k] {
			t.Fatalf("duplicate key %s", k)
		}
		seen[k] = true
	}
}

func TestNamerRoot(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// A path-less namer puts the date directory at the root.
	if k := NewNamer("t", "").Key(now, now); !strings.HasPrefix(k, "20260102/t_20260102T030405Z_20260102T030405Z_") {
		t.Errorf("root key %q", k)
	}
}

func TestPacked(t *testing.T) {
	recs := [][]byte{[]byte(`{"a":1}`), {}, []byte(strings.Repeat(`{"k":"repetitive"}`, 100))}
	p := Pack(recs)
	// Size counts the memory kept (capacities): a repetitive record keeps a fraction of its length.
	if p.Len() != 3 || p.Size() >= len(recs[2])/4 {
		t.Fatalf("len %d size %d (records of %d bytes)", p.Len(), p.Size(), len(recs[2]))
	}
	if cap(p.data) != len(p.data) {
		t.Fatalf("a block of %d bytes keeps %d", len(p.data), cap(p.data))
	}
	got, err := p.Records()
	if err != nil || len(got) != 3 || string(got[0]) != string(recs[0]) || len(got[1]) != 0 || string(got[2]) != string(recs[2]) {
		t.Fatalf("records %q %v", got, err)
	}
	sub, err := p.Subset([]int{2, 0})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := sub.Records(); len(got) != 2 || string(got[0]) != string(recs[2]) || string(got[1]) != string(recs[0]) {
		t.Fatalf("subset %q", got)
	}
	if _, err := (&Packed{data: []byte("not s2"), lens: []uint32{3}}).Records(); err == nil {
		t.Fatal("corrupt data unpacked")
	}
}
