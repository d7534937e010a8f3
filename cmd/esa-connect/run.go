package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/outcome"
	"github.com/esa-connect/esa-connect/plugins/tap"
	"github.com/esa-connect/esa-connect/translate"
)

// shutdownTimeout bounds the graceful stop after a second signal or a drain that did not finish; after it the stop
// becomes forceful.
const shutdownTimeout = 30 * time.Second

// fatalStopTimeout bounds the stop after a fatal configuration error (credentials or bucket rejected):
// the destination cannot take the records in flight, so there is nothing to wait for. They stay
// unacknowledged (not lost: a replayable source delivers them again on the next run).
const fatalStopTimeout = 2 * time.Second

// stopGrace is how much longer than its timeout run waits for the pipeline to stop before it exits
// anyway.
const stopGrace = 2 * time.Second

// httpAddressEnv overrides the address of run's HTTP server ("off" disables it); httpDebugEnv set to
// true adds /stats and Go's /debug/pprof profiles to it.
const (
	httpAddressEnv = translate.HTTPAddressEnv
	httpDebugEnv   = "ESA_HTTP_DEBUG"
)

// runOptions tunes runTask.
type runOptions struct {
	// logLevel is the Benthos log level (debug, info, warn, error, none); default info.
	logLevel string
}

// runTaskData loads, validates and runs a task definition; name is used in messages.
func runTaskData(ctx context.Context, name string, data []byte, opts runOptions, stdout, stderr io.Writer) int {
	t, ok := loadTask(name, data, stderr)
	if !ok {
		return 1
	}
	return runTask(ctx, t, opts, stdout, stderr)
}

