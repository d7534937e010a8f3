package translate

import (
	"testing"

	"github.com/esa-connect/esa-connect/config"
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
	if FeedInput != source.FeedInput {
		t.Errorf("translate.FeedInput %q != source.FeedInput %q", FeedInput, source.FeedInput)
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
