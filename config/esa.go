package config

import (
	"math"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// The ESA OpenAPI shape (docs/task.md#esas-openapi-shape) comes in two forms, told apart by nothing but their keys:
//
//   - A create request: the parameters of CreateSiteDeliveryTask / CreateUserDeliveryTask as ESA's SDK
//     (github.com/alibabacloud-go/esa-20240910/v3) sends them: TaskName, BusinessType, DataCenter,
//     DeliveryType, FieldName, DiscardRate, FilterRules, FilterVer, SiteId, Details and the delivery
//     object of the DeliveryType (SlsDelivery, OssDelivery, S3Delivery, HttpDelivery, KafkaDelivery).
//   - An export: the body of GetSiteDeliveryTask / GetUserDeliveryTask as it is (ExportESA writes
//     one): FieldList instead of FieldName, FilterRules as a JSON string, Status, SiteName, RawRule,
//     RequestId, and SinkConfig, which holds the delivery object's members for the DeliveryType.
//
// Keys of both forms may be mixed, but a destination is given once: SinkConfig together with the
// delivery object of the DeliveryType is an error. Besides ESA's keys, the native keys source, output,
// dead_letter, buffer, ownership_token, sample_key and custom_fields are accepted (ESA has no
// equivalent).
//
// Mapping decisions:
//   - DiscardRate d (a fraction) becomes sampling_rate (1−d)×100.
//   - FieldName (or FieldList) is a comma-separated list; a YAML/JSON list is accepted too.
//   - FilterRules is a list of conditions or a JSON string of one (ESA's filter form, see
//     ParseESAFilter); an empty list is no filter.
//   - The delivery object and SinkConfig are objects or JSON strings of one.
//   - S3Delivery.BucketPath and PrefixPath are joined into bucket_path (PrefixPath is not repeated
//     when BucketPath already ends with it); ServerSideEncryption true means "AES256"; S3Cmpt must
//     agree with DeliveryType (aws3cmpt); VertifyType is accepted and ignored (ownership is proved by
//     ownership_token, docs/destinations.md#ownership-verification).
//   - HttpDelivery.StandardAuthParam is used when StandardAuthOn is true or absent; HeaderParam and
//     QueryParam values are {StaticValue: v} objects (a bare string is accepted too).
//   - KafkaDelivery.UserName/Password/MachanismType become sasl when UserAuth is true or absent and a
//     user name is given; Balancer "kafka.X" becomes "X".
//   - DeliveryType local is esa-connect's own destination, which ESA lacks: it comes only from an
//     export, as SinkConfig {"Path": dir}.
//   - Status (online or offline) is kept in Task.Status (run ignores it). FilterVer, SiteName, Details
//     and RequestId are metadata and ignored. RawRule is not read: a RawRule that holds a rule is
//     refused unless FilterRules is given too, so that a filter is never dropped unnoticed.
//   - A secret that is ESASecretMask ("******", what an export shows in place of a secret) is refused
//     by Validate at its path: the export does not carry the secret, which the task file must give,
//     literally or as an ${ENV_VAR} reference.

// esaExtensionKeys are the native keys accepted in the ESA shape.
var esaExtensionKeys = []string{"source", "output", "dead_letter", "buffer", "ownership_token", "sample_key", "custom_fields",
	"transforms", "log4shell_guard"}

// objectExtensionKeys are the extension keys whose value is an object: in the ESA shape they may
// also be given as a JSON string of one (as a form parameter of ESA's API carries an object).
var objectExtensionKeys = map[string]bool{"source": true, "output": true, "dead_letter": true, "buffer": true, "custom_fields": true}

// esaTask decodes the ESA OpenAPI shape.
func (d *decoder) esaTask(root *yaml.Node) *Task {
	t := &Task{}
	for native, esa := range map[string]string{"name": "TaskName", "category": "BusinessType",
		"data_center": "DataCenter", "site_id": "SiteId", "fields": "FieldName", "sampling_rate": "DiscardRate",
		"filters": "FilterRules", "destination.type": "DeliveryType", "status": "Status"} {
		d.alias(native, esa)
	}
	deliveries := map[string]*yaml.Node{}
	var sinkConfig, rawRule *yaml.Node
	sinkGiven, filtersGiven := false, false
	deliveryType := ""
	known := append(esaTopKeys(), esaExtensionKeys...)
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
			filtersGiven = true
			t.Filters = d.conditions(v, "filters", p)
		case "RawRule":
			rawRule = v
		case "SiteId":
			t.SiteID = d.int(v, p)
		case "Status":
			t.Status = d.str(v, p) // Validate checks it
		case "FilterVer", "SiteName", "Details", "RequestId":
			// metadata
		case "SinkConfig":
			sinkConfig, sinkGiven = v, true
		case "SlsDelivery", "OssDelivery", "S3Delivery", "HttpDelivery", "KafkaDelivery":
			deliveries[key] = v
		default: // native extension keys
			if objectExtensionKeys[key] {
				// Objects may come as JSON strings, as ESA's form parameters carry objects.
				if v = d.embedded(v, p); v == nil {
					return
				}
			}
			d.valueInto(v, key, fieldByTag(reflect.ValueOf(t).Elem(), key))
		}
	})
	if !filtersGiven && !emptyRule(rawRule) {
		d.errorf("RawRule", "esa-connect does not read RawRule and this definition has no FilterRules: give the "+
			"filter as FilterRules (ESA's JSON filter form) so that it is not lost")
	}
	if deliveryType == "" {
		return t // Validate reports DeliveryType: required
	}
	dt, ok := LookupESADeliveryType(deliveryType)
	if !ok {
		hint := didYouMean(deliveryType, esaDeliveryTypeNames())
		switch deliveryType {
		case "s3":
			hint = ` (ESA calls AWS S3 "aws3")`
		case "s3_compatible":
			hint = ` (ESA calls S3-compatible storage "aws3cmpt")`
		}
		d.errorf("DeliveryType", "%q is not a delivery type (one of %s)%s", deliveryType,
			strings.Join(esaDeliveryTypeNames(), ", "), hint)
		return t
	}
	for key := range deliveries {
		if key != dt.ESAObject {
			d.errorf(key, "not used with DeliveryType %s (which takes %s)", deliveryType, dt.ESAParameter())
		}
	}
	// The destination is the create request's delivery object, or the SinkConfig of an export, which
	// holds the same members.
	from, n := dt.ESAObject, deliveries[dt.ESAObject]
	if _, given := deliveries[dt.ESAObject]; given && sinkGiven {
		d.errorf("SinkConfig", "give %s (as CreateSiteDeliveryTask takes it) or SinkConfig (as GetSiteDeliveryTask "+
			"returns it), not both", dt.ESAObject)
		// The delivery object is decoded and checked still.
	} else if sinkGiven || dt.ESAObject == "" {
		from, n = "SinkConfig", sinkConfig
	}
	t.Destination.Type = dt.Type
	d.alias("destination", from)
	for _, m := range dt.esaMembers {
		d.alias("destination."+m[0], from+"."+m[1])
	}
	given := sinkGiven
	if from != "SinkConfig" {
		_, given = deliveries[from]
	}
	n = d.embedded(n, from)
	if n == nil {
		switch {
		case !given && dt.ESAObject == "":
			d.errorf("SinkConfig", "required with DeliveryType %s (ESA has no %s delivery: only the export of an "+
				"esa-connect task has one)", deliveryType, deliveryType)
		case !given:
			d.errorf(dt.ESAObject, "required with DeliveryType %s (or SinkConfig, as GetSiteDeliveryTask returns it)", deliveryType)
		case !d.hasErrorAt(from):
			d.errorf(from, "must not be empty")
		}
		return t
	}
	dt.decodeESA(d, &t.Destination, n, from)
	return t
}

// emptyRule reports whether a RawRule value holds no rule: absent, null, blank, or an empty JSON list
// or object (as text or as a value).
func emptyRule(n *yaml.Node) bool {
	n = resolve(n)
	if isNull(n) {
		return true
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch strings.Join(strings.Fields(n.Value), "") {
		case "", "[]", "{}", "null":
			return true
		}
	case yaml.SequenceNode, yaml.MappingNode:
		return len(n.Content) == 0
	}
	return false
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

// esaLocal decodes the SinkConfig {"Path": dir} of an exported local destination.
func (d *decoder) esaLocal(n *yaml.Node, path string) *LocalDestination {
	l := &LocalDestination{}
	d.mapping(n, path, []string{"Path"}, func(_ string, v *yaml.Node, p string) {
		l.Path = d.str(v, p)
	})
	return l
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
