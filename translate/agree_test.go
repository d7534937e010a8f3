package translate

import (
	"testing"

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
