package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"

	"strconv"
	"strings"
	"time"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins/s3verified"
	"github.com/esa-connect/esa-connect/server/fleet"
	"github.com/esa-connect/esa-connect/server/store"
)

// Pages of List actions.
const (
	defaultPageSize = 20
	maxPageSize     = 500
)

// keyParams identify a task; Update cannot change them.
var keyParams = []string{"TaskName", "SiteId"}

func (s *Server) createTask(p params) (map[string]any, *apiError) {
	name, aerr := p.taskName()
	if aerr != nil {
		return nil, aerr
	}
	if _, aerr := p.siteID(); aerr != nil {
		return nil, aerr
	}
	def := p.definition()
	t, aerr := load(def)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := checkScope(t, p); aerr != nil {
		return nil, aerr
	}
	// Status (as an imported export gives it) is the task's state, kept by the store, not part of
	// its definition: Status offline creates the task paused.
	delete(def, "Status")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.Store.Get(name); err == nil {
		return nil, storeError(fmt.Errorf("task %s: %w", name, store.ErrExists))
	}
	now := time.Now().UTC()
	st := &store.Task{Name: name, Definition: def, Status: store.Online, Created: now, Updated: now}
	if k, _ := t.Destination.Kind(); k.Ownership && t.OwnershipToken == "" {
		// As ESA's console: the challenge object is written now (which proves the credentials and
		// the bucket), and the task waits offline for the token it holds.
		where, aerr := s.writeChallenge(t)
		if aerr != nil {
			return nil, aerr
		}
		st.Status = store.PendingVerification
		st.Reason = fmt.Sprintf("waiting for the ownership token: read %s and give its content (esa-connect tasks verify %s TOKEN, or POST /v1/tasks/%s/verify {\"token\": …})", where, name, name)
	}
	if t.Status == store.Offline && st.Status == store.Online {
		st.Status, st.Reason = store.Offline, ""
	}
	if st.Status == store.Online {
		if aerr := s.startChecked(t); aerr != nil {
			return nil, aerr
		}
	}
	if err := s.Store.Create(st); err != nil {
		s.Fleet.Stop(name)
		return nil, storeError(err)
	}
	out := map[string]any{"TaskName": name, "DataCenter": t.DataCenter, "Status": esaStatus(st.Status)}
	if !p.user {
		out["SiteId"] = t.SiteID
	}
	return out, nil
}

// checkTimeout bounds the destination check of a new task.
const checkTimeout = 20 * time.Second

