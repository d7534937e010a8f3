package console

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/esa-connect/esa-connect/config"
)

func TestDiscardRate(t *testing.T) {
	for rate, want := range map[string]string{"": "", "100": "0", "50": "0.5", "99.99": "0.0001", "0.01": "0.9999", "12.5%": "0.875", " 75 ": "0.25"} {
		if got, p := discardRate(rate); got != want || p != "" {
			t.Errorf("%q: %q %q, want %q", rate, got, p, want)
		}
	}
	for _, bad := range []string{"abc", "0", "-1", "100.5", "NaN", "Inf"} {
		if _, p := discardRate(bad); p == "" {
			t.Errorf("%q: no problem", bad)
		}
	}
	// More than 2 decimals: sent as is, for Load to say so.
	d, p := discardRate("33.333")
	if p != "" || d == "" {
		t.Fatalf("33.333: %q %q", d, p)
	}
	hd := httpDraft("x", "http://127.0.0.1:1/")
	v, _ := hd.params()
	v.Set("DiscardRate", d)
	if _, probs := load(v, "http"); len(probs) != 1 || probs[0].Target != "sampling_rate" || !strings.Contains(probs[0].Message, "2 decimals") {
		t.Errorf("33.333: %+v", probs)
	}
}

func TestConditionsTyped(t *testing.T) {
	conds := conditions("access", []filterRow{
		{Field: "EdgeResponseStatusCode", Op: "equals", Value: "200, 304"},
		{Field: "EdgeResponseStatusCode", Op: "ge", Value: "500"},
		{Field: "EdgeResponseCompressionRatio", Op: "lt", Value: "0.5"},
		{Field: "ClientRequestPath", Op: "regex", Value: `^/a{1,3},b$`},
		{Field: "ClientRequestHost", Op: "ends_with", Value: "example.com, example.net", IgnoreCase: true},
		{Field: "ClientIP", Op: "exists", Value: "ignored"},
		{Field: "EdgeResponseStatusCode", Op: "equals", Value: "abc"},
	})
	got := config.FormatESAFilter(conds)
	want := `[{"EdgeResponseStatusCode": {"equals": [200, 304]}}, {"EdgeResponseStatusCode": {"ge": [500]}}, ` +
		`{"EdgeResponseCompressionRatio": {"lt": [0.5]}}, {"ClientRequestPath": {"regex": ["^/a{1,3},b$"]}}, ` +
		`{"ClientRequestHost": {"ends_with": ["example.com", "example.net"], "ignore_case": true}}, {"ClientIP": {"exists": []}}, ` +
		`{"EdgeResponseStatusCode": {"equals": ["abc"]}}]`
	if got != want {
		t.Errorf("filter\n got %s\nwant %s", got, want)
	}
}

func TestDeliveryObject(t *testing.T) {
	dest, _ := destinationByType("http")
	obj := deliveryObject(dest, map[string]any{
		"DestUrl": " https://logs.example.com/in ", "Compress": "gzip", "StandardAuthOn": true,
		"StandardAuthParam.PrivateKey": "abc123", "StandardAuthParam.ExpiredTime": "300", "StandardAuthParam.UrlPath": "",
		"HeaderParam":  []any{map[string]any{"name": "X-Api-Key", "value": "k1"}, map[string]any{"name": "", "value": ""}},
		"MaxBatchSize": "", "MaxBatchMB": "2.5", "LogSplit": false, "LogSplitWords": "|", "Unknown": "x",
	})
	b, _ := json.Marshal(obj)
	want := `{"Compress":"gzip","DestUrl":"https://logs.example.com/in","HeaderParam":{"X-Api-Key":{"StaticValue":"k1"}},` +
		`"LogSplit":false,"MaxBatchMB":2.5,"StandardAuthOn":true,"StandardAuthParam":{"ExpiredTime":300,"PrivateKey":"abc123"}}`
	if string(b) != want {
		t.Errorf("delivery object\n got %s\nwant %s", b, want)
	}
	// Parameters of a switch that is off are not sent.
	obj = deliveryObject(dest, map[string]any{"DestUrl": "https://x/", "StandardAuthOn": false, "StandardAuthParam.PrivateKey": "abc123"})
	if _, ok := obj["StandardAuthParam"]; ok {
		t.Errorf("auth parameters sent with StandardAuthOn off: %v", obj)
	}
	kafka, _ := destinationByType("kafka")
	obj = deliveryObject(kafka, map[string]any{"Brokers": "a:9092\n b:9092 ,c:9092\n\n", "Topic": "t", "UserAuth": false, "Password": "p"})
	if b, _ := json.Marshal(obj); string(b) != `{"Brokers":["a:9092","b:9092","c:9092"],"Topic":"t","UserAuth":false}` {
		t.Errorf("kafka: %s", b)
	}
}

