// Command esa-connect is a Benthos distribution for ESA-style real-time log delivery.
//
// It runs delivery tasks (esa-connect run task.yaml), translates them to Benthos configs
// (esa-connect translate task.yaml), prints the field catalog (esa-connect fields access) and offers
// every Benthos subcommand unchanged (run -c, lint, test, list, streams, echo, ...).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/urfave/cli/v2"

	"github.com/esa-connect/esa-connect/plugins"
)

// version is stamped at build time with -ldflags "-X main.version=..."; otherwise it comes from the
// module's build info.
var version = ""

// extraCommands are constructors of subcommands contributed by other files of this package (verify.go,
// receive.go): each appends its constructor from an init function, so main needs no edit when one lands.
var extraCommands []func() *cli.Command

func main() {
	os.Exit(realMain(context.Background(), os.Args, os.Stdout, os.Stderr))
}

// realMain runs the CLI with args (args[0] is the program name) and returns the exit code.
func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Benthos's `test` subcommand (v4.60) only sees the global environment, so register there.
	if err := plugins.RegisterAll(service.GlobalEnvironment()); err != nil {
		fmt.Fprintf(stderr, "esa-connect: registering plugins: %v\n", err)
		return 1
	}
	if code, handled := dispatch(ctx, args, stdout, stderr); handled {
		return code
	}
	return benthosMain(ctx, args, stderr)
}

// benthosMain runs the Benthos CLI, with our commands, on args and returns the exit code.
func benthosMain(ctx context.Context, args []string, stderr io.Writer) int {
	code, err := service.RunCLIToCode(ctx, cliOptions(benthosArgs(args))...)
	if err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(stderr, err)
		}
		if code == 0 {
			code = 1
		}
	}
	return code
}

// cliOptions are the Benthos CLI options: our name, version and extra commands.
func cliOptions(args []string) []service.CLIOptFunc {
	opts := []service.CLIOptFunc{
		service.CLIOptSetArgs(args...),
		service.CLIOptSetBinaryName("esa-connect"),
		service.CLIOptSetProductName("esa-connect"),
		service.CLIOptSetVersion(buildVersion(), buildDate()),
		service.CLIOptSetDocumentationURL("https://github.com/esa-connect/esa-connect"),
	}
	for _, c := range commands() {
		opts = append(opts, service.CLIOptAddCommand(c))
	}
	return opts
}

// commands are our subcommands added to the Benthos CLI.
func commands() []*cli.Command {
	cmds := ownCommands()
	for _, mk := range extraCommands {
		cmds = append(cmds, mk())
	}
	return cmds
}

// buildVersion is the esa-connect version: the -X stamp, else the main module version, else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

// buildDate is the VCS commit time when the binary was built from a checkout, else "unknown".
func buildDate() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.time" {
				return s.Value
			}
		}
	}
	return "unknown"
}
