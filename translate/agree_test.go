package translate

import (
	"slices"
	"strconv"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/plugins"
	"github.com/esa-connect/esa-connect/plugins/deadletter"
	"github.com/esa-connect/esa-connect/plugins/diskbuffer"
	"github.com/esa-connect/esa-connect/plugins/source"
)

// TestNamesAgree keeps translate's copies of plugin names (it does not import the plugins) equal to
// the plugins' own.
func TestNamesAgree(t *testing.T) {
	if DeadLetterResource != deadletter.Resource {
		t.Errorf("translate.DeadLetterResource %q != deadletter.Resource %q", DeadLetterResource, deadletter.Resource)
	}
	if DiskBuffer != diskbuffer.Name {
		t.Errorf("translate.DiskBuffer %q != diskbuffer.Name %q", DiskBuffer, diskbuffer.Name)
	}
	if Feed != source.FeedName {
		t.Errorf("translate.Feed %q != source.FeedName %q", Feed, source.FeedName)
	}
}

// TestEveryDestinationTranslates checks that every destination kind of config has a translation, and
// that nothing else has one.
func TestEveryDestinationTranslates(t *testing.T) {
	kinds := config.DestinationKinds()
	for _, k := range kinds {
		if _, ok := outputs[k.Type]; !ok {
			t.Errorf("destination type %s has no output", k.Type)
		}
	}
	if len(outputs) != len(kinds) {
		t.Errorf("%d outputs for %d destination kinds", len(outputs), len(kinds))
	}
}

// TestOutputSpecsAgree compares each destination kind with the config spec of its output: the
// default max_in_flight is the kind's DefaultMaxInFlight, and every compression config accepts is
// one the output's enum offers (object stores: exactly config.ObjectCompressions).
func TestOutputSpecsAgree(t *testing.T) {
	env := service.NewEmptyEnvironment()
	if err := plugins.RegisterAll(env); err != nil {
		t.Fatal(err)
	}
	specs := map[string]map[string]service.TemplateDataPluginField{}
	env.WalkOutputs(func(name string, view *service.ConfigView) {
		data, err := view.TemplateData()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		specs[name] = map[string]service.TemplateDataPluginField{}
		for _, f := range data.Fields {
			specs[name][f.FullName] = f
		}
	})
	for _, k := range config.DestinationKinds() {
		name := outputs[k.Type].name
		spec, ok := specs[name]
		if !ok {
			t.Errorf("%s: output %s is not registered", k.Type, name)
			continue
		}
		if got := spec["max_in_flight"].DefaultMarshalled; got != strconv.Itoa(k.DefaultMaxInFlight) {
			t.Errorf("%s: %s's max_in_flight defaults to %s, the kind's DefaultMaxInFlight is %d", k.Type, name, got, k.DefaultMaxInFlight)
		}
		var accepted []string
		switch {
		case k.Object:
			// The objects' codecs, then the Parquet page codecs not among them.
			accepted = config.ObjectCompressions()
			for _, c := range config.ParquetCompressions() {
				if !slices.Contains(accepted, c) {
					accepted = append(accepted, c)
				}
			}
			if opts := spec["compression"].Options; !slices.Equal(opts, accepted) {
				t.Errorf("%s: %s offers compression %v, config %v", k.Type, name, opts, accepted)
			}
		case k.Type == "kafka":
			accepted = config.KafkaCompressions()
		case k.Type == "http":
			accepted = config.HTTPCompressions()
		}
		opts := spec["compression"].Options
		for _, c := range accepted {
			if len(opts) > 0 && !slices.Contains(opts, c) {
				t.Errorf("%s: config accepts compression %q, %s offers %v", k.Type, c, name, opts)
			}
		}
	}
}
