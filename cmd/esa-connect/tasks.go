package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/server/acs3"
)

func init() { extraCommands = append(extraCommands, tasksCommand) }

// endpointEnv holds the address of the serve that `esa-connect tasks` talks to.
const endpointEnv = "ESA_CONNECT_ENDPOINT"

// listPageSize is the page size of List*DeliveryTasks (serve's maximum).
const listPageSize = 500

// tasksFlags are the flags of every tasks subcommand (and of tasks itself, before the subcommand).
func tasksFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "endpoint", Value: "127.0.0.1:8080", EnvVars: []string{endpointEnv},
			Usage: "address of esa-connect serve: host:port, http://host:port or https://host:port"},
		&cli.BoolFlag{Name: "json", Usage: "print JSON (for scripts) instead of a table or YAML"},
	}
}

func siteFlag(usage string) cli.Flag {
	return &cli.Int64Flag{Name: "site", Usage: usage}
}

// tasksCommand is `esa-connect tasks`: ESA's delivery-task API of a running serve from the shell.
func tasksCommand() *cli.Command {
	siteUse := "the task's site (a site task: access, firewall, tcp_udp_proxy, dns); without it the account-level (User) action is used"
	fileSite := "the site of the task when the file gives none (its site_id / SiteId)"
	return &cli.Command{
		Name:  "tasks",
		Usage: "Manage the delivery tasks of a running esa-connect serve (list, get, create, update, pause, resume, delete, import, status, verify)",
		Description: `Calls ESA's delivery-task API (version 2024-09-10) of esa-connect serve at --endpoint, every
request signed (ACS3-HMAC-SHA256) by ESA's Go SDK with the key pair in ESA_CONNECT_ACCESS_KEY_ID and
ESA_CONNECT_ACCESS_KEY_SECRET. status reads GET /v1/tasks/{name}/status with the bearer token in
ESA_CONNECT_INGEST_TOKEN (when set) and needs no key pair.

Site tasks (categories access, firewall, tcp_udp_proxy, dns) belong to a site: get, update, pause,
resume and delete take --site SITE_ID for them, and without --site act on an account-level task
(edge_routine, edge_container) through the User* actions. list lists the site's tasks with --site,
the account-level tasks without it. create, update and import take the site from the file.

Task files are the native YAML, ESA's create parameters, or a GetSiteDeliveryTask export (such as
the output of tasks get; its Health is ignored). Each is validated locally first: on any problem
every one is printed with its path and nothing is sent. Settings that ESA's parameters cannot carry
(an SLS or OSS endpoint or credentials, tls, batching, max_in_flight, ...) are refused by name. A
Kafka source is sent (serve runs that task from its consumer group); another source is not (serve
feeds the task from its ingest). Secrets are sent as the file gives them (a ${VAR} reference is
resolved by serve, in its environment) and never printed.

Flags may follow the arguments: esa-connect tasks get my-task --site 7301 --json

Examples:
  export ESA_CONNECT_ACCESS_KEY_ID=... ESA_CONNECT_ACCESS_KEY_SECRET=...
  esa-connect tasks create task.yaml
  esa-connect tasks list --site 7301
  esa-connect tasks pause access-to-http --site 7301
  esa-connect tasks delete access-to-http --site 7301 --yes`,
		Flags: tasksFlags(),
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "List tasks: NAME CATEGORY SITE DESTINATION STATUS",
				Flags: append(tasksFlags(), siteFlag("list this site's tasks (without it: the account-level tasks)"),
					&cli.StringFlag{Name: "category", Usage: "only this log category (access, firewall, ... or ESA's BusinessType)"}),
				Action: tasksAction(0, 0, "", runTasksList)},
			{Name: "get", Usage: "Print a task (ESA's GetSiteDeliveryTask answer, with its Health) as YAML", ArgsUsage: "NAME",
				Flags: append(tasksFlags(), siteFlag(siteUse)), Action: tasksAction(1, 1, "NAME", runTasksGet)},
			{Name: "create", Usage: "Create a task from a task file", ArgsUsage: "FILE",
				Flags: append(tasksFlags(), siteFlag(fileSite)), Action: tasksAction(1, 1, "FILE", runTasksCreate(false))},
			{Name: "import", Usage: "Create a task from a GetSiteDeliveryTask export, with its Status (offline: created paused)", ArgsUsage: "FILE",
				Flags: append(tasksFlags(), siteFlag(fileSite)), Action: tasksAction(1, 1, "FILE", runTasksCreate(true))},
			{Name: "update", Usage: "Replace a task's definition by a task file's", ArgsUsage: "NAME FILE",
				Flags: append(tasksFlags(), siteFlag(fileSite)), Action: tasksAction(2, 2, "NAME FILE", runTasksUpdate)},
			{Name: "pause", Usage: "Set a task offline (it receives no records until resumed)", ArgsUsage: "NAME",
				Flags: append(tasksFlags(), siteFlag(siteUse)), Action: tasksAction(1, 1, "NAME", runTasksSetStatus(config.StatusOffline))},
			{Name: "resume", Usage: "Set a task online", ArgsUsage: "NAME",
				Flags: append(tasksFlags(), siteFlag(siteUse)), Action: tasksAction(1, 1, "NAME", runTasksSetStatus(config.StatusOnline))},
			{Name: "delete", Usage: "Delete a task (asks first on a terminal; --yes otherwise)", ArgsUsage: "NAME",
				Flags:  append(tasksFlags(), siteFlag(siteUse), &cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask"}),
				Action: tasksAction(1, 1, "NAME", runTasksDelete)},
			{Name: "status", Usage: "Print a task's status and delivery health (GET /v1/tasks/{name}/status)", ArgsUsage: "NAME",
				Flags: tasksFlags(), Action: tasksAction(1, 1, "NAME", runTasksStatus)},
			{Name: "verify", Usage: "Give an AWS S3 / S3-compatible task waiting for verification the content of its challenge object (POST /v1/tasks/{name}/verify)", ArgsUsage: "NAME TOKEN",
				Flags: tasksFlags(), Action: tasksAction(2, 2, "NAME TOKEN", runTasksVerify)},
		},
	}
}

