package console

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/server/api"
	"github.com/esa-connect/esa-connect/server/store"
)

// validation is the answer of the validate endpoints: the problems placed on the form and, when
// there are none, the task's pipeline and its YAML (every secret masked or a reference).
type validation struct {
	Valid    bool      `json:"valid"`
	Problems []problem `json:"problems"`
	Pipeline string    `json:"pipeline,omitempty"`
	YAML     string    `json:"yaml,omitempty"`
}

// check validates a draft as a Create request: the parameters it gives the API, checked by
// config.Load as the API checks them (and the API's own checks: the site of a site category, a name
// that is taken).
func (c *Console) check(d *draft) (url.Values, *config.Task, validation) {
	v, probs := d.params()
	probs = append(probs, checkScope(v, d.Category)...)
	if name := v.Get("TaskName"); name != "" {
		if _, err := c.api.Store.Get(name); err == nil {
			probs = append(probs, problem{Target: "name", Step: 1, Path: "TaskName", Message: fmt.Sprintf("a task named %q already exists", name)})
		}
	}
	t, lp := load(v, d.DeliveryType)
	probs = append(probs, lp...)
	sortProblems(probs)
	out := validation{Valid: len(probs) == 0, Problems: probs}
	if out.Problems == nil {
		out.Problems = []problem{}
	}
	if t != nil && out.Valid {
		out.Pipeline = pipeline(t)
		out.YAML, _ = taskYAML(t)
	}
	return v, t, out
}

// validate answers POST /console/api/validate {draft}: the problems of the draft.
func (c *Console) validate(w http.ResponseWriter, r *http.Request, _ *session, _ string) {
	var d draft
	if !decode(w, r, &d) {
		return
	}
	_, _, out := c.check(&d)
	reply(w, http.StatusOK, out)
}

