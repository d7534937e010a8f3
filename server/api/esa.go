package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/server/store"
)

// maxRequestBytes bounds an ESA API request body (a task definition is at most config.MaxDefinitionBytes).
const maxRequestBytes = 2 << 20

// Version is the ESA API version served.
const Version = "2024-09-10"

// apiError is an ESA error answer: {"RequestId", "Code", "Message"} with an HTTP status.
type apiError struct {
	Status        int
	Code, Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func invalid(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "InvalidParameter", Message: fmt.Sprintf(format, args...)}
}

func notFound(what string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "InvalidTaskName.NotFound", Message: what + " does not exist"}
}

// requestID returns a new request id in ESA's form (a UUID).
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// writeJSON answers status with body as JSON.
func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"Code":"InternalError","Message":"encoding the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, rid string, e *apiError) {
	writeJSON(w, e.Status, map[string]string{"RequestId": rid, "Code": e.Code, "Message": e.Message})
}

// action is one ESA API action: it gets the request's parameters and returns the answer's body
// (RequestId is added).
type action func(p params) (map[string]any, *apiError)

// params are an API request's parameters (query and form).
type params struct {
	url.Values
	user bool // a User* action (account-level categories)
}

// protocolParams are sent by some clients besides the action's parameters.
var protocolParams = []string{"Action", "Version", "SignatureMethod", "Signature", "SignatureNonce",
	"SignatureVersion", "Timestamp", "Format", "AccessKeyId", "RegionId"}

// esa serves ESA's API at /: the action is in x-acs-action; every request is signed.
func (s *Server) esa(w http.ResponseWriter, r *http.Request) {
	rid := requestID()
	act := r.Header.Get("x-acs-action")
	if act == "" {
		if r.URL.Path == "/" && r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "esa-connect serve: ESA's delivery-task API (version "+Version+"), /v1/... ingest and status, /metrics\n")
			return
		}
		writeError(w, rid, &apiError{Status: http.StatusNotFound, Code: "InvalidAction.NotFound", Message: "no x-acs-action header and no such endpoint: " + r.URL.Path})
		return
	}
	if r.URL.Path != "/" {
		writeError(w, rid, &apiError{Status: http.StatusNotFound, Code: "InvalidAction.NotFound", Message: "ESA API actions are served at /"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		writeError(w, rid, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "InvalidParameter", Message: "reading the request: " + err.Error()})
		return
	}
	if _, verr := s.Verifier.Verify(r, body); verr != nil {
		writeError(w, rid, &apiError{Status: verr.Status, Code: verr.Code, Message: verr.Message})
		return
	}
	if v := r.Header.Get("x-acs-version"); v != "" && v != Version {
		writeError(w, rid, &apiError{Status: http.StatusBadRequest, Code: "InvalidVersion", Message: fmt.Sprintf("version %s is not served (only %s)", v, Version)})
		return
	}
	p := params{Values: r.URL.Query()}
	if len(body) > 0 {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			writeError(w, rid, invalid("the request body is not a form: %v", err))
			return
		}
		for k, v := range form {
			p.Values[k] = v
		}
	}
	for _, k := range protocolParams {
		p.Del(k)
	}
	fn, user, ok := s.action(act)
	if !ok {
		writeError(w, rid, &apiError{Status: http.StatusNotFound, Code: "InvalidAction.NotFound", Message: fmt.Sprintf("action %s is not served by esa-connect", act)})
		return
	}
	p.user = user
	start := time.Now()
	out, aerr := fn(p)
	if aerr != nil {
		s.Log.Info("api", "action", act, "code", aerr.Code, "took", time.Since(start))
		writeError(w, rid, aerr)
		return
	}
	s.Log.Debug("api", "action", act, "took", time.Since(start))
	out["RequestId"] = rid
	writeJSON(w, http.StatusOK, out)
}

// Error is an ESA API error: the HTTP status and ESA's Code and Message.
type Error = apiError

