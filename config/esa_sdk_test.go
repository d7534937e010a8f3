package config

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	esa "github.com/alibabacloud-go/esa-20240910/v3/client"
	"github.com/alibabacloud-go/tea/dara"
)

// These tests prove that Load reads ESA's OpenAPI parameters with the member names of the official
// ESA Go SDK: requests are built with the SDK's own model types and setters, sent by the SDK's own
// client to a loopback server that captures the wire form (form-encoded, *Delivery objects as JSON
// strings), and the captured parameters are decoded by Load; every field must land in the Task.
// The same requests are also serialised with encoding/json (objects instead of strings).

// esaCapture is a loopback stand-in for the ESA API endpoint: it records the form parameters of each
// request and answers like the API.
type esaCapture struct {
	mu     sync.Mutex
	params []url.Values
	srv    *httptest.Server
}

func startESACapture(t *testing.T) *esaCapture {
	t.Helper()
	c := &esaCapture{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.params = append(c.params, form)
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"RequestId":"test-request","TaskName":"x"}`)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *esaCapture) client(t *testing.T) *esa.Client {
	t.Helper()
	u, _ := url.Parse(c.srv.URL)
	cfg := &openapiutil.Config{
		AccessKeyId:     dara.String("test-id"),
		AccessKeySecret: dara.String("test-secret"),
		Endpoint:        dara.String(u.Host),
		Protocol:        dara.String("HTTP"),
		RegionId:        dara.String("cn-hangzhou"),
	}
	cl, err := esa.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// lastAsJSON returns the parameters of the last captured request as a JSON object of strings, the
// way ESA received them.
func (c *esaCapture) lastAsJSON(t *testing.T) []byte {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.params) == 0 {
		t.Fatal("no request captured")
	}
	obj := map[string]string{}
	for k, v := range c.params[len(c.params)-1] {
		if len(v) != 1 {
			t.Fatalf("parameter %s sent %d times", k, len(v))
		}
		obj[k] = v[0]
	}
	for _, k := range []string{"Action", "Version", "SignatureMethod", "Signature", "SignatureNonce",
		"SignatureVersion", "Timestamp", "Format", "AccessKeyId", "RegionId"} {
		delete(obj, k) // protocol parameters, if sent in the body
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func strs(ss ...string) []*string {
	out := make([]*string, len(ss))
	for i := range ss {
		out[i] = &ss[i]
	}
	return out
}

func sdkSiteRequest(deliveryType string) *esa.CreateSiteDeliveryTaskRequest {
	return new(esa.CreateSiteDeliveryTaskRequest).
		SetTaskName("sdk-" + deliveryType).
		SetBusinessType("dcdn_log_access_l1").
		SetDataCenter("oversea").
		SetDeliveryType(deliveryType).
		SetDiscardRate(0.25).
		SetFieldName("EdgeStartTimestamp,ClientIP,ClientRequestHost,EdgeResponseStatusCode").
		SetFilterVer("1.0").
		SetSiteId(1234567890123)
}

// sdkBase is the Task that sdkSiteRequest describes, before the destination.
func sdkBase(deliveryType string) Task {
	return Task{
		Name: "sdk-" + deliveryType, Category: "access", SiteID: 1234567890123, DataCenter: "oversea",
		Fields:       []string{"EdgeStartTimestamp", "ClientIP", "ClientRequestHost", "EdgeResponseStatusCode"},
		SamplingRate: 75,
		Source:       Source{Type: "http", HTTP: &HTTPSource{Address: DefaultIngestAddress, Path: "/v1/logs"}},
		Output:       Output{Format: "ndjson", TimestampFormat: "rfc3339"},
	}
}

func TestESASDKSiteRequests(t *testing.T) {
	capture := startESACapture(t)
	client := capture.client(t)

	trueV, falseV := true, false
	retry := 5
	cases := []struct {
		name string
		req  *esa.CreateSiteDeliveryTaskRequest
		dest Destination
	}{
		{"sls", sdkSiteRequest("sls").SetSlsDelivery(new(esa.CreateSiteDeliveryTaskRequestSlsDelivery).
			SetSLSProject("esa-logs").SetSLSLogStore("access").SetSLSRegion("cn-hangzhou")),
			Destination{Type: "sls", SLS: &SLSDestination{Project: "esa-logs", Logstore: "access", Region: "cn-hangzhou"}}},
		{"oss", sdkSiteRequest("oss").SetOssDelivery(new(esa.CreateSiteDeliveryTaskRequestOssDelivery).
			SetBucketName("my-bucket").SetRegion("cn-shanghai").SetPrefixPath("esa/access").SetAliuid("1234567890")),
			Destination{Type: "oss", OSS: &OSSDestination{Bucket: "my-bucket", Region: "cn-shanghai", Prefix: "esa/access", AliUID: "1234567890"}}},
		{"aws3", sdkSiteRequest("aws3").SetS3Delivery(new(esa.CreateSiteDeliveryTaskRequestS3Delivery).
			SetBucketPath("logs-bucket").SetPrefixPath("esa/access").SetRegion("us-east-1").
			SetAccessKey("AKIDEXAMPLE").SetSecretKey("${AWS_SECRET}").SetS3Cmpt(false).
			SetServerSideEncryption(true).SetVertifyType("VertifyFile")),
			Destination{Type: "s3", S3: &S3Destination{BucketPath: "logs-bucket/esa/access", Region: "us-east-1",
				AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "${AWS_SECRET}", ServerSideEncryption: "AES256"}}},
		{"aws3cmpt", sdkSiteRequest("aws3cmpt").SetS3Delivery(new(esa.CreateSiteDeliveryTaskRequestS3Delivery).
			SetBucketPath("logriver-test/log").SetPrefixPath("log").SetRegion("cn-beijing").
			SetEndpoint("https://s3.oss-cn-beijing.aliyuncs.com").SetAccessKey("ak").SetSecretKey("sk").SetS3Cmpt(true)),
			Destination{Type: "s3_compatible", S3: &S3Destination{BucketPath: "logriver-test/log", Region: "cn-beijing",
				Endpoint: "https://s3.oss-cn-beijing.aliyuncs.com", AccessKeyID: "ak", SecretAccessKey: "sk"}}},
		{"http", sdkSiteRequest("http").SetHttpDelivery(new(esa.CreateSiteDeliveryTaskRequestHttpDelivery).
			SetDestUrl("https://logs.example.com/v1/log/upload").SetCompress("gzip").
			SetStandardAuthOn(true).SetStandardAuthParam(new(esa.CreateSiteDeliveryTaskRequestHttpDeliveryStandardAuthParam).
			SetPrivateKey("aliyuncdn1234").SetExpiredTime(300).SetUrlPath("/v1/log/upload")).
			SetHeaderParam(map[string]*esa.HttpDeliveryHeaderParamValue{"X-Team": new(esa.HttpDeliveryHeaderParamValue).SetStaticValue("edge")}).
			SetQueryParam(map[string]*esa.HttpDeliveryQueryParamValue{"source": new(esa.HttpDeliveryQueryParamValue).SetStaticValue("esa")}).
			SetLogBodyPrefix("cdnVersion:1.0").SetLogBodySuffix("end").SetLogSplit(true).SetLogSplitWords("\n").
			SetLastLogSplit(false).SetMaxBatchSize(500).SetMaxBatchMB(2).SetMaxRetry(5).SetTransformTimeout(20)),
			Destination{Type: "http", HTTP: &HTTPDestination{URL: "https://logs.example.com/v1/log/upload", Compression: "gzip",
				Auth:    &HTTPAuth{PrivateKey: "aliyuncdn1234", ExpiredTime: 300, URLPath: "/v1/log/upload"},
				Headers: map[string]string{"X-Team": "edge"}, Query: map[string]string{"source": "esa"},
				BodyPrefix: "cdnVersion:1.0", BodySuffix: "end", Split: &trueV, SplitWords: "\n", LastSplit: &falseV,
				MaxBatchSize: 500, MaxBatchMB: 2, MaxRetry: &retry, Timeout: 20}}},
		{"kafka", sdkSiteRequest("kafka").SetKafkaDelivery(new(esa.CreateSiteDeliveryTaskRequestKafkaDelivery).
			SetTopic("esa-access").SetBrokers(strs("k1.example.com:9092", "k2.example.com:9093")).SetCompress("lz4").
			SetUserAuth(true).SetMachanismType("plain").SetUserName("esa").SetPassword("${KAFKA_PASSWORD}").
			SetBalancer("kafka.LeastBytes")),
			Destination{Type: "kafka", Kafka: &KafkaDestination{Topic: "esa-access",
				Brokers: []string{"k1.example.com:9092", "k2.example.com:9093"}, Compression: "lz4",
				SASL: &SASL{Mechanism: "PLAIN", Username: "esa", Password: "${KAFKA_PASSWORD}"}, Balancer: "LeastBytes"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := sdkBase(tc.name)
			want.Destination = tc.dest

			// 1. On the wire, as the SDK's client sends it.
			if _, err := client.CreateSiteDeliveryTask(tc.req); err != nil {
				t.Fatalf("SDK call: %v", err)
			}
			wire := capture.lastAsJSON(t)
			got, err := Load(wire)
			if err != nil {
				t.Fatalf("Load(wire %s): %v", wire, err)
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("wire form:\n got %s\nwant %s", dump(got), dump(&want))
			}

			// 2. As a JSON object (encoding/json of the SDK model), and its YAML-equivalent.
			obj, err := json.Marshal(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			got, err = Load(obj)
			if err != nil {
				t.Fatalf("Load(object %s): %v", obj, err)
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("object form:\n got %s\nwant %s", dump(got), dump(&want))
			}

			// 3. The SDK's own pretty form (tea Prettify).
			got, err = Load([]byte(tc.req.String()))
			if err != nil {
				t.Fatalf("Load(String()): %v", err)
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("Prettify form:\n got %s\nwant %s", dump(got), dump(&want))
			}
		})
	}
}

func TestESASDKUserRequest(t *testing.T) {
	capture := startESACapture(t)
	client := capture.client(t)
	req := new(esa.CreateUserDeliveryTaskRequest).
		SetTaskName("er-to-sls").SetBusinessType("dcdn_log_er").SetDataCenter("cn").SetDeliveryType("sls").
		SetDetails("edge routine logs").SetDiscardRate(0).SetFieldName("LogTimestamp,RoutineName,ErrorCode").
		SetFilterVer("1.0").
		SetSlsDelivery(new(esa.CreateUserDeliveryTaskRequestSlsDelivery).SetSLSProject("p").SetSLSLogStore("l").SetSLSRegion("cn-beijing"))
	want := Task{Name: "er-to-sls", Category: "edge_routine", DataCenter: "cn",
		Fields: []string{"LogTimestamp", "RoutineName", "ErrorCode"}, SamplingRate: 100,
		Source:      Source{Type: "http", HTTP: &HTTPSource{Address: DefaultIngestAddress, Path: "/v1/logs"}},
		Destination: Destination{Type: "sls", SLS: &SLSDestination{Project: "p", Logstore: "l", Region: "cn-beijing"}},
		Output:      Output{Format: "ndjson", TimestampFormat: "rfc3339"}}
	if _, err := client.CreateUserDeliveryTask(req); err != nil {
		t.Fatalf("SDK call: %v", err)
	}
	for name, data := range map[string][]byte{"wire": capture.lastAsJSON(t), "object": must(json.Marshal(req))} {
		got, err := Load(data)
		if err != nil {
			t.Fatalf("%s: Load(%s): %v", name, data, err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, dump(got), dump(&want))
		}
	}
}

// TestESASDKMemberNames checks that every JSON member name of the SDK's delivery request models is
// one that Load knows: a new SDK member or a misspelt one here fails this test.
func TestESASDKMemberNames(t *testing.T) {
	types := map[string][]reflect.Type{
		"": {reflect.TypeFor[esa.CreateSiteDeliveryTaskRequest](), reflect.TypeFor[esa.CreateUserDeliveryTaskRequest](),
			reflect.TypeFor[esa.GetSiteDeliveryTaskResponseBody](), reflect.TypeFor[esa.GetUserDeliveryTaskResponseBody]()},
		"SlsDelivery":   {reflect.TypeFor[esa.CreateSiteDeliveryTaskRequestSlsDelivery](), reflect.TypeFor[esa.CreateUserDeliveryTaskRequestSlsDelivery]()},
		"OssDelivery":   {reflect.TypeFor[esa.CreateSiteDeliveryTaskRequestOssDelivery](), reflect.TypeFor[esa.CreateUserDeliveryTaskRequestOssDelivery]()},
		"S3Delivery":    {reflect.TypeFor[esa.CreateSiteDeliveryTaskRequestS3Delivery](), reflect.TypeFor[esa.CreateUserDeliveryTaskRequestS3Delivery]()},
		"HttpDelivery":  {reflect.TypeFor[esa.CreateSiteDeliveryTaskRequestHttpDelivery](), reflect.TypeFor[esa.CreateUserDeliveryTaskRequestHttpDelivery]()},
		"KafkaDelivery": {reflect.TypeFor[esa.CreateSiteDeliveryTaskRequestKafkaDelivery](), reflect.TypeFor[esa.CreateUserDeliveryTaskRequestKafkaDelivery]()},
		"HttpDelivery.StandardAuthParam": {reflect.TypeFor[esa.CreateSiteDeliveryTaskRequestHttpDeliveryStandardAuthParam](),
			reflect.TypeFor[esa.CreateUserDeliveryTaskRequestHttpDeliveryStandardAuthParam]()},
	}
	for where, ts := range types {
		for _, typ := range ts {
			for i := 0; i < typ.NumField(); i++ {
				name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
				if name == "" {
					continue
				}
				probe := probeDefinition(where, name)
				_, err := Load([]byte(probe))
				if err != nil && strings.Contains(err.Error(), "unknown key") {
					t.Errorf("%s %s.%s: %v", typ.Name(), where, name, err)
				}
			}
		}
	}
}

// probeDefinition is an ESA-shape definition containing member name in object where.
func probeDefinition(where, name string) string {
	base := `"TaskName":"probe","BusinessType":"dcdn_log_access_l1","FieldName":"ClientIP"`
	switch where {
	case "":
		return `{` + base + `,"DeliveryType":"sls","SlsDelivery":{"SLSProject":"p","SLSLogStore":"l","SLSRegion":"r"},"` + name + `":"1"}`
	case "HttpDelivery.StandardAuthParam":
		return `{` + base + `,"DeliveryType":"http","HttpDelivery":{"DestUrl":"http://x","StandardAuthParam":{"` + name + `":"1"}}}`
	}
	dt := map[string]string{"SlsDelivery": "sls", "OssDelivery": "oss", "S3Delivery": "aws3", "HttpDelivery": "http", "KafkaDelivery": "kafka"}[where]
	return `{` + base + `,"DeliveryType":"` + dt + `","` + where + `":{"` + name + `":"1"}}`
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// dump renders a Task with its destination and source blocks for failure messages.
func dump(t *Task) string {
	b, _ := json.MarshalIndent(struct {
		*Task
		Src Source
		Dst Destination
		S   any
		D   []any
	}{t, t.Source, t.Destination, []any{t.Source.HTTP, t.Source.Kafka, t.Source.File, t.Source.Generate, t.Source.Benthos},
		[]any{t.Destination.SLS, t.Destination.OSS, t.Destination.S3, t.Destination.HTTP, t.Destination.Kafka, t.Destination.Local}}, "", " ")
	return string(b)
}