// tasksCtx is what a tasks subcommand works with.
type tasksCtx struct {
	c        *cli.Context
	args     []string
	endpoint string
	json     bool
	out, err io.Writer
}

// tasksAction wraps a subcommand: it reads the flags that follow the arguments, checks the number of
// arguments and turns errors into one line, esa-connect tasks: ..., with exit code 1.
func tasksAction(min, max int, usage string, run func(*tasksCtx) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		args, err := interspersedFlags(c)
		if errors.Is(err, errHelp) {
			return cli.ShowSubcommandHelp(c)
		}
		if err == nil && (len(args) < min || len(args) > max) {
			err = fmt.Errorf("expected %s: esa-connect tasks %s %s [flags]", usage, c.Command.Name, usage)
			if usage == "" {
				err = fmt.Errorf("takes no arguments, only flags: esa-connect tasks %s [flags]", c.Command.Name)
			}
		}
		if err != nil {
			return failure("esa-connect tasks " + c.Command.Name + ": " + err.Error())
		}
		tc := &tasksCtx{c: c, args: args, endpoint: tasksGlobal(c, "endpoint"), json: tasksGlobal(c, "json") == "true",
			out: c.App.Writer, err: c.App.ErrWriter}
		if tc.out == nil {
			tc.out = os.Stdout
		}
		if tc.err == nil {
			tc.err = os.Stderr
		}
		if err := run(tc); err != nil {
			if errors.Is(err, errReported) {
				return err
			}
			return failure("esa-connect tasks: " + err.Error())
		}
		return nil
	}
}

// errHelp is a --help among the arguments.
var errHelp = errors.New("help")

