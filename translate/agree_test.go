package translate

import (
	"testing"

	"github.com/esa-connect/esa-connect/plugins/deadletter"
)

// TestDeadLetterResourceAgrees keeps translate's copy of the dead-letter resource label (it does not
// import the plugins) equal to the plugin's.
func TestDeadLetterResourceAgrees(t *testing.T) {
	if DeadLetterResource != deadletter.Resource {
		t.Fatalf("translate.DeadLetterResource %q != deadletter.Resource %q", DeadLetterResource, deadletter.Resource)
	}
}
