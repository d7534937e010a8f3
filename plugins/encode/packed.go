package encode

import (
	"fmt"

	"github.com/klauspost/compress/s2"
)

// Packed holds records compressed (S2, the fast LZ77 of klauspost/compress), for a source that must be
// able to deliver them again but cannot read them again: JSON log records shrink to a quarter or less,
// at a cost far below that of parsing them.
type Packed struct {
	data []byte   // S2 block of the records, concatenated
	lens []uint32 // their lengths
}

// Pack compresses recs. The packed records keep exactly their compressed size: s2.Encode needs a
// destination as large as the records (and a bit more), which is left to the collector.
func Pack(recs [][]byte) *Packed {
	total := 0
	for _, r := range recs {
		total += len(r)
	}
	work := make([]byte, 0, total+s2.MaxEncodedLen(total)) // the records concatenated, then their block
	lens := make([]uint32, len(recs))
	for i, r := range recs {
		work = append(work, r...)
		lens[i] = uint32(len(r))
	}
	enc := s2.Encode(work[total:cap(work)], work[:total])
	data := make([]byte, len(enc))
	copy(data, enc)
	return &Packed{data: data, lens: lens}
}

// Len is the number of records.
func (p *Packed) Len() int { return len(p.lens) }

// Size is the memory the packed records take.
func (p *Packed) Size() int { return cap(p.data) + 4*cap(p.lens) }

// Records returns the records, in order, decompressed into one new buffer.
func (p *Packed) Records() ([][]byte, error) {
	raw, err := s2.Decode(nil, p.data)
	if err != nil {
		return nil, fmt.Errorf("unpacking records: %w", err)
	}
	out := make([][]byte, len(p.lens))
	pos := 0
	for i, n := range p.lens {
		end := pos + int(n)
		if end > len(raw) {
			return nil, fmt.Errorf("unpacking records: %d bytes, want more than %d", len(raw), end)
		}
		out[i] = raw[pos:end:end]
		pos = end
	}
	return out, nil
}

// Subset packs the records at idx.
func (p *Packed) Subset(idx []int) (*Packed, error) {
	recs, err := p.Records()
	if err != nil {
		return nil, err
	}
	sub := make([][]byte, len(idx))
	for k, i := range idx {
		sub[k] = recs[i]
	}
	return Pack(sub), nil
}
