// Command esa-connect is a Benthos distribution for ESA-style real-time log delivery.
package main

import (
	"context"
	"fmt"
	"os"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins"
)

func main() {
	if err := plugins.RegisterAll(service.GlobalEnvironment()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	service.RunCLI(context.Background())
}
