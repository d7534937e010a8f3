package encode

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// CodecZstd is Zstandard (RFC 8878): HTTP bodies with Content-Encoding: zstd, and objects (.log.zst).
const CodecZstd = "zstd"

// Compression levels. A level of 0 always means the codec's default.
const (
	// MinGzipLevel and MaxGzipLevel bound a gzip or zlib level (1 fastest, 9 smallest).
	MinGzipLevel, MaxGzipLevel = 1, 9
	// DefaultObjectGzipLevel is the gzip level of objects by default.
	DefaultObjectGzipLevel = 6
	// MinZstdLevel and MaxZstdLevel bound a zstd level, as the zstd command line numbers them; they
	// map to the four levels of the encoder (ZstdEncoderLevel).
	MinZstdLevel, MaxZstdLevel = 1, 22
	// DefaultZstdLevel is the zstd level by default (zstd's own default).
	DefaultZstdLevel = 3
)

// zstdWindow is the window of every zstd stream written (1 MiB): it bounds the memory of each encoder
// and of the readers, for a few percent of size.
const zstdWindow = 1 << 20

// CheckLevel reports whether level suits codec: 0 (the default) always; 1–9 for gzip and zlib; 1–22
// for zstd; nothing else for snappy and no compression.
func CheckLevel(codec string, level int) error {
	if level == 0 {
		return nil
	}
	switch codec {
	case CodecGzip, CodecZlib:
		if level < MinGzipLevel || level > MaxGzipLevel {
			return fmt.Errorf("%d is not a %s level (%d–%d)", level, codec, MinGzipLevel, MaxGzipLevel)
		}
	case CodecZstd:
		if level < MinZstdLevel || level > MaxZstdLevel {
			return fmt.Errorf("%d is not a zstd level (%d–%d)", level, MinZstdLevel, MaxZstdLevel)
		}
	default:
		return fmt.Errorf("only gzip, zlib and zstd take a level, not %q", codec)
	}
	return nil
}

// ZstdEncoderLevel maps a zstd level (1–22, 0 for the default 3) to one of the four levels of the
// klauspost encoder, as zstd.EncoderLevelFromZstd does: 1–2 fastest (about zstd -1), 3–5 default
// (about zstd -3), 6–9 better (about zstd -7) and 10–22 best (about zstd -11, and the most memory:
// about 35 MiB an encoder).
func ZstdEncoderLevel(level int) zstd.EncoderLevel {
	if level == 0 {
		level = DefaultZstdLevel
	}
	return zstd.EncoderLevelFromZstd(level)
}

// newZstdEncoder returns an encoder for EncodeAll (one frame per call) at level, running at most
// concurrency compressions at a time (each holds the encoder's memory).
func newZstdEncoder(level, concurrency int) (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(ZstdEncoderLevel(level)), zstd.WithEncoderConcurrency(concurrency),
		zstd.WithWindowSize(zstdWindow), zstd.WithLowerEncoderMem(true), zstd.WithZeroFrames(true))
}

// Compressor compresses whole bodies (HTTP requests) with one codec at one level. It is safe for
// concurrent use.
type Compressor struct {
	codec string
	level int
	gzip  sync.Pool // *gzip.Writer
	zlib  sync.Pool // *zlib.Writer
	zstd  *zstd.Encoder
}

// NewCompressor returns a compressor for codec (gzip, zlib, snappy, zstd, no or empty for no) at level
// (0: the codec's default; see CheckLevel).
func NewCompressor(codec string, level int) (*Compressor, error) {
	if !ValidCodec(codec) {
		return nil, fmt.Errorf("unknown compression %q (want gzip, zlib, snappy, zstd or no)", codec)
	}
	if err := CheckLevel(codec, level); err != nil {
		return nil, err
	}
	c := &Compressor{codec: codec, level: level}
	switch codec {
	case CodecGzip, CodecZlib:
		if c.level == 0 {
			c.level = gzip.DefaultCompression
		}
	case CodecZstd:
		// A few bodies at a time: an encoder at the best level holds about 35 MiB.
		n := min(runtime.GOMAXPROCS(0), 4)
		if ZstdEncoderLevel(level) == zstd.SpeedBestCompression {
			n = 1
		}
		enc, err := newZstdEncoder(level, n)
		if err != nil {
			return nil, err
		}
		c.zstd = enc
	}
	return c, nil
}