// createTask answers POST /console/api/tasks {draft}: CreateSiteDeliveryTask (or User) with the
// draft's parameters once it validates.
func (c *Console) createTask(w http.ResponseWriter, r *http.Request, ss *session, _ string) {
	var d draft
	if !decode(w, r, &d) {
		return
	}
	v, _, out := c.check(&d)
	if !out.Valid {
		reply(w, http.StatusBadRequest, map[string]any{"error": apiErrorBody{Code: "InvalidParameter",
			Message: "the task has problems: see the fields"}, "problems": out.Problems})
		return
	}
	act := action("Create", d.Category, false)
	if _, aerr := c.api.Do(act, v); aerr != nil {
		c.replyAPIError(w, aerr, d.DeliveryType)
		return
	}
	name := v.Get("TaskName")
	c.log.Info("console: task created", "task", name, "access_key_id", config.MaskKeyID(ss.keyID))
	item, err := c.item(name)
	if err != nil {
		replyError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	reply(w, http.StatusOK, item)
}

// replyAPIError answers an error of the API, placing it on the form when it names a parameter.
func (c *Console) replyAPIError(w http.ResponseWriter, aerr *api.Error, deliveryType string) {
	body := map[string]any{"error": apiErrorBody{Code: aerr.Code, Message: aerr.Message}}
	if aerr.Code == "InvalidDestination" {
		body["problems"] = []problem{{Target: "delivery", Step: 4, Message: aerr.Message}}
	} else if path, msg, ok := strings.Cut(aerr.Message, ": "); ok && !strings.ContainsAny(path, " ") {
		target, step := placeOf(path, deliveryType)
		body["problems"] = []problem{{Target: target, Step: step, Path: path, Message: msg}}
	}
	status := aerr.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	reply(w, status, body)
}

// taskItem is one task of the list: what it delivers where, its status and its health.
type taskItem struct {
	Name          string     `json:"name"`
	Category      string     `json:"category"`
	CategoryTitle string     `json:"category_title"`
	Scope         string     `json:"scope"`
	SiteID        int64      `json:"site_id,omitempty"`
	DeliveryType  string     `json:"delivery_type"`
	Destination   string     `json:"destination_title"`
	Target        string     `json:"destination"`
	Ownership     bool       `json:"ownership,omitempty"`
	Fields        int        `json:"fields"`
	SamplingRate  float64    `json:"sampling_rate"`
	Filters       int        `json:"filters"`
	Status        string     `json:"status"`
	Reason        string     `json:"reason,omitempty"`
	Challenge     string     `json:"challenge,omitempty"`
	Health        api.Health `json:"health"`
	Created       string     `json:"created,omitempty"`
	Problem       string     `json:"problem,omitempty"`
}

// storedTask loads a stored task's definition.
func storedTask(st *store.Task) (*config.Task, error) {
	return config.Load(st.DefinitionJSON())
}

func (c *Console) itemOf(st *store.Task) (taskItem, *config.Task) {
	it := taskItem{Name: st.Name, Status: st.Status, Reason: st.Reason}
	if !st.Created.IsZero() {
		it.Created = st.Created.UTC().Format("2006-01-02T15:04:05Z")
	}
	if h, err := c.api.Health(st.Name); err == nil {
		it.Health = h
		it.Status, it.Reason = h.Status, h.Reason
	}
	if it.Status == store.PendingVerification {
		it.Challenge = challengeOf(it.Reason)
	}
	t, err := storedTask(st)
	if err != nil {
		it.Problem = strings.ReplaceAll(err.Error(), "\n", "; ")
		return it, nil
	}
	it.Category, it.SiteID = t.Category, t.SiteID
	if cat, ok := config.LookupCategory(t.Category); ok {
		it.CategoryTitle, it.Scope = cat.Title, cat.Scope
	}
	e := config.ExportESA(t)
	it.DeliveryType = e.DeliveryType
	it.Destination = deliveryTitle(e.DeliveryType)
	it.Target = destinationSummary(t)
	k, _ := t.Destination.Kind()
	it.Ownership = k.Ownership
	it.Fields, it.SamplingRate, it.Filters = len(t.Fields), t.SamplingRate, config.Leaves(t.Filters)
	return it, t
}

func (c *Console) item(name string) (taskItem, error) {
	st, err := c.api.Store.Get(name)
	if err != nil {
		return taskItem{}, err
	}
	it, _ := c.itemOf(st)
	return it, nil
}

// listTasks answers GET /console/api/tasks: every task, by name.
func (c *Console) listTasks(w http.ResponseWriter, _ *http.Request, _ *session, _ string) {
	all, err := c.api.Store.List()
	if err != nil {
		replyError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	items := make([]taskItem, 0, len(all))
	for _, st := range all {
		it, _ := c.itemOf(st)
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	reply(w, http.StatusOK, map[string]any{"tasks": items})
}

// taskDetail is a task as the edit page shows it.
type taskDetail struct {
	taskItem
	DataCenter   string           `json:"data_center,omitempty"`
	FieldList    []string         `json:"field_list"`
	Rate         string           `json:"sampling_rate_text"`
	FilterRows   []filterRow      `json:"filter_rows"`
	FilterRules  string           `json:"filter_rules"`
	Grouped      bool             `json:"filter_grouped"`
	CustomFields customFieldsForm `json:"custom_fields"`
	Sink         map[string]any   `json:"sink"`
	Pipeline     string           `json:"pipeline"`
	YAML         string           `json:"yaml"`
}

// getTask answers GET /console/api/tasks/{name}: the task's settings (no secret), pipeline and YAML.
func (c *Console) getTask(w http.ResponseWriter, r *http.Request, _ *session, _ string) {
	st, err := c.api.Store.Get(r.PathValue("name"))
	if err != nil {
		replyError(w, http.StatusNotFound, "NotFound", "task "+r.PathValue("name")+" does not exist")
		return
	}
	it, t := c.itemOf(st)
	if t == nil {
		reply(w, http.StatusOK, taskDetail{taskItem: it})
		return
	}
	d := taskDetail{taskItem: it, DataCenter: t.DataCenter, FieldList: t.Fields,
		Rate: strconv.FormatFloat(t.SamplingRate, 'f', -1, 64), FilterRules: config.FormatESAFilter(t.Filters),
		Sink: sinkView(t), Pipeline: pipeline(t)}
	rows, ok := filterRows(t.Filters)
	d.FilterRows, d.Grouped = rows, !ok
	if d.FilterRows == nil {
		d.FilterRows = []filterRow{}
	}
	if cf := t.CustomFields; cf != nil {
		d.CustomFields = customFieldsForm{RequestHeaders: strings.Join(cf.RequestHeaders, "\n"),
			ResponseHeaders: strings.Join(cf.ResponseHeaders, "\n"), Cookies: strings.Join(cf.Cookies, "\n")}
	}
	d.YAML, _ = taskYAML(t)
	reply(w, http.StatusOK, d)
}

// changes returns the Update parameters that an edit changes (fields, sampling, filters, custom
// fields), and the problems of converting the form.
func changes(t *config.Task, d *draft) (url.Values, []problem) {
	d.Category = t.Category
	all, probs := d.params()
	out := url.Values{}
	if f := strings.Join(d.Fields, ","); f != strings.Join(t.Fields, ",") {
		out.Set("FieldName", f)
	}
	if dr := all.Get("DiscardRate"); dr != "" {
		if r, err := strconv.ParseFloat(dr, 64); err == nil && math.Abs((1-r)*100-t.SamplingRate) > 1e-6 {
			out.Set("DiscardRate", dr)
		}
	} else if strings.TrimSpace(d.SamplingRate) == "" && t.SamplingRate != 100 {
		out.Set("DiscardRate", "0")
	}
	old := config.FormatESAFilter(t.Filters)
	switch fr := all.Get("FilterRules"); {
	case fr == "" && old != "[]":
		out.Set("FilterRules", "[]")
	case fr != "" && fr != old:
		out.Set("FilterRules", fr)
	}
	oldCF := ""
	if t.CustomFields != nil {
		b, _ := json.Marshal(t.CustomFields)
		oldCF = string(b)
	}
	if cf := all.Get("custom_fields"); cf != oldCF {
		out.Set("custom_fields", cf)
	}
	return out, probs
}

// editOf reads an edit request and returns the stored task, its Update parameters and the
// validation of the task as updated (the stored definition with the changes, as the API merges them).
func (c *Console) editOf(w http.ResponseWriter, r *http.Request) (*store.Task, url.Values, validation, bool) {
	st, err := c.api.Store.Get(r.PathValue("name"))
	if err != nil {
		replyError(w, http.StatusNotFound, "NotFound", "task "+r.PathValue("name")+" does not exist")
		return nil, nil, validation{}, false
	}
	var d draft
	if !decode(w, r, &d) {
		return nil, nil, validation{}, false
	}
	t, err := storedTask(st)
	if err != nil {
		replyError(w, http.StatusConflict, "InvalidTask", "the stored task does not load: "+err.Error())
		return nil, nil, validation{}, false
	}
	ch, probs := changes(t, &d)
	merged := url.Values{}
	for k, v := range st.Definition {
		merged.Set(k, v)
	}
	for k := range ch {
		merged.Set(k, ch.Get(k))
	}
	if _, ok := ch["FieldName"]; ok {
		merged.Del("FieldList")
	}
	esaType := config.ExportESA(t).DeliveryType
	nt, lp := load(merged, esaType)
	probs = append(probs, lp...)
	sortProblems(probs)
	out := validation{Valid: len(probs) == 0, Problems: probs}
	if out.Problems == nil {
		out.Problems = []problem{}
	}
	if nt != nil && out.Valid {
		out.Pipeline = pipeline(nt)
		out.YAML, _ = taskYAML(nt)
	}
	return st, ch, out, true
}

// validateUpdate answers POST /console/api/tasks/{name}/validate {edit}: the problems of the task as
// the edit would make it.
func (c *Console) validateUpdate(w http.ResponseWriter, r *http.Request, _ *session, _ string) {
	if _, _, out, ok := c.editOf(w, r); ok {
		reply(w, http.StatusOK, out)
	}
}

// updateTask answers PATCH /console/api/tasks/{name} {edit}: UpdateSiteDeliveryTask (or User) with the
// parameters the edit changes.
func (c *Console) updateTask(w http.ResponseWriter, r *http.Request, ss *session, _ string) {
	st, ch, out, ok := c.editOf(w, r)
	if !ok {
		return
	}
	if !out.Valid {
		reply(w, http.StatusBadRequest, map[string]any{"error": apiErrorBody{Code: "InvalidParameter",
			Message: "the task has problems: see the fields"}, "problems": out.Problems})
		return
	}
	if len(ch) == 0 {
		reply(w, http.StatusOK, map[string]any{"changed": []string{}})
		return
	}
	changed := make([]string, 0, len(ch))
	for k := range ch {
		changed = append(changed, k)
	}
	sort.Strings(changed)
	p := identify(st)
	for k := range ch {
		p.Set(k, ch.Get(k))
	}
	if _, aerr := c.api.Do(action("Update", categoryOf(st), false), p); aerr != nil {
		c.replyAPIError(w, aerr, "")
		return
	}
	c.log.Info("console: task updated", "task", st.Name, "changed", strings.Join(changed, ","), "access_key_id", config.MaskKeyID(ss.keyID))
	reply(w, http.StatusOK, map[string]any{"changed": changed})
}

// identify is the parameters that name a stored task in an action: TaskName and, for a site
// category, SiteId.
func identify(st *store.Task) url.Values {
	p := url.Values{"TaskName": {st.Name}}
	if scope(categoryOf(st)) != "account" {
		if s := st.Definition["SiteId"]; s != "" {
			p.Set("SiteId", s)
		}
	}
	return p
}

// categoryOf is a stored task's category (from its definition).
func categoryOf(st *store.Task) string {
	for _, k := range []string{"BusinessType", "category"} {
		if c, ok := config.LookupCategory(st.Definition[k]); ok {
			return c.Name
		}
	}
	return ""
}

// setStatus answers POST /console/api/tasks/{name}/status {"method": "online"|"offline"}.
func (c *Console) setStatus(w http.ResponseWriter, r *http.Request, ss *session, _ string) {
	st, err := c.api.Store.Get(r.PathValue("name"))
	if err != nil {
		replyError(w, http.StatusNotFound, "NotFound", "task "+r.PathValue("name")+" does not exist")
		return
	}
	var req struct {
		Method string `json:"method"`
	}
	if !decode(w, r, &req) {
		return
	}
	p := identify(st)
	p.Set("Method", req.Method)
	if _, aerr := c.api.Do(action("Update", categoryOf(st), false)+"Status", p); aerr != nil {
		c.replyAPIError(w, aerr, "")
		return
	}
	c.log.Info("console: task status set", "task", st.Name, "method", req.Method, "access_key_id", config.MaskKeyID(ss.keyID))
	item, err := c.item(st.Name)
	if err != nil {
		replyError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	reply(w, http.StatusOK, item)
}

// verify answers POST /console/api/tasks/{name}/verify {"token": "…"}: the ownership token of a task
// waiting for verification.
func (c *Console) verify(w http.ResponseWriter, r *http.Request, ss *session, _ string) {
	name := r.PathValue("name")
	var req struct {
		Token string `json:"token"`
	}
	if !decode(w, r, &req) {
		return
	}
	tok := strings.TrimSpace(req.Token)
	if tok == "" {
		reply(w, http.StatusBadRequest, map[string]any{"error": apiErrorBody{Code: "InvalidParameter", Message: "give the content of the challenge object"},
			"problems": []problem{{Target: "token", Message: "required: the content of the challenge object"}}})
		return
	}
	if _, aerr := c.api.VerifyOwnership(name, tok); aerr != nil {
		msg := aerr.Message
		reply(w, statusOr(aerr.Status), map[string]any{"error": apiErrorBody{Code: aerr.Code, Message: msg},
			"problems": []problem{{Target: "token", Message: msg}}})
		return
	}
	c.log.Info("console: bucket ownership verified", "task", name, "access_key_id", config.MaskKeyID(ss.keyID))
	item, err := c.item(name)
	if err != nil {
		replyError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	reply(w, http.StatusOK, item)
}

func statusOr(s int) int {
	if s == 0 {
		return http.StatusBadRequest
	}
	return s
}

// deleteTask answers DELETE /console/api/tasks/{name}.
func (c *Console) deleteTask(w http.ResponseWriter, r *http.Request, ss *session, _ string) {
	st, err := c.api.Store.Get(r.PathValue("name"))
	if err != nil {
		replyError(w, http.StatusNotFound, "NotFound", "task "+r.PathValue("name")+" does not exist")
		return
	}
	if _, aerr := c.api.Do(action("Delete", categoryOf(st), false), identify(st)); aerr != nil {
		c.replyAPIError(w, aerr, "")
		return
	}
	c.log.Info("console: task deleted", "task", st.Name, "access_key_id", config.MaskKeyID(ss.keyID))
	reply(w, http.StatusOK, map[string]any{"deleted": st.Name})
}