// interspersedFlags sets the flags that follow the first argument (urfave/cli stops at it) and returns
// the arguments. "--" ends the flags.
func interspersedFlags(c *cli.Context) ([]string, error) {
	var args []string
	rest := c.Args().Slice()
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			return append(args, rest[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' {
			args = append(args, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "help" || name == "h" {
			return nil, errHelp
		}
		f := commandFlag(c.Command, name)
		if f == nil {
			return nil, fmt.Errorf("flag provided but not defined: -%s", name)
		}
		if _, isBool := f.(*cli.BoolFlag); isBool {
			if !hasValue {
				value = "true"
			}
		} else if !hasValue {
			if i+1 >= len(rest) {
				return nil, fmt.Errorf("flag needs an argument: -%s", name)
			}
			i++
			value = rest[i]
		}
		if err := c.Set(f.Names()[0], value); err != nil {
			return nil, fmt.Errorf("invalid value %q for flag -%s: %v", value, name, err)
		}
	}
	return args, nil
}

func commandFlag(cmd *cli.Command, name string) cli.Flag {
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

// tasksGlobal reads a flag of both tasks and its subcommands: the one given on the command line (the
// subcommand's first), else the subcommand's (its environment variable or default).
func tasksGlobal(c *cli.Context, name string) string {
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil && slices.Contains(ctx.LocalFlagNames(), name) {
			return fmt.Sprint(ctx.Value(name))
		}
	}
	return fmt.Sprint(c.Value(name))
}

// --- list ---

func runTasksList(tc *tasksCtx) error {
	site, category := tc.c.Int64("site"), tc.c.String("category")
	siteTasks := site != 0
	query := map[string]string{"PageSize": strconv.Itoa(listPageSize)}
	if category != "" {
		cat, ok := config.LookupCategory(category)
		if !ok {
			return fmt.Errorf("--category: unknown log category %q", category)
		}
		switch {
		case cat.Scope == "site" && !siteTasks:
			return fmt.Errorf("%s is a site log category: give --site SITE_ID", cat.Name)
		case cat.Scope != "site" && siteTasks:
			return fmt.Errorf("%s is an account-level log category: list it without --site", cat.Name)
		}
		query["BusinessType"] = category
	}
	action := "ListUserDeliveryTasks"
	if siteTasks {
		action = "ListSiteDeliveryTasks"
		query["SiteId"] = strconv.FormatInt(site, 10)
	}
	cl, err := newTasksClient(tc.endpoint)
	if err != nil {
		return err
	}
	var tasks []map[string]any
	for page := 1; ; page++ {
		query["PageNumber"] = strconv.Itoa(page)
		body, err := cl.call(action, false, query)
		if err != nil {
			return err
		}
		items, _ := body["Tasks"].([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				if siteTasks {
					m["SiteId"] = site
				}
				tasks = append(tasks, m)
			}
		}
		total, _ := toInt(body["TotalCount"])
		if len(items) == 0 || int64(len(tasks)) >= total {
			break
		}
	}
	if tasks == nil {
		tasks = []map[string]any{}
	}
	if tc.json {
		return printJSON(tc.out, map[string]any{"Tasks": tasks, "TotalCount": len(tasks)})
	}
	if !siteTasks {
		fmt.Fprintln(tc.err, "account-level tasks (edge_routine, edge_container); list a site's tasks with --site SITE_ID")
	}
	w := tabwriter.NewWriter(tc.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tCATEGORY\tSITE\tDESTINATION\tSTATUS")
	for _, t := range tasks {
		siteCol := "-"
		if siteTasks {
			siteCol = strconv.FormatInt(site, 10)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", str(t["TaskName"]), categoryName(str(t["BusinessType"])), siteCol,
			destinationName(str(t["DeliveryType"])), str(t["Status"]))
	}
	return w.Flush()
}

// categoryName is the canonical name of ESA's BusinessType (access for dcdn_log_access_l1).
func categoryName(bt string) string {
	if c, ok := config.LookupCategory(bt); ok {
		return c.Name
	}
	return bt
}

// destinationName is the native destination type of ESA's DeliveryType (s3 for aws3).
func destinationName(dt string) string {
	if k, ok := config.LookupESADeliveryType(dt); ok {
		return k.Type
	}
	return dt
}

// --- get, pause, resume, delete ---

// taskKey is the parameters naming a task, and whether its actions are the Site* ones.
func taskKey(tc *tasksCtx) (map[string]string, string) {
	p := map[string]string{"TaskName": tc.args[0]}
	if site := tc.c.Int64("site"); site != 0 {
		p["SiteId"] = strconv.FormatInt(site, 10)
		return p, "Site"
	}
	return p, "User"
}

// notFoundHint adds to a User* action's "does not exist" that a site task needs --site.
func notFoundHint(err error, scope string) error {
	var ae *apiError
	if scope == "User" && errors.As(err, &ae) && strings.Contains(ae.Code, "NotFound") {
		ae.Message += " among the account-level tasks (a site task needs --site SITE_ID)"
	}
	return err
}

func runTasksGet(tc *tasksCtx) error {
	cl, err := newTasksClient(tc.endpoint)
	if err != nil {
		return err
	}
	key, scope := taskKey(tc)
	body, err := cl.call("Get"+scope+"DeliveryTask", false, key)
	if err != nil {
		return notFoundHint(err, scope)
	}
	return tc.print(body)
}

func runTasksSetStatus(status string) func(*tasksCtx) error {
	return func(tc *tasksCtx) error {
		cl, err := newTasksClient(tc.endpoint)
		if err != nil {
			return err
		}
		key, scope := taskKey(tc)
		key["Method"] = status
		body, err := cl.call("Update"+scope+"DeliveryTaskStatus", false, key)
		if err != nil {
			return notFoundHint(err, scope)
		}
		if tc.json {
			return tc.print(body)
		}
		fmt.Fprintf(tc.out, "task %s: %s\n", tc.args[0], str(body["Status"]))
		return nil
	}
}

func runTasksDelete(tc *tasksCtx) error {
	name := tc.args[0]
	if !tc.c.Bool("yes") {
		if !term.IsTerminal(int(os.Stdin.Fd())) {
			return fmt.Errorf("not deleting task %s: give --yes to delete without a terminal to confirm on", name)
		}
		fmt.Fprintf(tc.err, "Delete task %s? Its stream stops and its definition is removed. [y/N] ", name)
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return fmt.Errorf("task %s not deleted", name)
		}
	}
	cl, err := newTasksClient(tc.endpoint)
	if err != nil {
		return err
	}
	key, scope := taskKey(tc)
	if _, err := cl.call("Delete"+scope+"DeliveryTask", true, key); err != nil {
		return notFoundHint(err, scope)
	}
	if tc.json {
		return printJSON(tc.out, map[string]any{"TaskName": name, "Deleted": true})
	}
	fmt.Fprintf(tc.out, "deleted task %s\n", name)
	return nil
}

// --- create, import, update ---

// readTaskFile reads and validates a task file (an export's Health, which `tasks get` prints, is
// dropped), printing every problem with its path; then converts it to request parameters.
func readTaskFile(tc *tasksCtx, path string, full bool) (*config.Task, *taskRequest, error) {
	data, ok := readTask(path, tc.err)
	if !ok {
		return nil, nil, errReported
	}
	data = withoutHealth(data)
	t, ok := loadTask(path, data, tc.err)
	if !ok {
		return nil, nil, errReported
	}
	if site := tc.c.Int64("site"); site != 0 {
		switch {
		case t.SiteID == 0:
			t.SiteID = site
		case t.SiteID != site:
			return nil, nil, fmt.Errorf("%s: the task's site is %d, not --site %d", path, t.SiteID, site)
		}
	}
	req, err := taskParams(t, full)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	for _, n := range req.Notes {
		fmt.Fprintf(tc.err, "esa-connect tasks: %s: note: %s\n", path, n)
	}
	return t, req, nil
}

// withoutHealth removes the top-level Health of an export (serve's answer to GetSiteDeliveryTask has
// one; it is a state, not a setting). Anything that is not such an export is returned as it is.
func withoutHealth(data []byte) []byte {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return data
	}
	root := doc.Content[0]
	esa := false
	at := -1
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "Health":
			at = i
		case "TaskName":
			esa = true
		}
	}
	if !esa || at < 0 {
		return data
	}
	root.Content = append(root.Content[:at], root.Content[at+2:]...)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return data
	}
	return out
}

