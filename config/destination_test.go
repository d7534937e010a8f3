package config

import (
	"slices"
	"testing"
)

// TestDestinationKinds checks the table of destination kinds against itself: names are unique, each
// kind's parameter block is set by newParams and read back by params, and a kind is an object store
// exactly when its block has object options.
func TestDestinationKinds(t *testing.T) {
	types, esaTypes := map[string]bool{}, map[string]bool{}
	for _, k := range DestinationKinds() {
		if types[k.Type] || esaTypes[k.ESAType] {
			t.Errorf("%s: type or ESA type %q listed twice", k.Type, k.ESAType)
		}
		types[k.Type], esaTypes[k.ESAType] = true, true
		if k.DefaultMaxInFlight < 1 || k.DefaultMaxInFlight > MaxInFlightLimit {
			t.Errorf("%s: default max_in_flight %d", k.Type, k.DefaultMaxInFlight)
		}
		d := Destination{Type: k.Type}
		if d.HasParams() || d.MaxInFlight() != 0 || d.BatchPolicy() != k.BatchDefaults() {
			t.Errorf("%s: a destination without parameters has parameters", k.Type)
		}
		if _, ok := d.Objects(); ok {
			t.Errorf("%s: a destination without parameters has object options", k.Type)
		}
		k.newParams(&d)
		if !d.HasParams() {
			t.Errorf("%s: newParams sets no block that params reads", k.Type)
		}
		if _, ok := d.Objects(); ok != k.Object || d.IsObjectStore() != k.Object {
			t.Errorf("%s: Object is %v, the block's object options %v", k.Type, k.Object, ok)
		}
		for _, m := range k.esaMembers {
			if m[0] == "" || m[1] == "" {
				t.Errorf("%s: empty ESA member mapping %v", k.Type, m)
			}
		}
		if got, ok := LookupESADeliveryType(k.ESAType); !ok || got.Type != k.Type {
			t.Errorf("%s: ESA type %q does not map back", k.Type, k.ESAType)
		}
	}
	if want := []string{"sls", "oss", "s3", "s3_compatible", "http", "kafka", "local"}; !slices.Equal(destinationTypes(), want) {
		t.Errorf("destination types %v, want %v (documentation order)", destinationTypes(), want)
	}
	if _, ok := LookupDestinationKind("zzz"); ok {
		t.Error("an unknown type has a kind")
	}
}

// TestBatchPolicy checks that a task's batching values replace the defaults one by one, and that the
// HTTP destination's own settings (max_batch_size, max_batch_mb, period) are its batching.
func TestBatchPolicy(t *testing.T) {
	cases := []struct {
		d    Destination
		want Batching
	}{
		{Destination{Type: "local", Local: &LocalDestination{}}, Batching{DefaultObjectBatchCount, DefaultObjectBatchBytes, DefaultObjectBatchPeriod}},
		{Destination{Type: "kafka", Kafka: &KafkaDestination{Batching: &Batching{Count: 7}}}, Batching{7, DefaultStreamBatchBytes, DefaultStreamBatchPeriod}},
		{Destination{Type: "s3", S3: &S3Destination{Batching: &Batching{ByteSize: 2048, Period: "1s"}}}, Batching{DefaultObjectBatchCount, 2048, "1s"}},
		{Destination{Type: "http", HTTP: &HTTPDestination{MaxBatchSize: 10, MaxBatchMB: 0.5, Period: "2s"}}, Batching{10, 1 << 19, "2s"}},
		{Destination{Type: "http", HTTP: &HTTPDestination{}}, Batching{DefaultStreamBatchCount, DefaultStreamBatchBytes, DefaultStreamBatchPeriod}},
	}
	for _, c := range cases {
		if got := c.d.BatchPolicy(); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.d.Type, got, c.want)
		}
	}
}

// TestESADeliveryParameters: the destination parameters of ESA's requests, each once, from the kinds.
func TestESADeliveryParameters(t *testing.T) {
	want := []string{"SlsDelivery", "OssDelivery", "S3Delivery", "HttpDelivery", "KafkaDelivery", "SinkConfig"}
	if got := ESADeliveryParameters(); !slices.Equal(got, want) {
		t.Errorf("ESADeliveryParameters() = %v, want %v", got, want)
	}
	for _, p := range want {
		if !IsTaskKey(p) {
			t.Errorf("%s is not a task key", p)
		}
	}
}
