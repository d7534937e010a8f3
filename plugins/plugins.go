// Package plugins registers every esa-connect component on a Benthos environment.
package plugins

import (
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/deadletter"
	"github.com/esa-connect/esa-connect/plugins/diskbuffer"
	"github.com/esa-connect/esa-connect/plugins/fields"
	"github.com/esa-connect/esa-connect/plugins/filter"
	"github.com/esa-connect/esa-connect/plugins/httpout"
	"github.com/esa-connect/esa-connect/plugins/kafka"
	"github.com/esa-connect/esa-connect/plugins/local"
	"github.com/esa-connect/esa-connect/plugins/metrics"
	"github.com/esa-connect/esa-connect/plugins/oss"
	"github.com/esa-connect/esa-connect/plugins/s3verified"
	"github.com/esa-connect/esa-connect/plugins/sample"
	"github.com/esa-connect/esa-connect/plugins/sls"
	"github.com/esa-connect/esa-connect/plugins/source"
)

// RegisterAll registers every esa_* component on env.
func RegisterAll(env *service.Environment) error {
	for _, register := range registrations {
		if err := register(env); err != nil {
			return err
		}
	}
	return nil
}

// registrations lists each plugin package's Register function. Add a package here when it lands.
var registrations = []func(*service.Environment) error{
	sample.Register,
	filter.Register,
	fields.Register,
	httpout.Register,
	sls.Register,
	kafka.Register,
	s3verified.Register,
	oss.Register,
	source.Register,
	local.Register,
	metrics.Register,
	deadletter.Register,
	diskbuffer.Register,
}