// Do runs an ESA API action (CreateSiteDeliveryTask, ListSiteDeliveryTasks, …) with its parameters
// as ESA's API receives them (strings; delivery objects as JSON strings), without a signature: for
// callers that authenticated the user themselves (the console). It returns the answer's body without
// RequestId.
func (s *Server) Do(actionName string, values url.Values) (map[string]any, *Error) {
	fn, user, ok := s.action(actionName)
	if !ok {
		return nil, &apiError{Status: http.StatusNotFound, Code: "InvalidAction.NotFound", Message: fmt.Sprintf("action %s is not served by esa-connect", actionName)}
	}
	return fn(params{Values: values, user: user})
}

// action returns the handler of an action name and whether it is a User* action.
func (s *Server) action(name string) (action, bool, bool) {
	switch name {
	case "CreateSiteDeliveryTask":
		return s.createTask, false, true
	case "CreateUserDeliveryTask":
		return s.createTask, true, true
	case "GetSiteDeliveryTask":
		return s.getTask, false, true
	case "GetUserDeliveryTask":
		return s.getTask, true, true
	case "ListSiteDeliveryTasks":
		return s.listTasks, false, true
	case "ListUserDeliveryTasks":
		return s.listTasks, true, true
	case "UpdateSiteDeliveryTask":
		return s.updateTask, false, true
	case "UpdateUserDeliveryTask":
		return s.updateTask, true, true
	case "UpdateSiteDeliveryTaskStatus":
		return s.updateStatus, false, true
	case "UpdateUserDeliveryTaskStatus":
		return s.updateStatus, true, true
	case "DeleteSiteDeliveryTask":
		return s.deleteTask, false, true
	case "DeleteUserDeliveryTask":
		return s.deleteTask, true, true
	case "GetRealtimeDeliveryField":
		return s.deliveryFields, false, true
	case "CreateSiteCustomLog":
		return s.putCustomLog(true), false, true
	case "UpdateSiteCustomLog":
		return s.putCustomLog(false), false, true
	case "GetSiteCustomLog":
		return s.getCustomLog, false, true
	}
	return nil, false, false
}

// siteID reads SiteId (required for Site actions).
func (p params) siteID() (int64, *apiError) {
	v := p.Get("SiteId")
	if v == "" {
		if p.user {
			return 0, nil
		}
		return 0, invalid("SiteId: required")
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, invalid("SiteId: must be a positive integer, not %q", v)
	}
	return id, nil
}

// taskName reads TaskName (required).
func (p params) taskName() (string, *apiError) {
	v := p.Get("TaskName")
	if v == "" {
		return "", invalid("TaskName: required")
	}
	return v, nil
}

// definition is the task parameters of a Create/Update request, as the stored definition.
func (p params) definition() map[string]string {
	def := map[string]string{}
	for k, v := range p.Values {
		if len(v) > 0 {
			def[k] = v[len(v)-1]
		}
	}
	return def
}

// load decodes and validates a stored definition; problems are an InvalidParameter answer naming
// every problem with its ESA parameter.
func load(def map[string]string) (*config.Task, *apiError) {
	b, _ := json.Marshal(def)
	t, err := config.Load(b)
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			return nil, invalid("%s", strings.ReplaceAll(es.Error(), "\n", "; "))
		}
		return nil, invalid("%v", err)
	}
	return t, nil
}

// checkScope refuses a Site action on an account-level category and the reverse.
func checkScope(t *config.Task, p params) *apiError {
	cat, ok := config.LookupCategory(t.Category)
	if !ok {
		return invalid("BusinessType: unknown category %q", t.Category)
	}
	switch {
	case p.user && cat.Scope == "site":
		return invalid("BusinessType: %s is a site log category: use CreateSiteDeliveryTask with a SiteId", t.Category)
	case !p.user && cat.Scope != "site":
		return invalid("BusinessType: %s is an account-level log category: use CreateUserDeliveryTask", t.Category)
	case !p.user && t.SiteID == 0:
		return invalid("SiteId: required")
	}
	return nil
}

// storeError maps a store error to an API answer.
func storeError(err error) *apiError {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(strings.TrimSuffix(err.Error(), ": "+store.ErrNotFound.Error()))
	case errors.Is(err, store.ErrExists):
		return &apiError{Status: http.StatusBadRequest, Code: "InvalidTaskName.Duplicate", Message: strings.TrimSuffix(err.Error(), ": "+store.ErrExists.Error()) + " already exists"}
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "InternalError", Message: err.Error()}
}
