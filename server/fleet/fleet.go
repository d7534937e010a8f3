// Package fleet runs esa-connect serve's tasks: one Benthos stream per online task, all in one
// process, each fed by serve's ingest through its own feed (source.Feed) and started, replaced or
// stopped without touching the others. Every stream's metrics go to one shared Prometheus registry,
// labelled by task.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/metrics"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/source"
	"github.com/esa-connect/esa-connect/plugins/tap"
	"github.com/esa-connect/esa-connect/translate"
)

// metricsExporter is the name of the per-task exporter registered on each task's environment.
const metricsExporter = "esa_task_metrics"

// Fleet is the set of running tasks. It is safe for concurrent use.
type Fleet struct {
	env *service.Environment
	reg *prometheus.Registry
	log *slog.Logger

	mu    sync.RWMutex
	tasks map[string]*Task
}

// New returns an empty fleet whose streams are built on env (with the esa-connect plugins
// registered) and whose metrics go to reg.
func New(env *service.Environment, reg *prometheus.Registry, log *slog.Logger) *Fleet {
	return &Fleet{env: env, reg: reg, log: log, tasks: map[string]*Task{}}
}

// Task is one running task.
type Task struct {
	// Def is the task's definition.
	Def *config.Task

	pipe    *translate.Pipeline
	stream  *service.Stream
	feed    *source.Feed
	out     *outcome.Outcome
	done    chan struct{}
	runErr  error // set before done closes
	started time.Time
}

// Feed is where serve's ingest offers the task its records (nil for a task with its own Kafka source).
func (t *Task) Feed() *source.Feed { return t.feed }

// Tap is where the task's delivered records can be watched (esa-connect tap).
func (t *Task) Tap() *tap.Hub { return tap.From(t.stream.Resources()) }

// Outcome is the task's record counts and health.
func (t *Task) Outcome() *outcome.Outcome { return t.out }

// Started is when the task's stream started.
func (t *Task) Started() time.Time { return t.started }

// Err is why the task's stream ended by itself (a fatal destination error), or nil while it runs.
func (t *Task) Err() error {
	select {
	case <-t.done:
		if ferr := t.out.FatalErr(); ferr != nil {
			return ferr
		}
		if t.runErr != nil {
			return t.runErr
		}
		return errors.New("the task's pipeline ended")
	default:
		return nil
	}
}

