package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/esa-connect/esa-connect/plugins/s3verified"
)

func init() { extraCommands = append(extraCommands, verifyCommand) }

// verifyCommand is `esa-connect verify task.yaml`: it writes the ownership challenge object of an S3
// or S3-compatible task (docs/destinations.md#ownership-verification) and prints where it is.
func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "Write the ownership challenge object of an S3 / S3-compatible task and print where it is",
		ArgsUsage: "task.yaml",
		Description: `AWS S3 and S3-compatible destinations deliver only after ownership of the bucket is proven
(as ESA's console does). This command writes the challenge object
<path>/esa-ownership-<task>.txt into the task's bucket with the task's credentials and prints its
location. Read the object (for example: aws s3 cp s3://bucket/path/esa-ownership-task.txt -) and put
its content into the task as ownership_token: ..., then run the task. The token is signed with
ESA_OWNERSHIP_SECRET (required, the same value when the task runs), is valid only for that bucket,
path and task, and must be used within 7 days.`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return failure("esa-connect verify: expected one task file, e.g. esa-connect verify task.yaml")
			}
			return runVerify(c.Context, c.Args().First(), c)
		},
	}
}

func runVerify(ctx context.Context, path string, c *cli.Context) error {
	data, ok := readTask(path, c.App.ErrWriter)
	if !ok {
		return errReported
	}
	t, ok := loadTask(path, data, c.App.ErrWriter)
	if !ok {
		return errReported
	}
	d := t.Destination
	if k, _ := d.Kind(); !k.Ownership || d.S3 == nil {
		return failure(fmt.Sprintf("esa-connect verify: task %q delivers to %q; ownership verification applies to s3 and s3_compatible destinations only", t.Name, d.Type))
	}
	secret := os.Getenv("ESA_OWNERSHIP_SECRET")
	if secret == "" {
		return failure("esa-connect verify: ESA_OWNERSHIP_SECRET is not set: set it to a long random secret, and keep it for running the task")
	}
	cfg := s3verified.FromDestination(t.Destination.Type, d.S3, os.Getenv)
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	client, err := s3verified.NewClient(ctx, cfg)
	if err != nil {
		return failure(fmt.Sprintf("esa-connect verify: %s: %v", cfg.ObjectURL(cfg.Path()), err))
	}
	key, err := s3verified.WriteChallenge(ctx, client, cfg, secret, t.Name)
	if err != nil {
		return failure(fmt.Sprintf("esa-connect verify: %v", err))
	}
	fmt.Fprintf(c.App.Writer, "Wrote the ownership challenge object %s\n", cfg.ObjectURL(key))
	fmt.Fprintf(c.App.Writer, "Read it and set its content as ownership_token in %s, for example:\n", path)
	fmt.Fprintf(c.App.Writer, "  ownership_token: <the content of %s>\n", cfg.ObjectURL(key))
	fmt.Fprintf(c.App.Writer, "The token is valid for bucket %q, path %q and task %q, and must be used within 7 days.\n", cfg.Bucket(), cfg.Path(), t.Name)
	return nil
}
