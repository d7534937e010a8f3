package source

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/selection"
)

// DefaultMaxLineBytes is the default longest line esa_file passes on. Records over 1 MiB are invalid
// and the processors count them (and hand them whole to a dead letter); a line over max_line_bytes is
// not read into memory at all: it is refused, counted as invalid and as not delivered, and named in
// the log with its file and line number. Nothing is ever cut.
const DefaultMaxLineBytes = 16 << 20

// FileName is the esa_file input's component name.
const FileName = "esa_file"

// FileSpec is the esa_file configuration specification.
func FileSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Categories("Local").
		Summary("Reads NDJSON log records from files and stdin, in batches; gzip files by their `.gz` suffix.").
		Description(`Each line is one record; empty lines are skipped. Lines up to `+"`max_line_bytes`"+` are passed on
whole (records over 1 MiB are counted as invalid by the esa_* processors, which hand them unchanged to a
dead letter when the task has one). A longer line is never cut: it is skipped without being held in
memory, counted as invalid (`+"`too_large`"+`) and as not delivered, and logged with its file and line
number. Files are read one after another in the order of `+"`paths`"+` (each glob's matches sorted).

Delivery is at least once: a batch that the destination fails with a retryable error is redelivered
after a backoff delay; a batch it fails permanently is counted as not delivered (the run then exits
non-zero). The input ends after the last file once every batch has been delivered or given up on.`).
		Fields(
			service.NewStringListField("paths").
				Description("Files to read: paths or glob patterns (`logs/*.ndjson.gz`); `-` reads stdin. A `.gz` suffix means gzip.").
				Example([]any{"access.ndjson", "logs/*.ndjson.gz"}).
				Example([]any{"-"}),
			service.NewIntField("batch_size").
				Description("Lines per batch.").
				Default(1000),
			selection.Field(),
			service.NewIntField("max_line_bytes").
				Description("The longest line passed on; longer lines are refused (counted, logged, not delivered).").
				Default(DefaultMaxLineBytes).Advanced(),
			service.NewBoolField("flush_markers").
				Description("Send a flush marker (an empty message with metadata `esa_flush: \"1\"`) when the input ends or the stream is drained, so that the esa_* outputs write their partial batches at once instead of after their batch period. The esa_* outputs drop markers; turn this off when the output is not an esa_* output.").
				Default(true).Advanced(),
		).
		Example("Replay archived logs", "Read every gzip file of a directory.", `
input:
  esa_file:
    paths: [ ./archive/*.ndjson.gz ]
`).
		Example("Pipe records in", "Read NDJSON from stdin: `zcat logs.gz | esa-connect run task.yaml`.", `
input:
  esa_file:
    paths: [ "-" ]
`)
}

type fileInput struct {
	*tracker
	patterns  []string
	batchSize int
	maxLine   int
	out       *outcome.Outcome
	log       *service.Logger
	stdin     io.Reader

	ch     chan chunk
	once   sync.Once
	cancel context.CancelFunc
	done   chan struct{}
}

// fileFromParsed builds an esa_file input from its parsed config (FileSpec).
func fileFromParsed(conf *service.ParsedConfig, res *service.Resources) (service.BatchInput, error) {
	paths, err := conf.FieldStringList("paths")
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errors.New("esa_file: paths is empty")
	}
	for _, p := range paths {
		if _, err := filepath.Match(p, ""); err != nil {
			return nil, fmt.Errorf("esa_file: bad glob pattern %q: %w", p, err)
		}
	}
	batchSize, err := conf.FieldInt("batch_size")
	if err != nil {
		return nil, err
	}
	if batchSize < 1 {
		return nil, fmt.Errorf("esa_file: batch_size %d must be at least 1", batchSize)
	}
	maxLine, err := conf.FieldInt("max_line_bytes")
	if err != nil {
		return nil, err
	}
	if maxLine < 1 {
		return nil, fmt.Errorf("esa_file: max_line_bytes %d must be at least 1", maxLine)
	}
	ch := make(chan chunk, 1)
	tr, err := newTracker("esa_file", ch, conf, res)
	if err != nil {
		return nil, err
	}
	return &fileInput{
		tracker:  tr,
		patterns: paths, batchSize: batchSize, maxLine: maxLine,
		out: outcome.From(res), log: res.Logger(), stdin: os.Stdin,
		ch: ch, done: make(chan struct{}),
	}, nil
}

