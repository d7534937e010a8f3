package translate

import (
	"testing"

	"github.com/esa-connect/esa-connect/plugins/encode"
)

// TestFlushMarkerMetaAgrees keeps translate's copy of the marker key (it does not import the plugins)
// equal to the inputs' one.
func TestFlushMarkerMetaAgrees(t *testing.T) {
	if FlushMarkerMeta != encode.MetaFlush {
		t.Fatalf("translate.FlushMarkerMeta %q != encode.MetaFlush %q", FlushMarkerMeta, encode.MetaFlush)
	}
}
