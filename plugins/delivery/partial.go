package delivery

import "fmt"

// Partial is the error of a write that failed some records of the batch it was given: Errs[i] is
// record i's error (nil for a record delivered). An output's write function returns it to
// deadletter.Router.Write, which sends the permanent failures to the dead letter and nacks the rest
// by index; positions are those of the very batch the function was given, so no Benthos indexer
// (a tagged copy of every message) is needed to map them back.
type Partial struct {
	Errs []error
}

// NewPartial returns a Partial for a batch of n records, none failed yet.
func NewPartial(n int) *Partial { return &Partial{Errs: make([]error, n)} }

// Fail records err as record i's error and returns p.
func (p *Partial) Fail(i int, err error) *Partial {
	p.Errs[i] = err
	return p
}

// Failed is the number of records that failed.
func (p *Partial) Failed() int {
	n := 0
	for _, e := range p.Errs {
		if e != nil {
			n++
		}
	}
	return n
}

// First is the error of the first record that failed, or nil.
func (p *Partial) First() error {
	for _, e := range p.Errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Error implements error.
func (p *Partial) Error() string {
	first := p.First()
	if first == nil {
		return "no record failed"
	}
	return fmt.Sprintf("%d of %d records failed: %v", p.Failed(), len(p.Errs), first)
}
