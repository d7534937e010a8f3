package sls_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/generate"
	"github.com/esa-connect/esa-connect/tests/servers/slstest"
)

// TestEndToEndRecordByRecord: generated access records (every catalog field plus the raw header maps)
// in a file → esa_file → esa_sls; every stored log is compared with its record: time (with
// nanoseconds), keys and values in order, topic and source.
func TestEndToEndRecordByRecord(t *testing.T) {
	srv := startServer(t)
	gen, err := generate.New("access", 42)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	recs := make([][]byte, n)
	byID := make(map[string]expected, n)
	for i := range recs {
		recs[i] = gen.Next(nil)
		e := expect(t, recs[i], "EdgeStartTimestamp")
		id := ""
		for _, c := range e.contents {
			if c.Key == "ClientRequestID" {
				id = c.Value
			}
		}
		if id == "" || byID[id].contents != nil {
			t.Fatalf("record %d: missing or repeated ClientRequestID %q", i, id)
		}
		byID[id] = e
	}
	path := writeNDJSON(t, recs)
	runStream(t, newEnv(t), toSLS(srv, "warn", fileInput(path), `
    topic: esa-access
    source: edge-node-1
    task: e2e
    time_field: EdgeStartTimestamp
    max_in_flight: 4
`), 2*time.Minute)

	logs := srv.Logs("proj", "store")
	if len(logs) != n {
		t.Fatalf("stored %d logs, want %d", len(logs), n)
	}
	seen := map[string]bool{}
	for i, l := range logs {
		id, _ := l.Value("ClientRequestID")
		e, ok := byID[id]
		if !ok || seen[id] {
			t.Fatalf("log %d: unknown or duplicate ClientRequestID %q", i, id)
		}
		seen[id] = true
		if diff := compareLog(l, e, "esa-access", "edge-node-1"); diff != "" {
			t.Fatalf("log %d (%s): %s", i, id, diff)
		}
	}
	st := srv.Stats()
	if st.CompressTypes["lz4"] != st.PutLogsAccepted || st.GetLogStore == 0 {
		t.Errorf("stats %+v: want every PutLogs lz4-compressed and a connect-time GetLogStore", st)
	}
	t.Logf("%d logs in %d PutLogs calls; %d bytes on the wire for %d raw (%.1f%%)", n, st.PutLogsAccepted,
		st.WireBytes, st.RawBytes, 100*float64(st.WireBytes)/float64(st.RawBytes))
}

// smallRecords returns n small records with a unique id and a millisecond time.
func smallRecords(n int) [][]byte {
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	recs := make([][]byte, n)
	for i := range recs {
		ts := base.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
		recs[i] = fmt.Appendf(nil, `{"ts":"%s","id":%d,"host":"h%d.example.com","status":%d,"ok":%v,"CustomFields":{"request_headers":{"x-id":"%d"}}}`,
			ts, i, i%97, 200+i%5, i%3 == 0, i)
	}
	return recs
}