// expand resolves the patterns into the files to read, in order, each once.
func expand(patterns []string) ([]string, error) {
	var files []string
	seen := map[string]bool{}
	for _, p := range patterns {
		var matches []string
		if p == "-" || !strings.ContainsAny(p, "*?[") {
			matches = []string{p}
		} else {
			m, err := filepath.Glob(p)
			if err != nil {
				return nil, fmt.Errorf("bad glob pattern %q: %w", p, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("no file matches %q", p)
			}
			matches = m
		}
		for _, f := range matches {
			if !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
	}
	return files, nil
}

func (f *fileInput) Connect(context.Context) error {
	var err error
	f.once.Do(func() {
		var files []string
		if files, err = expand(f.patterns); err != nil {
			err = fmt.Errorf("esa_file: %w", err)
			f.out.Fatal(err)
			return
		}
		for _, name := range files {
			if name == "-" {
				continue
			}
			st, serr := os.Stat(name)
			if serr != nil {
				err = fmt.Errorf("esa_file: %w", serr)
			} else if st.IsDir() {
				err = fmt.Errorf("esa_file: %s is a directory (use a glob such as %s)", name, filepath.Join(name, "*"))
			}
			if err != nil {
				f.out.Fatal(err)
				return
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		f.cancel = cancel
		go stopOnDrain(ctx, cancel, f.out)
		go f.produce(ctx, files)
	})
	return err
}

func (f *fileInput) produce(ctx context.Context, files []string) {
	defer close(f.done)
	defer close(f.ch)
	b := &batcher{size: f.batchSize, ch: f.ch, ctx: ctx}
	for _, name := range files {
		if err := f.readFile(b, name); err != nil {
			if ctx.Err() != nil {
				return
			}
			// Keep what was read, then stop the run: the rest of the input cannot be read.
			b.flush()
			err = fmt.Errorf("esa_file: %w", err)
			f.log.Error(err.Error())
			f.out.Fatal(err)
			return
		}
	}
	b.flush()
}

func (f *fileInput) readFile(b *batcher, name string) error {
	// A batch holds records of one file, so that a plain file's batch can be read there again.
	b.flush()
	b.file, b.track = name, name != "-" && !strings.HasSuffix(name, ".gz")
	var r io.Reader
	if name == "-" {
		r = f.stdin
		name = "stdin"
	} else {
		fh, err := os.Open(name)
		if err != nil {
			return err
		}
		defer fh.Close()
		r = fh
	}
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(bufio.NewReaderSize(r, 256<<10))
		if err != nil {
			return fmt.Errorf("%s: not a gzip file: %w", name, err)
		}
		defer zr.Close()
		r = zr
	}
	if err := readLines(r, b, f.maxLine, func(line, n int) {
		f.out.Add(outcome.In, 1)
		f.out.Add(outcome.Invalid, 1)
		f.out.AddUndelivered(1)
		f.log.Errorf("esa_file: %s: line %d: a record of %d bytes is over max_line_bytes (%d); it is not delivered", name, line, n, f.maxLine)
	}); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// readLines splits r into lines and adds every non-empty one (without its line ending) to b. A line
// over maxLine bytes (line ending included) is not kept: onTooLong gets its 1-based number and length.
func readLines(r io.Reader, b *batcher, maxLine int, onTooLong func(line, n int)) error {
	br := bufio.NewReaderSize(r, 256<<10)
	lineNo := 0
	var pos int64 // offset of the next line in r
	for {
		if b.ctx.Err() != nil {
			return b.ctx.Err()
		}
		line, err := br.ReadSlice('\n')
		lineNo++
		b.lineOff = pos
		pos += int64(len(line))
		switch {
		case errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLine:
			// A long line: collect it in the batch arena while it fits maxLine (plus its line ending);
			// past that, drop what was collected and read on to its end without keeping anything.
			limit := maxLine + 2
			total := len(line)
			b.begin()
			keep := total <= limit
			if keep {
				b.add(line)
			}
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				pos += int64(len(line))
				total += len(line)
				if keep && total > limit {
					keep = false
					b.drop()
				}
				if keep {
					b.add(line)
				}
			}
			if keep {
				if n := len(bytes.TrimRight(b.buf[b.start:], "\r\n")); n > maxLine {
					b.drop()
					onTooLong(lineNo, n)
				} else {
					b.end()
				}
			} else {
				onTooLong(lineNo, total)
			}
		case len(line) > 0:
			b.begin()
			b.add(line)
			b.end()
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// batcher accumulates lines into batches backed by one arena each and sends them on ch.
type batcher struct {
	size  int
	ch    chan<- chunk
	ctx   context.Context
	buf   []byte
	offs  []int // end offsets of the lines in buf
	start int   // start of the line being added

	file    string // the file being read
	track   bool   // it is a plain file: record where each line is (spans)
	lineOff int64  // offset in the file of the line being added
	spans   []span
}

func (b *batcher) begin()       { b.start = len(b.buf) }
func (b *batcher) add(p []byte) { b.buf = append(b.buf, p...) }
func (b *batcher) drop()        { b.buf = b.buf[:b.start] }
func (b *batcher) end() {
	// Drop the line ending and skip blank lines.
	line := bytes.TrimRight(b.buf[b.start:], "\r\n")
	if len(bytes.TrimSpace(line)) == 0 {
		b.buf = b.buf[:b.start]
		return
	}
	b.buf = b.buf[:b.start+len(line)]
	b.offs = append(b.offs, len(b.buf))
	if b.track {
		b.spans = append(b.spans, span{off: b.lineOff, n: int32(len(line))})
	}
	if len(b.offs) >= b.size {
		b.flush()
	}
}

// flush sends the lines collected so far as one batch.
func (b *batcher) flush() {
	if len(b.offs) == 0 {
		return
	}
	recs := make([][]byte, len(b.offs))
	prev := 0
	for i, o := range b.offs {
		recs[i] = b.buf[prev:o:o]
		prev = o
	}
	c := chunk{recs: recs}
	if b.track {
		c.file, c.spans = b.file, append([]span(nil), b.spans...)
	}
	select {
	case b.ch <- c:
	case <-b.ctx.Done():
	}
	// The next batch gets a fresh arena sized like this one.
	b.buf = make([]byte, 0, cap(b.buf))
	b.offs = b.offs[:0]
	b.spans = b.spans[:0]
}

func (f *fileInput) Close(ctx context.Context) error {
	// The producer stops at its next step (a read from a pipe may block until the pipe has data or
	// closes; the goroutine ends then).
	if f.cancel != nil {
		f.cancel()
	}
	f.tracker.close()
	return nil
}
