package config

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	esa "github.com/alibabacloud-go/esa-20240910/v3/client"
)

// exportCase is a task of one destination type: its native definition with every secret given as a
// ${NAME} reference (an export keeps references), the same definition with literal secrets, the
// SinkConfig that ExportESA gives for the latter (JSON), and the secrets that it masks, by
// SinkConfig path.
type exportCase struct {
	name, refs, literal string
	sink                string
	masked              map[string]string // SinkConfig member path → the literal secret
}

// exportHead is the common part of the definitions: a site category, sampling, filters in both
// spellings' worth of shapes, a status is added by the tests.
const exportHead = `
fields: [EdgeStartTimestamp, ClientIP, ClientRequestHost, EdgeResponseStatusCode]
sampling_rate: 33.33
data_center: oversea
filters:
  - {field: EdgeResponseStatusCode, op: ge, value: 500}
  - any: [{field: ClientRequestHost, op: ends_with, value: [.example.com, .example.org], ignore_case: true}, {field: ClientIP, op: exists}]
  - {field: EdgeStartTimestamp, op: lt, value: "2026-01-01T00:00:00+08:00"}
`

func exportCases() []exportCase {
	head := func(name, category string) string {
		return "name: " + name + "\ncategory: " + category + "\nsite_id: 1234567890123" + exportHead
	}
	return []exportCase{
		{name: "sls",
			refs: head("to-sls", "access") + "destination: {type: sls, project: esa-logs, logstore: access, region: cn-hangzhou}",
			sink: `{"SLSProject": "esa-logs", "SLSLogStore": "access", "SLSRegion": "cn-hangzhou"}`},
		{name: "oss",
			refs: head("to-oss", "access") + "destination: {type: oss, bucket: my-bucket, region: cn-shanghai, prefix: esa/access, aliuid: '1234567890'}",
			sink: `{"BucketName": "my-bucket", "Region": "cn-shanghai", "PrefixPath": "esa/access", "Aliuid": "1234567890"}`},
		{name: "s3",
			refs: head("to-s3", "access") + "destination: {type: s3, bucket_path: logs-bucket/esa/access, region: us-east-1, " +
				"access_key_id: '${AWS_ACCESS_KEY_ID}', secret_access_key: '${AWS_SECRET_ACCESS_KEY}', server_side_encryption: AES256}",
			literal: head("to-s3", "access") + "destination: {type: s3, bucket_path: logs-bucket/esa/access, region: us-east-1, " +
				"access_key_id: AKIAEXAMPLEKEYID, secret_access_key: wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY, server_side_encryption: AES256}",
			sink: `{"BucketPath": "logs-bucket/esa/access", "Region": "us-east-1", "AccessKey": "******", "SecretKey": "******",
				"S3Cmpt": false, "ServerSideEncryption": true}`,
			masked: map[string]string{"AccessKey": "AKIAEXAMPLEKEYID", "SecretKey": "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"}},
		{name: "s3_compatible",
			refs: "name: to-s3c\ncategory: firewall\nfields: [Datetime, Action, ClientIP]\nfilters: []\n" +
				"destination: {type: s3_compatible, bucket_path: logriver/log, region: cn-beijing, endpoint: 'https://s3.oss-cn-beijing.aliyuncs.com', " +
				"access_key_id: '${S3_ID}', secret_access_key: '${S3_SECRET}'}",
			literal: "name: to-s3c\ncategory: firewall\nfields: [Datetime, Action, ClientIP]\nfilters: []\n" +
				"destination: {type: s3_compatible, bucket_path: logriver/log, region: cn-beijing, endpoint: 'https://s3.oss-cn-beijing.aliyuncs.com', " +
				"access_key_id: LTAI5tEXAMPLEID, secret_access_key: s3-secret-value}",
			sink: `{"BucketPath": "logriver/log", "Region": "cn-beijing", "Endpoint": "https://s3.oss-cn-beijing.aliyuncs.com",
				"AccessKey": "******", "SecretKey": "******", "S3Cmpt": true, "ServerSideEncryption": false}`,
			masked: map[string]string{"AccessKey": "LTAI5tEXAMPLEID", "SecretKey": "s3-secret-value"}},
		{name: "http",
			refs: head("to-http", "access") + `destination:
  type: http
  url: 'https://logs.example.com/v1/in?source=esa&token=${HTTP_TOKEN}#frag'
  compression: gzip
  auth: {private_key: '${HTTP_PRIVATE_KEY}', expired_time: 300, url_path: /v1/in}
  headers: {X-Team: edge, Authorization: '${HTTP_AUTHORIZATION}'}
  query: {region: cn, api_key: '${HTTP_API_KEY}'}
  body_prefix: '{"logs":['
  body_suffix: ']}'
  split: true
  split_words: ","
  last_split: false
  max_batch_size: 500
  max_batch_mb: 2.5
  max_retry: 0
  timeout: 20
`,
			literal: head("to-http", "access") + `destination:
  type: http
  url: 'https://esa:url-pass@logs.example.com/v1/in?source=esa&token=url-token#frag'
  compression: gzip
  auth: {private_key: abc123xyz, expired_time: 300, url_path: /v1/in}
  headers: {X-Team: edge, Authorization: Bearer header-secret}
  query: {region: cn, api_key: query-secret}
  body_prefix: '{"logs":['
  body_suffix: ']}'
  split: true
  split_words: ","
  last_split: false
  max_batch_size: 500
  max_batch_mb: 2.5
  max_retry: 0
  timeout: 20
`,
			sink: `{"DestUrl": "https://******:******@logs.example.com/v1/in?source=esa&token=******#frag", "Compress": "gzip",
				"StandardAuthOn": true, "StandardAuthParam": {"PrivateKey": "******", "ExpiredTime": 300, "UrlPath": "/v1/in"},
				"HeaderParam": {"X-Team": {"StaticValue": "edge"}, "Authorization": {"StaticValue": "******"}},
				"QueryParam": {"region": {"StaticValue": "cn"}, "api_key": {"StaticValue": "******"}},
				"LogBodyPrefix": "{\"logs\":[", "LogBodySuffix": "]}", "LogSplit": true, "LogSplitWords": ",", "LastLogSplit": false,
				"MaxBatchSize": 500, "MaxBatchMB": 2.5, "MaxRetry": 0, "TransformTimeout": 20}`,
			masked: map[string]string{"DestUrl": "https://esa:url-pass@logs.example.com/v1/in?source=esa&token=url-token#frag",
				"StandardAuthParam.PrivateKey": "abc123xyz", "HeaderParam.Authorization.StaticValue": "Bearer header-secret",
				"QueryParam.api_key.StaticValue": "query-secret"}},
		{name: "kafka",
			refs: head("to-kafka", "access") + "destination: {type: kafka, topic: esa-access, brokers: ['k1.example.com:9092', 'k2.example.com:9093'], " +
				"compression: lz4, balancer: Hash, sasl: {mechanism: SCRAM-SHA-256, username: esa, password: '${KAFKA_PASSWORD}'}}",
			literal: head("to-kafka", "access") + "destination: {type: kafka, topic: esa-access, brokers: ['k1.example.com:9092', 'k2.example.com:9093'], " +
				"compression: lz4, balancer: Hash, sasl: {mechanism: SCRAM-SHA-256, username: esa, password: kafka-secret}}",
			sink: `{"Topic": "esa-access", "Brokers": ["k1.example.com:9092", "k2.example.com:9093"], "Compress": "lz4",
				"UserAuth": true, "MachanismType": "SCRAM-SHA-256", "UserName": "esa", "Password": "******", "Balancer": "kafka.Hash"}`,
			masked: map[string]string{"Password": "kafka-secret"}},
		{name: "kafka without sasl",
			refs: "name: er-kafka\ncategory: edge_routine\nfields: [LogTimestamp, RoutineName]\n" +
				"destination: {type: kafka, topic: t, brokers: ['k:9092']}",
			sink: `{"Topic": "t", "Brokers": ["k:9092"], "UserAuth": false, "Balancer": "kafka.LeastBytes"}`},
		{name: "local",
			refs: "name: dns-local\ncategory: dns\nfields: [Timestamp, QueryName]\nsampling_rate: 1\ndestination: {type: local, path: out/dns}",
			sink: `{"Path": "out/dns"}`},
	}
}