// Start builds and starts the stream of def, replacing (after draining) a running stream of the same
// name. A definition that does not build is an error and leaves the running stream untouched.
func (f *Fleet) Start(def *config.Task) error {
	pipe, err := translate.Compile(def, translate.ForServe)
	if err != nil {
		return err
	}
	secrets := pipe.Secrets
	t := &Task{Def: def, pipe: pipe, done: make(chan struct{})}
	ready := make(chan struct{})
	var readyOnce sync.Once

	env := f.env.Clone()
	if err := env.RegisterBatchInput(source.FeedName, source.FeedSpec(), func(conf *service.ParsedConfig, res *service.Resources) (service.BatchInput, error) {
		feed, err := source.NewFeed(source.FeedName, conf, res)
		if err != nil {
			return nil, err
		}
		t.feed = feed
		readyOnce.Do(func() { close(ready) })
		return feed, nil
	}); err != nil {
		return fmt.Errorf("task %s: %w", def.Name, err)
	}
	if err := env.RegisterMetricsExporter(metricsExporter, service.NewConfigSpec(), func(_ *service.ParsedConfig, log *service.Logger) (service.MetricsExporter, error) {
		return metrics.NewTaskExporter(f.reg, def.Name, log), nil
	}); err != nil {
		return fmt.Errorf("task %s: %w", def.Name, err)
	}
	b := env.NewStreamBuilder()
	b.SetLogger(f.log.With("task", def.Name))
	b.SetHTTPMux(discardMux{})
	// The task's literal secrets are referenced as ${ESA_<TASK>_<FIELD>}: they are looked up here,
	// never put in the process environment (other tasks must not see them).
	b.SetEnvVarLookupFunc(func(k string) (string, bool) {
		if v, ok := secrets[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	})
	if err := b.SetYAML(string(pipe.Config)); err != nil {
		return fmt.Errorf("task %s: the generated pipeline is invalid: %w", def.Name, err)
	}
	if err := b.SetMetricsYAML(metricsExporter + ": {}"); err != nil {
		return fmt.Errorf("task %s: %w", def.Name, err)
	}
	stream, err := b.Build()
	if err != nil {
		return fmt.Errorf("task %s: building the pipeline: %w", def.Name, err)
	}
	t.stream = stream
	t.out = outcome.From(stream.Resources())
	t.started = time.Now()
	go func() {
		err := stream.Run(context.Background())
		t.runErr = err
		close(t.done)
		// Requests still offering records to the task get ErrClosed (503) instead of waiting.
		if t.feed != nil {
			_ = t.feed.Close(context.Background())
		}
	}()
	// Benthos builds the input when the stream runs: wait for the feed before routing records to it.
	// A task with its own Kafka source has no feed.
	if translate.ServedFromKafka(def) {
		readyOnce.Do(func() { close(ready) })
	}
	select {
	case <-ready:
	case <-t.done:
		return fmt.Errorf("task %s: the pipeline did not start: %v", def.Name, t.Err())
	case <-time.After(startTimeout):
		_ = stream.StopWithin(fatalStopTimeout)
		return fmt.Errorf("task %s: the pipeline did not start within %s", def.Name, startTimeout)
	}
	go func() {
		// A fatal destination error (credentials or bucket rejected) stops the task; its health
		// and Err say why.
		select {
		case <-t.out.FatalCh():
			f.log.Error("task stopped by a fatal error", "task", def.Name, "error", t.out.FatalErr())
			_ = t.stream.StopWithin(fatalStopTimeout)
		case <-t.done:
		}
	}()

	f.mu.Lock()
	old := f.tasks[def.Name]
	f.tasks[def.Name] = t
	f.mu.Unlock()
	if old != nil {
		old.stop(f.log, shutdownTimeout)
	}
	return nil
}

// startTimeout bounds the start of a task's stream.
const startTimeout = 30 * time.Second

// ErrCheckTimeout is returned by Check when the destination neither connected nor refused in time
// (unreachable for now: the task keeps trying).
var ErrCheckTimeout = errors.New("the destination did not answer the connection check in time")

// Check waits until the task's destination output connected (nil), refused the task's configuration
// (the fatal error: credentials or bucket rejected, a missing logstore, …) or ctx ended
// (ErrCheckTimeout).
func (t *Task) Check(ctx context.Context) error {
	select {
	case <-t.out.ConnectedCh():
		return nil
	case <-t.out.FatalCh():
		return t.out.FatalErr()
	case <-t.done:
		return t.Err()
	case <-ctx.Done():
		return ErrCheckTimeout
	}
}

// shutdownTimeout bounds the drain of a stopped task: its inputs stop, its partial batches are
// written, and what is still unacknowledged after this is left (the senders get 503 and send again).
const shutdownTimeout = 30 * time.Second

// fatalStopTimeout bounds the stop after a fatal destination error.
const fatalStopTimeout = 2 * time.Second

// Stop drains and removes the task name (no-op when it is not running).
func (f *Fleet) Stop(name string) {
	f.mu.Lock()
	t := f.tasks[name]
	delete(f.tasks, name)
	f.mu.Unlock()
	if t != nil {
		t.stop(f.log, shutdownTimeout)
	}
}

// StopAll drains every task at once and waits for them (SIGTERM).
func (f *Fleet) StopAll() {
	f.mu.Lock()
	tasks := f.tasks
	f.tasks = map[string]*Task{}
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.stop(f.log, shutdownTimeout)
		}()
	}
	wg.Wait()
}

// stop drains the stream (inputs stop, partial batches are written) and waits for it up to timeout
// plus the destination's batch period, then stops it.
func (t *Task) stop(log *slog.Logger, timeout time.Duration) {
	t.out.Drain()
	wait := timeout + t.pipe.BatchPeriod
	select {
	case <-t.done:
	case <-time.After(wait):
		log.Warn("task did not drain in time; stopping it", "task", t.Def.Name, "after", wait)
		_ = t.stream.StopWithin(timeout)
		select {
		case <-t.done:
		case <-time.After(timeout):
		}
	}
	if t.feed != nil {
		_ = t.feed.Close(context.Background())
	}
}

// Get returns the running task name.
func (f *Fleet) Get(name string) (*Task, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	t, ok := f.tasks[name]
	return t, ok
}

// Receivers returns the running tasks that receive the records of a site (siteID; 0 for the
// account-level categories) and a category, by name.
func (f *Fleet) Receivers(siteID int64, category string) []*Task {
	f.mu.RLock()
	var out []*Task
	for _, t := range f.tasks {
		if t.feed != nil && t.Def.Category == category && (siteID == 0 || t.Def.SiteID == siteID) {
			out = append(out, t)
		}
	}
	f.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Def.Name < out[j].Def.Name })
	return out
}

// discardMux takes the HTTP endpoints a stream registers and serves none of them: serve has one HTTP
// server, with one /metrics for every task.
type discardMux struct{}

func (discardMux) HandleFunc(string, func(http.ResponseWriter, *http.Request)) {}
