package config

import "fmt"

// Limits on the input of Load and ParseESAFilter. A task definition may come from anyone who can hand
// a file to esa-connect (or a filter to esa_filter), so decoding must stay cheap whatever the input.
const (
	// MaxDefinitionBytes is the largest task definition (or filter text) accepted: 1 MiB. Real
	// definitions are a few kilobytes.
	MaxDefinitionBytes = 1 << 20

	// MaxExpandedValues is the largest number of values (objects, lists, keys and scalars) a definition
	// may have once every YAML alias (*name) is replaced by the anchored value (&name) it refers to;
	// JSON strings embedded in the definition (ESA's *Delivery parameters, FilterRules) count too.
	// Aliases let a tiny document describe a huge one (a "billion laughs" bomb: nine lists of nine
	// aliases to the previous list are 9^9 values), and decoding walks the expanded document, so the
	// definition is measured before it is decoded — in time linear in its size as written.
	MaxExpandedValues = 100_000

	// MaxProblems is the largest number of problems Load and ParseESAFilter list; the problems after
	// it are counted in one final entry "… and N more problems".
	MaxProblems = 100
)

// tooLarge describes input over MaxDefinitionBytes; what is "the task definition" or "the filter".
func tooLarge(what string, size int64) string {
	return fmt.Sprintf("%s is %d bytes; at most %d bytes (1 MiB) are accepted", what, size, MaxDefinitionBytes)
}

// capProblems returns errs (at most MaxProblems entries) followed, when more problems were counted
// but not kept, by one entry saying how many.
func capProblems(errs Errors, more int) Errors {
	if more == 0 {
		return errs
	}
	noun := "problems"
	if more == 1 {
		noun = "problem"
	}
	return append(errs[:len(errs):len(errs)], FieldError{Msg: fmt.Sprintf("… and %d more %s", more, noun)})
}
