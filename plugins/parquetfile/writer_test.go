package parquetfile_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/esa-connect/esa-connect/plugins/parquetfile"
	"github.com/esa-connect/esa-connect/tests/duckdbtest"
)

var testColumns = []parquetfile.Column{
	{Name: "EdgeStartTimestamp", Type: parquetfile.TypeString},
	{Name: "ClientRequestID", Type: parquetfile.TypeString},
	{Name: "EdgeResponseStatusCode", Type: parquetfile.TypeInt64},
	{Name: "EdgeResponseBytes", Type: parquetfile.TypeInt64},
	{Name: "ClientRequestHost", Type: parquetfile.TypeString},
	{Name: "OriginResponseTime", Type: parquetfile.TypeDouble},
	{Name: "ClientIsBot", Type: parquetfile.TypeBool},
	{Name: "CustomFields", Type: parquetfile.TypeCustomFields},
}

// write writes lines through a Format's writer into a file in chunks of chunk bytes (lines split
// between Write calls) and returns its path and the mismatches reported.
func write(t *testing.T, opts parquetfile.Options, lines []string, chunk int) (string, map[string]int) {
	t.Helper()
	mism := map[string]int{}
	opts.Mismatch = func(c string, n int) { mism[c] += n }
	f, err := parquetfile.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "o.parquet")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	w, err := f.NewWriter(file, false)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.Join(lines, "\n"))
	for len(body) > 0 {
		n := min(chunk, len(body))
		buf := append([]byte(nil), body[:n]...)
		if _, err := w.Write(buf); err != nil {
			t.Fatal(err)
		}
		// The caller reuses its buffer: the writer must not keep references into it.
		for i := range buf {
			buf[i] = 'X'
		}
		body = body[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path, mism
}

func TestTypesNullsCustomFieldsAndMismatches(t *testing.T) {
	lines := []string{
		// Complete, with an escaped string and three custom kinds.
		`{"EdgeStartTimestamp":"2026-12-06T07:00:00+08:00","ClientRequestID":"r\"1\u00e9","EdgeResponseStatusCode":200,"EdgeResponseBytes":1234567890123,"ClientRequestHost":"a.example.com","OriginResponseTime":0.25,"ClientIsBot":false,"CustomFields":{"request_headers":{"user-agent":"curl/8","x-e\u0073c":"v\n2"},"response_headers":{},"cookies":{"sid":"abc"}}}`,
		// Missing fields, null, and no CustomFields.
		`{"EdgeStartTimestamp":"2026-12-06T07:00:01+08:00","ClientRequestID":null,"EdgeResponseStatusCode":404}`,
		// Wrong JSON types: counted and null, a number in a string column kept as its text, an
		// integral float in an int column kept.
		`{"EdgeStartTimestamp":17,"ClientRequestID":"r3","EdgeResponseStatusCode":"502","EdgeResponseBytes":2.0e3,"ClientRequestHost":true,"OriginResponseTime":"fast","ClientIsBot":"yes","CustomFields":{"request_headers":"oops","cookies":{"n":1}}}`,
		// Not a JSON object: a row of nulls, counted.
		`[1,2]`,
	}
	for _, chunk := range []int{1 << 20, 7} {
		t.Run(fmt.Sprintf("chunk%d", chunk), func(t *testing.T) {
			path, mism := write(t, parquetfile.Options{Columns: testColumns}, lines, chunk)
			wantMism := map[string]int{"EdgeResponseStatusCode": 1, "OriginResponseTime": 1, "ClientIsBot": 1, "CustomFields": 1, "": 1}
			if !reflect.DeepEqual(mism, wantMism) {
				t.Errorf("mismatches %v, want %v", mism, wantMism)
			}
			types, names := duckdbtest.Describe(t, path)
			var wantNames []string
			for _, c := range testColumns {
				wantNames = append(wantNames, c.Name)
			}
			if !reflect.DeepEqual(names, wantNames) {
				t.Errorf("columns %v, want %v (the given order)", names, wantNames)
			}
			wantTypes := map[string]string{
				"EdgeStartTimestamp": "VARCHAR", "ClientRequestID": "VARCHAR", "EdgeResponseStatusCode": "BIGINT",
				"EdgeResponseBytes": "BIGINT", "ClientRequestHost": "VARCHAR", "OriginResponseTime": "DOUBLE",
				"ClientIsBot":  "BOOLEAN",
				"CustomFields": "STRUCT(request_headers MAP(VARCHAR, VARCHAR), response_headers MAP(VARCHAR, VARCHAR), cookies MAP(VARCHAR, VARCHAR))",
			}
			if !reflect.DeepEqual(types, wantTypes) {
				t.Errorf("types %v\nwant %v", types, wantTypes)
			}
			rows := duckdbtest.Query(t, "SELECT to_json(t)::VARCHAR AS j FROM read_parquet("+duckdbtest.Quote(path)+") t")
			want := []string{
				`{"EdgeStartTimestamp":"2026-12-06T07:00:00+08:00","ClientRequestID":"r\"1é","EdgeResponseStatusCode":200,"EdgeResponseBytes":1234567890123,"ClientRequestHost":"a.example.com","OriginResponseTime":0.25,"ClientIsBot":false,"CustomFields":{"request_headers":{"user-agent":"curl/8","x-esc":"v\n2"},"response_headers":{},"cookies":{"sid":"abc"}}}`,
				`{"EdgeStartTimestamp":"2026-12-06T07:00:01+08:00","ClientRequestID":null,"EdgeResponseStatusCode":404,"EdgeResponseBytes":null,"ClientRequestHost":null,"OriginResponseTime":null,"ClientIsBot":null,"CustomFields":null}`,
				`{"EdgeStartTimestamp":"17","ClientRequestID":"r3","EdgeResponseStatusCode":null,"EdgeResponseBytes":2000,"ClientRequestHost":"true","OriginResponseTime":null,"ClientIsBot":null,"CustomFields":{"request_headers":null,"response_headers":null,"cookies":{"n":"1"}}}`,
				`{"EdgeStartTimestamp":null,"ClientRequestID":null,"EdgeResponseStatusCode":null,"EdgeResponseBytes":null,"ClientRequestHost":null,"OriginResponseTime":null,"ClientIsBot":null,"CustomFields":null}`,
			}
			if len(rows) != len(want) {
				t.Fatalf("%d rows, want %d", len(rows), len(want))
			}
			for i, r := range rows {
				if !sameJSON(t, r["j"].(string), want[i]) {
					t.Errorf("row %d:\n got %s\nwant %s", i, r["j"], want[i])
				}
			}
		})
	}
}

// sameJSON compares two JSON texts as values.
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func TestRowGroupsAndCodecs(t *testing.T) {
	var lines []string
	for i := range 2500 {
		lines = append(lines, fmt.Sprintf(`{"EdgeStartTimestamp":"t%d","ClientRequestID":"r%d","EdgeResponseStatusCode":%d}`, i, i, 200+i%5))
	}
	for _, codec := range []string{"", "snappy", "zstd", "gzip", "no"} {
		t.Run("codec="+codec, func(t *testing.T) {
			path, _ := write(t, parquetfile.Options{Columns: testColumns, Compression: codec, RowGroupRows: 1000}, lines, 4096)
			rows := duckdbtest.Query(t, "SELECT count(*)::INTEGER AS n, sum(EdgeResponseStatusCode)::INTEGER AS s, count(DISTINCT ClientRequestID)::INTEGER AS d FROM read_parquet("+duckdbtest.Quote(path)+")")
			if fmt.Sprintf("%v %v %v", rows[0]["n"], rows[0]["s"], rows[0]["d"]) != "2500 505000 2500" {
				t.Errorf("count, sum, distinct = %v", rows[0])
			}
			meta := duckdbtest.Query(t, "SELECT count(DISTINCT row_group_id)::INTEGER AS g, min(compression) AS c FROM parquet_metadata("+duckdbtest.Quote(path)+")")
			wantCodec := map[string]string{"": "SNAPPY", "snappy": "SNAPPY", "zstd": "ZSTD", "gzip": "GZIP", "no": "UNCOMPRESSED"}[codec]
			if fmt.Sprintf("%v %v", meta[0]["g"], meta[0]["c"]) != "3 "+wantCodec {
				t.Errorf("row groups and codec = %v, want 3 %s", meta[0], wantCodec)
			}
		})
	}
}

func TestOptionsRefused(t *testing.T) {
	for _, tc := range []struct {
		o    parquetfile.Options
		want string
	}{
		{parquetfile.Options{}, "no columns"},
		{parquetfile.Options{Columns: []parquetfile.Column{{Name: "a", Type: "int"}}}, `unknown type "int"`},
		{parquetfile.Options{Columns: []parquetfile.Column{{Name: "a", Type: "string"}, {Name: "a", Type: "bool"}}}, "given twice"},
		{parquetfile.Options{Columns: testColumns, Compression: "zlib"}, `"zlib" is not a Parquet page codec`},
		{parquetfile.Options{Columns: testColumns, Compression: "snappy", Level: 3}, "takes no level"},
		{parquetfile.Options{Columns: testColumns, Compression: "zstd", Level: 23}, "not a zstd level"},
	} {
		_, err := parquetfile.New(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.o, err, tc.want)
		}
	}
}
