package config

import (
	"strings"
	"testing"
)

// TestLoadFillsDefaults is why nothing after Load applies a default again (translate reads the
// sampling rate, the source type and the HTTP source's address and path, the output format and the
// timestamp format as they are): Load fills them in both shapes for every source, and a Task that
// only passed Validate cannot lack the rate or the source type.
func TestLoadFillsDefaults(t *testing.T) {
	defs := map[string]string{
		"native":                native(""),
		"native, null rate":     native("sampling_rate: null\noutput: {}\n"),
		"native, empty source":  native("source: {}\n"),
		"native, http source":   native("source: {type: http}\n"),
		"native, kafka source":  native("source: {type: kafka, brokers: ['k:1'], topics: [t], group: g}\n"),
		"native, file source":   native("source: {type: file, paths: [a.ndjson]}\n"),
		"native, stdin source":  native("source: {type: stdin}\n"),
		"native, generate":      native("source: {type: generate}\n"),
		"native, benthos":       native("source: {type: benthos, config: {stdin: {}}}\n"),
		"ESA create request":    esaDef(`"DeliveryType":"http","HttpDelivery":{"DestUrl":"http://h/"}`),
		"ESA export":            esaDef(`"DeliveryType":"sls","SinkConfig":{"SLSProject":"p","SLSLogStore":"l","SLSRegion":"r"}`),
		"ESA with an extension": esaDef(`"DeliveryType":"local","SinkConfig":{"Path":"o"},"source":"{\"type\":\"stdin\"}","output":{}`),
	}
	for name, def := range defs {
		task, err := Load([]byte(def))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if task.SamplingRate != 100 {
			t.Errorf("%s: sampling_rate %v", name, task.SamplingRate)
		}
		if task.Output.Format != "ndjson" || task.Output.TimestampFormat != "rfc3339" {
			t.Errorf("%s: output %+v", name, task.Output)
		}
		switch s := task.Source; {
		case s.Type == "":
			t.Errorf("%s: no source type", name)
		case s.Type == "http" && (s.HTTP == nil || s.HTTP.Address != DefaultIngestAddress || s.HTTP.Path != DefaultIngestPath):
			t.Errorf("%s: http source %+v", name, s.HTTP)
		case s.Type == "kafka" && s.Kafka.StartOffset != "earliest":
			t.Errorf("%s: kafka source %+v", name, s.Kafka)
		}
	}
	task, err := Load([]byte(native("")))
	if err != nil {
		t.Fatal(err)
	}
	task.SamplingRate, task.Source = 0, Source{}
	errs := Validate(task).Error()
	if !strings.Contains(errs, "sampling_rate:") || !strings.Contains(errs, "source.type: required") {
		t.Errorf("Validate of a task without rate and source: %v", errs)
	}
}
