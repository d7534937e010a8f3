package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v2"
)

// ownCommands are the subcommands defined in this package besides the extraCommands.
func ownCommands() []*cli.Command {
	return nil
}

// dispatch handles the invocations that the Benthos CLI cannot: none yet.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) (int, bool) {
	return 0, false
}
