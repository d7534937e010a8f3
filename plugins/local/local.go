// Package local provides the esa_local output: objects laid out as docs/destinations.md#object-layout says (gzip- or zstd-compressed encoded
// batches named <YYYYMMDD>/<task>_<first>_<last>_<seq>_<rand>.log.gz, or under their partition's
// directory) written to a local directory, for the embedded default, on-premises archives and dead
// letters.
package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/objects"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/pipeline"
)

// DefaultMaxInFlight is the default max_in_flight of esa_local: objects written at a time.
const DefaultMaxInFlight = 1

// ConfigSpec is the esa_local configuration specification.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Local").
		Summary("Writes log records to a local directory as gzip (or zstd) objects named like ESA's object-storage deliveries.").
		Description(`Records are gathered into objects of `+"`batching.count`"+` records, `+"`batching.byte_size`"+` encoded
bytes or `+"`batching.period`"+` after the first record, whichever comes first (100,000 / 64 MiB / 60 s by
default; a flush marker writes the object at once). Each object is one file
`+"`<path>/<YYYYMMDD>/<task>_<first>_<last>_<seq>_<rand>.log.gz`"+`: `+"`YYYYMMDD`"+` is the UTC date of the
earliest event time in the object, `+"`first`"+` and `+"`last`"+` the earliest and latest event times in UTC
(`+"`20260101T000000Z`"+`), read from `+"`time_field`"+` (else the `+"`esa_event_time`"+` metadata, else the time of
writing), `+"`seq`"+` a counter and `+"`rand`"+` 8 random hex digits, so names never collide. The body is the gzip
of the encoded records (NDJSON by default); with `+"`compression: zstd`"+` it is zstd and the name ends `+"`.log.zst`"+`.

With `+"`partition`"+` each record goes to an object of its partition instead, `+"`<path>/<partition>/<task>_<first>_<last>_<seq>_<rand>.log.gz`"+`,
for example `+"`dt=2026-12-06/hour=07/`"+` (`+"`by: [date, hour]`"+`) or `+"`SecAction=deny/`"+` (`+"`by: [SecAction]`"+`), from the record's
own event time and field values: a batch spanning partitions becomes one object per partition.

Records are encoded and compressed into a hidden temporary file in the directory as they arrive (memory
does not grow with the object's size); when the object is complete the file is synced to disk and renamed,
so readers never see a partial file. The records are acknowledged only after that. Directories are
created as needed. A directory that cannot be created or written stops the run with an error (a
configuration error, not a delivery failure); other errors (for example a full disk) fail the object's
records, and the input delivers them again.`).
		Fields(append(append([]*service.ConfigField{
			service.NewStringField("path").
				Description("The directory objects are written under (created if missing)."),
			pipeline.TaskField(),
			service.NewStringField("time_field").
				Description("The record field holding its event time (the category's time field, e.g. `EdgeStartTimestamp`).").
				Default(""),
			encode.EncodingField(),
		}, objects.ObjectFields()...),
			service.NewOutputMaxInFlightField().Default(DefaultMaxInFlight).
				Description("How many objects are written at a time (while the next one is filled)."),
			service.NewBatchPolicyField("batching").
				Description("When a file is written: after `count` records, `byte_size` bytes or `period`, whichever comes first. Zero values take the object-storage defaults: 100,000 records, 64 MiB, 60 s."),
		)...).
		Example("Daily archive", "Access logs into ./archive/<date>/.", `
output:
  esa_local:
    path: ./archive
    task: access-archive
    time_field: EdgeStartTimestamp
`).
		Example("Hourly partitions, zstd", "Access logs into ./archive/dt=<date>/hour=<hour>/ as zstd.", `
output:
  esa_local:
    path: ./archive
    task: access-archive
    time_field: EdgeStartTimestamp
    compression: zstd
    partition:
      by: [date, hour]
`).
		Example("Small, frequent files", "A file every 1,000 records or 5 seconds.", `
output:
  esa_local:
    path: ./out
    task: demo
    time_field: EdgeStartTimestamp
    batching:
      count: 1000
      period: 5s
`)
}

