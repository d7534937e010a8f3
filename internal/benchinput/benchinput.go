// Package benchinput writes the input of the whole-process benchmarks: N generated access records of
// about 1.3 KB each (the generator's records without the fields the benchmarks neither filter on nor
// deliver), one per line, with a fixed seed and clock so the file is the same on every machine. The
// file is cached: it is written once per size.
package benchinput

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/esa-connect/esa-connect/plugins/generate"
)

// droppedFields are left out of the generated records to bring them to about 1.3 KB.
var droppedFields = []string{"RequestHeaders", "ResponseHeaders", "JA3Hash", "JA4Hash", "TlsHash",
	"EdgeServerIP", "EdgeEndTimestamp", "ClientSSLCipher", "ClientRequestURI", "EdgeRequestHost",
	"SecActions", "SecRuleIDs", "SecSources", "OriginResponseHTTPExpires",
	"OriginResponseHTTPLastModified", "EdgeResponseCompressionAlgo"}

// DefaultCacheDir is where the input files are kept: <user cache dir>/esa-connect/bench.
func DefaultCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "esa-connect", "bench")
}

// Ensure returns the path of the input file of n records in cacheDir (DefaultCacheDir when empty),
// writing it first unless a complete one is there; progress goes to log (may be nil).
func Ensure(cacheDir string, n int, log io.Writer) (string, error) {
	if cacheDir == "" {
		cacheDir = DefaultCacheDir()
	}
	if log == nil {
		log = io.Discard
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(cacheDir, fmt.Sprintf("access-%d-v2.ndjson", n))
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		if _, err := os.Stat(path + ".done"); err == nil {
			fmt.Fprintf(log, "using cached input %s (%d MB)\n", path, st.Size()>>20)
			return path, nil
		}
	}
	fmt.Fprintf(log, "generating %d access records into %s ...\n", n, path)
	if err := write(path, n, log); err != nil {
		return "", err
	}
	return path, os.WriteFile(path+".done", nil, 0o644)
}

func write(path string, n int, log io.Writer) error {
	g, err := generate.New("access", 42)
	if err != nil {
		return err
	}
	// A fixed clock keeps the input identical between machines and runs.
	clock := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	g.SetClock(func() time.Time { clock = clock.Add(time.Millisecond); return clock })
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rec := make([]byte, 0, 4096)
	var total int64
	for i := 0; i < n; i++ {
		rec = g.Next(rec[:0])
		var m map[string]json.RawMessage
		if err := json.Unmarshal(rec, &m); err != nil {
			return fmt.Errorf("generated record %d: %w", i, err)
		}
		for _, k := range droppedFields {
			delete(m, k)
		}
		out, err := json.Marshal(m)
		if err != nil {
			return err
		}
		out = append(out, '\n')
		total += int64(len(out))
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	fmt.Fprintf(log, "average record: %d bytes\n", total/int64(max(n, 1)))
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// GzipBodies reads the first n records of the input file into gzip bodies of per records each, at
// gzip level (1 fastest … 9 smallest; 0 for 1): the requests of the ingest benchmarks, compressed
// before their clock starts. The level matters to the receiver: at the default level of gzip and of
// most shippers (6) a body decompresses about a quarter faster than at level 1.
func GzipBodies(input string, n, per, level int) ([][]byte, error) {
	if level == 0 {
		level = gzip.BestSpeed
	}
	if level < gzip.BestSpeed || level > gzip.BestCompression {
		return nil, fmt.Errorf("gzip level %d is not 1 … 9", level)
	}
	f, err := os.Open(input)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var bodies [][]byte
	var raw bytes.Buffer
	flush := func() {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, level) // checked above
		_, _ = zw.Write(raw.Bytes())
		_ = zw.Close()
		bodies = append(bodies, z.Bytes())
		raw.Reset()
	}
	for i := 0; i < n && sc.Scan(); i++ {
		raw.Write(sc.Bytes())
		raw.WriteByte('\n')
		if (i+1)%per == 0 {
			flush()
		}
	}
	if raw.Len() > 0 {
		flush()
	}
	return bodies, sc.Err()
}

// EnvInt is the positive integer in the environment variable name, or def when it is not set.
func EnvInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive number", name, v)
	}
	return n, nil
}

// PostAll POSTs every body (gzip NDJSON) to url from clients goroutines at once, each request with
// header and Content-Encoding: gzip, and returns the first failure: a transport error or an answer
// other than 200.
func PostAll(url string, bodies [][]byte, clients int, header http.Header) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 5 * time.Minute}
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failed.Load() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i]))
				if err != nil {
					failed.Store(err)
					return
				}
				for k, v := range header {
					req.Header[k] = v
				}
				req.Header.Set("Content-Encoding", "gzip")
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Store(fmt.Errorf("answer %d", resp.StatusCode))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	return nil
}
