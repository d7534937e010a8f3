package s3test

import (
	"net/http"
	"testing"
)

func healthy(url string) bool {
	resp, err := http.Get(url + "/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestStartStopRestart installs versitygw when missing (set ESA_CONNECT_CACHE to an empty directory
// to exercise the install), starts it, stops it and starts it again on the same port.
func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	if !healthy(s.URL) {
		t.Fatal("not healthy after Start")
	}
	s.Stop()
	if healthy(s.URL) {
		t.Fatal("still answering after Stop")
	}
	s.Restart()
	if !healthy(s.URL) {
		t.Fatal("not healthy after Restart")
	}
}