// Codec returns the compressor's codec.
func (c *Compressor) Codec() string { return c.codec }

// Append appends src compressed to dst. Snappy is the block format (no framing); zstd one frame.
func (c *Compressor) Append(dst, src []byte) ([]byte, error) {
	switch c.codec {
	case CodecGzip:
		w, _ := c.gzip.Get().(*gzip.Writer)
		if w == nil {
			var err error
			if w, err = gzip.NewWriterLevel(nil, c.level); err != nil {
				return nil, err
			}
		}
		defer c.gzip.Put(w)
		return appendWriter(w, dst, src, "gzip")
	case CodecZlib:
		w, _ := c.zlib.Get().(*zlib.Writer)
		if w == nil {
			var err error
			if w, err = zlib.NewWriterLevel(nil, c.level); err != nil {
				return nil, err
			}
		}
		defer c.zlib.Put(w)
		return appendWriter(w, dst, src, "zlib")
	case CodecZstd:
		return c.zstd.EncodeAll(src, dst), nil
	}
	return Compress(c.codec, dst, src)
}

// resetWriter is a compressing writer that can be reused (gzip, zlib).
type resetWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

// appendWriter compresses src with w into dst.
func appendWriter(w resetWriter, dst, src []byte, name string) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	w.Reset(buf)
	if _, err := w.Write(src); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// ObjectCompressor compresses the bodies of objects as they fill: gzip (one member, written by a
// streaming compressor) or zstd (a sequence of independent frames, RFC 8878 §3.1, each of up to
// `frame` bytes of records, compressed by one encoder shared by every object). It is safe for
// concurrent use; each Writer is not.
type ObjectCompressor struct {
	codec string
	level int
	frame int
	zstd  *zstd.Encoder
	in    sync.Pool // *[]byte of cap ≤ frame: the records of a frame
	out   sync.Pool // *[]byte: a compressed frame
	gzip  sync.Pool // *gzip.Writer of level, closed
}

// NewObjectCompressor returns the compressor of objects for codec (gzip, zstd, or empty for gzip) at
// level (0: 6 for gzip, 3 for zstd). frame is the most bytes of records in one zstd frame: it bounds
// the memory of each object being filled (the records of its frame wait uncompressed).
func NewObjectCompressor(codec string, level, frame int) (*ObjectCompressor, error) {
	if codec == "" {
		codec = CodecGzip
	}
	if codec != CodecGzip && codec != CodecZstd {
		return nil, fmt.Errorf("unknown object compression %q (want gzip or zstd)", codec)
	}
	if err := CheckLevel(codec, level); err != nil {
		return nil, err
	}
	c := &ObjectCompressor{codec: codec, level: level, frame: max(frame, 64<<10)}
	switch codec {
	case CodecGzip:
		if c.level == 0 {
			c.level = DefaultObjectGzipLevel
		}
	case CodecZstd:
		enc, err := newZstdEncoder(level, 1)
		if err != nil {
			return nil, err
		}
		c.zstd = enc
	}
	return c, nil
}

// Codec returns gzip or zstd.
func (c *ObjectCompressor) Codec() string { return c.codec }

// Level returns the effective level (1–9 for gzip, 1–22 for zstd; 0 for zstd's default).
func (c *ObjectCompressor) Level() int { return c.level }

// Extension is the end of an object's name: .log.gz or .log.zst.
func (c *ObjectCompressor) Extension() string {
	if c.codec == CodecZstd {
		return ".log.zst"
	}
	return ".log.gz"
}

