package diskbuffer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	bolt "go.etcd.io/bbolt"

	"github.com/esa-connect/esa-connect/plugins/pipeline"
)

// A stored batch (one bbolt value, in a bucket of its own when it is large: see putBatch) is
//
//	magic "EB1" | flags byte | count uvarint | created unix nanoseconds varint | length uvarint × count |
//	block | CRC-32C (Castagnoli) of everything before, 4 bytes LE
//
// where the block is an S2 block of the records concatenated or, with flagGzip, the gzip body in which
// an input received the records as lines (pipeline.Received): record i is then followed by one '\n'
// in the decompressed bytes (the last one optionally), so the lengths still find them.
//
// and its key is its sequence number, 8 bytes big-endian, so that keys sort in the order written.
// bbolt keeps the database consistent through a crash (its commit writes the data pages, syncs, then
// switches a checksummed meta page); the CRC catches what bbolt cannot: bytes changed on disk.

const magic = "EB1"

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Flags of a stored batch.
const (
	// flagChecked: every record was found valid before it was stored (see pipeline.Checked).
	flagChecked = 1 << iota
	// flagUnique: and the top-level names of every record are distinct.
	flagUnique
	// flagGzip: the block is gzip, of the records each followed by '\n' (see above).
	flagGzip
)

// errDamaged is a stored batch that does not decode.
var errDamaged = errors.New("damaged batch")

// encodeBatch appends to dst the stored form of records written at created; scratch is reused to
// hold the records concatenated. When rcv holds the records (pipeline.Received.Holds), its gzip body
// is stored as it is (flagGzip) instead of an S2 block: the records are not compressed again.
func encodeBatch(dst []byte, records [][]byte, flags byte, created time.Time, scratch *[]byte, rcv *pipeline.Received) []byte {
	var raw []byte
	blockMax := 0
	if rcv.Holds(records) {
		flags |= flagGzip
		blockMax = len(rcv.Gzip)
	} else {
		flags &^= flagGzip
		raw = (*scratch)[:0]
		for _, r := range records {
			raw = append(raw, r...)
		}
		*scratch = raw
		blockMax = s2.MaxEncodedLen(len(raw))
	}
	need := len(magic) + 2*binary.MaxVarintLen64 + binary.MaxVarintLen32*len(records) + blockMax + 4
	out := slices.Grow(dst[:0], need)
	out = append(out, magic...)
	out = append(out, flags)
	out = binary.AppendUvarint(out, uint64(len(records)))
	out = binary.AppendVarint(out, created.UnixNano())
	for _, r := range records {
		out = binary.AppendUvarint(out, uint64(len(r)))
	}
	if flags&flagGzip != 0 {
		out = append(out, rcv.Gzip...)
	} else {
		start := len(out)
		out = out[:start+blockMax]
		enc := s2.Encode(out[start:], raw)
		out = out[:start+len(enc)]
	}
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crcTable))
}

// header reads a stored batch's record count and creation time, checking its CRC.
func header(v []byte) (n int, created time.Time, err error) {
	n, _, created, _, _, err = parse(v)
	return n, created, err
}

// parse checks v and splits it into its fields.
func parse(v []byte) (n int, flags byte, created time.Time, lens []int, block []byte, err error) {
	if len(v) < len(magic)+5 || string(v[:len(magic)]) != magic {
		return 0, 0, time.Time{}, nil, nil, errDamaged
	}
	body := v[:len(v)-4]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(v[len(v)-4:]) {
		return 0, 0, time.Time{}, nil, nil, errDamaged
	}
	flags = body[len(magic)]
	p := body[len(magic)+1:]
	count, k := binary.Uvarint(p)
	if k <= 0 || count > uint64(len(p)) {
		return 0, 0, time.Time{}, nil, nil, errDamaged
	}
	p = p[k:]
	ns, k := binary.Varint(p)
	if k <= 0 {
		return 0, 0, time.Time{}, nil, nil, errDamaged
	}
	p = p[k:]
	lens = make([]int, count)
	for i := range lens {
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(v))*64 {
			return 0, 0, time.Time{}, nil, nil, errDamaged
		}
		lens[i] = int(l)
		p = p[k:]
	}
	return int(count), flags, time.Unix(0, ns), lens, p, nil
}

