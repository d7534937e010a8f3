package objects

import (
	"fmt"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Upload is how a remote store (esa_oss, esa_s3_verified) uploads its objects: the fields of
// StoreFields that the store reads itself (FromParsed reads the others for the Assembler).
type Upload struct {
	PartSize        int64         // multipart.part_size: objects larger than this go in parts of this size
	PartConcurrency int           // multipart.concurrency: parts of one object uploaded in parallel (≥ 1)
	Timeout         time.Duration // timeout: the store's time limit of one request or upload attempt
	SpoolDir        string        // spool_dir: where objects wait to be uploaded (TempSpool)
}

// UploadFromParsed reads the upload fields of StoreFields for store (its name in errors, such as
// "OSS"), whose parts are at least minPart bytes.
func UploadFromParsed(conf *service.ParsedConfig, store string, minPart int64) (Upload, error) {
	var u Upload
	ps, err := conf.FieldInt("multipart", "part_size")
	if err != nil {
		return u, err
	}
	if int64(ps) < minPart {
		return u, fmt.Errorf("multipart.part_size: %d is below the %s minimum of %d bytes", ps, store, minPart)
	}
	u.PartSize = int64(ps)
	if u.PartConcurrency, err = conf.FieldInt("multipart", "concurrency"); err != nil {
		return u, err
	}
	u.PartConcurrency = max(u.PartConcurrency, 1)
	if u.Timeout, err = conf.FieldDuration("timeout"); err != nil {
		return u, err
	}
	if u.SpoolDir, err = conf.FieldString("spool_dir"); err != nil {
		return u, err
	}
	return u, nil
}
