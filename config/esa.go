package config

import (
	"math"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// The ESA OpenAPI shape (SPEC §1.2): the parameters of CreateSiteDeliveryTask /
// CreateUserDeliveryTask as sent by ESA's SDK (github.com/alibabacloud-go/esa-20240910/v3), plus the
// read-only keys of GetSiteDeliveryTask / GetUserDeliveryTask (FieldList, FilterRules, Status, ...)
// so that an exported task runs as it is. Besides ESA's keys, the native keys source, output,
// dead_letter, buffer, ownership_token, sample_key and custom_fields are accepted (ESA has no equivalent).
//
// Mapping decisions:
//   - DiscardRate d (a fraction) becomes sampling_rate (1−d)×100.
//   - FieldName (or FieldList) is a comma-separated list; a YAML/JSON list is accepted too.
//   - S3Delivery.BucketPath and PrefixPath are joined into bucket_path (PrefixPath is not repeated
//     when BucketPath already ends with it); ServerSideEncryption true means "AES256"; S3Cmpt must
//     agree with DeliveryType (aws3cmpt); VertifyType is accepted and ignored (ownership is proved by
//     ownership_token, SPEC §4.7).
//   - HttpDelivery.StandardAuthParam is used when StandardAuthOn is true or absent; HeaderParam and
//     QueryParam values are {StaticValue: v} objects (a bare string is accepted too).
//   - KafkaDelivery.UserName/Password/MachanismType become sasl when UserAuth is true or absent and a
//     user name is given; Balancer "kafka.X" becomes "X".
//   - Status (online or offline) is kept in Task.Status; FilterVer, SiteName, Details and RequestId are
//     metadata and ignored.

// esaDelivery describes one DeliveryType.
type esaDelivery struct {
	key, native string
}

var esaDeliveryTypes = map[string]esaDelivery{
	"sls":      {"SlsDelivery", "sls"},
	"oss":      {"OssDelivery", "oss"},
	"aws3":     {"S3Delivery", "s3"},
	"aws3cmpt": {"S3Delivery", "s3_compatible"},
	"http":     {"HttpDelivery", "http"},
	"kafka":    {"KafkaDelivery", "kafka"},
}

var esaDeliveryTypeNames = []string{"sls", "oss", "aws3", "aws3cmpt", "http", "kafka"}

// esaMembers maps the native destination keys to ESA's member names, per delivery object.
var esaMembers = map[string][][2]string{
	"SlsDelivery": {{"project", "SLSProject"}, {"logstore", "SLSLogStore"}, {"region", "SLSRegion"}},
	"OssDelivery": {{"bucket", "BucketName"}, {"region", "Region"}, {"prefix", "PrefixPath"}, {"aliuid", "Aliuid"}},
	"S3Delivery": {{"bucket_path", "BucketPath"}, {"region", "Region"}, {"endpoint", "Endpoint"},
		{"access_key_id", "AccessKey"}, {"secret_access_key", "SecretKey"},
		{"server_side_encryption", "ServerSideEncryption"}},
	"HttpDelivery": {{"url", "DestUrl"}, {"compression", "Compress"}, {"auth", "StandardAuthParam"},
		{"auth.private_key", "StandardAuthParam.PrivateKey"}, {"auth.expired_time", "StandardAuthParam.ExpiredTime"},
		{"auth.url_path", "StandardAuthParam.UrlPath"}, {"headers", "HeaderParam"}, {"query", "QueryParam"},
		{"body_prefix", "LogBodyPrefix"}, {"body_suffix", "LogBodySuffix"}, {"split", "LogSplit"},
		{"split_words", "LogSplitWords"}, {"last_split", "LastLogSplit"}, {"max_batch_size", "MaxBatchSize"},
		{"max_batch_mb", "MaxBatchMB"}, {"max_retry", "MaxRetry"}, {"timeout", "TransformTimeout"}},
	"KafkaDelivery": {{"topic", "Topic"}, {"brokers", "Brokers"}, {"compression", "Compress"},
		{"sasl", "UserAuth"}, {"sasl.mechanism", "MachanismType"}, {"sasl.username", "UserName"},
		{"sasl.password", "Password"}, {"balancer", "Balancer"}},
}

// esaExtensionKeys are the native keys accepted in the ESA shape.
var esaExtensionKeys = []string{"source", "output", "dead_letter", "buffer", "ownership_token", "sample_key", "custom_fields"}

// esaTask decodes the ESA OpenAPI shape.
func (d *decoder) esaTask(root *yaml.Node) *Task {
	t := &Task{}
	for native, esa := range map[string]string{"name": "TaskName", "category": "BusinessType",
		"data_center": "DataCenter", "site_id": "SiteId", "fields": "FieldName", "sampling_rate": "DiscardRate",
		"filters": "FilterRules", "destination.type": "DeliveryType", "status": "Status"} {
		d.alias(native, esa)
	}
	deliveries := map[string]*yaml.Node{}
	deliveryType := ""
	known := append(append([]string(nil), esaTopKeys...), esaExtensionKeys...)
	d.mapping(root, "", known, func(key string, v *yaml.Node, p string) {
		switch key {
		case "TaskName":
			t.Name = d.str(v, p)
		case "BusinessType":
			t.Category = d.str(v, p)
		case "DataCenter":
			t.DataCenter = d.str(v, p)
		case "DeliveryType":
			deliveryType = d.str(v, p)
		case "FieldName", "FieldList":
			if t.Fields != nil {
				d.errorf(p, "give FieldName or FieldList, not both")
				return
			}
			d.alias("fields", p)
			t.Fields = d.strList(v, p)
			if t.Fields == nil {
				t.Fields = []string{}
			}
		case "DiscardRate":
			r := d.float(v, p)
			if r < 0 || r > 1 {
				d.errorf(p, "must be a fraction from 0 to 1 (sampling rate = (1 − DiscardRate) × 100 %%), not %v", r)
				return
			}
			d.rateGiven = true
			// Round away the binary noise of (1−r)×100; two decimals are checked by Validate.
			t.SamplingRate = math.Round((1-r)*100*1e6) / 1e6
		case "FilterRules":
			t.Filters = d.conditions(v, "filters", p)
		case "SiteId":
			t.SiteID = d.int(v, p)
		case "Status":
			t.Status = d.str(v, p) // Validate checks it
		case "FilterVer", "SiteName", "Details", "RequestId":
			// metadata
		case "SlsDelivery", "OssDelivery", "S3Delivery", "HttpDelivery", "KafkaDelivery":
			deliveries[key] = v
		default: // native extension keys
			d.valueInto(v, key, fieldByTag(reflect.ValueOf(t).Elem(), key))
		}
	})
	if deliveryType == "" {
		return t // Validate reports DeliveryType: required
	}
	dt, ok := esaDeliveryTypes[deliveryType]
	if !ok {
		hint := didYouMean(deliveryType, esaDeliveryTypeNames)
		switch deliveryType {
		case "s3":
			hint = ` (ESA calls AWS S3 "aws3")`
		case "s3_compatible":
			hint = ` (ESA calls S3-compatible storage "aws3cmpt")`
		case "local":
			hint = " (the local destination exists only in the native shape)"
		}
		d.errorf("DeliveryType", "%q is not a delivery type (one of %s)%s", deliveryType,
			strings.Join(esaDeliveryTypeNames, ", "), hint)
		return t
	}
	for key := range deliveries {
		if key != dt.key {
			d.errorf(key, "not used with DeliveryType %s (which takes %s)", deliveryType, dt.key)
		}
	}
	t.Destination.Type = dt.native
	d.alias("destination", dt.key)
	for _, m := range esaMembers[dt.key] {
		d.alias("destination."+m[0], dt.key+"."+m[1])
	}
	n := d.embedded(deliveries[dt.key], dt.key)
	if n == nil {
		if _, given := deliveries[dt.key]; !given {
			d.errorf(dt.key, "required with DeliveryType %s", deliveryType)
		} else if !d.hasErrorAt(dt.key) {
			d.errorf(dt.key, "must not be empty")
		}
		return t
	}
	switch dt.key {
	case "SlsDelivery":
		t.Destination.SLS = d.esaSLS(n, dt.key)
	case "OssDelivery":
		t.Destination.OSS = d.esaOSS(n, dt.key)
	case "S3Delivery":
		t.Destination.S3 = d.esaS3(n, dt.key, dt.native == "s3_compatible")
	case "HttpDelivery":
		t.Destination.HTTP = d.esaHTTP(n, dt.key)
	case "KafkaDelivery":
		t.Destination.Kafka = d.esaKafka(n, dt.key)
	}
	return t
}

func (d *decoder) hasErrorAt(path string) bool { return d.errPaths[path] }

// fieldByTag returns the field of struct v whose yaml tag name is name.
func fieldByTag(v reflect.Value, name string) reflect.Value {
	for i := 0; i < v.NumField(); i++ {
		tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		if tag == name {
			return v.Field(i)
		}
	}
	panic("config: no field with yaml tag " + name)
}

func (d *decoder) esaSLS(n *yaml.Node, path string) *SLSDestination {
	s := &SLSDestination{}
	d.mapping(n, path, []string{"SLSProject", "SLSLogStore", "SLSRegion"}, func(key string, v *yaml.Node, p string) {
		switch key {
		case "SLSProject":
			s.Project = d.str(v, p)
		case "SLSLogStore":
			s.Logstore = d.str(v, p)
		case "SLSRegion":
			s.Region = d.str(v, p)
		}
	})
	return s
}

func (d *decoder) esaOSS(n *yaml.Node, path string) *OSSDestination {
	o := &OSSDestination{}
	d.mapping(n, path, []string{"BucketName", "Region", "PrefixPath", "Aliuid"}, func(key string, v *yaml.Node, p string) {
		switch key {
		case "BucketName":
			o.Bucket = d.str(v, p)
		case "Region":
			o.Region = d.str(v, p)
		case "PrefixPath":
			o.Prefix = d.str(v, p)
		case "Aliuid":
			o.AliUID = d.str(v, p)
		}
	})
	return o
}

func (d *decoder) esaS3(n *yaml.Node, path string, compatible bool) *S3Destination {
	s := &S3Destination{}
	prefix := ""
	d.mapping(n, path, []string{"BucketPath", "PrefixPath", "Region", "Endpoint", "AccessKey", "SecretKey",
		"S3Cmpt", "ServerSideEncryption", "VertifyType"}, func(key string, v *yaml.Node, p string) {
		switch key {
		case "BucketPath":
			s.BucketPath = d.str(v, p)
		case "PrefixPath":
			prefix = d.str(v, p)
		case "Region":
			s.Region = d.str(v, p)
		case "Endpoint":
			s.Endpoint = d.str(v, p)
		case "AccessKey":
			s.AccessKeyID = d.str(v, p)
		case "SecretKey":
			s.SecretAccessKey = d.str(v, p)
		case "S3Cmpt":
			if isNull(v) {
				return
			}
			if cmpt := d.bool(v, p); cmpt != compatible {
				if cmpt {
					d.errorf(p, "true means an S3-compatible store: use DeliveryType aws3cmpt")
				} else {
					d.errorf(p, "false contradicts DeliveryType aws3cmpt")
				}
			}
		case "ServerSideEncryption":
			if d.bool(v, p) {
				s.ServerSideEncryption = "AES256"
			}
		case "VertifyType":
			d.str(v, p) // ESA's ownership check mode; here ownership_token proves ownership
		}
	})
	s.BucketPath = joinBucketPath(s.BucketPath, prefix)
	return s
}

// joinBucketPath appends ESA's PrefixPath to BucketPath unless BucketPath already ends with it.
func joinBucketPath(bucketPath, prefix string) string {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return bucketPath
	}
	bp := strings.TrimSuffix(bucketPath, "/")
	if bp == "" || bp == prefix || strings.HasSuffix(bp, "/"+prefix) {
		if bp == "" {
			return bucketPath
		}
		return bp
	}
	return bp + "/" + prefix
}