// TestProblemsPlaced: every problem of config.Load lands on the form field that shows it, with its
// "did you mean".
func TestProblemsPlaced(t *testing.T) {
	d := draft{Name: "bad name!", Category: "access", SiteID: "x", Fields: []string{"ClientIP", "ClientIP"}, SamplingRate: "50",
		Filters:      []filterRow{{Field: "ClientIPP", Op: "equals", Value: "1"}, {Field: "EdgeResponseStatusCode", Op: "contains", Value: "5"}},
		CustomFields: &customFieldsForm{RequestHeaders: "bad/name"},
		DeliveryType: "kafka", Delivery: map[string]any{"Brokers": "localhost\nkafka:99999", "Compress": "lz5", "UserAuth": true, "MachanismType": "PLAN"}}
	v, _ := d.params()
	_, probs := load(v, d.DeliveryType)
	got := map[string]string{}
	for _, p := range probs {
		got[p.Target] += p.Message + ";"
	}
	for target, want := range map[string]string{
		"name": "use letters", "site_id": "integer", "fields": "already listed",
		"filters[0]": `did you mean "ClientIP"`, "filters[1]": "does not apply to int field",
		"delivery.Brokers": "host:port", "delivery.Compress": `did you mean "lz4"`, "delivery.MachanismType": `did you mean "PLAIN"`,
		"delivery.Topic": "required", "delivery.UserName": "required", "delivery.Password": "required",
	} {
		if !strings.Contains(got[target], want) {
			t.Errorf("%s: %q does not say %q (all: %v)", target, got[target], want, got)
		}
	}
	for _, p := range probs {
		if p.Target == "" || p.Step == 0 {
			t.Errorf("a problem not placed: %+v", p)
		}
	}
	for path, want := range map[string]string{
		"TaskName": "name", "BusinessType": "category", "SiteId": "site_id", "FieldName[3]": "fields", "DiscardRate": "sampling_rate",
		"FilterRules": "filters", "FilterRules[12].ClientIP.equals[0]": "filters[12]", "custom_fields.cookies[2]": "custom_fields.cookies",
		"DeliveryType": "delivery_type", "HttpDelivery": "delivery", "HttpDelivery.HeaderParam.X-Token": "delivery.HeaderParam",
		"HttpDelivery.StandardAuthParam.PrivateKey": "delivery.StandardAuthParam.PrivateKey", "HttpDelivery.StandardAuthParam": "delivery.StandardAuthParam.PrivateKey",
		"KafkaDelivery.Brokers[1]": "delivery.Brokers", "SinkConfig.Path": "delivery.Path", "": "", "buffer.path": "",
	} {
		dt := "http"
		switch {
		case strings.HasPrefix(path, "Kafka"):
			dt = "kafka"
		case strings.HasPrefix(path, "SinkConfig"):
			dt = "local"
		}
		if got, _ := placeOf(path, dt); got != want {
			t.Errorf("placeOf(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestTaskFlow: create, list, detail, edit (only the changed parameters), pause, resume, delete — and
// no secret in any answer.
func TestTaskFlow(t *testing.T) {
	got := make(chan string, 100)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.URL.Path }))
	defer rcv.Close()
	ts := newTestServer(t, Options{})
	c := ts.client()
	c.signIn()
	const privateKey, headerSecret = "abc123xyz", "header-s3cr3t-value"
	d := httpDraft("flow", rcv.URL+"/in")
	d.Delivery["StandardAuthOn"] = true
	d.Delivery["StandardAuthParam.PrivateKey"] = privateKey
	d.Delivery["StandardAuthParam.ExpiredTime"] = "300"
	d.Delivery["HeaderParam"] = []any{map[string]any{"name": "X-Api-Key", "value": headerSecret}, map[string]any{"name": "X-Team", "value": "edge"}}
	d.Filters = []filterRow{{Field: "ClientIP", Op: "starts_with", Value: "192.0.2."}}
	secrets := []string{privateKey, headerSecret}
	noSecret := func(what string, b []byte) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds a secret: %s", what, b)
			}
		}
	}
	code, _, b := c.do("POST", "/console/api/validate", d)
	noSecret("validate", b)
	if v := decodeJSON[validation](t, b); code != 200 || !v.Valid || !strings.Contains(v.YAML, "PrivateKey: '******'") {
		t.Fatalf("validate: %d %s", code, b)
	}
	code, _, b = c.do("POST", "/console/api/tasks", d)
	noSecret("create", b)
	if code != 200 || !strings.Contains(string(b), `"status":"online"`) {
		t.Fatalf("create: %d %s", code, b)
	}
	code, _, b = c.do("POST", "/console/api/tasks", d)
	if code != 400 || !strings.Contains(string(b), `already exists`) || !strings.Contains(string(b), `"target":"name"`) {
		t.Errorf("create again: %d %s", code, b)
	}
	code, _, b = c.do("GET", "/console/api/tasks", nil)
	noSecret("list", b)
	if code != 200 || !strings.Contains(string(b), `"name":"flow"`) || !strings.Contains(string(b), `"destination_title":"HTTP server"`) {
		t.Errorf("list: %d %s", code, b)
	}
	code, _, b = c.do("GET", "/console/api/tasks/flow", nil)
	noSecret("detail", b)
	det := decodeJSON[map[string]any](t, b)
	sink, _ := det["sink"].(map[string]any)
	auth, _ := sink["StandardAuthParam"].(map[string]any)
	hp, _ := sink["HeaderParam"].(map[string]any)
	if code != 200 || auth["PrivateKey"] != "set" || hp["X-Api-Key"] != "set" || hp["X-Team"] != "edge" {
		t.Errorf("detail: %d sink %v", code, sink)
	}
	if rows, _ := det["filter_rows"].([]any); len(rows) != 1 {
		t.Errorf("filter rows %v", det["filter_rows"])
	}

	// Edit: fields and sampling change; the filter stays; only the changed parameters are sent.
	edit := draft{Fields: []string{"ClientIP", "EdgeStartTimestamp", "ClientRequestHost"}, SamplingRate: "25", Filters: d.Filters,
		CustomFields: &customFieldsForm{}}
	code, _, b = c.do("POST", "/console/api/tasks/flow/validate", edit)
	noSecret("validate edit", b)
	if v := decodeJSON[validation](t, b); code != 200 || !v.Valid || !strings.Contains(v.YAML, "DiscardRate: 0.75") {
		t.Fatalf("validate edit: %d %s", code, b)
	}
	bad := edit
	bad.Fields = []string{"ClientIPP"}
	code, _, b = c.do("PATCH", "/console/api/tasks/flow", bad)
	if code != 400 || !strings.Contains(string(b), `did you mean \"ClientIP\"`) {
		t.Errorf("a bad edit: %d %s", code, b)
	}
	code, _, b = c.do("PATCH", "/console/api/tasks/flow", edit)
	if code != 200 || string(b) != `{"changed":["DiscardRate","FieldName"]}` {
		t.Errorf("edit: %d %s", code, b)
	}
	st, _ := ts.api.Store.Get("flow")
	if st.Definition["FieldName"] != "ClientIP,EdgeStartTimestamp,ClientRequestHost" || st.Definition["DiscardRate"] != "0.75" ||
		st.Definition["HttpDelivery"] == "" || !strings.Contains(st.Definition["HttpDelivery"], privateKey) {
		t.Errorf("stored after the edit: %v", st.Definition)
	}
	if code, _, b = c.do("PATCH", "/console/api/tasks/flow", edit); code != 200 || string(b) != `{"changed":[]}` {
		t.Errorf("the same edit again: %d %s", code, b)
	}
	noFilter := edit
	noFilter.Filters = nil
	if code, _, b = c.do("PATCH", "/console/api/tasks/flow", noFilter); code != 200 || string(b) != `{"changed":["FilterRules"]}` {
		t.Errorf("removing the filter: %d %s", code, b)
	}

	for _, m := range []string{"offline", "online"} {
		code, _, b = c.do("POST", "/console/api/tasks/flow/status", map[string]string{"method": m})
		if code != 200 || !strings.Contains(string(b), `"status":"`+m+`"`) {
			t.Errorf("%s: %d %s", m, code, b)
		}
	}
	if code, _, b = c.do("POST", "/console/api/tasks/flow/status", map[string]string{"method": "paused"}); code != 400 {
		t.Errorf("a bad method: %d %s", code, b)
	}
	if code, _, b = c.do("POST", "/console/api/tasks/flow/verify", map[string]string{"token": "v1.1.x.y"}); code != 409 {
		t.Errorf("verify of a task that waits for nothing: %d %s", code, b)
	}
	if code, _, b = c.do("DELETE", "/console/api/tasks/flow", nil); code != 200 {
		t.Errorf("delete: %d %s", code, b)
	}
	if code, _, _ = c.do("GET", "/console/api/tasks/flow", nil); code != 404 {
		t.Errorf("after delete: %d", code)
	}
}

