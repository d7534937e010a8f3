package delivery

import (
	"fmt"
	"strings"
	"testing"

	"github.com/esa-connect/esa-connect/plugins/pipeline"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func TestBatching(t *testing.T) {
	spec := service.NewConfigSpec().Field(service.NewBatchPolicyField("batching"))
	parse := func(yaml string) *service.ParsedConfig {
		t.Helper()
		conf, err := spec.ParseYAML(yaml, nil)
		if err != nil {
			t.Fatal(err)
		}
		return conf
	}
	cases := []struct {
		yaml, want string
		object     bool
	}{
		{"{}", "1000 5242880 5s", false},
		{"{}", "100000 67108864 60s", true},
		{"batching: {count: 10}", "10 5242880 5s", false},
		{"batching: {count: 10, period: 1s}", "10 67108864 1s", true},
		{"batching: {byte_size: 100, period: 250ms}", "1000 100 250ms", false},
	}
	for _, c := range cases {
		var pol service.BatchPolicy
		var err error
		if c.object {
			pol, err = ObjectBatching(parse(c.yaml))
		} else {
			pol, err = StreamBatching(parse(c.yaml))
		}
		if err != nil {
			t.Fatalf("%s: %v", c.yaml, err)
		}
		got := fmtPolicy(pol)
		if got != c.want || pol.Check != pipeline.FlushCheck {
			t.Errorf("%s (object %v): %s check %q, want %s with the flush check", c.yaml, c.object, got, pol.Check, c.want)
		}
	}
	// A check of the user's own is kept, ORed with the flush check.
	pol, err := StreamBatching(parse(`batching: {check: 'this.last == true'}`))
	if err != nil || pol.Check == pipeline.FlushCheck || pol.Check == "" {
		t.Errorf("user check: %q, %v", pol.Check, err)
	}
}

func fmtPolicy(p service.BatchPolicy) string {
	return fmt.Sprintf("%d %d %s", p.Count, p.ByteSize, p.Period)
}

// TestBatchingMinimumPeriod: a period under a millisecond (1ns once made an idle output spin) is
// refused with the field and the minimum.
func TestBatchingMinimumPeriod(t *testing.T) {
	spec := service.NewConfigSpec().Field(service.NewBatchPolicyField("batching"))
	for period, ok := range map[string]bool{"1ns": false, "999us": false, "1ms": true, "5s": true} {
		conf, err := spec.ParseYAML("batching: {period: "+period+"}", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = StreamBatching(conf)
		if ok && err != nil {
			t.Errorf("%s: %v", period, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "below the minimum of 1ms")) {
			t.Errorf("%s: %v, want a refusal", period, err)
		}
	}
}
