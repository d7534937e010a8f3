package encode

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/esa-connect/esa-connect/plugins/generate"
)

// unzstd decodes every frame of b with klauspost's decoder.
func unzstd(t testing.TB, b []byte) []byte {
	t.Helper()
	d, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := d.DecodeAll(b, nil)
	if err != nil {
		t.Fatalf("zstd: %v", err)
	}
	return out
}

// zstdCLI decodes b with the zstd command (an independent implementation), or skips without it.
func zstdCLI(t testing.TB, b []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("the zstd command is not installed")
	}
	cmd := exec.Command("zstd", "-d", "-c", "-q")
	cmd.Stdin = bytes.NewReader(b)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("zstd -d: %v: %s", err, errOut.String())
	}
	return out.Bytes()
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// corpus is n generated access records, one per line: as compressible as real logs are.
func corpus(t testing.TB, n int) []byte {
	t.Helper()
	g, err := generate.New("access", 7)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for range n {
		b = append(g.Next(b), '\n')
	}
	return b
}

func TestCheckLevel(t *testing.T) {
	for _, c := range []struct {
		codec string
		level int
		ok    bool
	}{
		{CodecGzip, 0, true}, {CodecGzip, 1, true}, {CodecGzip, 9, true}, {CodecGzip, 10, false}, {CodecGzip, -1, false},
		{CodecZlib, 9, true}, {CodecZlib, 12, false},
		{CodecZstd, 1, true}, {CodecZstd, 22, true}, {CodecZstd, 23, false}, {CodecZstd, -5, false},
		{CodecSnappy, 0, true}, {CodecSnappy, 1, false}, {CodecNone, 3, false},
	} {
		if err := CheckLevel(c.codec, c.level); (err == nil) != c.ok {
			t.Errorf("CheckLevel(%s, %d) = %v", c.codec, c.level, err)
		}
	}
	for level, want := range map[int]zstd.EncoderLevel{0: zstd.SpeedDefault, 1: zstd.SpeedFastest, 2: zstd.SpeedFastest,
		3: zstd.SpeedDefault, 5: zstd.SpeedDefault, 6: zstd.SpeedBetterCompression, 9: zstd.SpeedBetterCompression,
		10: zstd.SpeedBestCompression, 22: zstd.SpeedBestCompression} {
		if got := ZstdEncoderLevel(level); got != want {
			t.Errorf("ZstdEncoderLevel(%d) = %s, want %s", level, got, want)
		}
	}
}

// TestCompressorLevels: a level-1 body differs from (and is larger than) a level-9 one, and both
// decode with an independent reader; so for zstd 1 and 19.
func TestCompressorLevels(t *testing.T) {
	src := corpus(t, 1000)
	sizes := map[string]int{}
	for _, c := range []struct {
		codec  string
		level  int
		decode func(testing.TB, []byte) []byte
	}{
		{CodecGzip, 1, gunzip}, {CodecGzip, 9, gunzip}, {CodecGzip, 0, gunzip},
		{CodecZlib, 1, unzlib}, {CodecZlib, 9, unzlib},
		{CodecZstd, 1, unzstd}, {CodecZstd, 19, unzstd}, {CodecZstd, 0, unzstd},
	} {
		comp, err := NewCompressor(c.codec, c.level)
		if err != nil {
			t.Fatal(err)
		}
		out, err := comp.Append([]byte("x"), src)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.decode(t, out[1:]); !bytes.Equal(got, src) {
			t.Fatalf("%s level %d: round trip differs", c.codec, c.level)
		}
		if c.codec == CodecZstd {
			if got := zstdCLIOrSelf(t, out[1:]); !bytes.Equal(got, src) {
				t.Fatalf("zstd level %d: the zstd command decodes something else", c.level)
			}
		}
		sizes[fmt.Sprintf("%s-%d", c.codec, c.level)] = len(out) - 1
	}
	for _, pair := range [][2]string{{"gzip-1", "gzip-9"}, {"zlib-1", "zlib-9"}, {"zstd-1", "zstd-19"}} {
		if sizes[pair[0]] <= sizes[pair[1]] {
			t.Errorf("%s gives %d bytes, %s %d: the level is not honoured", pair[0], sizes[pair[0]], pair[1], sizes[pair[1]])
		}
	}
	if _, err := NewCompressor(CodecGzip, 12); err == nil {
		t.Error("gzip level 12 accepted")
	}
	if _, err := NewCompressor("brotli", 0); err == nil {
		t.Error("brotli accepted")
	}
}