// Register registers the esa_local output on env.
func Register(env *service.Environment) error {
	return env.RegisterBatchOutput(Name, ConfigSpec(), func(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
		o, err := fromParsed(conf, res)
		if err != nil {
			return nil, service.BatchPolicy{}, 0, err
		}
		return o, o.asm.BatchPolicy(), o.asm.MaxInFlight(), nil
	})
}

// Name is the component name.
const Name = "esa_local"

type output struct {
	root    string
	task    string
	asm     *objects.Assembler
	outcome *outcome.Outcome
}

// Config is esa_local's own configuration; the object fields (encoding, batching, …) are
// objects.FromParsed's.
type Config struct {
	// Path is the directory objects are written under.
	Path string
	// Task names the spool files (pipeline.UnnamedTask when empty).
	Task string
}

// fromParsed builds an esa_local output from its parsed config (ConfigSpec).
func fromParsed(conf *service.ParsedConfig, res *service.Resources) (*output, error) {
	c, err := parseConfig(conf)
	if err != nil {
		return nil, err
	}
	o, err := newOutput(c, res)
	if err != nil {
		return nil, err
	}
	if o.asm, err = objects.FromParsed(conf, res, Name, "", o); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	return o, nil
}

// parseConfig reads esa_local's own fields.
func parseConfig(conf *service.ParsedConfig) (Config, error) {
	var c Config
	var err error
	if c.Path, err = conf.FieldString("path"); err != nil {
		return c, err
	}
	c.Task, err = conf.FieldString("task")
	return c, err
}

// newOutput builds an esa_local output from c, without its assembler (fromParsed adds it).
func newOutput(c Config, res *service.Resources) (*output, error) {
	if c.Path == "" {
		return nil, errors.New("esa_local: path is empty")
	}
	return &output{root: c.Path, task: cmp.Or(c.Task, pipeline.UnnamedTask), outcome: outcome.From(res)}, nil
}

// Connect creates the root directory and checks that files can be created in it. A directory that
// cannot be created or written (a path under a regular file, no permission, a read-only file system)
// is a configuration error that stops the run (outcome.Fatal) instead of being retried forever.
func (o *output) Connect(context.Context) error {
	err := os.MkdirAll(o.root, 0o755)
	if err == nil {
		var f *os.File
		if f, err = os.CreateTemp(o.root, ".esa-connect-check-*"); err == nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}
	if err != nil {
		err = fmt.Errorf("%s: cannot write to %s: %w", Name, o.root, err)
		o.outcome.Fatal(err)
		return err
	}
	o.outcome.Connected()
	return nil
}

// WriteBatch adds batch to the object being filled and returns once that object is written.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	return o.asm.Write(ctx, batch)
}

// Spool implements objects.Store: a hidden temporary file in the root directory (renamed into place
// by Put, on the same file system).
func (o *output) Spool() (*os.File, error) {
	return os.CreateTemp(o.root, "."+o.task+".*.spool")
}

// Put implements objects.Store: the spool file is synced, renamed to its key under the root directory
// (created as needed) and the directory synced, so the object appears complete or not at all. A
// permission error, a read-only file system or a path under a regular file stops the run.
func (o *output) Put(_ context.Context, obj *objects.Object) error {
	target := filepath.Join(o.root, filepath.FromSlash(obj.Key))
	err := o.put(obj.Body, target)
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.ENOTDIR) {
		o.outcome.Fatal(fmt.Errorf("%s: cannot write to %s: %w", Name, o.root, err))
	}
	return err
}

func (o *output) put(f *os.File, target string) error {
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), target); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Adopts implements objects.Adopter: Put renames the spool file into place.
func (o *output) Adopts() bool { return true }

// Describe implements objects.Store.
func (o *output) Describe(key string) string { return filepath.Join(o.root, filepath.FromSlash(key)) }

// Close writes the object being filled and waits for it.
func (o *output) Close(ctx context.Context) error { return o.asm.Close(ctx) }
