package objects

import (
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func TestUploadFromParsed(t *testing.T) {
	spec := service.NewConfigSpec().Fields(StoreFields("1 KiB", service.NewDurationField("timeout").Default("120s"))...)
	parse := func(yaml string) *service.ParsedConfig {
		t.Helper()
		conf, err := spec.ParseYAML("task: t\n"+yaml, nil)
		if err != nil {
			t.Fatal(err)
		}
		return conf
	}
	u, err := UploadFromParsed(parse(""), "OSS", 1024)
	if err != nil || u != (Upload{PartSize: 8 << 20, PartConcurrency: 3, Timeout: 120 * time.Second}) {
		t.Fatalf("defaults: %+v, %v", u, err)
	}
	u, err = UploadFromParsed(parse("multipart: {part_size: 1024, concurrency: 0}\ntimeout: 5s\nspool_dir: /tmp/x\n"), "OSS", 1024)
	if err != nil || u != (Upload{PartSize: 1024, PartConcurrency: 1, Timeout: 5 * time.Second, SpoolDir: "/tmp/x"}) {
		t.Fatalf("set: %+v, %v", u, err)
	}
	if _, err := UploadFromParsed(parse("multipart: {part_size: 1023}\n"), "OSS", 1024); err == nil ||
		!strings.Contains(err.Error(), "multipart.part_size: 1023 is below the OSS minimum of 1024 bytes") {
		t.Fatalf("below the minimum: %v", err)
	}
}