// zstdCLIOrSelf decodes with the zstd command when installed, else with klauspost's decoder.
func zstdCLIOrSelf(t *testing.T, b []byte) []byte {
	if _, err := exec.LookPath("zstd"); err != nil {
		return unzstd(t, b)
	}
	return zstdCLI(t, b)
}

func unzlib(t testing.TB, b []byte) []byte {
	t.Helper()
	r, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestObjectCompressor: object bodies written in pieces decode to the pieces joined: gzip on one core
// and on several (one member either way), zstd as a sequence of frames (read by klauspost's decoder
// and by the zstd command).
func TestObjectCompressor(t *testing.T) {
	src := corpus(t, 1000) // about 2.5 MB
	for _, c := range []struct {
		codec    string
		level    int
		parallel bool
	}{
		{CodecGzip, 0, true}, {CodecGzip, 1, false}, {CodecGzip, 9, true}, {"", 0, false},
		{CodecZstd, 0, false}, {CodecZstd, 1, false}, {CodecZstd, 12, false},
	} {
		t.Run(fmt.Sprintf("%s-%d-%v", c.codec, c.level, c.parallel), func(t *testing.T) {
			oc, err := NewObjectCompressor(c.codec, c.level, 256<<10)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			w, err := oc.NewWriter(&out, c.parallel)
			if err != nil {
				t.Fatal(err)
			}
			for rest := src; len(rest) > 0; {
				n := min(len(rest), 70_001)
				if _, err := w.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			var got []byte
			switch oc.Codec() {
			case CodecGzip:
				if oc.Extension() != ".log.gz" || oc.ContentEncoding() != "gzip" {
					t.Errorf("gzip: %s %s", oc.Extension(), oc.ContentEncoding())
				}
				got = gunzip(t, out.Bytes())
				// One member: the reader stops after it and finds nothing more.
				r, _ := gzip.NewReader(bytes.NewReader(out.Bytes()))
				r.Multistream(false)
				if one, _ := io.ReadAll(r); !bytes.Equal(one, src) {
					t.Error("gzip object is not one member")
				}
			case CodecZstd:
				if oc.Extension() != ".log.zst" || oc.ContentEncoding() != "zstd" {
					t.Errorf("zstd: %s %s", oc.Extension(), oc.ContentEncoding())
				}
				got = unzstd(t, out.Bytes())
				if frames := bytes.Count(out.Bytes(), []byte{0x28, 0xb5, 0x2f, 0xfd}); frames < len(src)/(256<<10) {
					t.Errorf("%d frames for %d bytes in frames of 256 KiB", frames, len(src))
				}
				if cli := zstdCLIOrSelf(t, out.Bytes()); !bytes.Equal(cli, src) {
					t.Error("the zstd command decodes something else")
				}
			}
			if !bytes.Equal(got, src) {
				t.Fatalf("round trip differs: %d bytes, want %d", len(got), len(src))
			}
			if out.Len() > len(src)/4 {
				t.Errorf("%d bytes from %d: not compressed", out.Len(), len(src))
			}
		})
	}
	// An empty zstd object is one empty frame, which decodes to nothing.
	oc, _ := NewObjectCompressor(CodecZstd, 0, 1<<20)
	var out bytes.Buffer
	w, _ := oc.NewWriter(&out, false)
	if err := w.Close(); err != nil || out.Len() == 0 || len(unzstd(t, out.Bytes())) != 0 {
		t.Errorf("empty zstd object: %d bytes, %v", out.Len(), err)
	}
	if _, err := NewObjectCompressor(CodecSnappy, 0, 0); err == nil || !strings.Contains(err.Error(), "gzip or zstd") {
		t.Errorf("snappy objects: %v", err)
	}
	if _, err := NewObjectCompressor(CodecZstd, 30, 0); err == nil {
		t.Error("zstd level 30 accepted")
	}
}
