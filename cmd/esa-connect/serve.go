package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/urfave/cli/v2"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/source"
	"github.com/esa-connect/esa-connect/server/acs3"
	"github.com/esa-connect/esa-connect/server/api"
	"github.com/esa-connect/esa-connect/server/console"
	"github.com/esa-connect/esa-connect/server/fleet"
	"github.com/esa-connect/esa-connect/server/store"
)

func init() { extraCommands = append(extraCommands, serveCommand) }

// ingestTokenEnv holds the bearer token of serve's ingest, status and metrics endpoints.
const ingestTokenEnv = "ESA_CONNECT_INGEST_TOKEN"

// serveCommand is `esa-connect serve`: ESA's delivery-task service.
func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "Run ESA's delivery-task service: many tasks in one process, ESA's API, the ingest, health and metrics",
		Description: `Runs every stored task as its own stream and serves, on one address:
  /                                    ESA's delivery-task API (version 2024-09-10), for ESA's SDKs and
                                       esa-connect tasks; every request signed (ACS3-HMAC-SHA256) with a key
                                       pair from ESA_CONNECT_ACCESS_KEY_ID / ESA_CONNECT_ACCESS_KEY_SECRET or
                                       --keys-file
  POST /v1/sites/{SiteId}/logs/{category}  NDJSON records of a site (gzip or plain), delivered to every
  POST /v1/logs/{category}             online task of that site (or account) and category; 200 once all of
                                       them acknowledged the records
  GET  /v1/tasks/{TaskName}/status     a task's status and delivery health
  GET  /metrics                        every task's Prometheus metrics
  /console/                            the web console (ESA's Create Delivery Task flow, the task list):
                                       sign in with one of the API's AccessKey pairs (--console=false: off)
The ingest, status and metrics require Authorization: Bearer $ESA_CONNECT_INGEST_TOKEN when it is set;
serve refuses to listen on an address that is not loopback without it. Tasks and their status are kept in
--data (an embedded database, which holds the tasks' credentials: keep the directory private).
SIGINT/SIGTERM drain every task (partial batches are written) before exiting.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Value: "./esa-connect-data", Usage: "directory of serve's database (created 0700)"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "address to listen on (host:port; port 0 picks a free one)"},
			&cli.StringFlag{Name: "keys-file", Usage: "YAML list of {access_key_id, access_key_secret} pairs accepted besides the environment's (mode 0600)"},
			&cli.DurationFlag{Name: "disable-after", Value: 24 * time.Hour, Usage: "set a task offline when it delivered nothing for this long while records waited (0: never)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn, error, none"},
			&cli.BoolFlag{Name: "console", Value: true, Usage: "serve the web console at /console/ (sign in with an AccessKey pair of the API)"},
		},
		Action: func(c *cli.Context) error {
			code := runServe(c.Context, serveOptions{
				data: c.String("data"), listen: c.String("listen"), keysFile: c.String("keys-file"),
				disableAfter: c.Duration("disable-after"), logLevel: c.String("log-level"), console: c.Bool("console"),
			}, c.App.Writer, c.App.ErrWriter)
			if code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

type serveOptions struct {
	data, listen, keysFile string
	disableAfter           time.Duration
	logLevel               string
	console                bool
}

func runServe(ctx context.Context, o serveOptions, stdout, stderr io.Writer) int {
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "esa-connect serve: "+format+"\n", args...)
		return 1
	}
	level, err := parseLevel(o.logLevel)
	if err != nil {
		return fail("%v", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	keys, err := acs3.LoadKeys(os.Getenv, o.keysFile)
	if err != nil {
		return fail("%v", err)
	}
	if keys.Len() == 0 {
		return fail("no API key pair: set ESA_CONNECT_ACCESS_KEY_ID and ESA_CONNECT_ACCESS_KEY_SECRET (or --keys-file); ESA's API is always signed")
	}
	token := os.Getenv(ingestTokenEnv)
	if token == "" && !config.IsLoopback(o.listen) {
		return fail("%s is not a loopback address and %s is not set: the ingest would accept records from anyone who can reach it", o.listen, ingestTokenEnv)
	}
	if token != "" && len(token) < config.MinBearerToken {
		return fail("%s must be at least %d characters", ingestTokenEnv, config.MinBearerToken)
	}
	st, err := store.Open(o.data)
	if err != nil {
		return fail("%v", err)
	}
	defer st.Close()
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fail("listen on %s: %v", o.listen, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	fl := fleet.New(service.GlobalEnvironment(), reg, log)
	srv := &api.Server{
		Store: st, Fleet: fl, Verifier: acs3.NewVerifier(keys), IngestToken: token,
		Bodies:   source.NewBodyReader("esa-connect serve", source.DefaultMaxBodyBytes, 4*source.DefaultMaxPendingBytes, source.DefaultReadTimeout),
		Registry: reg, DisableAfter: o.disableAfter, Log: log,
	}
	if err := srv.Restore(); err != nil {
		_ = ln.Close()
		return fail("starting the stored tasks: %v", err)
	}
	handler := srv.Handler()
	if o.console {
		mux := http.NewServeMux()
		mux.Handle(console.Prefix, console.New(srv, keys, console.Options{Log: log}))
		mux.Handle("/", handler)
		handler = mux
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       source.DefaultReadTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	go srv.Watch(watchCtx)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "esa-connect serve: listening at http://%s (data in %s)\n", ln.Addr(), absPath(o.data))
	if o.console {
		fmt.Fprintf(stdout, "esa-connect serve: console at http://%s%s (sign in with an AccessKey pair of the API)\n", ln.Addr(), console.Prefix)
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	code := 0
	select {
	case sig := <-sigs:
		fmt.Fprintf(stderr, "esa-connect serve: %v: draining every task\n", sig)
	case <-ctx.Done():
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "esa-connect serve: %v\n", err)
			code = 1
		}
	}
	stopWatch()
	// Tasks drain while the server still answers the requests waiting for them; then it stops.
	stopped := make(chan struct{})
	go func() { fl.StopAll(); close(stopped) }()
	select {
	case <-stopped:
	case sig := <-sigs:
		fmt.Fprintf(stderr, "esa-connect serve: second %v: exiting without waiting for the drain\n", sig)
		return 1
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutCtx)
	fmt.Fprintln(stdout, "esa-connect serve: stopped")
	return code
}
