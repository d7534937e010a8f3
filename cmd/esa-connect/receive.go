package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/esa-connect/esa-connect/plugins/authkey"
	"github.com/esa-connect/esa-connect/plugins/httpout"
)

func init() { extraCommands = append(extraCommands, receiveCommand) }

// receiveCommand is `esa-connect receive`: a small HTTP receiver for esa_http (and ESA) deliveries.
func receiveCommand() *cli.Command {
	return &cli.Command{
		Name:  "receive",
		Usage: "Run an HTTP receiver for HTTP deliveries: verify auth_key, decompress, split, append records to a file",
		Description: `Accepts POSTs as the esa_http output (and ESA's HTTP delivery) sends them: it checks the
auth_key signature when a private key is given (403 with the reason when it is missing, malformed,
expired or wrong), decompresses gzip, deflate (zlib), snappy (block) or plain bodies by their
Content-Encoding, removes the body prefix and suffix, splits the records and appends each, followed by
a newline, to --out (a file, or - for stdout). Text flags understand Go escapes such as \\n and \\t. Useful to test a task end to end and as a starting
point for your own receiver.

Example:
  ESA_HTTP_PRIVATE_KEY=aliyuncdn1234 esa-connect receive --listen 127.0.0.1:8080 --path /accesslog/post --out records.ndjson`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "address to listen on (host:port; port 0 picks a free one)"},
			&cli.StringFlag{Name: "private-key", EnvVars: []string{"ESA_HTTP_PRIVATE_KEY"},
				Usage: "verify the auth_key of every request with this key (empty: no verification); prefer the environment variable"},
			&cli.StringFlag{Name: "path", Usage: "serve only this request path (default: any path)"},
			&cli.StringFlag{Name: "signed-path", Usage: "the path the sender signs (its auth.url_path; default: the request path)"},
			&cli.StringFlag{Name: "out", Value: "-", Usage: "append records to this file, or - for stdout"},
			&cli.StringFlag{Name: "body-prefix", Usage: "text each body starts with (removed; bodies without it get 400)"},
			&cli.StringFlag{Name: "body-suffix", Usage: "text each body ends with (removed; bodies without it get 400)"},
			&cli.StringFlag{Name: "split-words", Value: "\n", Usage: "separator between records (the sender's split_words)"},
			&cli.BoolFlag{Name: "no-split", Usage: "take each body as one record (the sender's split: false)"},
			// Text flags understand Go escapes (\n, \r, \t, \\), so separators can be typed in a shell.
			&cli.BoolFlag{Name: "quiet", Usage: "do not log rejected requests"},
		},
		Action: func(c *cli.Context) error {
			return runReceive(c.Context, c, c.App.Writer, c.App.ErrWriter)
		},
	}
}

func runReceive(ctx context.Context, c *cli.Context, stdout, stderr io.Writer) error {
	if stderr == nil {
		stderr = os.Stderr
	}
	if stdout == nil {
		stdout = os.Stdout
	}
	key := c.String("private-key")
	if key != "" {
		if err := authkey.ValidatePrivateKey(key); err != nil {
			return cli.Exit("receive: --private-key: "+err.Error(), 2)
		}
	}
	var out io.Writer
	var closeOut func() error
	switch name := c.String("out"); name {
	case "-", "":
		bw := bufio.NewWriterSize(stdout, 256<<10)
		out, closeOut = bw, bw.Flush
	default:
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return cli.Exit(fmt.Sprintf("receive: --out: %v", err), 1)
		}
		bw := bufio.NewWriterSize(f, 256<<10)
		out = bw
		closeOut = func() error { return errors.Join(bw.Flush(), f.Close()) }
	}
	rc := &httpout.Receiver{
		PrivateKey: key,
		SignedPath: c.String("signed-path"),
		Path:       c.String("path"),
		BodyPrefix: unescape(c.String("body-prefix")),
		BodySuffix: unescape(c.String("body-suffix")),
		NoSplit:    c.Bool("no-split"),
		SplitWords: unescape(c.String("split-words")),
		Out:        out,
	}
	if !c.Bool("quiet") {
		rc.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		_ = closeOut()
		return cli.Exit(fmt.Sprintf("receive: --listen: %v", err), 1)
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	auth := "off"
	if key != "" {
		auth = "on"
	}
	fmt.Fprintf(stderr, "esa-connect receive: listening on http://%s%s (auth %s)\n", ln.Addr(), c.String("path"), auth)
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	s := rc.Stats()
	fmt.Fprintf(stderr, "esa-connect receive: %d requests, %d records accepted, %d rejected\n", s.Requests, s.Records, s.Rejected)
	if cerr := closeOut(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return cli.Exit("receive: "+err.Error(), 1)
	}
	return nil
}

// unescape interprets Go escape sequences (\n, \t, \r, \\, \xNN, …) in a flag value; a value that is
// not a valid escaped string is used as given.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	if u, err := strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`); err == nil {
		return u
	}
	return s
}
