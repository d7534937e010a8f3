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
	case *multi:
		n := 0
		for _, p := range r.parts {
			n += sizeOf(p)
		}
		return n
	}
	return 0
}

// multi replays the records of several replays, in order: the batches selection merged into one.
type multi struct {
	parts []replay
	n     int
}

// join returns the replay of a's records followed by b's.
func join(a, b replay) replay {
	var parts []replay
	for _, r := range []replay{a, b} {
		if m, ok := r.(*multi); ok {
			parts = append(parts, m.parts...)
		} else {
			parts = append(parts, r)
		}
	}
	return &multi{parts: parts, n: a.len() + b.len()}
}

func (m *multi) len() int { return m.n }

func (m *multi) records() ([][]byte, error) {
	out := make([][]byte, 0, m.n)
	for _, p := range m.parts {
		recs, err := p.records()
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

func (m *multi) subset(idx []int) (replay, error) {
	var parts []replay
	n, base, k := 0, 0, 0
	for _, p := range m.parts {
		var local []int
		for k < len(idx) && idx[k] < base+p.len() {
			local = append(local, idx[k]-base)
			k++
		}
		if len(local) > 0 {
			sub, err := p.subset(local)
			if err != nil {
				return nil, err
			}
			parts = append(parts, sub)
			n += len(local)
		}
		base += p.len()
	}
	return &multi{parts: parts, n: n}, nil
}
