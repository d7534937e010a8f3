package console

import (
	"fmt"

	"github.com/esa-connect/esa-connect/config"
)

// destinationView is one DeliveryType as the create flow offers it: ESA's name, the delivery object
// its parameters go in, and the parameters with ESA's member names.
type destinationView struct {
	Type  string `json:"type"`  // ESA's DeliveryType
	Title string `json:"title"` // what the page calls it
	About string `json:"about"`
	// Object is the request parameter holding the delivery object (HttpDelivery, …; SinkConfig for
	// local, which ESA does not have): config.DestinationKind's ESAParameter.
	Object string `json:"object"`
	// Note is shown above the parameters (where credentials come from, what ESA lacks).
	Note string `json:"note,omitempty"`
	// Ownership reports that a created task waits for its bucket ownership to be verified
	// (config.DestinationKind's Ownership).
	Ownership bool        `json:"ownership,omitempty"`
	Params    []paramView `json:"params"`
}

// paramView is one parameter of a delivery object.
type paramView struct {
	// Name is ESA's member name; a dotted name is a member of a nested object
	// (StandardAuthParam.PrivateKey).
	Name  string `json:"name"`
	Label string `json:"label"`
	Help  string `json:"help,omitempty"`
	// Kind is text, secret (never shown back: the page says whether it is set), number, select,
	// bool, list (one value a line) or map (name → value pairs).
	Kind        string   `json:"kind"`
	Required    bool     `json:"required,omitempty"`
	Options     []string `json:"options,omitempty"`
	Default     any      `json:"default,omitempty"`
	Placeholder string   `json:"placeholder,omitempty"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
	Step        string   `json:"step,omitempty"`
	MaxItems    int      `json:"max_items,omitempty"`
	// When names a bool parameter that must be on for this one to apply.
	When string `json:"when,omitempty"`
	// Advanced parameters are folded away until asked for.
	Advanced bool `json:"advanced,omitempty"`
}

func num(f float64) *float64 { return &f }

// alibabaCredentials says where SLS and OSS tasks get their keys: ESA's delivery objects have no member
// for credentials or endpoints.
const alibabaCredentials = "ESA's %s has no member for credentials or an endpoint: the task signs with the AccessKey pair " +
	"in serve's environment (ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET) and reaches %s. " +
	"Create checks the destination and refuses keys it rejects."

var s3Params = func(compatible bool) []paramView {
	endpointHelp := "Optional: an S3 endpoint URL (https://host[:port]) instead of AWS's regional one."
	regionHelp := "AWS region of the bucket, e.g. us-east-1."
	if compatible {
		endpointHelp = "The store's URL, https://host[:port], without bucket or path."
		regionHelp = "Signing region; may be empty when the endpoint names one (oss-cn-hangzhou.aliyuncs.com)."
	}
	return []paramView{
		{Name: "BucketPath", Label: "Bucket and path", Kind: "text", Required: true, Placeholder: "my-logs/esa/access",
			Help: "bucket[/path], without a leading /. Objects are written under the path."},
		{Name: "Endpoint", Label: "Endpoint", Kind: "text", Required: compatible, Placeholder: "https://s3.example.com", Help: endpointHelp},
		{Name: "Region", Label: "Region", Kind: "text", Required: !compatible, Placeholder: "us-east-1", Help: regionHelp},
		{Name: "AccessKey", Label: "Access key ID", Kind: "secret", Help: "With the secret key; both or neither (then serve's AWS credentials are used)."},
		{Name: "SecretKey", Label: "Secret access key", Kind: "secret"},
		{Name: "ServerSideEncryption", Label: "Server-side encryption (AES256)", Kind: "bool"},
	}
}

// destinations are the DeliveryTypes in the order ESA's console lists them, plus local; Object and
// Ownership come from config's destination kinds.
var destinations = withKinds([]destinationView{
	{Type: "http", Title: "HTTP server", About: "POST batches of records to your HTTP(S) endpoint.",
		Params: []paramView{
			{Name: "DestUrl", Label: "URL", Kind: "text", Required: true, Placeholder: "https://logs.example.com/in",
				Help: "http:// or https:// URL that receives the batches."},
			{Name: "Compress", Label: "Compression", Kind: "select", Options: []string{"no", "gzip", "zlib", "snappy"}, Default: "no"},
			{Name: "StandardAuthOn", Label: "Sign requests (ESA auth_key)", Kind: "bool",
				Help: "Adds auth_key=timestamp-rand-uid-md5 to the query of every request."},
			{Name: "StandardAuthParam.PrivateKey", Label: "Private key", Kind: "secret", When: "StandardAuthOn", Required: true,
				Help: "6–18 letters and digits, with at least one of each."},
			{Name: "StandardAuthParam.ExpiredTime", Label: "Validity (seconds)", Kind: "number", When: "StandardAuthOn", Required: true,
				Min: num(1), Step: "1", Default: 300, Help: "How long a signature stays valid; more than 0."},
			{Name: "StandardAuthParam.UrlPath", Label: "Signed path", Kind: "text", When: "StandardAuthOn", Placeholder: "/in",
				Help: "Starts with /; empty: the URL's path."},
			{Name: "HeaderParam", Label: "Headers", Kind: "map", MaxItems: config.MaxHTTPHeaders, Advanced: true,
				Help: fmt.Sprintf("Static request headers, at most %d. Values of token-like names are secrets.", config.MaxHTTPHeaders)},
			{Name: "QueryParam", Label: "Query parameters", Kind: "map", MaxItems: config.MaxHTTPQueryParams, Advanced: true,
				Help: fmt.Sprintf("Static query parameters, at most %d.", config.MaxHTTPQueryParams)},
			{Name: "LogBodyPrefix", Label: "Body prefix", Kind: "text", Advanced: true, Help: "Written before the records of a request."},
			{Name: "LogBodySuffix", Label: "Body suffix", Kind: "text", Advanced: true, Help: "Written after the records of a request."},
			{Name: "LogSplit", Label: "Separate records with a delimiter", Kind: "bool", Default: true, Advanced: true},
			{Name: "LogSplitWords", Label: "Delimiter", Kind: "text", When: "LogSplit", Advanced: true, Help: "Empty: a line break."},
			{Name: "LastLogSplit", Label: "Delimiter after the last record too", Kind: "bool", Default: true, When: "LogSplit", Advanced: true},
			{Name: "MaxBatchSize", Label: "Records per request", Kind: "number", Min: num(1), Max: num(config.MaxHTTPBatchSize), Step: "1",
				Placeholder: "1000", Advanced: true, Help: fmt.Sprintf("1 to %d; default 1,000.", config.MaxHTTPBatchSize)},
			{Name: "MaxBatchMB", Label: "MB per request", Kind: "number", Min: num(0.01), Max: num(config.MaxHTTPBatchMB), Step: "any",
				Placeholder: "5", Advanced: true, Help: fmt.Sprintf("Up to %d; default 5.", config.MaxHTTPBatchMB)},
			{Name: "MaxRetry", Label: "Retries", Kind: "number", Min: num(0), Max: num(config.MaxHTTPRetry), Step: "1",
				Placeholder: "3", Advanced: true, Help: fmt.Sprintf("Retries after a failed request, 0 to %d; default 3.", config.MaxHTTPRetry)},
			{Name: "TransformTimeout", Label: "Timeout (seconds)", Kind: "number", Min: num(0), Max: num(config.MaxHTTPTimeout), Step: "1",
				Placeholder: "10", Advanced: true, Help: fmt.Sprintf("Per request, up to %d; default 10.", config.MaxHTTPTimeout)},
		}},
	{Type: "kafka", Title: "Kafka", About: "Produce every record as a message to a Kafka topic.",
		Params: []paramView{
			{Name: "Brokers", Label: "Brokers", Kind: "list", Required: true, MaxItems: config.MaxKafkaBrokers, Placeholder: "kafka-1.example.com:9092",
				Help: fmt.Sprintf("host:port, one a line; at most %d.", config.MaxKafkaBrokers)},
			{Name: "Topic", Label: "Topic", Kind: "text", Required: true, Placeholder: "esa-access-logs"},
			{Name: "Compress", Label: "Compression", Kind: "select", Options: []string{"no", "gzip", "snappy", "lz4", "zstd"}, Default: "no"},
			{Name: "Balancer", Label: "Partitioner", Kind: "select", Default: "kafka.LeastBytes",
				Options: []string{"kafka.LeastBytes", "kafka.Hash", "kafka.RoundRobin", "kafka.CRC32Balancer", "kafka.Murmur2Balancer"}},
			{Name: "UserAuth", Label: "SASL authentication", Kind: "bool"},
			{Name: "MachanismType", Label: "Mechanism", Kind: "select", When: "UserAuth", Required: true,
				Options: []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, Default: "PLAIN"},
			{Name: "UserName", Label: "User name", Kind: "text", When: "UserAuth", Required: true},
			{Name: "Password", Label: "Password", Kind: "secret", When: "UserAuth", Required: true},
		}},
	{Type: "sls", Title: "Alibaba Cloud SLS", About: "Write records to a Simple Log Service logstore.",
		Note: fmt.Sprintf(alibabaCredentials, "SlsDelivery", "the region's public SLS endpoint (<region>.log.aliyuncs.com)"),
		Params: []paramView{
			{Name: "SLSProject", Label: "Project", Kind: "text", Required: true},
			{Name: "SLSLogStore", Label: "Logstore", Kind: "text", Required: true},
			{Name: "SLSRegion", Label: "Region", Kind: "text", Required: true, Placeholder: "cn-hangzhou"},
		}},
	{Type: "oss", Title: "Alibaba Cloud OSS", About: "Write gzip NDJSON objects to an OSS bucket.",
		Note: fmt.Sprintf(alibabaCredentials, "OssDelivery", "the region's public OSS endpoint (oss-<region>.aliyuncs.com)"),
		Params: []paramView{
			{Name: "BucketName", Label: "Bucket", Kind: "text", Required: true},
			{Name: "Region", Label: "Region", Kind: "text", Required: true, Placeholder: "cn-hangzhou"},
			{Name: "PrefixPath", Label: "Path prefix", Kind: "text", Placeholder: "esa/access", Help: "Objects are written under it; no leading /."},
			{Name: "Aliuid", Label: "Account ID (Aliuid)", Kind: "text", Help: "The bucket owner's Alibaba Cloud account ID (informational)."},
		}},
	{Type: "aws3", Title: "AWS S3", About: "Write gzip NDJSON objects to an Amazon S3 bucket.",
		Note:   "As in ESA's console, Create writes an ownership challenge object into the bucket; the task starts once you give its content.",
		Params: s3Params(false)},
	{Type: "aws3cmpt", Title: "S3-compatible storage", About: "Write objects to any S3-compatible store (MinIO, OSS S3 API, …).",
		Note:   "As in ESA's console, Create writes an ownership challenge object into the bucket; the task starts once you give its content.",
		Params: s3Params(true)},
	{Type: "local", Title: "Local directory", About: "Write gzip NDJSON objects to a directory of the serve host.",
		Note: "esa-connect's own destination: ESA has no such DeliveryType.",
		Params: []paramView{
			{Name: "Path", Label: "Directory", Kind: "text", Required: true, Placeholder: "/var/lib/esa-connect/out",
				Help: "Created when missing; serve must be able to write it."},
		}},
})

// withKinds sets the Object and Ownership of every destination from its config.DestinationKind.
func withKinds(ds []destinationView) []destinationView {
	for i := range ds {
		k, ok := config.LookupESADeliveryType(ds[i].Type)
		if !ok {
			panic("console: " + ds[i].Type + " is not a DeliveryType")
		}
		ds[i].Object, ds[i].Ownership = k.ESAParameter(), k.Ownership
	}
	return ds
}

// destinationByType returns the destination of an ESA DeliveryType.
func destinationByType(t string) (destinationView, bool) {
	for _, d := range destinations {
		if d.Type == t {
			return d, true
		}
	}
	return destinationView{}, false
}

// param returns a parameter of the destination.
func (d destinationView) param(name string) (paramView, bool) {
	for _, p := range d.Params {
		if p.Name == name {
			return p, true
		}
	}
	return paramView{}, false
}