// TestAccountTask: an account-level category (Edge Routine) goes through the User actions, without a
// site.
func TestAccountTask(t *testing.T) {
	ts := newTestServer(t, Options{})
	c := ts.client()
	c.signIn()
	cat, _ := config.LookupCategory("edge_routine")
	d := draft{Name: "er", Category: "edge_routine", SiteID: "7301", Fields: []string{cat.TimeField}, DeliveryType: "local",
		Delivery: map[string]any{"Path": t.TempDir()}}
	code, _, b := c.do("POST", "/console/api/tasks", d)
	if code != 200 || !strings.Contains(string(b), `"scope":"account"`) || strings.Contains(string(b), `"site_id"`) {
		t.Fatalf("create: %d %s", code, b)
	}
	st, _ := ts.api.Store.Get("er")
	if _, ok := st.Definition["SiteId"]; ok {
		t.Errorf("an account task has a SiteId: %v", st.Definition)
	}
	if code, _, b = c.do("POST", "/console/api/tasks/er/status", map[string]string{"method": "offline"}); code != 200 {
		t.Errorf("pause: %d %s", code, b)
	}
	if code, _, b = c.do("PATCH", "/console/api/tasks/er", draft{Fields: d.Fields, SamplingRate: "10"}); code != 200 || !strings.Contains(string(b), "DiscardRate") {
		t.Errorf("edit: %d %s", code, b)
	}
	if code, _, b = c.do("DELETE", "/console/api/tasks/er", nil); code != 200 {
		t.Errorf("delete: %d %s", code, b)
	}
}
