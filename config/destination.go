package config

import (
	"slices"

	"gopkg.in/yaml.v3"
)

// DestinationKind is what esa-connect knows about one destination type, written once: decoding (both
// shapes), the defaults, Validate, the ESA mapping (Load and ExportESA) and the translator read it
// through LookupDestinationKind and the methods of Destination (Kind, IsObjectStore, BatchPolicy,
// MaxInFlight, Objects).
//
// Adding a destination adds a row to destinationKinds, its parameter type (a field of Destination
// implementing destinationParams: its batching, max_in_flight, validation and ESA export) and its
// translation function in package translate (translate's outputs table; a test there checks that
// every kind has one).
type DestinationKind struct {
	// Type is the destination type, as Destination.Type holds it (sls, oss, s3, …).
	Type string
	// ESAType is ESA's DeliveryType of the destination (aws3 for s3, aws3cmpt for s3_compatible).
	ESAType string
	// ESAObject is the key of the delivery object of ESA's create request that holds the parameters
	// (SlsDelivery, …); empty when ESA has none (local: only the SinkConfig of an export carries it).
	ESAObject string
	// Object says the destination stores objects (local, oss, s3, s3_compatible): it takes the object
	// batch defaults, the encoding, compression and partition options, and esa_fields bundles records
	// for it; a remote store that refuses an object hands its records to the dead letter.
	Object bool
	// DefaultMaxInFlight is the max_in_flight of the destination's output when the task gives none
	// (the esa_* outputs hold the same number as their config default: an agreement test in
	// tests/unit compares them).
	DefaultMaxInFlight int
	// Ownership says the destination takes an ownership_token (docs/destinations.md#ownership-verification).
	Ownership bool
	// Retry is what a task's retry policy may set for the destination: everything for the HTTP
	// destinations (http and the object stores that answer HTTP statuses), the timing for those that
	// retry by their own error codes (sls, kafka), nothing for local (a failed write fails its batch at
	// once; the source sends it again).
	Retry RetryScope

	// esaMembers maps the native keys of the parameters to ESA's member names (of the delivery object
	// and of an export's SinkConfig), so that problems are reported at the path the user wrote.
	esaMembers [][2]string
	// params returns the destination's parameter block, nil when it is not set.
	params func(d *Destination) destinationParams
	// newParams sets a new, empty parameter block on d and returns it (native decoding).
	newParams func(d *Destination) any
	// decodeESA decodes ESA's delivery object (or SinkConfig) n at path into d.
	decodeESA func(dec *decoder, d *Destination, n *yaml.Node, path string)
}

// RetryScope is what a task's retry policy may set for a destination.
type RetryScope int

const (
	// RetryNone: the destination retries by its own rules; a task's retry is refused.
	RetryNone RetryScope = iota
	// RetryTiming: max_elapsed and max_backoff apply, on_status does not (the destination retries by
	// its own error codes).
	RetryTiming
	// RetryAll: on_status, max_elapsed and max_backoff apply.
	RetryAll
)

// destinationParams is a destination's parameter block (SLSDestination, OSSDestination, …): what the
// shared code asks of every destination.
type destinationParams interface {
	// batching is the task's batching override, nil when it gives none.
	batching() *Batching
	// maxInFlight is the task's max_in_flight, 0 when it gives none.
	maxInFlight() int
	// check validates the parameters of a destination of type typ at "destination".
	check(v *validator, typ string)
	// exportESA adds the members of ESA's SinkConfig to s (ExportESA).
	exportESA(s sink, typ string)
}

// objectParams is the parameter block of an object destination.
type objectParams interface {
	destinationParams
	objectOptions() ObjectOptions
}

// block returns p as destinationParams, or nil when p is a nil pointer.
func block[T any, P interface {
	*T
	destinationParams
}](p P) destinationParams {
	if p == nil {
		return nil
	}
	return p
}

