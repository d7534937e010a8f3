package config

import (
	"net"
	"net/url"
	"regexp"
	"strings"
)

var (
	ossEndpointRE = regexp.MustCompile(`^oss-([a-z0-9-]+?)(-internal)?\.aliyuncs\.com$`)
	awsEndpointRE = regexp.MustCompile(`^s3[.-]([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)
)

// RegionFromEndpoint derives the signing region from an endpoint that names one:
// oss-cn-hangzhou.aliyuncs.com → cn-hangzhou, s3.eu-west-1.amazonaws.com → eu-west-1.
// It returns "" when the endpoint names no region.
func RegionFromEndpoint(endpoint string) string {
	host := endpoint
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		host = u.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	if m := ossEndpointRE.FindStringSubmatch(host); m != nil {
		return m[1]
	}
	if m := awsEndpointRE.FindStringSubmatch(host); m != nil {
		return m[1]
	}
	return ""
}
