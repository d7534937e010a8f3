package pipeline_test

import (
	"context"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/pipeline"
	"github.com/esa-connect/esa-connect/plugins/pipeline/pipelinetest"
)

func TestChecked(t *testing.T) {
	rec := []byte(`{"a":1,"b":"x"}`)
	other := []byte(`{"a":1,"b":"x"}`)
	batch := service.MessageBatch{service.NewMessage(rec), service.NewMessage(nil)}
	if ok, _ := pipeline.Checked(batch[0], rec); ok {
		t.Fatal("an unmarked message counts as checked")
	}
	pipeline.MarkChecked(batch, true)
	if ok, unique := pipeline.Checked(batch[0], rec); !ok || !unique {
		t.Fatalf("marked message: ok %v unique %v", ok, unique)
	}
	if ok, _ := pipeline.Checked(batch[0].Copy(), rec); !ok {
		t.Error("a copy of a marked message lost the mark")
	}
	if ok, _ := pipeline.Checked(batch[1], nil); ok {
		t.Error("an empty message counts as checked")
	}
	// The mark is for these very bytes: equal bytes elsewhere, a prefix or new content are not checked.
	for name, b := range map[string][]byte{"equal copy": other, "prefix": rec[:len(rec)-1], "suffix": rec[1:]} {
		m := batch[0].Copy()
		m.SetBytes(b)
		cur, _ := m.AsBytes()
		if ok, _ := pipeline.Checked(m, cur); ok {
			t.Errorf("%s: content set after marking counts as checked", name)
		}
	}
	m := batch[0].Copy()
	m.SetStructured(map[string]any{"a": 2})
	cur, _ := m.AsBytes()
	if ok, _ := pipeline.Checked(m, cur); ok {
		t.Error("structured content set after marking counts as checked")
	}
	pipeline.MarkChecked(batch[:1], false)
	if ok, unique := pipeline.Checked(batch[0], rec); !ok || unique {
		t.Errorf("marked not unique: ok %v unique %v", ok, unique)
	}
}

// TestCheckedThroughStream checks the mark reaches a processor through a real Benthos pipeline, and
// is ignored once a processor before it changed the content.
func TestCheckedThroughStream(t *testing.T) {
	register := func(env *service.Environment) error {
		return env.RegisterBatchProcessor("checked_probe", service.NewConfigSpec(),
			func(*service.ParsedConfig, *service.Resources) (service.BatchProcessor, error) { return probe{}, nil })
	}
	recs := [][]byte{[]byte(`{"a":1}`), []byte(`{"a":2}`)}
	for _, tc := range []struct {
		procs string
		want  string
	}{
		{"- checked_probe: {}", "true"},
		{"- noop: {}\n- checked_probe: {}", "true"},
		{"- mapping: 'root = this'\n- checked_probe: {}", "false"},
		{"- bloblang: 'root = content().string() + \" \"'\n- checked_probe: {}", "false"},
	} {
		batch := pipelinetest.GeneratedBatch(recs)
		outs, _ := pipelinetest.RunMessages(t, register, tc.procs, batch)
		if len(outs) != len(recs) {
			t.Fatalf("%s: %d records out", tc.procs, len(outs))
		}
		for _, o := range outs {
			if o.Meta["checked"] != tc.want {
				t.Errorf("%s: checked = %q, want %q", tc.procs, o.Meta["checked"], tc.want)
			}
		}
	}
}

type probe struct{}

func (probe) ProcessBatch(_ context.Context, b service.MessageBatch) ([]service.MessageBatch, error) {
	for _, m := range b {
		rec, _ := m.AsBytes()
		ok, _ := pipeline.Checked(m, rec)
		m.MetaSetMut("checked", ok)
	}
	return []service.MessageBatch{b}, nil
}

func (probe) Close(context.Context) error { return nil }