var (
	esaS3Members = [][2]string{{"bucket_path", "BucketPath"}, {"region", "Region"}, {"endpoint", "Endpoint"},
		{"access_key_id", "AccessKey"}, {"secret_access_key", "SecretKey"},
		{"server_side_encryption", "ServerSideEncryption"}}
	s3Params    = func(d *Destination) destinationParams { return block(d.S3) }
	s3NewParams = func(d *Destination) any { d.S3 = &S3Destination{}; return d.S3 }
)

// destinationKinds are the destination types, in documentation order.
var destinationKinds = []DestinationKind{
	{
		Type: "sls", ESAType: "sls", ESAObject: "SlsDelivery", DefaultMaxInFlight: 8, Retry: RetryTiming,
		esaMembers: [][2]string{{"project", "SLSProject"}, {"logstore", "SLSLogStore"}, {"region", "SLSRegion"}},
		params:     func(d *Destination) destinationParams { return block(d.SLS) },
		newParams:  func(d *Destination) any { d.SLS = &SLSDestination{}; return d.SLS },
		decodeESA:  func(dec *decoder, d *Destination, n *yaml.Node, p string) { d.SLS = dec.esaSLS(n, p) },
	},
	{
		Type: "oss", ESAType: "oss", ESAObject: "OssDelivery", Object: true, DefaultMaxInFlight: 1, Retry: RetryAll,
		esaMembers: [][2]string{{"bucket", "BucketName"}, {"region", "Region"}, {"prefix", "PrefixPath"}, {"aliuid", "Aliuid"}},
		params:     func(d *Destination) destinationParams { return block(d.OSS) },
		newParams:  func(d *Destination) any { d.OSS = &OSSDestination{}; return d.OSS },
		decodeESA:  func(dec *decoder, d *Destination, n *yaml.Node, p string) { d.OSS = dec.esaOSS(n, p) },
	},
	{
		Type: "s3", ESAType: "aws3", ESAObject: "S3Delivery", Object: true, DefaultMaxInFlight: 1, Ownership: true, Retry: RetryAll,
		esaMembers: esaS3Members, params: s3Params, newParams: s3NewParams,
		decodeESA: func(dec *decoder, d *Destination, n *yaml.Node, p string) { d.S3 = dec.esaS3(n, p, false) },
	},
	{
		Type: "s3_compatible", ESAType: "aws3cmpt", ESAObject: "S3Delivery", Object: true, DefaultMaxInFlight: 1, Ownership: true,
		Retry:      RetryAll,
		esaMembers: esaS3Members, params: s3Params, newParams: s3NewParams,
		decodeESA: func(dec *decoder, d *Destination, n *yaml.Node, p string) { d.S3 = dec.esaS3(n, p, true) },
	},
	{
		Type: "http", ESAType: "http", ESAObject: "HttpDelivery", DefaultMaxInFlight: 8, Retry: RetryAll,
		esaMembers: [][2]string{{"url", "DestUrl"}, {"compression", "Compress"}, {"auth", "StandardAuthParam"},
			{"auth.private_key", "StandardAuthParam.PrivateKey"}, {"auth.expired_time", "StandardAuthParam.ExpiredTime"},
			{"auth.url_path", "StandardAuthParam.UrlPath"}, {"headers", "HeaderParam"}, {"query", "QueryParam"},
			{"body_prefix", "LogBodyPrefix"}, {"body_suffix", "LogBodySuffix"}, {"split", "LogSplit"},
			{"split_words", "LogSplitWords"}, {"last_split", "LastLogSplit"}, {"max_batch_size", "MaxBatchSize"},
			{"max_batch_mb", "MaxBatchMB"}, {"max_retry", "MaxRetry"}, {"timeout", "TransformTimeout"}},
		params:    func(d *Destination) destinationParams { return block(d.HTTP) },
		newParams: func(d *Destination) any { d.HTTP = &HTTPDestination{}; return d.HTTP },
		decodeESA: func(dec *decoder, d *Destination, n *yaml.Node, p string) { d.HTTP = dec.esaHTTP(n, p) },
	},
	{
		Type: "kafka", ESAType: "kafka", ESAObject: "KafkaDelivery", DefaultMaxInFlight: 16, Retry: RetryTiming,
		esaMembers: [][2]string{{"topic", "Topic"}, {"brokers", "Brokers"}, {"compression", "Compress"},
			{"sasl", "UserAuth"}, {"sasl.mechanism", "MachanismType"}, {"sasl.username", "UserName"},
			{"sasl.password", "Password"}, {"balancer", "Balancer"}},
		params:    func(d *Destination) destinationParams { return block(d.Kafka) },
		newParams: func(d *Destination) any { d.Kafka = &KafkaDestination{}; return d.Kafka },
		decodeESA: func(dec *decoder, d *Destination, n *yaml.Node, p string) { d.Kafka = dec.esaKafka(n, p) },
	},
	{
		Type: "local", ESAType: "local", Object: true, DefaultMaxInFlight: 1,
		esaMembers: [][2]string{{"path", "Path"}},
		params:     func(d *Destination) destinationParams { return block(d.Local) },
		newParams:  func(d *Destination) any { d.Local = &LocalDestination{}; return d.Local },
		decodeESA:  func(dec *decoder, d *Destination, n *yaml.Node, p string) { d.Local = dec.esaLocal(n, p) },
	},
}

