package record

import "strconv"

// Layout is an immutable copy of a Shape's layout: the names of a record's top-level members in
// order. Records scanned along the same layout share one Layout.
type Layout struct {
	names []string
	lens  []int32 // literal lengths: value k ends lens[k+1] bytes before value k+1 starts
}

// Index says where the top-level values of one record are: made while a processor validated the
// record (Shape.TakeIndex, for pipeline.Marker.MarkScanned) and carried with its checked mark, it
// lets the processors after it take their fields without walking the record again
// (Selector.FromIndex). The zero Index is empty.
type Index struct {
	layout *Layout
	starts []uint32 // Shape.spans of the record
}

// Valid reports whether ix holds positions.
func (ix Index) Valid() bool { return ix.layout != nil }

// snapshot returns the Layout of the shape's current literals, making it on first use after a change.
func (sh *Shape) snapshot() *Layout {
	if sh.layout == nil {
		l := &Layout{names: make([]string, len(sh.lits)), lens: make([]int32, len(sh.lits))}
		for k, lit := range sh.lits {
			l.names[k] = string(sh.names[lit.nameOff : lit.nameOff+lit.nLen])
			l.lens[k] = lit.n
		}
		sh.layout = l
	}
	return sh.layout
}

// KeepPositions makes sh record, in every record it scans along its layout from now on, where each
// top-level value starts, so that TakeIndex can hand the positions out (pipeline.Marker.MarkScanned
// calls it the first time it marks a record scanned with sh).
func (sh *Shape) KeepPositions() { sh.keep = true }

// TakeIndex returns the Index of the last record sh scanned along its layout to its end with
// positions kept (KeepPositions), or false when there is none. The positions move into the Index:
// sh records the next record's in a fresh part of *block (no copy), which is replaced by a new block
// with room for at least records records' positions when it is full.
func (sh *Shape) TakeIndex(block *[]uint32, records int) (Index, bool) {
	if !sh.indexed {
		return Index{}, false
	}
	n := len(sh.lits) + 1
	ix := Index{layout: sh.snapshot(), starts: sh.spans[:n:n]}
	if len(*block)+n > cap(*block) {
		*block = make([]uint32, 0, max(records*n, 64))
	}
	b := *block
	sh.spans = b[len(b) : len(b)+n : len(b)+n]
	*block = b[:len(b)+n]
	return ix, true
}

// IndexMap maps the members of a Layout to the positions of a Selector; keep one per goroutine and
// processor: it is rebuilt only when the layout changes.
type IndexMap struct {
	layout *Layout
	sel    *Selector
	pairs  []int32 // member, position, member, position, ... for the selected members
}

// FromIndex stores in out the selected fields of rec, a record whose Index ix was made on these very
// bytes (see pipeline.CheckedIndex), without reading the record: the result is the one Find gives. A
// selected field that occurs twice is an error (ReasonDuplicateKey) as in Find.
func (s *Selector) FromIndex(rec []byte, out []Value, ix Index, m *IndexMap) error {
	out = out[:len(s.names)]
	clear(out)
	if m.layout != ix.layout || m.sel != s {
		m.layout, m.sel, m.pairs = ix.layout, s, m.pairs[:0]
		for k, name := range ix.layout.names {
			if idx := s.find([]byte(name)); idx >= 0 {
				m.pairs = append(m.pairs, int32(k), int32(idx))
			}
		}
	}
	last := len(ix.layout.lens) - 1
	for j := 0; j+1 < len(m.pairs); j += 2 {
		k, idx := m.pairs[j], m.pairs[j+1]
		start := ix.starts[k] &^ escBit
		end := ix.starts[last+1] // the last value ends where the record's object does
		if int(k) < last {
			end = ix.starts[k+1]&^escBit - uint32(ix.layout.lens[k+1])
		}
		if out[idx].Kind != Invalid {
			return invalid(ReasonDuplicateKey, int(start), "field "+strconv.Quote(s.names[idx])+" occurs more than once")
		}
		raw := rec[start:end:end]
		out[idx] = Value{Raw: raw, Kind: kindOf(raw[0]), Escaped: ix.starts[k]&escBit != 0}
	}
	return nil
}

// kindOf returns the kind of the JSON value that starts with c.
func kindOf(c byte) Kind {
	switch c {
	case '"':
		return String
	case '{':
		return Object
	case '[':
		return Array
	case 't', 'f':
		return Bool
	case 'n':
		return Null
	}
	return Number
}