// startChecked starts a new task (with its site's custom fields) and waits for its destination's
// connection check: a destination that refuses the task's credentials, or has no such bucket or
// logstore, fails the creation with the reason. A destination that does not answer in time does not
// (it may be down for now): the task is created and keeps trying, its health says so.
func (s *Server) startChecked(t *config.Task) *apiError {
	s.withCustomLog(t)
	if err := s.Fleet.Start(t); err != nil {
		return &apiError{Status: http.StatusInternalServerError, Code: "InternalError", Message: err.Error()}
	}
	rt, ok := s.Fleet.Get(t.Name)
	if !ok {
		return &apiError{Status: http.StatusInternalServerError, Code: "InternalError", Message: "task " + t.Name + " stopped at once"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	err := rt.Check(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fleet.ErrCheckTimeout):
		s.Log.Warn("task created; its destination did not answer the check yet", "task", t.Name)
		return nil
	}
	s.Fleet.Stop(t.Name)
	return &apiError{Status: http.StatusBadRequest, Code: "InvalidDestination", Message: "the destination refused the task: " + err.Error()}
}

// writeChallenge writes the ownership challenge object of an S3 or S3-compatible task and returns
// its location.
func (s *Server) writeChallenge(t *config.Task) (string, *apiError) {
	secret := os.Getenv(OwnershipSecretEnv)
	if secret == "" {
		return "", &apiError{Status: http.StatusBadRequest, Code: "InvalidDestination",
			Message: "AWS S3 and S3-compatible tasks need bucket ownership verification: start serve with " + OwnershipSecretEnv + " set (a long random secret, kept across restarts)"}
	}
	cfg := s3verified.FromDestination(t.Destination.Type, t.Destination.S3, os.Getenv)
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	client, err := s3verified.NewClient(ctx, cfg)
	if err == nil {
		var key string
		if key, err = s3verified.WriteChallenge(ctx, client, cfg, secret, t.Name); err == nil {
			return cfg.ObjectURL(key), nil
		}
	}
	return "", &apiError{Status: http.StatusBadRequest, Code: "InvalidDestination",
		Message: fmt.Sprintf("writing the ownership challenge to %s: %v", cfg.ObjectURL(cfg.ChallengeKey(t.Name)), err)}
}

// OwnershipSecretEnv holds the secret that signs ownership tokens (as for run and verify).
const OwnershipSecretEnv = "ESA_OWNERSHIP_SECRET"

// start runs a stored online task (with its site's custom fields); other statuses are not run.
func (s *Server) start(st *store.Task) *apiError {
	if st.Status != store.Online {
		return nil
	}
	t, aerr := s.runnable(st)
	if aerr != nil {
		return aerr
	}
	if err := s.Fleet.Start(t); err != nil {
		return &apiError{Status: http.StatusInternalServerError, Code: "InternalError", Message: err.Error()}
	}
	return nil
}

// runnable is the task a stored definition describes, with its site's custom log fields when it is an
// access-log task that selects none itself.
func (s *Server) runnable(st *store.Task) (*config.Task, *apiError) {
	t, aerr := load(st.Definition)
	if aerr != nil {
		return nil, aerr
	}
	s.withCustomLog(t)
	return t, nil
}

// withCustomLog gives an access-log task that selects no custom fields its site's custom log fields.
func (s *Server) withCustomLog(t *config.Task) {
	if t.Category == "access" && t.SiteID != 0 && t.CustomFields == nil {
		if c, err := s.Store.CustomLog(t.SiteID); err == nil && len(c.RequestHeaders)+len(c.ResponseHeaders)+len(c.Cookies) > 0 {
			t.CustomFields = &config.CustomFields{RequestHeaders: c.RequestHeaders, ResponseHeaders: c.ResponseHeaders, Cookies: c.Cookies}
		}
	}
}

// find returns a stored task of the right scope (and site, for Site actions).
func (s *Server) find(p params) (*store.Task, *config.Task, *apiError) {
	name, aerr := p.taskName()
	if aerr != nil {
		return nil, nil, aerr
	}
	site, aerr := p.siteID()
	if aerr != nil {
		return nil, nil, aerr
	}
	st, err := s.Store.Get(name)
	if err != nil {
		return nil, nil, storeError(err)
	}
	t, aerr := load(st.Definition)
	if aerr != nil {
		return nil, nil, aerr
	}
	cat, _ := config.LookupCategory(t.Category)
	if cat == nil || (cat.Scope == "site") == p.user || (!p.user && t.SiteID != site) {
		return nil, nil, notFound("task " + name)
	}
	return st, t, nil
}

func (s *Server) getTask(p params) (map[string]any, *apiError) {
	st, t, aerr := s.find(p)
	if aerr != nil {
		return nil, aerr
	}
	v := config.ExportESA(t)
	v.Status = esaStatus(st.Status)
	out := toMap(v)
	out["Health"] = s.health(st)
	if p.user {
		delete(out, "SiteId")
	}
	return out, nil
}

// esaStatus is the Status ESA's API reports: online or offline (a task waiting for verification is
// offline; its Health says why).
func esaStatus(status string) string {
	if status == store.Online {
		return store.Online
	}
	return store.Offline
}

func (s *Server) listTasks(p params) (map[string]any, *apiError) {
	page, size := 1, defaultPageSize
	if v := p.Get("PageNumber"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, invalid("PageNumber: must be a positive integer, not %q", v)
		}
		page = n
	}
	if v := p.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return nil, invalid("PageSize: must be an integer from 1 to %d, not %q", maxPageSize, v)
		}
		size = n
	}
	var site int64
	if !p.user {
		var aerr *apiError
		if site, aerr = p.siteID(); aerr != nil {
			return nil, aerr
		}
	}
	var want *config.Category
	if v := p.Get("BusinessType"); v != "" {
		c, ok := config.LookupCategory(v)
		if !ok {
			return nil, invalid("BusinessType: unknown log category %q", v)
		}
		want = c
	}
	all, err := s.Store.List()
	if err != nil {
		return nil, storeError(err)
	}
	var items []config.ESATaskListItem
	for _, st := range all {
		t, aerr := load(st.Definition)
		if aerr != nil {
			continue
		}
		cat, _ := config.LookupCategory(t.Category)
		if cat == nil || (cat.Scope == "site") == p.user || (!p.user && t.SiteID != site) || (want != nil && want != cat) {
			continue
		}
		v := config.ExportESA(t)
		v.Status = esaStatus(st.Status)
		items = append(items, v.ListItem())
	}
	total := len(items)
	from := min((page-1)*size, total)
	to := min(from+size, total)
	tasks := items[from:to]
	if tasks == nil {
		tasks = []config.ESATaskListItem{}
	}
	return map[string]any{"Tasks": tasks, "TotalCount": total, "PageNumber": page, "PageSize": size}, nil
}