func mustLoad(t *testing.T, def string) *Task {
	t.Helper()
	task, err := Load([]byte(def))
	if err != nil {
		t.Fatalf("Load(%s): %v", def, err)
	}
	return task
}

func jsonAny(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

// TestExportESASDK checks ExportESA against ESA's SDK: the JSON of a task of each destination type
// decodes into the SDK's GetSiteDeliveryTask / GetUserDeliveryTask bodies and List*DeliveryTasks
// entries, with encoding/json and through the SDK's own client, with the values expected and no secret.
func TestExportESASDK(t *testing.T) {
	var body []byte // what the stand-in API answers
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	client := (&esaCapture{srv: srv}).client(t)

	for _, tc := range exportCases() {
		t.Run(tc.name, func(t *testing.T) {
			def := tc.literal
			if def == "" {
				def = tc.refs
			}
			task := mustLoad(t, def)
			task.Status = StatusOnline
			e := ExportESA(task)
			e.RequestID = "req-1"
			data, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"AKIAEXAMPLEKEYID", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "LTAI5tEXAMPLEID",
				"s3-secret-value", "url-pass", "url-token", "abc123xyz", "header-secret", "query-secret", "kafka-secret"} {
				if strings.Contains(string(data), secret) {
					t.Errorf("the export holds the secret %q: %s", secret, data)
				}
			}
			cat, _ := LookupCategory(task.Category)
			wantBT := cat.APIID
			if wantBT == "" {
				wantBT = cat.Name
			}
			wantDT := map[string]string{"s3": "aws3", "s3_compatible": "aws3cmpt"}[task.Destination.Type]
			if wantDT == "" {
				wantDT = task.Destination.Type
			}
			wantDiscard := float32(1 - task.SamplingRate/100)
			wantFields := strings.Join(task.Fields, ",")
			wantSite := int64(0)
			if cat.Scope == "site" {
				wantSite = task.SiteID
			}
			wantSink := jsonAny(t, tc.sink)

			check := func(how string, got *esa.GetSiteDeliveryTaskResponseBody, wantSink any) {
				t.Helper()
				str := func(p *string) string {
					if p == nil {
						return "<nil>"
					}
					return *p
				}
				for _, c := range [][3]string{
					{"TaskName", str(got.TaskName), task.Name},
					{"BusinessType", str(got.BusinessType), wantBT},
					{"DeliveryType", str(got.DeliveryType), wantDT},
					{"FieldList", str(got.FieldList), wantFields},
					{"FilterRules", str(got.FilterRules), FormatESAFilter(task.Filters)},
					{"Status", str(got.Status), "online"},
					{"RequestId", str(got.RequestId), "req-1"},
				} {
					if c[1] != c[2] {
						t.Errorf("%s: %s = %q, want %q", how, c[0], c[1], c[2])
					}
				}
				if task.DataCenter != "" && str(got.DataCenter) != task.DataCenter || task.DataCenter == "" && got.DataCenter != nil {
					t.Errorf("%s: DataCenter = %q, want %q", how, str(got.DataCenter), task.DataCenter)
				}
				if got.DiscardRate == nil || *got.DiscardRate != wantDiscard {
					t.Errorf("%s: DiscardRate = %v, want %v", how, got.DiscardRate, wantDiscard)
				}
				if gotSite := got.SiteId; wantSite == 0 && gotSite != nil || wantSite != 0 && (gotSite == nil || *gotSite != wantSite) {
					t.Errorf("%s: SiteId = %v, want %d", how, gotSite, wantSite)
				}
				if got.SiteName != nil || got.RawRule != nil || got.FilterVer != nil {
					t.Errorf("%s: SiteName, RawRule, FilterVer = %v, %v, %v; want none", how, got.SiteName, got.RawRule, got.FilterVer)
				}
				if !reflect.DeepEqual(got.SinkConfig, wantSink) {
					t.Errorf("%s: SinkConfig\n got %#v\nwant %#v", how, got.SinkConfig, wantSink)
				}
			}

			// encoding/json into the SDK's models.
			var site esa.GetSiteDeliveryTaskResponseBody
			if err := json.Unmarshal(data, &site); err != nil {
				t.Fatalf("into GetSiteDeliveryTaskResponseBody: %v\n%s", err, data)
			}
			check("encoding/json", &site, wantSink)
			var user esa.GetUserDeliveryTaskResponseBody
			if err := json.Unmarshal(data, &user); err != nil {
				t.Fatalf("into GetUserDeliveryTaskResponseBody: %v", err)
			}
			if *user.TaskName != task.Name || *user.FieldList != wantFields || !reflect.DeepEqual(user.SinkConfig, wantSink) {
				t.Errorf("GetUserDeliveryTaskResponseBody: %s", user.String())
			}

			// The SDK's client, answered by a loopback stand-in for ESA's API.
			body = data
			resp, err := client.GetSiteDeliveryTask(new(esa.GetSiteDeliveryTaskRequest).SetTaskName(task.Name).SetSiteId(1))
			if err != nil {
				t.Fatalf("SDK GetSiteDeliveryTask: %v", err)
			}
			// The SDK's client decodes the numbers of SinkConfig (an interface{}) as json.Number.
			resp.Body.SinkConfig = jsonAny(t, string(must(json.Marshal(resp.Body.SinkConfig))))
			check("SDK client", resp.Body, wantSink)

			// The List entries.
			item := e.ListItem()
			list, err := json.Marshal(map[string]any{"RequestId": "req-2", "TotalCount": 1, "PageNumber": 1, "PageSize": 20,
				"Tasks": []ESATaskListItem{item}})
			if err != nil {
				t.Fatal(err)
			}
			wantItem := map[string]string{"TaskName": task.Name, "BusinessType": wantBT, "DataCenter": task.DataCenter,
				"DeliveryType": wantDT, "Status": "online"}
			var siteList esa.ListSiteDeliveryTasksResponseBody
			if err := json.Unmarshal(list, &siteList); err != nil || len(siteList.Tasks) != 1 {
				t.Fatalf("into ListSiteDeliveryTasksResponseBody: %v (%s)", err, list)
			}
			body = list
			listResp, err := client.ListSiteDeliveryTasks(new(esa.ListSiteDeliveryTasksRequest).SetSiteId(1))
			if err != nil || listResp.Body == nil || len(listResp.Body.Tasks) != 1 {
				t.Fatalf("SDK ListSiteDeliveryTasks: %v", err)
			}
			var userList esa.ListUserDeliveryTasksResponseBody
			if err := json.Unmarshal(list, &userList); err != nil || len(userList.Tasks) != 1 {
				t.Fatalf("into ListUserDeliveryTasksResponseBody: %v", err)
			}
			for how, got := range map[string][]*string{
				"ListSiteDeliveryTasksResponseBodyTasks": {siteList.Tasks[0].TaskName, siteList.Tasks[0].BusinessType,
					siteList.Tasks[0].DataCenter, siteList.Tasks[0].DeliveryType, siteList.Tasks[0].Status},
				"SDK ListSiteDeliveryTasks": {listResp.Body.Tasks[0].TaskName, listResp.Body.Tasks[0].BusinessType,
					listResp.Body.Tasks[0].DataCenter, listResp.Body.Tasks[0].DeliveryType, listResp.Body.Tasks[0].Status},
				"ListUserDeliveryTasksResponseBodyTasks": {userList.Tasks[0].TaskName, userList.Tasks[0].BusinessType,
					userList.Tasks[0].DataCenter, userList.Tasks[0].DeliveryType, userList.Tasks[0].Status},
			} {
				for i, member := range []string{"TaskName", "BusinessType", "DataCenter", "DeliveryType", "Status"} {
					g := ""
					if got[i] != nil {
						g = *got[i]
					}
					if g != wantItem[member] {
						t.Errorf("%s: %s = %q, want %q", how, member, g, wantItem[member])
					}
				}
			}
		})
	}
}

