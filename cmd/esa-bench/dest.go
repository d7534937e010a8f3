package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/httpout"
)

// sink is where one run delivers: a local directory of gzip objects, or an HTTP receiver in this
// process (httpout.Receiver, which decodes the esa_http wire format, gzip included).
type sink struct {
	kind config.DestinationKind // local's or http's
	dir  string                 // local: the directory

	// http
	url     string
	rc      *httpout.Receiver
	srv     *http.Server
	digest  atomic.Uint64 // sum of idHash over the records received
	missing atomic.Int64  // records without a ClientRequestID string
}

// newSink prepares a destination of kind for the run called name: a directory under work, or a
// receiver listening on a free port of 127.0.0.1.
func newSink(kind, work, name string) (*sink, error) {
	k, _ := config.LookupDestinationKind(kind)
	s := &sink{kind: k}
	switch kind {
	case "local":
		s.dir = filepath.Join(work, "out-"+name)
		return s, nil
	case "http":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		s.url = "http://" + ln.Addr().String() + "/ingest"
		s.rc = &httpout.Receiver{
			Path: "/ingest",
			OnBatch: func(_ *http.Request, _ []byte, records [][]byte) error {
				var sum uint64
				for _, r := range records {
					h, ok := idHash(r)
					if !ok {
						s.missing.Add(1)
					}
					sum += h
				}
				s.digest.Add(sum)
				return nil
			},
			Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
		}
		s.srv = &http.Server{Handler: s.rc, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = s.srv.Serve(ln) }()
		return s, nil
	}
	return nil, fmt.Errorf("unknown destination %q (want local or http)", kind)
}

func (s *sink) close() {
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
	}
}

// taskDestination is the destination block of task (a).
func (s *sink) taskDestination() string {
	if s.rc != nil {
		return fmt.Sprintf("destination: {type: http, url: %q, compression: gzip}\n", s.url)
	}
	return fmt.Sprintf("destination: {type: local, path: %q}\n", s.dir)
}

// batching is an output's batching policy and max_in_flight.
type batching struct {
	Count       int    `yaml:"count"`
	ByteSize    int    `yaml:"byte_size"`
	Period      string `yaml:"period"`
	MaxInFlight int    `yaml:"-"`
}

// translatedBatching returns the batching and max_in_flight that `esa-connect translate` gives the
// output of task (maxInFlight: the output's default when the translation leaves it out).
func translatedBatching(bin, task string, defaultMaxInFlight int) (batching, error) {
	out, err := exec.Command(bin, "translate", task).Output()
	if err != nil {
		return batching{}, fmt.Errorf("esa-connect translate: %w", err)
	}
	var conf struct {
		Output map[string]yaml.Node `yaml:"output"`
	}
	if err := yaml.Unmarshal(out, &conf); err != nil {
		return batching{}, fmt.Errorf("esa-connect translate: %w", err)
	}
	for name, node := range conf.Output {
		if name == "label" {
			continue
		}
		var o struct {
			Batching    batching `yaml:"batching"`
			MaxInFlight int      `yaml:"max_in_flight"`
		}
		if err := node.Decode(&o); err != nil {
			return batching{}, fmt.Errorf("esa-connect translate: output %s: %w", name, err)
		}
		b := o.Batching
		b.MaxInFlight = o.MaxInFlight
		if b.MaxInFlight == 0 {
			b.MaxInFlight = defaultMaxInFlight
		}
		if b.Count == 0 && b.ByteSize == 0 {
			return batching{}, fmt.Errorf("esa-connect translate: output %s has no batching", name)
		}
		return b, nil
	}
	return batching{}, errors.New("esa-connect translate: no output")
}

// stockOutput is the output block of the stock config (b) to s, for the workload's task in taskPath:
//
//   - local: the esa_local output with batches of 10,000 records / 16 MiB, one in flight;
//   - http: the stock http_client output, POST with the batch and max_in_flight that the translator
//     gives (a)'s esa_http, each batch encoded as NDJSON lines (archive: lines) and gzip-compressed
//     (compress: gzip) with Content-Encoding: gzip — what the receiver decodes from esa_http.
//
// Both use a 1 s batching period instead of the translator's: the stock file input sends no flush
// marker at its end, and Benthos waits for the period before flushing the last batch at shutdown.
func stockOutput(s *sink, bin, taskPath string) (string, error) {
	if s.kind.Object {
		return fmt.Sprintf(`output:
  esa_local:
    path: %q
    task: bench
    time_field: EdgeStartTimestamp
    max_in_flight: 1
    batching: {count: 10000, byte_size: 16777216, period: 1s}
`, s.dir), nil
	}
	b, err := translatedBatching(bin, taskPath, s.kind.DefaultMaxInFlight)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`output:
  http_client:
    url: %q
    verb: POST
    headers:
      Content-Type: application/x-ndjson
      Content-Encoding: gzip
    max_in_flight: %d
    batching:
      count: %d
      byte_size: %d
      period: 1s
      processors:
        - archive: {format: lines}
        - compress: {algorithm: gzip}
`, s.url, b.MaxInFlight, b.Count, b.ByteSize), nil
}

// delivery is what a sink received.
type delivery struct {
	records int
	units   int    // objects (local) or accepted requests (http)
	digest  uint64 // sum of idHash over the records: equal digests mean the same ClientRequestIDs
	missing int    // records without a ClientRequestID string
	problem string // what went wrong on the receiving side, if anything
}

// delivered reads what s received.
func (s *sink) delivered() (delivery, error) {
	if s.kind.Object {
		return countObjects(s.dir)
	}
	st := s.rc.Stats()
	d := delivery{records: int(st.Records), units: int(st.Requests), digest: s.digest.Load(), missing: int(s.missing.Load())}
	if st.Rejected > 0 {
		d.problem = fmt.Sprintf("the receiver rejected %d requests", st.Rejected)
	}
	return d, nil
}

// countObjects counts the records in the gzip objects under dir.
func countObjects(dir string) (delivery, error) {
	var d delivery
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".log.gz") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := d.addLines(zr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		d.units++
		return nil
	})
	return d, err
}

// addLines counts the records (lines) of r into d.
func (d *delivery) addLines(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return errors.New("a record longer than 1 MiB")
		}
		if len(line) > 0 && line[len(line)-1] == '\n' {
			h, ok := idHash(line)
			if !ok {
				d.missing++
			}
			d.digest += h
			d.records++
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

var idKey = []byte(`"ClientRequestID":"`)

// idHash is FNV-1a 64 of the ClientRequestID string of a delivered record (both runs write it
// without spaces around the colon and the IDs have no escapes); ok is false when there is none.
func idHash(rec []byte) (h uint64, ok bool) {
	i := bytes.Index(rec, idKey)
	if i < 0 {
		return 0, false
	}
	rest := rec[i+len(idKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return 0, false
	}
	f := fnv.New64a()
	f.Write(rest[:j])
	return f.Sum64(), true
}