func (d *decoder) esaHTTP(n *yaml.Node, path string) *HTTPDestination {
	h := &HTTPDestination{}
	var authOn *bool
	var auth *HTTPAuth
	d.mapping(n, path, []string{"DestUrl", "Compress", "StandardAuthOn", "StandardAuthParam", "HeaderParam",
		"QueryParam", "LogBodyPrefix", "LogBodySuffix", "LogSplit", "LogSplitWords", "LastLogSplit",
		"MaxBatchSize", "MaxBatchMB", "MaxRetry", "TransformTimeout"}, func(key string, v *yaml.Node, p string) {
		switch key {
		case "DestUrl":
			h.URL = d.str(v, p)
		case "Compress":
			h.Compression = d.str(v, p)
		case "StandardAuthOn":
			authOn = d.boolPtr(v, p)
		case "StandardAuthParam":
			a := &HTTPAuth{}
			if d.mapping(d.embedded(v, p), p, []string{"PrivateKey", "ExpiredTime", "UrlPath"}, func(key string, v *yaml.Node, p string) {
				switch key {
				case "PrivateKey":
					a.PrivateKey = d.str(v, p)
				case "ExpiredTime":
					a.ExpiredTime = d.int(v, p)
				case "UrlPath":
					a.URLPath = d.str(v, p)
				}
			}) {
				auth = a
			}
		case "HeaderParam":
			h.Headers = d.esaParams(v, p)
		case "QueryParam":
			h.Query = d.esaParams(v, p)
		case "LogBodyPrefix":
			h.BodyPrefix = d.str(v, p)
		case "LogBodySuffix":
			h.BodySuffix = d.str(v, p)
		case "LogSplit":
			h.Split = d.boolPtr(v, p)
		case "LogSplitWords":
			h.SplitWords = d.str(v, p)
		case "LastLogSplit":
			h.LastSplit = d.boolPtr(v, p)
		case "MaxBatchSize":
			h.MaxBatchSize = int(d.int(v, p))
		case "MaxBatchMB":
			h.MaxBatchMB = d.float(v, p)
		case "MaxRetry":
			if !isNull(v) {
				r := int(d.int(v, p))
				h.MaxRetry = &r
			}
		case "TransformTimeout":
			h.Timeout = int(d.int(v, p))
		}
	})
	switch {
	case authOn != nil && !*authOn:
		// authentication off: StandardAuthParam is kept by ESA but unused
	case auth != nil:
		h.Auth = auth
	case authOn != nil && *authOn:
		d.errorf(joinPath(path, "StandardAuthParam"), "required when StandardAuthOn is true")
	}
	return h
}