// TestExportESAMembers checks that every member name an export uses is one of the SDK's: the top-level
// ones are GetSiteDeliveryTaskResponseBody's, the SinkConfig ones those of the SDK's delivery objects
// (local's Path excepted), and the List entry's ListSiteDeliveryTasksResponseBodyTasks's.
func TestExportESAMembers(t *testing.T) {
	jsonNames := func(typ reflect.Type) []string {
		var names []string
		for i := 0; i < typ.NumField(); i++ {
			if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ","); name != "" {
				names = append(names, name)
			}
		}
		return names
	}
	sdkTop := jsonNames(reflect.TypeFor[esa.GetSiteDeliveryTaskResponseBody]())
	for _, name := range jsonNames(reflect.TypeFor[ESATask]()) {
		if !slices.Contains(sdkTop, name) {
			t.Errorf("ESATask member %s is not in the SDK's GetSiteDeliveryTaskResponseBody", name)
		}
	}
	sdkItem := jsonNames(reflect.TypeFor[esa.ListSiteDeliveryTasksResponseBodyTasks]())
	ours := jsonNames(reflect.TypeFor[ESATaskListItem]())
	slices.Sort(sdkItem)
	slices.Sort(ours)
	if !slices.Equal(sdkItem, ours) {
		t.Errorf("ESATaskListItem members %v, SDK's %v", ours, sdkItem)
	}
	sdkSink := map[string][]string{
		"aws3":          jsonNames(reflect.TypeFor[esa.CreateSiteDeliveryTaskRequestS3Delivery]()),
		"aws3cmpt":      jsonNames(reflect.TypeFor[esa.CreateSiteDeliveryTaskRequestS3Delivery]()),
		"sls":           jsonNames(reflect.TypeFor[esa.CreateSiteDeliveryTaskRequestSlsDelivery]()),
		"oss":           jsonNames(reflect.TypeFor[esa.CreateSiteDeliveryTaskRequestOssDelivery]()),
		"http":          jsonNames(reflect.TypeFor[esa.CreateSiteDeliveryTaskRequestHttpDelivery]()),
		"kafka":         jsonNames(reflect.TypeFor[esa.CreateSiteDeliveryTaskRequestKafkaDelivery]()),
		"StandardAuth":  jsonNames(reflect.TypeFor[esa.CreateSiteDeliveryTaskRequestHttpDeliveryStandardAuthParam]()),
		"ParamValueObj": jsonNames(reflect.TypeFor[esa.HttpDeliveryHeaderParamValue]()),
	}
	// Load takes every member of the SDK's delivery objects in SinkConfig.
	for dt, names := range sdkSink {
		if dt == "StandardAuth" || dt == "ParamValueObj" {
			continue
		}
		for _, name := range names {
			def := `{"TaskName": "t", "BusinessType": "dcdn_log_access_l1", "FieldList": "ClientIP", "DeliveryType": "` + dt +
				`", "SinkConfig": {"` + name + `": "1"}}`
			if _, err := Load([]byte(def)); err != nil && strings.Contains(err.Error(), "unknown key") {
				t.Errorf("DeliveryType %s, SinkConfig.%s: %v", dt, name, err)
			}
		}
	}
	for _, tc := range exportCases() {
		e := ExportESA(mustLoad(t, tc.refs))
		if e.DeliveryType == "local" {
			continue
		}
		for name, v := range e.SinkConfig {
			if !slices.Contains(sdkSink[e.DeliveryType], name) {
				t.Errorf("%s: SinkConfig member %s is not one of the SDK's %v", tc.name, name, sdkSink[e.DeliveryType])
			}
			switch name {
			case "StandardAuthParam":
				for sub := range v.(map[string]any) {
					if !slices.Contains(sdkSink["StandardAuth"], sub) {
						t.Errorf("%s: StandardAuthParam member %s is not the SDK's", tc.name, sub)
					}
				}
			case "HeaderParam", "QueryParam":
				for _, pv := range v.(map[string]any) {
					for sub := range pv.(map[string]any) {
						if !slices.Contains(sdkSink["ParamValueObj"], sub) {
							t.Errorf("%s: %s value member %s is not the SDK's", tc.name, name, sub)
						}
					}
				}
			}
		}
	}
}