// RetryTypes returns the destination types whose retry policy may set at least scope, in
// documentation order.
func RetryTypes(scope RetryScope) []string {
	var out []string
	for _, k := range destinationKinds {
		if k.Retry >= scope && scope > RetryNone {
			out = append(out, k.Type)
		}
	}
	return out
}

// DestinationKinds returns every destination kind, in documentation order.
func DestinationKinds() []DestinationKind { return slices.Clone(destinationKinds) }

// LookupDestinationKind returns the kind of the destination type typ (sls, oss, s3, s3_compatible,
// http, kafka, local).
func LookupDestinationKind(typ string) (DestinationKind, bool) {
	for _, k := range destinationKinds {
		if k.Type == typ {
			return k, true
		}
	}
	return DestinationKind{}, false
}

// LookupESADeliveryType returns the kind whose ESA DeliveryType is name (aws3 for s3, …).
func LookupESADeliveryType(name string) (DestinationKind, bool) {
	for _, k := range destinationKinds {
		if k.ESAType == name {
			return k, true
		}
	}
	return DestinationKind{}, false
}

// ESAParameter is the parameter of ESA's create request that holds the kind's parameters: ESAObject,
// or SinkConfig when ESA has no delivery object for it (local).
func (k DestinationKind) ESAParameter() string {
	if k.ESAObject == "" {
		return "SinkConfig"
	}
	return k.ESAObject
}