// runTask translates t in memory and runs it as one Benthos stream on the global environment until its
// input ends, a signal arrives (then partial batches are flushed) or a component reports a fatal
// configuration error. It returns the exit code: 0 only when every record was delivered, dropped on
// purpose or dead-lettered.
func runTask(ctx context.Context, t *config.Task, opts runOptions, stdout, stderr io.Writer) int {
	pipe, err := translate.Compile(t, translate.ForRun)
	if err != nil {
		fmt.Fprintf(stderr, "esa-connect: %v\n", err)
		return 1
	}
	// Literal secrets of the task are referenced as ${ESA_<TASK>_<FIELD>}: set them in this process
	// only, never in the printed config or the logs.
	for k, v := range pipe.Secrets {
		if err := os.Setenv(k, v); err != nil {
			fmt.Fprintf(stderr, "esa-connect: task %s: setting a secret variable: %v\n", t.Name, err)
			return 1
		}
	}

	// Keep the heap near what the task really holds (a soft limit: see translate.MemoryLimit).
	// GOMEMLIMIT, when set, wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(pipe.MemoryLimit)
	}

	level, err := parseLevel(opts.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "esa-connect: %v\n", err)
		return 1
	}
	// The HTTP server (/metrics, /ready) binds before anything starts: a busy port stops the run here.
	addr := os.Getenv(httpAddressEnv)
	if addr == "" {
		addr = translate.DefaultHTTPAddress
	}
	debugHTTP := os.Getenv(httpDebugEnv) == "true" || os.Getenv(httpDebugEnv) == "1"
	admin, err := listenAdmin(addr, debugHTTP)
	if err != nil {
		fmt.Fprintf(stderr, "esa-connect: task %s: %v\n", t.Name, err)
		return 1
	}
	defer admin.Close()
	if debugHTTP {
		admin.HandleFunc("/debug/pprof/", pprof.Index)
		for _, p := range []string{"allocs", "heap", "goroutine", "block", "mutex", "threadcreate"} {
			admin.HandleFunc("/debug/pprof/"+p, pprof.Handler(p).ServeHTTP)
		}
		admin.HandleFunc("/debug/pprof/profile", pprof.Profile)
		admin.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}

	b := service.GlobalEnvironment().NewStreamBuilder()
	b.SetLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))
	b.SetHTTPMux(admin)
	if err := b.SetYAML(string(pipe.Config)); err != nil {
		fmt.Fprintf(stderr, "esa-connect: task %s: the generated pipeline is invalid: %v\n", t.Name, err)
		return 1
	}
	stream, err := b.Build()
	if err != nil {
		fmt.Fprintf(stderr, "esa-connect: task %s: building the pipeline: %v\n", t.Name, err)
		return 1
	}
	out := outcome.From(stream.Resources())
	hub := tap.From(stream.Resources())
	admin.HandleFunc("/tap", tap.Handler(func() (*tap.Hub, error) { return hub, nil }))

	started := time.Now()
	localDir := ""
	if t.Destination.Type == "local" && t.Destination.Local != nil {
		localDir = absPath(t.Destination.Local.Path)
	}
	fmt.Fprintf(stdout, "esa-connect: running task %s (%s): %s source → %s destination", t.Name, t.Category, t.Source.Type, t.Destination.Type)
	if localDir != "" {
		fmt.Fprintf(stdout, " %s", localDir)
	}
	fmt.Fprintln(stdout)
	if a := admin.Addr(); a != "" {
		fmt.Fprintf(stdout, "esa-connect: metrics at http://%s/metrics\n", a)
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	admin.SetReady(true)

	// stop stops the stream within timeout. Its wait is bounded too: a component that never connected
	// can keep Benthos's stop waiting, and the process must exit anyway.
	stop := func(why string, timeout time.Duration) error {
		fmt.Fprintf(stderr, "esa-connect: %s: stopping (up to %s)\n", why, timeout)
		admin.SetReady(false)
		stopped := make(chan error, 1)
		go func() { stopped <- stream.StopWithin(timeout) }()
		select {
		case err := <-stopped:
			select {
			case <-done:
			case <-time.After(stopGrace):
			}
			return err
		case sig := <-sigs:
			return fmt.Errorf("%v: stopped without waiting for the flush", sig)
		case <-time.After(timeout + stopGrace):
			return fmt.Errorf("the pipeline did not stop within %s", timeout+stopGrace)
		}
	}

	// SIGINT/SIGTERM drain the stream: the inputs stop reading and send a flush marker, the outputs
	// write their partial batches at once, and the stream ends by itself when everything read is
	// acknowledged (docs/internals.md, "Flush markers and draining"). If that takes longer than the
	// destination's batch period plus shutdownTimeout, or a second signal arrives, the stream is
	// stopped (gracefully first, forcefully at the end).
	stopTimeout := shutdownTimeout + pipe.BatchPeriod
	var runErr error
	select {
	case runErr = <-done:
	case sig := <-sigs:
		fmt.Fprintf(stderr, "esa-connect: %v: draining, writing partial batches (again to stop at once)\n", sig)
		out.Drain()
		select {
		case runErr = <-done:
		case sig := <-sigs:
			runErr = stop("second "+sig.String(), shutdownTimeout)
		case <-out.FatalCh():
			_ = stop("fatal error", fatalStopTimeout)
		case <-time.After(stopTimeout):
			runErr = stop("drain did not finish in "+stopTimeout.String(), shutdownTimeout)
		}
	case <-out.FatalCh():
		_ = stop("fatal error", fatalStopTimeout)
	case <-ctx.Done():
		out.Drain()
		runErr = stop("cancelled", stopTimeout)
	}

	admin.SetReady(false)
	code := 0
	counts := out.Counts()
	peak := ""
	if kb := peakRSSKiB(); kb > 0 {
		peak = fmt.Sprintf("; peak memory %.1f MB", float64(kb)/1024)
	}
	fmt.Fprintf(stdout, "esa-connect: task %s: records: %s%s\n", t.Name, counts, peak)
	if ferr := out.FatalErr(); ferr != nil {
		fmt.Fprintf(stderr, "esa-connect: task %s: %v\n", t.Name, ferr)
		code = 1
	}
	if runErr != nil && code == 0 {
		fmt.Fprintf(stderr, "esa-connect: task %s: %v\n", t.Name, runErr)
		code = 1
	}
	if n := counts.NotDelivered; n > 0 {
		why := ""
		if counts.Invalid > 0 && t.DeadLetter == nil {
			why = fmt.Sprintf(" (%d invalid records were dropped: set dead_letter to keep such records)", counts.Invalid)
		}
		fmt.Fprintf(stderr, "esa-connect: task %s: %s not delivered%s\n", t.Name, recordsWere(n), why)
		code = 1
	}
	if localDir != "" {
		files, size := objectsSince(localDir, started)
		fmt.Fprintf(stdout, "esa-connect: task %s wrote %d files (%s) under %s\n", t.Name, files, humanBytes(size), localDir)
	}
	if dl := t.DeadLetter; dl != nil && dl.Type == "local" {
		p := filepath.Join(absPath(dl.Path), translate.DeadLetterFile(t.Name))
		if st, err := os.Stat(p); err == nil && st.Size() > 0 {
			fmt.Fprintf(stdout, "esa-connect: task %s: dead letters in %s\n", t.Name, p)
		}
	}
	return code
}

// parseLevel maps a Benthos-style log level to slog; "none"/"off" silences the logs.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug", "trace", "all":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error", "fatal":
		return slog.LevelError, nil
	case "none", "off":
		return slog.LevelError + 100, nil
	}
	return 0, fmt.Errorf("unknown log level %q (debug, info, warn, error, none)", s)
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// objectsSince counts the object files (*.log.gz) under dir modified at or after since.
func objectsSince(dir string, since time.Time) (files int, size int64) {
	since = since.Add(-time.Second) // file systems with coarse modification times
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".log.gz") {
			return nil
		}
		if info, err := d.Info(); err == nil && !info.ModTime().Before(since) {
			files++
			size += info.Size()
		}
		return nil
	})
	return files, size
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// recordsWere is "1 record was" or "N records were".
func recordsWere(n int64) string {
	if n == 1 {
		return "1 record was"
	}
	return fmt.Sprintf("%d records were", n)
}

// peakRSSKiB is this process's peak resident set size in KiB (VmHWM of /proc/self/status), 0 where it
// cannot be read. Unlike getrusage's ru_maxrss it does not include the parent's size at fork.
func peakRSSKiB() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}
