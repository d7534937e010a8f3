package source

import (
	"fmt"
	"io"
	"os"

	"github.com/esa-connect/esa-connect/plugins/encode"
)

// replay gives a tracker the records of a batch again, for a redelivery, without keeping them in
// memory as they were read: a record waits in a batch until the destination acknowledged it, which
// for an object store can take a minute, and keeping every waiting record's bytes is what made memory
// grow with the destination's batch size.
type replay interface {
	// records returns the records again, in order.
	records() ([][]byte, error)
	// subset is the replay of the records at idx (ascending).
	subset(idx []int) (replay, error)
	// len is the number of records.
	len() int
}

// span is where a record is in a plain file: its offset and length (line ending excluded).
type span struct {
	off int64
	n   int32
}

// fileSpans replays records of a plain (not compressed) file by reading them there again: it keeps
// 12 bytes a record. A file changed under a running task gives back other bytes; a redelivery then
// delivers what the file holds now (a truncated file fails the redelivery).
type fileSpans struct {
	path  string
	spans []span
}

func (f *fileSpans) len() int { return len(f.spans) }

func (f *fileSpans) records() ([][]byte, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("reading records of %s again: %w", f.path, err)
	}
	defer fh.Close()
	total := 0
	for _, s := range f.spans {
		total += int(s.n)
	}
	buf := make([]byte, total)
	out := make([][]byte, len(f.spans))
	pos := 0
	for i, s := range f.spans {
		rec := buf[pos : pos+int(s.n) : pos+int(s.n)]
		pos += int(s.n)
		if _, err := fh.ReadAt(rec, s.off); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("reading a record of %s again at offset %d: %w", f.path, s.off, err)
		}
		out[i] = rec
	}
	return out, nil
}

func (f *fileSpans) subset(idx []int) (replay, error) {
	spans := make([]span, len(idx))
	for k, i := range idx {
		spans[k] = f.spans[i]
	}
	return &fileSpans{path: f.path, spans: spans}, nil
}

// packed replays records kept compressed (encode.Packed): the replay of sources that cannot be read
// again (gzip files, stdin, the generator).
type packed struct{ p *encode.Packed }

func pack(recs [][]byte) *packed { return &packed{encode.Pack(recs)} }

func (p *packed) len() int                   { return p.p.Len() }
func (p *packed) records() ([][]byte, error) { return p.p.Records() }
func (p *packed) subset(idx []int) (replay, error) {
	sub, err := p.p.Subset(idx)
	if err != nil {
		return nil, err
	}
	return &packed{sub}, nil
}

// sizeOf is the memory a replay keeps, for tests and metrics.
func sizeOf(r replay) int {
	switch r := r.(type) {
	case *packed:
		return r.p.Size()
	case *fileSpans:
		return 12 * len(r.spans)
	}
	return 0
}
