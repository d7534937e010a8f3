package encode

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// objectTimeLayout is the UTC timestamp layout in object names.
const objectTimeLayout = "20060102T150405Z"

// Namer makes object keys (docs/destinations.md#object-layout):
// <path>/<YYYYMMDD>/<task>_<first>_<last>_<seq>_<rand>.log.gz (.log.zst for zstd objects), or, for a
// partitioned object, <path>/<partition>/<task>_<first>_<last>_<seq>_<rand>.log.gz. It is safe for
// concurrent use.
type Namer struct {
	task string
	path string
	ext  string
	seq  atomic.Uint64
}

// NewNamer returns a namer for task under path (leading and trailing slashes are removed; an empty
// path puts the date directory at the root), for gzip objects (.log.gz).
func NewNamer(task, path string) *Namer {
	return &Namer{task: task, path: strings.Trim(path, "/"), ext: ".log.gz"}
}

// WithExtension sets the end of the names (".log.gz", ".log.zst") and returns n.
func (n *Namer) WithExtension(ext string) *Namer {
	n.ext = ext
	return n
}

// Key returns the next key for an object whose records' event times span [first, last]: under the
// UTC date of first.
func (n *Namer) Key(first, last time.Time) string {
	return n.KeyIn(first.UTC().Format("20060102"), first, last)
}

// KeyIn returns the next key for an object whose records' event times span [first, last], in the
// directory dir under the path (a partition; slash-separated, without leading or trailing slashes).
func (n *Namer) KeyIn(dir string, first, last time.Time) string {
	first, last = first.UTC(), last.UTC()
	var rb [4]byte
	if _, err := rand.Read(rb[:]); err != nil {
		// crypto/rand never fails on supported platforms; fall back to the clock.
		ns := time.Now().UnixNano()
		rb = [4]byte{byte(ns), byte(ns >> 8), byte(ns >> 16), byte(ns >> 24)}
	}
	seq := n.seq.Add(1)
	name := fmt.Sprintf("%s_%s_%s_%06d_%s%s", n.task,
		first.Format(objectTimeLayout), last.Format(objectTimeLayout), seq, hex.EncodeToString(rb[:]), n.ext)
	if dir != "" {
		name = dir + "/" + name
	}
	if n.path == "" {
		return name
	}
	return n.path + "/" + name
}
