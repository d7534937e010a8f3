package config

import (
	"encoding/json"
	"math"
	"strings"
)

// ESASecretMask stands for a secret in an ESA export (ExportESA): an export never carries a secret.
// Load refuses a secret that is ESASecretMask, saying that the export does not carry it.
const ESASecretMask = "******"

// ESATask is the body of ESA's GetSiteDeliveryTask and GetUserDeliveryTask responses for a task, with
// the member names (JSON) of the ESA Go SDK's GetSiteDeliveryTaskResponseBody: the SDK decodes it, and
// Load reads it back as a task definition (the ESA shape). Build it with ExportESA.
type ESATask struct {
	TaskName string `json:"TaskName"`
	// BusinessType is ESA's name of the category (dcdn_log_access_l1, dcdn_log_waf, dcdn_log_ipa,
	// dcdn_log_er), or the canonical name of a category that ESA publishes no name for (dns,
	// edge_container).
	BusinessType string `json:"BusinessType"`
	// DataCenter is cn or oversea, as the task gives it; empty when it gives none.
	DataCenter string `json:"DataCenter,omitempty"`
	// DeliveryType is sls, oss, aws3, aws3cmpt, http or kafka, and local for the local destination,
	// which ESA does not have.
	DeliveryType string `json:"DeliveryType"`
	// DiscardRate is the fraction of records dropped by sampling: 1 − sampling_rate/100.
	DiscardRate float64 `json:"DiscardRate"`
	// FieldList is the delivered fields, comma-separated, in task order.
	FieldList string `json:"FieldList"`
	// FilterRules is the task's filters in ESA's JSON filter form (FormatESAFilter); "[]" for none.
	FilterRules string `json:"FilterRules"`
	// FilterVer is the version of ESA's filter rules. A task does not record it: ExportESA leaves it
	// empty (omitted).
	FilterVer string `json:"FilterVer,omitempty"`
	// SiteID is the task's site, for site-scoped categories; 0 (omitted) for the others.
	SiteID int64 `json:"SiteId,omitempty"`
	// Status is online or offline. ExportESA copies Task.Status (the status an imported export gave);
	// the caller sets the status it reports, and an empty one is omitted.
	Status string `json:"Status,omitempty"`
	// SinkConfig is the destination, with the member names of the delivery object of
	// CreateSiteDeliveryTask for DeliveryType (SlsDelivery, OssDelivery, S3Delivery, HttpDelivery,
	// KafkaDelivery; {"Path": ...} for local) and every secret replaced by ESASecretMask.
	SinkConfig map[string]any `json:"SinkConfig"`
	// RequestID is the ID of the API request that returns the body; the caller sets it.
	RequestID string `json:"RequestId,omitempty"`
}

// ESATaskListItem is one entry of the Tasks list of ESA's ListSiteDeliveryTasks and
// ListUserDeliveryTasks responses, with the member names of the SDK's
// ListSiteDeliveryTasksResponseBodyTasks. Build it with ESATask.ListItem.
type ESATaskListItem struct {
	TaskName     string `json:"TaskName"`
	BusinessType string `json:"BusinessType"`
	DataCenter   string `json:"DataCenter,omitempty"`
	DeliveryType string `json:"DeliveryType"`
	Status       string `json:"Status,omitempty"`
}

// ListItem returns the ListSiteDeliveryTasks / ListUserDeliveryTasks entry of the task.
func (e ESATask) ListItem() ESATaskListItem {
	return ESATaskListItem{TaskName: e.TaskName, BusinessType: e.BusinessType, DataCenter: e.DataCenter,
		DeliveryType: e.DeliveryType, Status: e.Status}
}

// MarshalJSON encodes the body as encoding/json does, with the characters that YAML does not read
// literally escaped, so that Load reads every value back unchanged.
func (e ESATask) MarshalJSON() ([]byte, error) {
	type plain ESATask
	b, err := json.Marshal(plain(e))
	if err != nil {
		return nil, err
	}
	return yamlSafeJSON(b), nil
}

// ExportESA returns the GetSiteDeliveryTask / GetUserDeliveryTask body of a task (see ESATask): what
// ESA's API answers for the task, which Load accepts back as a task definition.
//
// The export holds what ESA's API holds, and no secret:
//   - A secret (the S3 access key ID and secret key, the HTTP auth private key, the Kafka SASL
//     password, the values of HTTP headers and query parameters with token-like names
//     (IsSecretName), and the user info and token-like query values of the HTTP URL and the S3
//     endpoint) is replaced by ESASecretMask, unless it is a single ${NAME} reference, which is not
//     the secret and is kept. Importing an export with a masked secret fails until the secret is
//     given.
//   - The settings that ESA's API has no member for are not exported: source, output, dead_letter,
//     buffer, custom_fields, sample_key, ownership_token and, in the destination, the endpoints and
//     credentials of SLS and OSS, session and security tokens, tls, batching, max_in_flight,
//     period, key_field and force_path_style. Loading the export gives their defaults.
//   - Status is Task.Status; FilterVer and RequestID are left to the caller; SiteName is omitted.
func ExportESA(t *Task) ESATask {
	e := ESATask{
		TaskName:     t.Name,
		BusinessType: t.Category,
		DataCenter:   t.DataCenter,
		DeliveryType: esaDeliveryTypeOf(t.Destination.Type),
		// The sampling rate has at most 2 decimals, so the discard rate has at most 4: rounding to 4
		// removes the binary noise of 1 − r/100.
		DiscardRate: math.Round((100-t.SamplingRate)*100) / 1e4,
		FieldList:   strings.Join(t.Fields, ","),
		FilterRules: FormatESAFilter(t.Filters),
		Status:      t.Status,
		SinkConfig:  exportSink(&t.Destination),
	}
	if c, ok := LookupCategory(t.Category); ok {
		if c.APIID != "" {
			e.BusinessType = c.APIID
		} else {
			e.BusinessType = c.Name
		}
		if c.Scope == "site" {
			e.SiteID = t.SiteID
		}
	}
	return e
}