// decodeBatch returns the records of a stored batch and its flags. The records are decoded into dst
// when it is large enough (see s2.Decode); they are sub-slices of the returned raw.
func decodeBatch(v, dst []byte) (recs [][]byte, raw []byte, flags byte, err error) {
	n, flags, _, lens, block, err := parse(v)
	if err != nil {
		return nil, nil, 0, err
	}
	sep := 0 // bytes after each record
	if flags&flagGzip != 0 {
		sep = 1
		total := 0
		for _, l := range lens {
			total += l + 1
		}
		if raw, err = gunzip(block, dst, total); err != nil {
			return nil, nil, 0, fmt.Errorf("%w: %v", errDamaged, err)
		}
		if len(raw) == total-1 {
			raw = append(raw, '\n') // the last line had no line ending: walk it like the others
		}
	} else {
		if dl, derr := s2.DecodedLen(block); derr != nil || dl > cap(dst) {
			dst = nil
		} else {
			dst = dst[:cap(dst)]
		}
		if raw, err = s2.Decode(dst, block); err != nil {
			return nil, nil, 0, fmt.Errorf("%w: %v", errDamaged, err)
		}
	}
	out := make([][]byte, n)
	pos := 0
	for i, l := range lens {
		if pos+l+sep > len(raw) || sep == 1 && raw[pos+l] != '\n' {
			return nil, nil, 0, fmt.Errorf("%w: records longer than the block", errDamaged)
		}
		out[i] = raw[pos : pos+l : pos+l]
		pos += l + sep
	}
	if pos != len(raw) {
		return nil, nil, 0, fmt.Errorf("%w: records shorter than the block", errDamaged)
	}
	return out, raw, flags, nil
}

// gunzip decompresses a gzip block into dst (reused when large enough), refusing more than most bytes.
func gunzip(block, dst []byte, most int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(block))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	if cap(dst) < most+1 {
		dst = make([]byte, 0, most+1)
	}
	buf := dst[:most+1]
	n, err := io.ReadFull(zr, buf)
	switch {
	case err == nil:
		return nil, errors.New("more bytes than the records")
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return buf[:n], nil
	default:
		return nil, err
	}
}

func keyOf(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func seqOf(k []byte) uint64 {
	if len(k) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k)
}

// buffers is a bounded free list of byte buffers. Unlike a sync.Pool it keeps its buffers through
// garbage collections: a batch of about a megabyte is encoded every few milliseconds, and a pool that
// every collection empties would have most of them allocated again (and more collections).
type buffers chan *[]byte

// maxKept bounds the capacity of a buffer kept for reuse.
const maxKept = 16 << 20

func newBuffers(n int) buffers { return make(buffers, n) }

// get returns a kept buffer, or a new empty one.
func (l buffers) get() *[]byte {
	select {
	case p := <-l:
		return p
	default:
		return new([]byte)
	}
}

// put keeps p for reuse unless the list is full or p is too large to keep.
func (l buffers) put(p *[]byte) {
	if cap(*p) > maxKept {
		return
	}
	select {
	case l <- p:
	default:
	}
}

// valueKey is the key of a batch's value inside the batch's own bucket.
var valueKey = []byte{0}

// A batch larger than ownBucketMin is stored in a bucket of its own, named by the batch's key, that
// holds its value under valueKey. bbolt keeps two to four entries in a B+tree leaf however large they
// are, and rewrites a whole leaf when one of its entries changes: large batches stored as values of
// one bucket were written two to four times (a new batch rewrote the batches beside it, a delete the
// ones left in its leaf). A batch's own bucket has pages of its own, written once; the leaves of the
// batches bucket hold only 16-byte bucket headers. A smaller batch is a value of the batches bucket,
// many to a page (a bucket of its own would take a page for a few hundred bytes), as every batch was
// in earlier versions: both forms are read and deleted.

// ownBucketMin is the size above which a batch gets a bucket of its own: a page.
const ownBucketMin = 4 << 10

// putBatch stores value as the batch key of bk.
func putBatch(bk *bolt.Bucket, key, value []byte) error {
	if len(value) <= ownBucketMin {
		return bk.Put(key, value)
	}
	sub, err := bk.CreateBucket(key)
	if err != nil {
		return err
	}
	return sub.Put(valueKey, value)
}

// batchValue returns the value of the batch key of bk; v is what a cursor or Get found at key (nil for
// a batch in its own bucket, or for no batch at all).
func batchValue(bk *bolt.Bucket, key, v []byte) []byte {
	if v != nil {
		return v
	}
	if sub := bk.Bucket(key); sub != nil {
		return sub.Get(valueKey)
	}
	return nil
}

// getBatch returns the value of the batch key of bk, or nil.
func getBatch(bk *bolt.Bucket, key []byte) []byte {
	return batchValue(bk, key, bk.Get(key))
}

// deleteBatch deletes the batch key of bk (nothing when there is none).
func deleteBatch(bk *bolt.Bucket, key []byte) error {
	if bk.Bucket(key) != nil {
		return bk.DeleteBucket(key)
	}
	return bk.Delete(key)
}
