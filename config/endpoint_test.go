package config

import (
	"strings"
	"testing"
)

func TestRegionFromEndpointInValidation(t *testing.T) {
	base := "name: t\ncategory: access\nfields: [ClientIP]\n"
	for _, tc := range []struct {
		dest    string
		wantErr string // "" = valid
	}{
		{"{type: s3_compatible, bucket_path: logs/esa, endpoint: 'https://oss-cn-hangzhou.aliyuncs.com', access_key_id: '${AK}', secret_access_key: '${SK}'}", ""},
		{"{type: s3_compatible, bucket_path: logs/esa, endpoint: 'https://oss-cn-shanghai-internal.aliyuncs.com', access_key_id: '${AK}', secret_access_key: '${SK}'}", ""},
		{"{type: s3_compatible, bucket_path: logs/esa, endpoint: 'http://127.0.0.1:9000', access_key_id: '${AK}', secret_access_key: '${SK}'}", "destination.region: required"},
		{"{type: s3, bucket_path: logs/esa}", "destination.region: required"},
		// Errors never quote user info or a query.
		{"{type: s3_compatible, region: r, bucket_path: logs, endpoint: 'https://ak:pw-secret@minio:9000?token=t0k'}",
			`destination.endpoint: "https://minio:9000?REDACTED": give the endpoint without bucket, path, query or credentials`},
		{"{type: s3_compatible, region: r, bucket_path: logs, endpoint: 'ftp://ak:pw-secret@minio'}",
			`destination.endpoint: "ftp://minio" is not a URL like https://host[:port]`},
	} {
		_, err := Load([]byte(base + "destination: " + tc.dest + "\n"))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.dest, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want %q", tc.dest, err, tc.wantErr)
		case err != nil && (strings.Contains(err.Error(), "pw-secret") || strings.Contains(err.Error(), "t0k")):
			t.Errorf("%s: the error shows a credential: %v", tc.dest, err)
		}
	}
	for in, want := range map[string]string{
		"oss-cn-hangzhou.aliyuncs.com":                "cn-hangzhou",
		"https://oss-ap-southeast-1.aliyuncs.com:443": "ap-southeast-1",
		"https://s3.eu-west-1.amazonaws.com":          "eu-west-1",
		"http://127.0.0.1:7070":                       "",
	} {
		if got := RegionFromEndpoint(in); got != want {
			t.Errorf("RegionFromEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}