func runTasksCreate(keepStatus bool) func(*tasksCtx) error {
	return func(tc *tasksCtx) error {
		path := tc.args[0]
		t, req, err := readTaskFile(tc, path, false)
		if err != nil {
			return err
		}
		if !keepStatus && t.Status == config.StatusOffline {
			fmt.Fprintf(tc.err, "esa-connect tasks: %s: note: its Status offline is not applied by create (tasks import applies it)\n", path)
		}
		cl, err := newTasksClient(tc.endpoint)
		if err != nil {
			return err
		}
		scope := scopeName(req.Site)
		if keepStatus && t.Status == config.StatusOffline {
			// serve creates the task paused: it never runs (nor receives records) before it is resumed.
			req.Params["Status"] = config.StatusOffline
		}
		body, err := cl.call("Create"+scope+"DeliveryTask", true, req.Params)
		if err != nil {
			return err
		}
		if tc.json {
			return tc.print(body)
		}
		verb := "created"
		if keepStatus {
			verb = "imported"
		}
		where := "account-level"
		if req.Site {
			where = "site " + req.Params["SiteId"]
		}
		fmt.Fprintf(tc.out, "%s task %s (%s, %s)\n", verb, t.Name, where, str(body["Status"]))
		return nil
	}
}

func runTasksUpdate(tc *tasksCtx) error {
	name, path := tc.args[0], tc.args[1]
	t, req, err := readTaskFile(tc, path, true)
	if err != nil {
		return err
	}
	if t.Name != name {
		return fmt.Errorf("%s defines task %s, not %s", path, t.Name, name)
	}
	cl, err := newTasksClient(tc.endpoint)
	if err != nil {
		return err
	}
	scope := scopeName(req.Site)
	if _, err := cl.call("Update"+scope+"DeliveryTask", true, req.Params); err != nil {
		return err
	}
	if tc.json {
		return printJSON(tc.out, map[string]any{"TaskName": name, "Updated": true})
	}
	fmt.Fprintf(tc.out, "updated task %s\n", name)
	return nil
}

