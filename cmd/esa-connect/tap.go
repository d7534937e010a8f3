package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

func init() { extraCommands = append(extraCommands, tapCommand) }

// tapCommand is `esa-connect tap TASK`: the records a running task delivers, live.
func tapCommand() *cli.Command {
	return &cli.Command{
		Name:      "tap",
		Usage:     "Print, live, the records a running task delivers (NDJSON), without touching its destination",
		ArgsUsage: "[flags] TASK",
		Description: `Against esa-connect serve (--endpoint, default 127.0.0.1:8080, bearer token from
ESA_CONNECT_INGEST_TOKEN): GET /v1/tasks/TASK/tap. Against esa-connect run (--run ADDR, the address of
its metrics server, default 127.0.0.1:4195): GET /tap. Prints each record as the task hands it to its
destination (after sampling, the filter, the fields and the transforms), one per line, until --limit
records or no record for --idle; then how many records this tap lost by being slow. The task never
waits for a tap: a slow tap loses tap records, never task records.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "endpoint", Value: "127.0.0.1:8080", EnvVars: []string{"ESA_CONNECT_ENDPOINT"}, Usage: "address of esa-connect serve"},
			&cli.StringFlag{Name: "run", Usage: "address of an esa-connect run's metrics server (instead of serve), e.g. 127.0.0.1:4195"},
			&cli.IntFlag{Name: "limit", Value: 100, Usage: "stop after this many records (at most 100000)"},
			&cli.Float64Flag{Name: "sample", Value: 100, Usage: "percentage of the records to show"},
			&cli.DurationFlag{Name: "idle", Usage: "stop when no record came for this long (default 1m)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return failure("esa-connect tap: give the flags before the task's name, e.g. esa-connect tap --limit 10 access-to-s3")
			}
			if c.NArg() != 1 && c.String("run") == "" {
				return failure("esa-connect tap: give the task's name, e.g. esa-connect tap access-to-s3")
			}
			return runTap(c.Context, c)
		},
	}
}

func runTap(ctx context.Context, c *cli.Context) error {
	q := url.Values{}
	q.Set("limit", strconv.Itoa(c.Int("limit")))
	q.Set("sample", strconv.FormatFloat(c.Float64("sample"), 'f', -1, 64))
	if d := c.Duration("idle"); d > 0 {
		q.Set("idle", d.String())
	}
	var u string
	if addr := c.String("run"); addr != "" {
		u = baseURL(addr) + "/tap?" + q.Encode()
	} else {
		u = baseURL(c.String("endpoint")) + "/v1/tasks/" + url.PathEscape(c.Args().First()) + "/tap?" + q.Encode()
	}
	if ctx == nil {
		ctx = context.Background()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return failure("esa-connect tap: " + err.Error())
	}
	if tok := os.Getenv(ingestTokenEnv); tok != "" && c.String("run") == "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return failure("esa-connect tap: " + err.Error())
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return failure(fmt.Sprintf("esa-connect tap: %s: %s", resp.Status, strings.TrimSpace(string(msg))))
	}
	out := bufio.NewWriter(c.App.Writer)
	defer out.Flush()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 2<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if strings.HasPrefix(string(line), `{"tap_dropped":`) {
			_ = out.Flush()
			fmt.Fprintf(c.App.ErrWriter, "esa-connect tap: %s\n", line)
			continue
		}
		_, _ = out.Write(line)
		_ = out.WriteByte('\n')
		_ = out.Flush()
	}
	return nil
}

// baseURL is http://addr unless addr has a scheme.
func baseURL(addr string) string {
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") {
		return strings.TrimRight(addr, "/")
	}
	return "http://" + addr
}