// ContentEncoding is the Content-Encoding of an object: gzip or zstd.
func (c *ObjectCompressor) ContentEncoding() string { return c.codec }

// NewWriter returns a writer that compresses into w; Close finishes the body (it does not close w).
// parallel asks for gzip compressed on several cores (pgzip, blocks of 512 KiB, a few MiB of memory)
// instead of one (klauspost gzip, about 1 MiB); zstd ignores it.
func (c *ObjectCompressor) NewWriter(w io.Writer, parallel bool) (io.WriteCloser, error) {
	switch {
	case c.codec == CodecZstd:
		return &frameWriter{c: c, w: w}, nil
	case parallel:
		zw, err := pgzip.NewWriterLevel(w, c.level)
		if err != nil {
			return nil, err
		}
		// Blocks of 512 KiB, two per CPU in flight: a few MiB whatever the object's size.
		_ = zw.SetConcurrency(512<<10, 4)
		return zw, nil
	default:
		// Reused: a writer's state is about 1 MiB, and objects come and go with their partitions.
		zw, _ := c.gzip.Get().(*gzip.Writer)
		if zw == nil {
			var err error
			if zw, err = gzip.NewWriterLevel(w, c.level); err != nil {
				return nil, err
			}
		} else {
			zw.Reset(w)
		}
		return &pooledGzip{Writer: zw, pool: &c.gzip}, nil
	}
}

// pooledGzip returns its writer to the pool when closed.
type pooledGzip struct {
	*gzip.Writer
	pool *sync.Pool
}

func (p *pooledGzip) Close() error {
	if p.Writer == nil {
		return nil
	}
	err := p.Writer.Close()
	p.pool.Put(p.Writer)
	p.Writer = nil
	return err
}

func (p *pooledGzip) Write(b []byte) (int, error) {
	if p.Writer == nil {
		return 0, fmt.Errorf("gzip: write after close")
	}
	return p.Writer.Write(b)
}

// frameWriter gathers records into frames of up to c.frame bytes and writes each compressed.
type frameWriter struct {
	c       *ObjectCompressor
	w       io.Writer
	buf     *[]byte // from c.in, while open
	pending []byte
	frames  int
	closed  bool
}

func (f *frameWriter) Write(p []byte) (int, error) {
	if f.closed {
		return 0, fmt.Errorf("zstd: write after close")
	}
	n := len(p)
	for len(p) > 0 {
		if f.buf == nil {
			f.buf, _ = f.c.in.Get().(*[]byte)
			if f.buf == nil {
				// Grown as records come: an object of a quiet partition holds little.
				b := make([]byte, 0, min(f.c.frame, 64<<10))
				f.buf = &b
			}
			f.pending = (*f.buf)[:0]
		}
		k := min(len(p), f.c.frame-len(f.pending))
		if need := len(f.pending) + k; need > cap(f.pending) {
			// Doubled, up to the frame: the buffer never outgrows it.
			grown := make([]byte, len(f.pending), min(max(2*cap(f.pending), need), f.c.frame))
			copy(grown, f.pending)
			f.pending = grown
		}
		f.pending = append(f.pending, p[:k]...)
		p = p[k:]
		if len(f.pending) >= f.c.frame {
			if err := f.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flush writes the pending records as one frame.
func (f *frameWriter) flush() error {
	if len(f.pending) == 0 && f.frames > 0 {
		return nil
	}
	bp, _ := f.c.out.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	*bp = f.c.zstd.EncodeAll(f.pending, (*bp)[:0])
	_, err := f.w.Write(*bp)
	f.c.out.Put(bp)
	f.frames++
	f.pending = f.pending[:0]
	return err
}

// Close writes the last frame (an empty body is one empty frame) and releases the records' buffer.
func (f *frameWriter) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	err := f.flush()
	if f.buf != nil {
		*f.buf = f.pending[:0]
		f.c.in.Put(f.buf)
		f.buf, f.pending = nil, nil
	}
	return err
}