// esaParams decodes HeaderParam/QueryParam: {name: {StaticValue: v}} (or {name: v}).
func (d *decoder) esaParams(n *yaml.Node, path string) map[string]string {
	n = d.embedded(n, path)
	out := map[string]string{}
	if !d.mapping(n, path, keys(n), func(key string, v *yaml.Node, p string) {
		if s := resolve(v); s != nil && s.Kind == yaml.ScalarNode {
			out[key] = d.str(s, p)
			return
		}
		d.mapping(v, p, []string{"StaticValue"}, func(_ string, v *yaml.Node, p string) {
			out[key] = d.str(v, p)
		})
	}) {
		return nil
	}
	return out
}

func (d *decoder) esaKafka(n *yaml.Node, path string) *KafkaDestination {
	k := &KafkaDestination{}
	var userAuth *bool
	sasl := &SASL{}
	d.mapping(n, path, []string{"Topic", "Brokers", "Compress", "UserAuth", "MachanismType", "UserName",
		"Password", "Balancer"}, func(key string, v *yaml.Node, p string) {
		switch key {
		case "Topic":
			k.Topic = d.str(v, p)
		case "Brokers":
			k.Brokers = d.strList(v, p)
		case "Compress":
			k.Compression = d.str(v, p)
		case "UserAuth":
			userAuth = d.boolPtr(v, p)
		case "MachanismType":
			sasl.Mechanism = d.str(v, p)
		case "UserName":
			sasl.Username = d.str(v, p)
		case "Password":
			sasl.Password = d.str(v, p)
		case "Balancer":
			k.Balancer = d.str(v, p)
		}
	})
	switch {
	case userAuth != nil && !*userAuth:
	case userAuth != nil && *userAuth, *sasl != SASL{}:
		k.SASL = sasl
	}
	return k
}
