package pipeline_test

import (
	"bytes"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/pipeline"
)

// lines splits data into its '\n'-separated parts (sub-slices of data), dropping one final empty part.
func lines(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		out = append(out, line)
	}
	return out
}

func TestReceivedHolds(t *testing.T) {
	data := []byte("{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n")
	r := &pipeline.Received{Lines: data}
	recs := lines(data)
	if !r.Holds(recs) {
		t.Fatal("the lines of a body with a final line ending are not held")
	}
	if noEnd := (&pipeline.Received{Lines: data[:len(data)-1]}); !noEnd.Holds(lines(data[:len(data)-1])) {
		t.Fatal("the lines of a body without a final line ending are not held")
	}
	copied := [][]byte{recs[0], bytes.Clone(recs[1]), recs[2]}
	crlf := []byte("{\"a\":1}\r\n{\"a\":2}\n")
	blank := []byte("{\"a\":1}\n\n{\"a\":2}\n")
	for name, c := range map[string]struct {
		r    *pipeline.Received
		recs [][]byte
	}{
		"a copy of a record":        {r, copied},
		"a record left out":         {r, [][]byte{recs[0], recs[2]}},
		"the last record left out":  {r, recs[:2]},
		"the first record left out": {r, recs[1:]},
		"records out of order":      {r, [][]byte{recs[1], recs[0], recs[2]}},
		"a shortened record":        {r, [][]byte{recs[0], recs[1][:3], recs[2]}},
		"CR LF line endings":        {&pipeline.Received{Lines: crlf}, [][]byte{crlf[:7], crlf[9:16]}},
		"a blank line":              {&pipeline.Received{Lines: blank}, [][]byte{blank[:7], blank[9:16]}},
		"two final line endings":    {&pipeline.Received{Lines: append(bytes.Clone(data), '\n')}, nil},
		"no records":                {r, nil},
		"no Received":               {nil, recs},
	} {
		if name == "two final line endings" {
			c.recs = lines(c.r.Lines)[:3]
		}
		if c.r.Holds(c.recs) {
			t.Errorf("%s: held", name)
		}
	}
}

func TestReceivedTravels(t *testing.T) {
	r := &pipeline.Received{Gzip: []byte{1}, Lines: []byte(`{}`)}
	m := service.NewMessage([]byte(`{}`))
	if pipeline.ReceivedOf(m) != nil {
		t.Fatal("a plain message carries a Received")
	}
	m = pipeline.WithReceived(m, r)
	if pipeline.ReceivedOf(m) != r || pipeline.ReceivedOf(m.Copy()) != r {
		t.Fatal("the Received does not travel with the message")
	}
}