func scopeName(site bool) string {
	if site {
		return "Site"
	}
	return "User"
}

// --- status ---

func runTasksStatus(tc *tasksCtx) error {
	body, err := tasksNative(tc, http.MethodGet, "status", nil)
	if err != nil {
		return err
	}
	return tc.print(body)
}

func runTasksVerify(tc *tasksCtx) error {
	req, _ := json.Marshal(map[string]string{"token": tc.args[1]})
	body, err := tasksNative(tc, http.MethodPost, "verify", req)
	if err != nil {
		return err
	}
	return tc.print(body)
}

// tasksNative calls serve's native endpoint /v1/tasks/{name}/<what> with the bearer token of
// ESA_CONNECT_INGEST_TOKEN and returns its JSON answer.
func tasksNative(tc *tasksCtx, method, what string, reqBody []byte) (map[string]any, error) {
	base, _, err := endpointURL(tc.endpoint)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, base+"/v1/tasks/"+url.PathEscape(tc.args[0])+"/"+what, bytes.NewReader(reqBody))
	if err != nil {
		return nil, err
	}
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := os.Getenv(ingestTokenEnv); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach esa-connect serve at %s: %v", base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %v", tc.args[0], err)
	}
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("%s answered %s, not JSON", base, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		msg := str(body["error"])
		if resp.StatusCode == http.StatusUnauthorized {
			msg += " (the token is taken from " + ingestTokenEnv + ")"
		}
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	return body, nil
}

// --- output ---

// print writes an API answer (without its RequestId) as YAML, or JSON with --json.
func (tc *tasksCtx) print(body map[string]any) error {
	delete(body, "RequestId")
	if tc.json {
		return printJSON(tc.out, body)
	}
	enc := yaml.NewEncoder(tc.out)
	enc.SetIndent(2)
	if err := enc.Encode(yamlValue(body)); err != nil {
		return err
	}
	return enc.Close()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// yamlValue turns the json.Number of a decoded answer into YAML numbers.
func yamlValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = yamlValue(e)
		}
	case []any:
		for i, e := range x {
			x[i] = yamlValue(e)
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
	}
	return v
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case float64:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	}
	return 0, false
}

// keyPair reads the API key pair from the environment, naming a missing variable.
func keyPair() (id, secret string, err error) {
	id, secret = os.Getenv(acs3.EnvAccessKeyID), os.Getenv(acs3.EnvAccessKeySecret)
	for _, v := range [][2]string{{acs3.EnvAccessKeyID, id}, {acs3.EnvAccessKeySecret, secret}} {
		if v[1] == "" {
			return "", "", fmt.Errorf("%s is not set: set %s and %s to a key pair that esa-connect serve accepts",
				v[0], acs3.EnvAccessKeyID, acs3.EnvAccessKeySecret)
		}
	}
	return id, secret, nil
}