func (s *Server) updateTask(p params) (map[string]any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, _, aerr := s.find(p)
	if aerr != nil {
		return nil, aerr
	}
	given := p.definition()
	delete(given, "Status") // the status changes through UpdateSiteDeliveryTaskStatus
	def := map[string]string{}
	for k, v := range st.Definition {
		def[k] = v
	}
	if dt, ok := given["DeliveryType"]; ok && dt != st.Definition["DeliveryType"] {
		// Another destination: the old one's parameters go.
		// The parameters that describe a destination (one per DeliveryType) and its ownership token.
		for _, k := range append(config.ESADeliveryParameters(), "ownership_token") {
			delete(def, k)
		}
	}
	for k, v := range given {
		def[k] = v
	}
	for _, k := range keyParams {
		if v, ok := st.Definition[k]; ok {
			def[k] = v
		}
	}
	// FieldName and FieldList are the same thing: the newer one wins.
	if _, ok := p.Values["FieldName"]; ok {
		delete(def, "FieldList")
	}
	t, aerr := load(def)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := checkScope(t, p); aerr != nil {
		return nil, aerr
	}
	// The new stream starts (and replaces the running one) before the definition is stored: a
	// definition that does not start is not kept.
	if st.Status == store.Online {
		s.withCustomLog(t)
		if err := s.Fleet.Start(t); err != nil {
			return nil, &apiError{Status: http.StatusInternalServerError, Code: "InternalError", Message: err.Error()}
		}
	}
	if _, err := s.Store.Update(st.Name, func(cur *store.Task) error {
		cur.Definition = def
		return nil
	}); err != nil {
		return nil, storeError(err)
	}
	return map[string]any{}, nil
}

func (s *Server) updateStatus(p params) (map[string]any, *apiError) {
	method := p.Get("Method")
	if method != store.Online && method != store.Offline {
		return nil, invalid("Method: must be online or offline, not %q", method)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, _, aerr := s.find(p)
	if aerr != nil {
		return nil, aerr
	}
	if st.Status == store.PendingVerification && method == store.Online {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "InvalidStatus.PendingVerification",
			Message: fmt.Sprintf("task %s waits for its ownership token (see its Health)", st.Name)}
	}
	updated, err := s.Store.Update(st.Name, func(cur *store.Task) error {
		if cur.Status != store.PendingVerification {
			cur.Status = method
			cur.Reason = ""
		}
		return nil
	})
	if err != nil {
		return nil, storeError(err)
	}
	if method == store.Offline {
		s.Fleet.Stop(st.Name)
	} else if _, running := s.Fleet.Get(st.Name); !running {
		if aerr := s.start(updated); aerr != nil {
			return nil, aerr
		}
	}
	return map[string]any{"TaskName": st.Name, "Status": esaStatus(updated.Status)}, nil
}

