// Package local provides the esa_local output: objects of SPEC §4.8 (gzip-compressed encoded batches
// named <YYYYMMDD>/<task>_<first>_<last>_<seq>_<rand>.log.gz) written to a local directory, for the
// embedded default, on-premises archives and dead letters.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/deadletter"
	"github.com/esa-connect/esa-connect/plugins/encode"
	"github.com/esa-connect/esa-connect/plugins/outcome"
)

// DefaultMaxInFlight is the default max_in_flight of esa_local.
const DefaultMaxInFlight = 4

// ConfigSpec is the esa_local configuration specification.
func ConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Local").
		Summary("Writes batches of log records to a local directory as gzip objects named like ESA's object-storage deliveries.").
		Description(`Each batch becomes one file `+"`<path>/<YYYYMMDD>/<task>_<first>_<last>_<seq>_<rand>.log.gz`"+`
(SPEC §4.8): `+"`YYYYMMDD`"+` is the UTC date of the earliest event time in the batch, `+"`first`"+` and `+"`last`"+` the
earliest and latest event times in UTC (`+"`20260101T000000Z`"+`), read from `+"`time_field`"+` (else the
`+"`esa_event_time`"+` metadata, else the time of writing), `+"`seq`"+` a counter and `+"`rand`"+` 8 random hex digits, so
names never collide. The body is the gzip of the encoded records (NDJSON by default).

A file is written under a hidden temporary name in its directory, synced to disk and then renamed, so
readers never see a partial file; the batch is acknowledged only after that. Directories are created as
needed. A directory that cannot be created or written stops the run with an error (a configuration
error, not a delivery failure); other errors (for example a full disk) fail the batch, and the input
redelivers it.`).
		Fields(
			service.NewStringField("path").
				Description("The directory objects are written under (created if missing)."),
			service.NewStringField("task").
				Description("The task name: the start of every file name and the `task` label of the metrics.").
				Default("esa"),
			service.NewStringField("time_field").
				Description("The record field holding its event time (the category's time field, e.g. `EdgeStartTimestamp`).").
				Default(""),
			encode.EncodingField(),
			service.NewOutputMaxInFlightField().Default(DefaultMaxInFlight),
			deadletter.Field(),
			service.NewBatchPolicyField("batching").
				Description("When a file is written: after `count` records, `byte_size` bytes or `period`, whichever comes first. Zero values take the object-storage defaults: 100,000 records, 64 MiB, 60 s."),
		).
		Example("Daily archive", "Access logs into ./archive/<date>/.", `
output:
  esa_local:
    path: ./archive
    task: access-archive
    time_field: EdgeStartTimestamp
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
	return env.RegisterBatchOutput("esa_local", ConfigSpec(), newOutput)
}

type output struct {
	root    string
	task    string
	writer  *encode.ObjectWriter
	dl      *deadletter.Router
	outcome *outcome.Outcome
}

func newOutput(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
	var pol service.BatchPolicy
	root, err := conf.FieldString("path")
	if err != nil {
		return nil, pol, 0, err
	}
	if root == "" {
		return nil, pol, 0, errors.New("esa_local: path is empty")
	}
	task, err := conf.FieldString("task")
	if err != nil {
		return nil, pol, 0, err
	}
	timeField, err := conf.FieldString("time_field")
	if err != nil {
		return nil, pol, 0, err
	}
	opts, err := encode.OptionsFromParsed(conf)
	if err != nil {
		return nil, pol, 0, fmt.Errorf("esa_local: encoding: %w", err)
	}
	enc, err := encode.NewObjectEncoder(task, "", timeField, opts)
	if err != nil {
		return nil, pol, 0, fmt.Errorf("esa_local: %w", err)
	}
	if pol, err = encode.ObjectBatching(conf); err != nil {
		return nil, pol, 0, err
	}
	mif, err := conf.FieldMaxInFlight()
	if err != nil {
		return nil, pol, 0, err
	}
	dl, err := deadletter.NewRouter(conf, res)
	if err != nil {
		return nil, pol, 0, fmt.Errorf("esa_local: %w", err)
	}
	o := &output{root: root, task: task, dl: dl, outcome: outcome.From(res), writer: &encode.ObjectWriter{
		Name: "esa_local", Enc: enc, Backoff: encode.Backoff{MaxRetries: 0},
		Metrics: encode.NewMetrics(res, task), Log: res.Logger(),
		Describe: func(key string) string { return filepath.Join(root, filepath.FromSlash(key)) },
	}}
	return o, pol, mif, nil
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
		err = fmt.Errorf("esa_local: cannot write to %s: %w", o.root, err)
		o.outcome.Fatal(err)
		return err
	}
	return nil
}

// WriteBatch writes batch as one object file. A failed write is not retried here: the input
// redelivers the batch. A permission error (the directory was made read-only under a running task)
// stops the run like a directory that cannot be created at start.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	return o.dl.Write(ctx, batch, func(ctx context.Context, recs service.MessageBatch) error {
		return o.writer.Write(ctx, recs, func(_ context.Context, obj encode.Object) error {
			err := writeAtomic(filepath.Join(o.root, filepath.FromSlash(obj.Key)), obj.Body)
			if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.ENOTDIR) {
				o.outcome.Fatal(fmt.Errorf("esa_local: cannot write to %s: %w", o.root, err))
			}
			return err
		})
	})
}

// writeAtomic writes data to a hidden temporary file beside target, syncs it, renames it to target and
// syncs the directory, so target appears complete or not at all.
func writeAtomic(target string, data []byte) (err error) {
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, target); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Close has nothing to release.
func (o *output) Close(context.Context) error { return nil }