// TestExportESARoundTrip checks that Load reads an export back as the task exported: for every
// destination type, with secrets given as ${NAME} references (kept by the export), and with literal
// secrets, which the export masks: Load then refuses every masked secret at its path, and accepts the
// export once the secrets are filled back in.
func TestExportESARoundTrip(t *testing.T) {
	for _, tc := range exportCases() {
		t.Run(tc.name, func(t *testing.T) {
			for _, status := range []string{"", StatusOnline, StatusOffline} {
				want := mustLoad(t, tc.refs)
				want.Status = status
				data := must(json.Marshal(ExportESA(want)))
				got, err := Load(data)
				if err != nil {
					t.Fatalf("Load(export %s): %v", data, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("status %q:\n got %s\nwant %s\nexport %s", status, dump(got), dump(want), data)
				}
				// The same as a JSON string of SinkConfig and of an object of FilterRules, and in YAML.
				var m map[string]any
				if err := json.Unmarshal(data, &m); err != nil {
					t.Fatal(err)
				}
				m["SinkConfig"] = string(must(json.Marshal(m["SinkConfig"])))
				m["FilterRules"] = jsonAny(t, m["FilterRules"].(string))
				if got, err := Load(must(json.Marshal(m))); err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("SinkConfig as a string, FilterRules as a list: %v\n got %s\nwant %s", err, dump(got), dump(want))
				}
			}
			if tc.literal == "" {
				return
			}

			want := mustLoad(t, tc.literal)
			data := must(json.Marshal(ExportESA(want)))
			_, err := Load(data)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load of an export with masked secrets: %v", err)
			}
			var paths []string
			for _, e := range errs {
				paths = append(paths, e.Path)
				if !strings.Contains(e.Msg, "the export does not carry") || !strings.Contains(e.Msg, "${ENV_VAR}") {
					t.Errorf("%s: message %q", e.Path, e.Msg)
				}
			}
			var wantPaths []string
			for p := range tc.masked {
				wantPaths = append(wantPaths, "SinkConfig."+strings.TrimSuffix(p, ".StaticValue"))
			}
			slices.Sort(paths)
			slices.Sort(wantPaths)
			if !slices.Equal(paths, wantPaths) {
				t.Errorf("problems at %v, want one at each of %v:\n%v", paths, wantPaths, err)
			}

			// Filled back in, the export is the task.
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			for p, secret := range tc.masked {
				obj := m["SinkConfig"].(map[string]any)
				keys := strings.Split(p, ".")
				for _, k := range keys[:len(keys)-1] {
					obj = obj[k].(map[string]any)
				}
				obj[keys[len(keys)-1]] = secret
			}
			got, err := Load(must(json.Marshal(m)))
			if err != nil {
				t.Fatalf("Load(filled export): %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("filled export:\n got %s\nwant %s", dump(got), dump(want))
			}
		})
	}
}

