// Package deps pins the modules the plugins are being built on while they are written; it is removed
// once every module is imported by real code.
package deps

import (
	_ "github.com/alibabacloud-go/esa-20240910/v3/client"
	_ "github.com/aliyun/aliyun-log-go-sdk"
	_ "github.com/aliyun/aliyun-oss-go-sdk/oss"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "github.com/twmb/franz-go/pkg/sasl/plain"
	_ "github.com/twmb/franz-go/pkg/sasl/scram"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "gopkg.in/yaml.v3"
)