func (s *Server) deleteTask(p params) (map[string]any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, _, aerr := s.find(p)
	if aerr != nil {
		return nil, aerr
	}
	if err := s.Store.Delete(st.Name); err != nil {
		return nil, storeError(err)
	}
	s.Fleet.Stop(st.Name)
	return map[string]any{}, nil
}

// deliveryFields answers GetRealtimeDeliveryField from the embedded catalog.
func (s *Server) deliveryFields(p params) (map[string]any, *apiError) {
	bt := p.Get("BusinessType")
	if bt == "" {
		return nil, invalid("BusinessType: required")
	}
	cat, ok := config.LookupCategory(bt)
	if !ok {
		return nil, invalid("BusinessType: unknown log category %q", bt)
	}
	type field struct {
		FieldName, Description, DescriptionCn, Category, DataType string
		SortOrder                                                 int
		IsDefault                                                 bool
	}
	type group struct {
		SortOrder int
		FieldList []field
	}
	groups := map[string]*group{}
	var order []string
	for i, f := range cat.Fields {
		g := groups[f.Group]
		if g == nil {
			g = &group{}
			groups[f.Group] = g
			order = append(order, f.Group)
		}
		g.FieldList = append(g.FieldList, field{FieldName: f.Name, Description: f.About, Category: f.Group,
			DataType: string(f.Type), SortOrder: i + 1, IsDefault: f.Name == cat.TimeField})
	}
	content := map[string]any{}
	for i, name := range order {
		groups[name].SortOrder = i + 1
		content[name] = groups[name]
	}
	return map[string]any{"FieldContent": content}, nil
}

// headerList reads a custom-log list parameter: a JSON array (as the SDK sends it) or a
// comma-separated list.
func headerList(p params, key string) []string {
	v := strings.TrimSpace(p.Get(key))
	if v == "" {
		return nil
	}
	var out []string
	if strings.HasPrefix(v, "[") {
		if err := json.Unmarshal([]byte(v), &out); err == nil {
			return out
		}
	}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (s *Server) putCustomLog(create bool) action {
	return func(p params) (map[string]any, *apiError) {
		site, aerr := p.siteID()
		if aerr != nil {
			return nil, aerr
		}
		c := &store.CustomLog{SiteID: site, RequestHeaders: headerList(p, "RequestHeaders"),
			ResponseHeaders: headerList(p, "ResponseHeaders"), Cookies: headerList(p, "Cookies")}
		cf := &config.CustomFields{RequestHeaders: c.RequestHeaders, ResponseHeaders: c.ResponseHeaders, Cookies: c.Cookies}
		if len(cf.RequestHeaders)+len(cf.ResponseHeaders)+len(cf.Cookies) > 0 {
			if errs := config.ValidateCustomFields(cf); len(errs) > 0 {
				msg := errs.Error()
				for _, r := range [][2]string{{"request_headers", "RequestHeaders"}, {"response_headers", "ResponseHeaders"}, {"cookies", "Cookies"}} {
					msg = strings.ReplaceAll(msg, r[0], r[1])
				}
				return nil, invalid("%s", strings.ReplaceAll(msg, "\n", "; "))
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.Store.PutCustomLog(c, create); err != nil {
			return nil, storeError(err)
		}
		// The site's running access-log tasks take the new fields.
		for _, rt := range s.Fleet.Receivers(site, "access") {
			if st, err := s.Store.Get(rt.Def.Name); err == nil {
				_ = s.start(st)
			}
		}
		return map[string]any{}, nil
	}
}

func (s *Server) getCustomLog(p params) (map[string]any, *apiError) {
	site, aerr := p.siteID()
	if aerr != nil {
		return nil, aerr
	}
	c, err := s.Store.CustomLog(site)
	if err != nil {
		return map[string]any{"SiteId": site, "IsExist": false}, nil
	}
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return map[string]any{"SiteId": site, "IsExist": true, "ConfigId": c.ConfigID, "LogCustomField": map[string]any{
		"RequestHeaders": nz(c.RequestHeaders), "ResponseHeaders": nz(c.ResponseHeaders), "Cookies": nz(c.Cookies)}}, nil
}