// TestThrottlingAndServerErrors: 200,000 records while 30 % of PutLogs calls fail with SLS throttling
// (403 WriteQuotaExceed / ShardWriteQuotaExceed, 429) or 5xx: every record arrives (retries by esa_sls,
// redelivery by the input after max_retries), and duplicates are reported.
func TestThrottlingAndServerErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 records")
	}
	srv := startServer(t)
	srv.SetFaultRate(0.30, 7)
	const n = 200_000
	recs := smallRecords(n)
	path := writeNDJSON(t, recs)
	start := time.Now()
	runStream(t, newEnv(t), toSLS(srv, "error", fileInput(path), `
    task: faults
    time_field: ts
    max_in_flight: 16
`), 5*time.Minute)
	elapsed := time.Since(start)

	logs := srv.Logs("proj", "store")
	count := make([]int, n)
	for _, l := range logs {
		v, _ := l.Value("id")
		var id int
		if _, err := fmt.Sscan(v, &id); err != nil || id < 0 || id >= n {
			t.Fatalf("bad id %q", v)
		}
		count[id]++
		if count[id] == 1 {
			if diff := compareLog(l, expect(t, recs[id], "ts"), "", ""); diff != "" {
				t.Fatalf("record %d: %s", id, diff)
			}
		}
	}
	missing, dups := 0, 0
	for _, c := range count {
		if c == 0 {
			missing++
		}
		if c > 1 {
			dups += c - 1
		}
	}
	st := srv.Stats()
	faults := 0
	for _, v := range st.Faults {
		faults += v
	}
	t.Logf("%d records, %d stored, %d duplicates, %d missing; %d PutLogs requests, %d injected faults %v (%.1f%%); %v",
		n, len(logs), dups, missing, st.PutLogsRequests, faults, st.Faults, 100*float64(faults)/float64(st.PutLogsRequests), elapsed.Round(time.Millisecond))
	if missing != 0 {
		t.Fatalf("%d records lost", missing)
	}
	if faults == 0 || st.Faults["WriteQuotaExceed"] == 0 || st.Faults["TooManyRequests"] == 0 || st.Faults["ServerBusy"] == 0 {
		t.Errorf("fault injection did not exercise every kind: %v", st.Faults)
	}
}

// TestBatchOver4096SplitsIntoSeveralPutLogs: a 10,000-record Benthos batch is written as several
// PutLogs calls of at most 4,096 logs; every record is stored once, in order within each call.
func TestBatchOver4096SplitsIntoSeveralPutLogs(t *testing.T) {
	srv := startServer(t)
	const n = 10_000
	recs := smallRecords(n)
	path := writeNDJSON(t, recs)
	runStream(t, newEnv(t), toSLS(srv, "warn", fileInput(path), fmt.Sprintf(`
    time_field: ts
    max_in_flight: 1
    batching:
      count: %d
      byte_size: 0
      period: 10s
`, n)), 2*time.Minute)

	logs := srv.Logs("proj", "store")
	if len(logs) != n {
		t.Fatalf("stored %d, want %d", len(logs), n)
	}
	perRequest := map[int]int{}
	for i, l := range logs {
		perRequest[l.Request]++
		if v, _ := l.Value("id"); v != fmt.Sprint(i) {
			t.Fatalf("log %d has id %s: order within the batch not kept", i, v)
		}
	}
	var sizes []int
	for _, c := range perRequest {
		sizes = append(sizes, c)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(sizes)))
	if fmt.Sprint(sizes) != "[4096 4096 1808]" {
		t.Errorf("logs per PutLogs call %v, want [4096 4096 1808]", sizes)
	}
	if st := srv.Stats(); st.MaxLogs > slstest.MaxLogsPerRequest {
		t.Errorf("a call carried %d logs", st.MaxLogs)
	}
}

// TestCredentialsFromEnvironment: without credentials in the config, esa_sls signs with
// ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET and sends ALIBABA_CLOUD_SECURITY_TOKEN (STS), which the server
// requires for this key.
func TestCredentialsFromEnvironment(t *testing.T) {
	srv := startServer(t)
	srv.AddKey("STS.envkey0001", "env-secret", "env-sts-token")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.envkey0001")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret")
	t.Setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "env-sts-token")
	recs := smallRecords(50)
	path := writeNDJSON(t, recs)
	runStream(t, newEnv(t), fmt.Sprintf(`
logger: {level: warn}
input:
  esa_file:
    paths: [%s]
output:
  esa_sls:
    project: proj
    logstore: store
    endpoint: %s
    time_field: ts
`, path, srv.Endpoint), time.Minute)
	logs := srv.Logs("proj", "store")
	if len(logs) != len(recs) {
		t.Fatalf("stored %d, want %d (rejected: %v)", len(logs), len(recs), srv.Stats().Rejected)
	}
	for _, l := range logs {
		v, _ := l.Value("id")
		var id int
		fmt.Sscan(v, &id)
		if diff := compareLog(l, expect(t, recs[id], "ts"), "", ""); diff != "" {
			t.Fatalf("record %d: %s", id, diff)
		}
	}
}
