package encode

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zlib"
)

// Compression codecs for HTTP bodies and objects (CodecZstd is in codec.go).
const (
	CodecNone   = "no"
	CodecGzip   = "gzip"
	CodecZlib   = "zlib"
	CodecSnappy = "snappy"
)

// ContentEncoding returns the Content-Encoding header value for codec ("" for none).
func ContentEncoding(codec string) string {
	switch codec {
	case CodecGzip:
		return "gzip"
	case CodecZlib:
		return "deflate"
	case CodecSnappy:
		return "snappy"
	case CodecZstd:
		return "zstd"
	}
	return ""
}

// ValidCodec reports whether codec is one of gzip, zlib, snappy, zstd, no (or empty, meaning no).
func ValidCodec(codec string) bool {
	switch codec {
	case "", CodecNone, CodecGzip, CodecZlib, CodecSnappy, CodecZstd:
		return true
	}
	return false
}

var (
	gzipPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression); return w }}
	zlibPool = sync.Pool{New: func() any { w, _ := zlib.NewWriterLevel(nil, zlib.DefaultCompression); return w }}

	zstdOnce    sync.Once
	zstdDefault *Compressor
)

// Compress appends src compressed with codec at its default level to dst. Snappy is the block format
// (no framing); zstd one frame. For another level, use a Compressor.
func Compress(codec string, dst, src []byte) ([]byte, error) {
	switch codec {
	case "", CodecNone:
		return append(dst, src...), nil
	case CodecSnappy:
		n := len(dst)
		need := n + s2.MaxEncodedLen(len(src))
		if cap(dst) < need {
			grown := make([]byte, n, need)
			copy(grown, dst)
			dst = grown
		}
		enc := s2.EncodeSnappy(dst[n:need], src)
		return dst[:n+len(enc)], nil
	case CodecGzip:
		buf := bytes.NewBuffer(dst)
		w := gzipPool.Get().(*gzip.Writer)
		defer gzipPool.Put(w)
		w.Reset(buf)
		if _, err := w.Write(src); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return buf.Bytes(), nil
	case CodecZlib:
		buf := bytes.NewBuffer(dst)
		w := zlibPool.Get().(*zlib.Writer)
		defer zlibPool.Put(w)
		w.Reset(buf)
		if _, err := w.Write(src); err != nil {
			return nil, fmt.Errorf("zlib: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("zlib: %w", err)
		}
		return buf.Bytes(), nil
	case CodecZstd:
		zstdOnce.Do(func() { zstdDefault, _ = NewCompressor(CodecZstd, 0) })
		return zstdDefault.Append(dst, src)
	}
	return nil, fmt.Errorf("unknown compression %q (want gzip, zlib, snappy, zstd or no)", codec)
}