// esaDeliveryTypeOf returns ESA's DeliveryType of a destination type (the type itself when
// esa-connect does not know it).
func esaDeliveryTypeOf(native string) string {
	if k, ok := LookupDestinationKind(native); ok {
		return k.ESAType
	}
	return native
}

// exportSecret returns what an export shows of a secret: nothing when there is none, a single ${NAME}
// reference as it is, else ESASecretMask.
func exportSecret(v string) string {
	if v == "" || IsEnvRef(v) {
		return v
	}
	return ESASecretMask
}

// exportURL returns a URL (or host[:port]) with its user name, password and token-like query values
// (IsSecretName) shown as exportSecret shows them; the rest is kept byte for byte.
func exportURL(u string) string {
	return MapURLSecrets(u, URLSecrets{User: exportSecret, Password: exportSecret,
		Query: func(_, v string) string { return exportSecret(v) }})
}

// exportParams returns HTTP headers or query parameters as ESA's {name: {"StaticValue": v}}, with the
// values of token-like names shown as exportSecret shows them; nil when there are none.
func exportParams(m map[string]string) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for name, v := range m {
		if IsSecretName(name) {
			v = exportSecret(v)
		}
		out[name] = map[string]any{"StaticValue": v}
	}
	return out
}

// sink collects the members of a SinkConfig, leaving out empty optional ones.
type sink map[string]any

func (s sink) str(key, v string) {
	if v != "" {
		s[key] = v
	}
}

func (s sink) int(key string, v int64) {
	if v != 0 {
		s[key] = v
	}
}

func (s sink) float(key string, v float64) {
	if v != 0 {
		s[key] = v
	}
}

// exportSink returns the SinkConfig of a destination (see ESATask.SinkConfig).
func exportSink(d *Destination) map[string]any {
	s := sink{}
	if p := d.params(); p != nil {
		p.exportESA(s, d.Type)
	}
	return s
}

func (o *SLSDestination) exportESA(s sink, _ string) {
	s.str("SLSProject", o.Project)
	s.str("SLSLogStore", o.Logstore)
	s.str("SLSRegion", o.Region)
}

func (o *OSSDestination) exportESA(s sink, _ string) {
	s.str("BucketName", o.Bucket)
	s.str("Region", o.Region)
	s.str("PrefixPath", o.Prefix)
	s.str("Aliuid", o.AliUID)
}

func (o *S3Destination) exportESA(s sink, typ string) {
	s.str("BucketPath", o.BucketPath)
	s.str("Region", o.Region)
	s.str("Endpoint", exportURL(o.Endpoint))
	s.str("AccessKey", exportSecret(o.AccessKeyID))
	s.str("SecretKey", exportSecret(o.SecretAccessKey))
	s["S3Cmpt"] = typ == "s3_compatible"
	s["ServerSideEncryption"] = o.ServerSideEncryption == "AES256"
}

func (h *HTTPDestination) exportESA(s sink, _ string) {
	s.str("DestUrl", exportURL(h.URL))
	s.str("Compress", h.Compression)
	s["StandardAuthOn"] = h.Auth != nil
	if a := h.Auth; a != nil {
		p := sink{}
		p.str("PrivateKey", exportSecret(a.PrivateKey))
		p.int("ExpiredTime", a.ExpiredTime)
		p.str("UrlPath", a.URLPath)
		s["StandardAuthParam"] = map[string]any(p)
	}
	if hp := exportParams(h.Headers); hp != nil {
		s["HeaderParam"] = hp
	}
	if qp := exportParams(h.Query); qp != nil {
		s["QueryParam"] = qp
	}
	s.str("LogBodyPrefix", h.BodyPrefix)
	s.str("LogBodySuffix", h.BodySuffix)
	if h.Split != nil {
		s["LogSplit"] = *h.Split
	}
	s.str("LogSplitWords", h.SplitWords)
	if h.LastSplit != nil {
		s["LastLogSplit"] = *h.LastSplit
	}
	s.int("MaxBatchSize", int64(h.MaxBatchSize))
	s.float("MaxBatchMB", h.MaxBatchMB)
	if h.MaxRetry != nil {
		s["MaxRetry"] = *h.MaxRetry
	}
	s.int("TransformTimeout", int64(h.Timeout))
}

func (k *KafkaDestination) exportESA(s sink, _ string) {
	s.str("Topic", k.Topic)
	s["Brokers"] = append([]string{}, k.Brokers...)
	s.str("Compress", k.Compression)
	s["UserAuth"] = k.SASL != nil
	if a := k.SASL; a != nil {
		s.str("MachanismType", a.Mechanism)
		s.str("UserName", a.Username)
		s.str("Password", exportSecret(a.Password))
	}
	if k.Balancer != "" {
		s["Balancer"] = "kafka." + k.Balancer // ESA's spelling (kafka.LeastBytes)
	}
}

func (l *LocalDestination) exportESA(s sink, _ string) { s.str("Path", l.Path) }
