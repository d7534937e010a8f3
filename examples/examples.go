// Package examples holds the example task definitions: the quickstart task that `esa-connect run`
// runs when given no arguments, and one task per destination type. They are embedded in the binary
// and linted by the tests.
package examples

import (
	"embed"
)

// Quickstart is the embedded default task: generated access records → sample 50 % → a filter →
// 15 fields → the local directory ./out.
//
//go:embed quickstart.yaml
var Quickstart []byte

// FS holds every example task (*.yaml).
//
//go:embed *.yaml
var FS embed.FS
