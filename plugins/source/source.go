// Package source holds the esa-connect inputs: esa_generate (synthetic records), esa_file (NDJSON
// files and stdin) and esa_http_server (an NDJSON ingest endpoint). All read in batches and deliver
// at least once: file and generated batches are redelivered on retryable failures and counted as
// undelivered in the stream's outcome on permanent ones; the HTTP endpoint answers 200 only after a
// request's records were delivered.
package source

import (
	"github.com/redpanda-data/benthos/v4/public/service"
)

// Register registers esa_generate, esa_file and esa_http_server on env.
func Register(env *service.Environment) error {
	if err := env.RegisterBatchInput(GenerateName, GenerateSpec(), generateFromParsed); err != nil {
		return err
	}
	if err := env.RegisterBatchInput(FileName, FileSpec(), fileFromParsed); err != nil {
		return err
	}
	return env.RegisterBatchInput(HTTPServerName, HTTPServerSpec(), httpServerFromParsed)
}
