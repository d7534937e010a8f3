package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"slices"
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

// dispatch handles the invocations that the Benthos CLI cannot: no arguments at all (the quickstart),
// `run [--log.level LEVEL] FILE` (FILE is always a task definition) and `lint` of task definitions.
// Everything else goes to the Benthos CLI unchanged (`run -c FILE` runs a Benthos config).
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) (int, bool) {
	if len(args) <= 1 {
		return runTaskData(ctx, "quickstart (embedded)", examples.Quickstart, runOptions{}, stdout, stderr), true
	}
	switch args[1] {
	case "lint":
		return lintTasks(ctx, args, stdout, stderr)
	case "run":
		path, opts, ok := taskRunArgs(args[2:])
		if !ok {
			return 0, false
		}
		return runTaskFile(ctx, path, opts, stdout, stderr), true
	}
	return 0, false
}

// runTaskFile runs `run FILE`: FILE is read as a task definition, whatever it holds. A Benthos config
// is not run but named as one, with the command that runs it.
func runTaskFile(ctx context.Context, path string, opts runOptions, stdout, stderr io.Writer) int {
	data, ok := readTask(path, stderr)
	if !ok {
		return 1
	}
	if isBenthosConfig(data) {
		fmt.Fprintf(stderr, "esa-connect: %s is a Benthos config, not a task definition; run it with: esa-connect run -c %s\n", path, path)
		return 1
	}
	return runTaskData(ctx, path, data, opts, stdout, stderr)
}

// readTask reads a task definition file (at most config.MaxDefinitionBytes), printing why it cannot.
func readTask(path string, stderr io.Writer) ([]byte, bool) {
	data, err := config.ReadFile(path)
	if err == nil {
		return data, true
	}
	var errs config.Errors
	var pe *fs.PathError
	switch {
	case errors.As(err, &errs):
		printProblems(path, errs, stderr)
	case errors.As(err, &pe):
		fmt.Fprintf(stderr, "esa-connect: cannot read the task definition %s: %v\n", path, pe.Err)
	default:
		fmt.Fprintf(stderr, "esa-connect: %s: %v\n", path, err)
	}
	return nil, false
}

// lintTasks handles `lint FILE...` when a FILE is a task definition (as `run FILE` tells): each task
// is validated, translated and its config linted against the registered components; the Benthos
// configs among the files are linted by the Benthos CLI. With flags, with no task definition or with
// a path that is not a readable file (a directory, a glob), the Benthos CLI does it all, as before.
func lintTasks(ctx context.Context, args []string, stdout, stderr io.Writer) (int, bool) {
	files := args[2:]
	if len(files) == 0 {
		return 0, false
	}
	var tasks, benthos []string
	datas := map[string][]byte{}
	for _, a := range files {
		if strings.HasPrefix(a, "-") {
			return 0, false
		}
		if st, err := os.Stat(a); err != nil || !st.Mode().IsRegular() {
			return 0, false
		}
		data, err := config.ReadFile(a)
		var errs config.Errors
		switch {
		case errors.As(err, &errs): // too large: a task definition's problem
			tasks = append(tasks, a)
		case err != nil:
			return 0, false
		case isBenthosConfig(data):
			benthos = append(benthos, a)
		default:
			tasks = append(tasks, a)
			datas[a] = data
		}
	}
	if len(tasks) == 0 {
		return 0, false
	}
	code := 0
	for _, path := range tasks {
		data, ok := datas[path]
		if !ok {
			if data, ok = readTask(path, stderr); !ok {
				code = 1
				continue
			}
		}
		t, ok := loadTask(path, data, stderr)
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
	if len(benthos) > 0 {
		if c := benthosMain(ctx, append([]string{args[0], "lint"}, benthos...), stderr); c != 0 {
			code = c
		}
	}
	return code, true
}

// benthosArgs rewrites `run -c FILE` / `run --config FILE` (the spelling of docs/running.md and of
// older Benthos releases) into `run FILE`, which is what the Benthos v4.60 run subcommand takes. Other
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

// benthosOnlyKeys are top-level keys of a Benthos config that no task definition has (besides them,
// Benthos has output, which a task definition has too, and the *_resources keys).
var benthosOnlyKeys = []string{"input", "pipeline", "buffer", "resources", "http", "logger", "metrics", "tracer",
	"shutdown_delay", "shutdown_timeout", "tests"}

// isBenthosConfig reports whether data looks like a Benthos config rather than a task definition: a
// top-level object with Benthos keys (input, pipeline, output other than a task's output options,
// *_resources, ...) and none of the task keys. It parses data to a yaml.Node, so duplicate keys or
// aliases do not get in the way.
func isBenthosConfig(data []byte) bool {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) != 1 {
		return false
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return false
	}
	benthos := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		key := k.Value
		switch {
		case key == "output":
			benthos = benthos || !isTaskOutput(root.Content[i+1])
		case config.IsTaskKey(key):
			return false
		case slices.Contains(benthosOnlyKeys, key) || strings.HasSuffix(key, "_resources"):
			benthos = true
		}
	}
	return benthos
}

// isTaskOutput reports whether n is a task's output block: null or an object of config.Output's keys.
func isTaskOutput(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return true
	}
	if n.Kind != yaml.MappingNode {
		return false
	}
	typ := reflect.TypeFor[config.Output]()
	for i := 0; i < len(n.Content); i += 2 {
		found := false
		for j := 0; j < typ.NumField() && !found; j++ {
			name, _, _ := strings.Cut(typ.Field(j).Tag.Get("yaml"), ",")
			found = name == n.Content[i].Value
		}
		if !found {
			return false
		}
	}
	return true
}

// loadTask decodes and validates a task definition, printing every problem with its path.
func loadTask(name string, data []byte, stderr io.Writer) (*config.Task, bool) {
	t, err := config.Load(data)
	if err == nil {
		return t, true
	}
	var errs config.Errors
	if errors.As(err, &errs) && len(errs) > 0 {
		printProblems(name, errs, stderr)
		return nil, false
	}
	fmt.Fprintf(stderr, "esa-connect: %s: %v\n", name, err)
	return nil, false
}

// printProblems prints the problems of a task definition, one per line.
func printProblems(name string, errs config.Errors, stderr io.Writer) {
	count := fmt.Sprintf("%d problems", len(errs))
	switch {
	case len(errs) == 1:
		count = "1 problem"
	case len(errs) > config.MaxProblems: // the last entry counts the ones not listed
		count = fmt.Sprintf("more than %d problems", config.MaxProblems)
	}
	fmt.Fprintf(stderr, "esa-connect: %s is not a valid task definition (%s):\n", name, count)
	for _, e := range errs {
		fmt.Fprintf(stderr, "  %s\n", e.Error())
	}
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
			data, ok := readTask(path, c.App.ErrWriter)
			if !ok {
				return errReported
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
