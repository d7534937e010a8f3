package delivery

import (
	"fmt"
	"time"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
)

// Batch policy defaults (docs/destinations.md#batching), defined once in config: for the stream
// destinations (HTTP, Kafka, SLS) and for object storage (OSS, S3, S3-compatible, the local directory).
const (
	StreamBatchCount  = config.DefaultStreamBatchCount
	StreamBatchBytes  = config.DefaultStreamBatchBytes
	StreamBatchPeriod = config.DefaultStreamBatchPeriod
	ObjectBatchCount  = config.DefaultObjectBatchCount
	ObjectBatchBytes  = config.DefaultObjectBatchBytes
	ObjectBatchPeriod = config.DefaultObjectBatchPeriod
	// MinBatchPeriod is the shortest batching period an esa_* output accepts in a Benthos config (task
	// definitions have a stricter minimum, config.MinBatchPeriod).
	MinBatchPeriod = time.Millisecond
)

// StreamBatching reads the `batching` field of a stream output: a zero count, byte size or period
// takes the stream default, and the flush-marker check is added (WithFlushCheck).
func StreamBatching(conf *service.ParsedConfig) (service.BatchPolicy, error) {
	return batching(conf, StreamBatchCount, StreamBatchBytes, StreamBatchPeriod)
}

// ObjectBatching is StreamBatching with the object-storage defaults.
func ObjectBatching(conf *service.ParsedConfig) (service.BatchPolicy, error) {
	return batching(conf, ObjectBatchCount, ObjectBatchBytes, ObjectBatchPeriod)
}

func batching(conf *service.ParsedConfig, count, bytes int, period string) (service.BatchPolicy, error) {
	pol, err := conf.FieldBatchPolicy("batching")
	if err != nil {
		return pol, err
	}
	if pol.Count == 0 {
		pol.Count = count
	}
	if pol.ByteSize == 0 {
		pol.ByteSize = bytes
	}
	if pol.Period == "" {
		pol.Period = period
	}
	if d, err := time.ParseDuration(pol.Period); err != nil {
		return pol, fmt.Errorf("batching.period: %w", err)
	} else if d < MinBatchPeriod {
		return pol, fmt.Errorf("batching.period: %s is below the minimum of %s (a shorter period only burns CPU)", pol.Period, MinBatchPeriod)
	}
	return pipeline.WithFlushCheck(pol), nil
}

// RegisterObjectOutput registers an object-storage output on env: newOutput builds it from its parsed
// config; its batch policy is ObjectBatching's and its max_in_flight the config's.
func RegisterObjectOutput(env *service.Environment, name string, spec *service.ConfigSpec,
	newOutput func(*service.ParsedConfig, *service.Resources) (service.BatchOutput, error)) error {
	return env.RegisterBatchOutput(name, spec, func(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
		o, err := newOutput(conf, res)
		if err != nil {
			return nil, service.BatchPolicy{}, 0, fmt.Errorf("%s: %w", name, err)
		}
		pol, err := ObjectBatching(conf)
		if err != nil {
			return nil, pol, 0, err
		}
		mif, err := conf.FieldMaxInFlight()
		if err != nil {
			return nil, pol, 0, err
		}
		return o, pol, mif, nil
	})
}