// TestLoadExportProblems checks the problems of exports: every one reported at once with its path,
// "did you mean" for misspelt keys, SinkConfig beside its delivery object, a RawRule that would be
// lost, and secrets that the export masks.
func TestLoadExportProblems(t *testing.T) {
	base := `{"TaskName": "t", "BusinessType": "dcdn_log_access_l1", "DataCenter": "oversea", "DiscardRate": 0,
	"FilterVer": "1.0", "SiteId": 1, "SiteName": "example.com", "RequestId": "r", `
	export := base + `"FieldList": "ClientIP,EdgeResponseStatusCode", "Status": "online", "FilterRules": "[]", "RawRule": "", `
	for _, tc := range []struct {
		name, def string
		want      []string
	}{
		{"misspelt keys", export + `"Statu": "online", "DeliveryType": "sls",
			"SinkConfg": {"SLSProject": "p"}, "SinkConfig": {"SLSProject": "p", "SLSLogstore": "l", "SLSRegion": "r"}}`, []string{
			`Statu: unknown key (did you mean "Status"?)`,
			`SinkConfg: unknown key (did you mean "SinkConfig"?)`,
			`SinkConfig.SLSLogstore: unknown key (did you mean "SLSLogStore"?)`,
			`SinkConfig.SLSLogStore: required`,
		}},
		{"SinkConfig and the delivery object", export + `"DeliveryType": "oss", "SinkConfig": {"BucketName": "b", "Region": "r"},
			"OssDelivery": {"BucketName": "b", "Region": "r"}}`, []string{
			`SinkConfig: give OssDelivery (as CreateSiteDeliveryTask takes it) or SinkConfig (as GetSiteDeliveryTask returns it), not both`,
		}},
		{"SinkConfig and another delivery object", export + `"DeliveryType": "oss", "SinkConfig": "{\"BucketName\": \"b\", \"Region\": \"r\"}",
			"SlsDelivery": {}}`, []string{
			`SlsDelivery: not used with DeliveryType oss (which takes OssDelivery)`,
		}},
		{"SinkConfig not JSON", export + `"DeliveryType": "oss", "SinkConfig": "{\"BucketName\": "}`, []string{
			`SinkConfig: not valid JSON: line 1: did not find expected node content`,
		}},
		{"no SinkConfig nor delivery object", export + `"DeliveryType": "kafka"}`, []string{
			`KafkaDelivery: required with DeliveryType kafka (or SinkConfig, as GetSiteDeliveryTask returns it)`,
		}},
		{"local without SinkConfig", export + `"DeliveryType": "local", "HttpDelivery": {"DestUrl": "http://x"}}`, []string{
			`HttpDelivery: not used with DeliveryType local (which takes SinkConfig)`,
			`SinkConfig: required with DeliveryType local (ESA has no local delivery: only the export of an esa-connect task has one)`,
		}},
		{"local member", export + `"DeliveryType": "local", "SinkConfig": {"path": "o"}}`, []string{
			`SinkConfig.path: unknown key (did you mean "Path"?)`,
			`SinkConfig.Path: required`,
		}},
		{"RawRule without FilterRules", base + `"FieldList": "ClientIP", "RawRule": "(http.host eq \"a\")", "DeliveryType": "sls",
			"SinkConfig": {"SLSProject": "p", "SLSLogStore": "l", "SLSRegion": "r"}}`, []string{
			`RawRule: esa-connect does not read RawRule and this definition has no FilterRules: give the filter as FilterRules (ESA's JSON filter form) so that it is not lost`,
		}},
		{"empty RawRule without FilterRules", base + `"FieldList": "ClientIP", "RawRule": " [ ] ", "DeliveryType": "sls", "FilterVer": 1,
			"SinkConfig": {"SLSProject": "p", "SLSLogStore": "l"}}`, []string{
			`FilterVer: duplicate key`,
			`SinkConfig.SLSRegion: required (or endpoint)`,
		}},
		{"masked secrets and other problems", base + `"Status": "paused", "DeliveryType": "http", "FieldList": "ClientIp",
			"SinkConfig": {"DestUrl": "https://******:******@h/in?token=******", "StandardAuthOn": true,
			"StandardAuthParam": {"PrivateKey": "******", "ExpiredTime": 0},
			"HeaderParam": {"Authorization": {"StaticValue": "******"}, "X-Team": {"StaticValu": "a"}},
			"QueryParam": {"sig": {"StaticValue": "******"}}}}`, []string{
			`SinkConfig.HeaderParam.X-Team.StaticValu: unknown key (did you mean "StaticValue"?)`,
			`Status: "paused" is not one of online, offline`,
			`FieldList[0]: "ClientIp" is not a field of category access (did you mean "ClientIP"?)`,
			`SinkConfig.DestUrl: has "******" in place of its user info or a token-like query value, as an ESA export shows them: the export does not carry them; give the URL in the task file, with the secrets literally or as ${ENV_VAR} references`,
			`SinkConfig.StandardAuthParam.PrivateKey: "******" is what an ESA export shows in place of a secret: the export does not carry the secret; give it in the task file, literally or as an ${ENV_VAR} reference`,
			`SinkConfig.StandardAuthParam.ExpiredTime: must be a number of seconds greater than 0`,
			`SinkConfig.HeaderParam.Authorization: "******" is what an ESA export shows in place of a secret: the export does not carry the secret; give it in the task file, literally or as an ${ENV_VAR} reference`,
			`SinkConfig.QueryParam.sig: "******" is what an ESA export shows in place of a secret: the export does not carry the secret; give it in the task file, literally or as an ${ENV_VAR} reference`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.def))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load = %v, want Errors", err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestExportESAText checks that text YAML does not take literally (DEL, C1 controls, line separators,
// a byte order mark) survives an export and its import, in SinkConfig and in FilterRules.
func TestExportESAText(t *testing.T) {
	odd := "a\x7fb\u0085c\u2028d\u2029e\ufefff\x00g\th\ni"
	want := mustLoad(t, "name: t\ncategory: access\nfields: [ClientIP]\nfilters: [{field: ClientRequestPath, op: equals, value: [x]}]\n"+
		"destination: {type: http, url: 'http://x', body_prefix: p, split_words: s}")
	want.Destination.HTTP.BodyPrefix = odd
	want.Destination.HTTP.SplitWords = odd
	want.Filters[0].Values = []any{odd}
	data := must(json.Marshal(ExportESA(want)))
	got, err := Load(data)
	if err != nil {
		t.Fatalf("Load(%s): %v", data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %s\nwant %s", dump(got), dump(want))
	}
}
