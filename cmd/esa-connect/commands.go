package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/examples"
	"github.com/esa-connect/esa-connect/translate"
)

// ownCommands are the subcommands defined in this package besides the extraCommands.
func ownCommands() []*cli.Command {
	return []*cli.Command{translateCommand(), fieldsCommand(), quickstartCommand()}
}

// dispatch handles the invocations that the Benthos CLI cannot: no arguments at all (the quickstart)
// and `run` of a task definition. Everything else goes to the Benthos CLI unchanged.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) (int, bool) {
	if len(args) <= 1 {
		return runTaskData(ctx, "quickstart (embedded)", examples.Quickstart, runOptions{}, stdout, stderr), true
	}
	if args[1] == "lint" {
		return lintTasks(args[2:], stdout, stderr)
	}
	if args[1] != "run" {
		return 0, false
	}
	path, opts, ok := taskRunArgs(args[2:])
	if !ok {
		return 0, false
	}
	data, err := os.ReadFile(path)
	if err != nil || !isTaskDefinition(data) {
		return 0, false
	}
	return runTaskData(ctx, path, data, opts, stdout, stderr), true
}

// lintTasks handles `lint` when every argument is a task definition: each is validated, translated and
// its config linted against the registered components. Any other `lint` goes to the Benthos CLI.
func lintTasks(args []string, stdout, stderr io.Writer) (int, bool) {
	if len(args) == 0 {
		return 0, false
	}
	datas := make([][]byte, len(args))
	for i, a := range args {
		if strings.HasPrefix(a, "-") {
			return 0, false
		}
		data, err := os.ReadFile(a)
		if err != nil || !isTaskDefinition(data) {
			return 0, false
		}
		datas[i] = data
	}
	code := 0
	for i, path := range args {
		t, ok := loadTask(path, datas[i], stderr)
		if !ok {
			code = 1
			continue
		}
		conf, err := translate.Task(t)
		if err == nil {
			err = service.GlobalEnvironment().NewStreamBuilder().SetYAML(string(conf))
		}
		if err != nil {
			fmt.Fprintf(stderr, "esa-connect: %s: the translated config does not lint: %v\n", path, err)
			code = 1
		}
	}
	return code, true
}

// benthosArgs rewrites `run -c FILE` / `run --config FILE` (the spelling of SPEC §6 and of older
// Benthos releases) into `run FILE`, which is what the Benthos v4.60 run subcommand takes. Other
// arguments are returned unchanged.
func benthosArgs(args []string) []string {
	if len(args) < 3 || args[1] != "run" {
		return args
	}
	out := []string{args[0], "run"}
	var configs []string
	for i := 2; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "-c" || a == "--config" || a == "-config") && i+1 < len(args):
			configs = append(configs, args[i+1])
			i++
		case strings.HasPrefix(a, "-c=") || strings.HasPrefix(a, "--config="):
			configs = append(configs, a[strings.IndexByte(a, '=')+1:])
		default:
			out = append(out, a)
		}
	}
	return append(out, configs...)
}

// taskRunArgs recognises `run [--log.level LEVEL] FILE`: one file argument and no Benthos flags.
func taskRunArgs(args []string) (path string, opts runOptions, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--log.level" || a == "--log-level":
			if i+1 >= len(args) {
				return "", opts, false
			}
			opts.logLevel = args[i+1]
			i++
		case strings.HasPrefix(a, "--log.level=") || strings.HasPrefix(a, "--log-level="):
			opts.logLevel = a[strings.IndexByte(a, '=')+1:]
		case strings.HasPrefix(a, "-"):
			return "", opts, false
		case path != "":
			return "", opts, false
		default:
			path = a
		}
	}
	return path, opts, path != ""
}

// isTaskDefinition reports whether data is a task definition rather than a Benthos config: a
// top-level `category` or `destination` (native shape) or ESA's `TaskName`, `BusinessType` or
// `DeliveryType` (OpenAPI shape). Benthos configs have none of these keys.
func isTaskDefinition(data []byte) bool {
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return false
	}
	for _, k := range []string{"category", "destination", "TaskName", "BusinessType", "DeliveryType"} {
		if _, ok := top[k]; ok {
			return true
		}
	}
	return false
}

// loadTask decodes and validates a task definition, printing every problem with its path.
func loadTask(name string, data []byte, stderr io.Writer) (*config.Task, bool) {
	t, err := config.Load(data)
	if err == nil {
		return t, true
	}
	var errs config.Errors
	if errors.As(err, &errs) && len(errs) > 0 {
		problem := "problems"
		if len(errs) == 1 {
			problem = "problem"
		}
		fmt.Fprintf(stderr, "esa-connect: %s is not a valid task definition (%d %s):\n", name, len(errs), problem)
		for _, e := range errs {
			fmt.Fprintf(stderr, "  %s\n", e.Error())
		}
		return nil, false
	}
	fmt.Fprintf(stderr, "esa-connect: %s: %v\n", name, err)
	return nil, false
}

func translateCommand() *cli.Command {
	return &cli.Command{
		Name:      "translate",
		Usage:     "Print the Benthos config that runs a task definition",
		ArgsUsage: "task.yaml",
		Description: `Reads a task definition (native YAML/JSON or ESA's CreateSiteDeliveryTask
parameters), validates it and prints the Benthos config that 'esa-connect run task.yaml'
would run. Secrets given literally in the task are replaced by ${ESA_<TASK>_<FIELD>}
references; a comment at the top lists the variables to set before 'run -c'.`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return failure("esa-connect translate: expected one task file, e.g. esa-connect translate task.yaml")
			}
			path := c.Args().First()
			data, err := os.ReadFile(path)
			if err != nil {
				return failure(fmt.Sprintf("esa-connect translate: %v", err))
			}
			t, ok := loadTask(path, data, c.App.ErrWriter)
			if !ok {
				return errReported
			}
			out, err := translate.Task(t)
			if err != nil {
				return failure(fmt.Sprintf("esa-connect translate: %v", err))
			}
			_, err = c.App.Writer.Write(out)
			return err
		},
	}
}

func quickstartCommand() *cli.Command {
	return &cli.Command{
		Name:  "quickstart",
		Usage: "Run the embedded quickstart task (generated access records → ./out)",
		Description: `Runs the embedded quickstart task, the same as 'esa-connect' with no arguments:
100,000 generated access records, sampled at 50 %, filtered, 15 fields, written as
gzip-compressed NDJSON objects under ./out. Prints where the files went.`,
		Action: func(c *cli.Context) error {
			code := runTaskData(c.Context, "quickstart (embedded)", examples.Quickstart, runOptions{}, c.App.Writer, c.App.ErrWriter)
			if code != 0 {
				return errReported
			}
			return nil
		},
	}
}

// errReported is returned by our commands when they have already printed what went wrong: the exit
// code is 1 and nothing more is printed. (urfave/cli's ExitCoder would call os.Exit itself.)
var errReported = errors.New("esa-connect: failed")

// failure is a command error whose message is printed once by realMain.
func failure(msg string) error { return errors.New(msg) }