// ESADeliveryParameters are the parameters of ESA's requests that hold a destination's settings, one
// per DeliveryType (SlsDelivery, …, SinkConfig), each once, in the order of the kinds.
func ESADeliveryParameters() []string {
	var out []string
	for _, k := range destinationKinds {
		if p := k.ESAParameter(); !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// destinationTypes are the destination types, in documentation order.
func destinationTypes() []string {
	out := make([]string, len(destinationKinds))
	for i, k := range destinationKinds {
		out[i] = k.Type
	}
	return out
}

// esaDeliveryTypeNames are ESA's DeliveryTypes, in documentation order.
func esaDeliveryTypeNames() []string {
	out := make([]string, len(destinationKinds))
	for i, k := range destinationKinds {
		out[i] = k.ESAType
	}
	return out
}

// BatchDefaults is the batch policy of the kind's output when the task overrides nothing
// (docs/destinations.md#batching): DefaultObjectBatch* for the object stores, DefaultStreamBatch*
// for the others.
func (k DestinationKind) BatchDefaults() Batching {
	if k.Object {
		return Batching{Count: DefaultObjectBatchCount, ByteSize: DefaultObjectBatchBytes, Period: DefaultObjectBatchPeriod}
	}
	return Batching{Count: DefaultStreamBatchCount, ByteSize: DefaultStreamBatchBytes, Period: DefaultStreamBatchPeriod}
}

// Kind returns the kind of d's type, and false for a type esa-connect does not know.
func (d Destination) Kind() (DestinationKind, bool) { return LookupDestinationKind(d.Type) }

// IsObjectStore reports whether d stores objects (local, oss, s3, s3_compatible).
func (d Destination) IsObjectStore() bool {
	k, _ := d.Kind()
	return k.Object
}

// params returns d's parameter block, nil when d's type is unknown or its block is not set.
func (d *Destination) params() destinationParams {
	k, ok := d.Kind()
	if !ok {
		return nil
	}
	return k.params(d)
}

// HasParams reports whether d's type is known and its parameter block (SLS for sls, S3 for s3 and
// s3_compatible, …) is set, as Validate requires.
func (d Destination) HasParams() bool { return d.params() != nil }

// BatchPolicy returns the batch policy of d's output: its kind's BatchDefaults with the task's
// non-zero batching values in their place (for http: max_batch_size, max_batch_mb and period).
func (d Destination) BatchPolicy() Batching {
	k, _ := d.Kind()
	b := k.BatchDefaults()
	p := d.params()
	if p == nil {
		return b
	}
	if o := p.batching(); o != nil {
		if o.Count > 0 {
			b.Count = o.Count
		}
		if o.ByteSize > 0 {
			b.ByteSize = o.ByteSize
		}
		if o.Period != "" {
			b.Period = o.Period
		}
	}
	return b
}

// MaxInFlight returns the max_in_flight that the task gives d, 0 when it gives none (the output's
// default, Kind().DefaultMaxInFlight, applies then).
func (d Destination) MaxInFlight() int {
	if p := d.params(); p != nil {
		return p.maxInFlight()
	}
	return 0
}

// Objects returns the object options of d, and false when d is not an object destination (local, oss,
// s3, s3_compatible) or its parameters are missing.
func (d Destination) Objects() (ObjectOptions, bool) {
	if !d.IsObjectStore() {
		return ObjectOptions{}, false
	}
	if o, ok := d.params().(objectParams); ok {
		return o.objectOptions(), true
	}
	return ObjectOptions{}, false
}

func (s *SLSDestination) batching() *Batching { return s.Batching }
func (s *SLSDestination) maxInFlight() int    { return s.MaxInFlight }

func (o *OSSDestination) batching() *Batching { return o.Batching }
func (o *OSSDestination) maxInFlight() int    { return o.MaxInFlight }
func (o *OSSDestination) objectOptions() ObjectOptions {
	return ObjectOptions{o.Compression, o.CompressionLevel, o.Partition}
}

func (s *S3Destination) batching() *Batching { return s.Batching }
func (s *S3Destination) maxInFlight() int    { return s.MaxInFlight }
func (s *S3Destination) objectOptions() ObjectOptions {
	return ObjectOptions{s.Compression, s.CompressionLevel, s.Partition}
}

// batching is the HTTP destination's own batch settings (ESA's MaxBatchSize and MaxBatchMB, period)
// as a batching override.
func (h *HTTPDestination) batching() *Batching {
	return &Batching{Count: h.MaxBatchSize, ByteSize: int(h.MaxBatchMB * (1 << 20)), Period: h.Period}
}
func (h *HTTPDestination) maxInFlight() int { return h.MaxInFlight }

func (k *KafkaDestination) batching() *Batching { return k.Batching }
func (k *KafkaDestination) maxInFlight() int    { return k.MaxInFlight }

func (l *LocalDestination) batching() *Batching { return l.Batching }

// maxInFlight is 0: the local destination has no max_in_flight setting.
func (l *LocalDestination) maxInFlight() int { return 0 }
func (l *LocalDestination) objectOptions() ObjectOptions {
	return ObjectOptions{l.Compression, l.CompressionLevel, l.Partition}
}
