package source

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/esa-connect/esa-connect/plugins/generate"
	"github.com/esa-connect/esa-connect/plugins/selection"
)

// GenerateName is the esa_generate input's component name.
const GenerateName = "esa_generate"

// GenerateSpec is the esa_generate configuration specification.
func GenerateSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Categories("Utility").
		Summary("Generates synthetic ESA log records of a category with realistic distributions, for demos and benchmarks.").
		Description(`Every catalog field of the category is present with its catalog type. Values follow realistic
distributions: a Zipf-like population of clients, hosts and paths, mostly 200 responses with some
304/404/5xx, log-normal sizes and latencies, cache hits without origin fetches (origin fields hold the
"-" / -1 sentinels), event times near now in RFC 3339 with milliseconds at +08:00. Access records also
carry the raw `+"`RequestHeaders`"+` and `+"`ResponseHeaders`"+` maps (with a cookie header) so custom
fields can be selected. The same seed gives the same records (apart from the times).

Batches are redelivered when the destination fails them with a retryable error; with a count the input
ends once every record was delivered or given up on.`).
		Fields(
			service.NewStringField("category").
				Description("Log category: access, firewall, tcp_udp_proxy, dns, edge_routine, edge_container (ESA BusinessType ids are accepted as aliases).").
				Default("access"),
			service.NewIntField("count").
				Description("How many records to generate; 0 generates forever.").
				Default(0),
			selection.Field(),
			service.NewStringField("rate").
				Description("Maximum rate as `<records>/<unit>` where unit is a duration such as `s`, `ms`, `m` or `10s` (e.g. `1000/s`, `10/ms`). Empty generates as fast as the pipeline takes records.").
				Default(""),
			service.NewIntField("batch_size").
				Description("Records per batch.").
				Default(1000),
			service.NewIntField("seed").
				Description("Seed of the random generator; the same seed gives the same records.").
				Default(0),
			service.NewBoolField("flush_markers").
				Description("Send a flush marker (an empty message with metadata `esa_flush: \"1\"`) when the input ends or the stream is drained, so that the esa_* outputs write their partial batches at once instead of after their batch period. The esa_* outputs drop markers; turn this off when the output is not an esa_* output.").
				Default(true).Advanced(),
		).
		Example("A demo stream", "Ten access records per second.", `
input:
  esa_generate:
    category: access
    rate: 10/s
`).
		Example("A benchmark", "One million firewall records, as fast as possible.", `
input:
  esa_generate:
    category: firewall
    count: 1000000
`)
}

// parseRate reads "<n>/<unit>" into records per period.
func parseRate(s string) (n int, per time.Duration, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, 0, nil
	}
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("rate %q: want <records>/<unit>, e.g. 1000/s", s)
	}
	n, err = strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n <= 0 {
		return 0, 0, fmt.Errorf("rate %q: %q is not a positive number of records", s, num)
	}
	unit = strings.TrimSpace(unit)
	if unit != "" && (unit[0] < '0' || unit[0] > '9') {
		unit = "1" + unit
	}
	per, err = time.ParseDuration(unit)
	if err != nil || per <= 0 {
		return 0, 0, fmt.Errorf("rate %q: %q is not a duration unit such as s, ms or 10s", s, unit)
	}
	return n, per, nil
}

type generateInput struct {
	*tracker
	gen       *generate.Generator
	count     int
	rateN     int
	ratePer   time.Duration
	batchSize int

	ch     chan chunk
	once   sync.Once
	cancel context.CancelFunc
	done   chan struct{}
}

// generateFromParsed builds an esa_generate input from its parsed config (GenerateSpec).
func generateFromParsed(conf *service.ParsedConfig, res *service.Resources) (service.BatchInput, error) {
	category, err := conf.FieldString("category")
	if err != nil {
		return nil, err
	}
	count, err := conf.FieldInt("count")
	if err != nil {
		return nil, err
	}
	if count < 0 {
		return nil, fmt.Errorf("esa_generate: count %d is negative", count)
	}
	rate, err := conf.FieldString("rate")
	if err != nil {
		return nil, err
	}
	batchSize, err := conf.FieldInt("batch_size")
	if err != nil {
		return nil, err
	}
	if batchSize < 1 {
		return nil, fmt.Errorf("esa_generate: batch_size %d must be at least 1", batchSize)
	}
	seed, err := conf.FieldInt("seed")
	if err != nil {
		return nil, err
	}
	n, per, err := parseRate(rate)
	if err != nil {
		return nil, fmt.Errorf("esa_generate: %w", err)
	}
	gen, err := generate.New(category, int64(seed))
	if err != nil {
		return nil, fmt.Errorf("esa_generate: %w", err)
	}
	ch := make(chan chunk, 1)
	tr, err := newTracker("esa_generate", ch, conf, res)
	if err != nil {
		return nil, err
	}
	return &generateInput{
		tracker: tr,
		gen:     gen, count: count, rateN: n, ratePer: per, batchSize: batchSize,
		ch: ch, done: make(chan struct{}),
	}, nil
}

func (g *generateInput) Connect(context.Context) error {
	g.once.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		g.cancel = cancel
		go stopOnDrain(ctx, cancel, g.out)
		go g.produce(ctx)
	})
	return nil
}

// produce generates batches until count is reached or ctx ends, keeping to the rate.
func (g *generateInput) produce(ctx context.Context) {
	defer close(g.done)
	defer close(g.ch)
	start := time.Now()
	emitted := 0
	var offs []int
	for g.count == 0 || emitted < g.count {
		n := g.batchSize
		if g.count > 0 {
			n = min(n, g.count-emitted)
		}
		if g.rateN > 0 {
			// Records allowed by now; wait for the next one when none is.
			for {
				allowed := int(float64(time.Since(start))/float64(g.ratePer)*float64(g.rateN)) - emitted
				if allowed > 0 {
					n = min(n, allowed)
					break
				}
				next := start.Add(time.Duration(emitted+1) * g.ratePer / time.Duration(g.rateN))
				t := time.NewTimer(time.Until(next))
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
		buf := make([]byte, 0, n*2600)
		offs = offs[:0]
		for i := 0; i < n; i++ {
			buf = g.gen.Next(buf)
			offs = append(offs, len(buf))
		}
		recs := make([][]byte, n)
		prev := 0
		for i, o := range offs {
			recs[i] = buf[prev:o:o]
			prev = o
		}
		select {
		case g.ch <- chunk{recs: recs, checked: true}:
		case <-ctx.Done():
			return
		}
		emitted += n
	}
}

func (g *generateInput) Close(ctx context.Context) error {
	// The producer stops at its next step (a read from a pipe may block until the pipe has data or
	// closes; the goroutine ends then).
	if g.cancel != nil {
		g.cancel()
	}
	g.tracker.close()
	return nil
}
