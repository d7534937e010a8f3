// Package kafka holds the esa_kafka output (ESA's KafkaDelivery, docs/destinations.md#kafka), the
// esa_kafka consumer-group input (docs/task.md#kafka-source) and the five ESA balancers as franz-go
// partitioners.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/esa-connect/esa-connect/plugins/tlsfiles"
)

// Name is the component name of both the output and the input.
const Name = "esa_kafka"

// Register registers the esa_kafka output and input on env.
func Register(env *service.Environment) error {
	err := env.RegisterBatchOutput(Name, OutputSpec(), func(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
		o, policy, maxInFlight, err := outputFromParsed(conf, res)
		if err != nil {
			return nil, policy, 0, fmt.Errorf("esa_kafka: %w", err)
		}
		return o, policy, maxInFlight, nil
	})
	if err != nil {
		return err
	}
	return env.RegisterBatchInput(Name, InputSpec(), func(conf *service.ParsedConfig, res *service.Resources) (service.BatchInput, error) {
		in, err := inputFromParsed(conf, res)
		if err != nil {
			return nil, fmt.Errorf("esa_kafka input: %w", err)
		}
		return in, nil
	})
}

// maxBrokers is ESA's limit on the broker list of a KafkaDelivery.
const maxBrokers = 50

func brokersField() *service.ConfigField {
	return service.NewStringListField("brokers").
		Description("Kafka bootstrap brokers as `host:port`, 1 to 50 of them. An entry may hold several addresses separated by commas.").
		Example([]string{"kafka-1.example.com:9092", "kafka-2.example.com:9092"})
}

func saslField() *service.ConfigField {
	return service.NewObjectField("sasl",
		service.NewStringEnumField("mechanism", "none", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512").
			Description("SASL mechanism (ESA `MachanismType`); `none` disables SASL.").
			Default("none"),
		service.NewStringField("username").
			Description("SASL username (ESA `UserName`).").
			Default(""),
		service.NewStringField("password").
			Description("SASL password (ESA `Password`). Give it as an `${ENV_VAR}` reference; it never appears in logs or errors.").
			Default("").
			Secret(),
	).Description("SASL authentication (ESA `UserAuth`).").Advanced()
}

func tlsField() *service.ConfigField {
	return service.NewObjectField("tls",
		service.NewBoolField("enabled").Description("Connect over TLS (ESA Terraform `UseTLS`).").Default(false),
		service.NewStringField("ca_file").Description("PEM file of CA certificates trusted for the brokers, in addition to the system pool.").Default(""),
		service.NewStringField("cert_file").Description("PEM client certificate for mutual TLS.").Default(""),
		service.NewStringField("key_file").Description("PEM private key of `cert_file`.").Default(""),
		service.NewBoolField("skip_verify").Description("Do not verify the brokers' certificates (testing only).").Default(false),
	).Description("TLS to the brokers.").Advanced()
}

// connConfig is what both components need to reach a cluster.
type connConfig struct {
	brokers   []string
	mechanism string // "" when SASL is off
	username  string
	password  string
	tls       *tls.Config
}

func parseConnConfig(conf *service.ParsedConfig) (connConfig, error) {
	var c connConfig
	raw, err := conf.FieldStringList("brokers")
	if err != nil {
		return c, err
	}
	for _, entry := range raw {
		for _, b := range strings.Split(entry, ",") {
			b = strings.TrimSpace(b)
			if b == "" {
				continue
			}
			host, port, err := net.SplitHostPort(b)
			if err != nil || host == "" {
				return c, fmt.Errorf("broker %q: want host:port", b)
			}
			if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
				return c, fmt.Errorf("broker %q: port must be 1-65535", b)
			}
			c.brokers = append(c.brokers, b)
		}
	}
	if len(c.brokers) == 0 {
		return c, errors.New("brokers: at least one broker is required")
	}
	if len(c.brokers) > maxBrokers {
		return c, fmt.Errorf("brokers: %d given, at most %d allowed", len(c.brokers), maxBrokers)
	}
	if conf.Contains("sasl") {
		sc := conf.Namespace("sasl")
		mech, err := sc.FieldString("mechanism")
		if err != nil {
			return c, err
		}
		switch strings.ToUpper(mech) {
		case "", "NONE":
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
			c.mechanism = strings.ToUpper(mech)
			if c.username, err = sc.FieldString("username"); err != nil {
				return c, err
			}
			if c.password, err = sc.FieldString("password"); err != nil {
				return c, err
			}
			if c.username == "" {
				return c, fmt.Errorf("sasl.username: required with mechanism %s", c.mechanism)
			}
		default:
			return c, fmt.Errorf("sasl.mechanism: %q is not PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or none", mech)
		}
	}
	if conf.Contains("tls") {
		tc := conf.Namespace("tls")
		on, err := tc.FieldBool("enabled")
		if err != nil {
			return c, err
		}
		if on {
			if c.tls, err = buildTLS(tc); err != nil {
				return c, err
			}
		}
	}
	return c, nil
}

func buildTLS(tc *service.ParsedConfig) (*tls.Config, error) {
	caFile, _ := tc.FieldString("ca_file")
	certFile, _ := tc.FieldString("cert_file")
	keyFile, _ := tc.FieldString("key_file")
	skip, _ := tc.FieldBool("skip_verify")
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skip} //nolint:gosec // opt-in for tests
	if caFile != "" {
		pool, err := tlsfiles.TrustedRoots("tls.ca_file", caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("tls: cert_file and key_file must be given together")
	}
	if certFile != "" {
		cert, err := tlsfiles.KeyPair("tls.cert_file/key_file", certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// describe names the destination for errors: the brokers (never credentials).
func (c connConfig) describe() string { return strings.Join(c.brokers, ",") }

// clientOpts returns the franz-go options shared by producer and consumer. watch, if not nil, is
// installed as a hook that notices the broker rejecting the SASL credentials.
func (c connConfig) clientOpts(watch *authWatch) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.brokers...),
		kgo.ClientID("esa-connect"),
		kgo.DialTimeout(10 * time.Second),
	}
	if c.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(c.tls.Clone()))
	}
	if c.mechanism != "" {
		var m sasl.Mechanism
		switch c.mechanism {
		case "PLAIN":
			m = plain.Auth{User: c.username, Pass: c.password}.AsMechanism()
		case "SCRAM-SHA-256":
			m = scram.Auth{User: c.username, Pass: c.password}.AsSha256Mechanism()
		case "SCRAM-SHA-512":
			m = scram.Auth{User: c.username, Pass: c.password}.AsSha512Mechanism()
		}
		opts = append(opts, kgo.SASL(m))
	}
	if watch != nil {
		opts = append(opts, kgo.WithHooks(watch))
	}
	return opts, nil
}

// authWatch is a franz-go hook that records whether a broker answered a SASL authentication step by
// closing the connection, which is how brokers (and kfake) reject bad credentials on the raw and
// older SASL paths; newer brokers answer SASL_AUTHENTICATION_FAILED, which errors.Is detects.
// The client would retry such a connection until its context ends; the watch cancels the
// context given to watchContext at once instead.
type authWatch struct {
	rejected atomic.Bool
	cancel   atomic.Pointer[context.CancelFunc]
}

// watchContext returns a child of ctx that ends as soon as the credentials are rejected.
func (w *authWatch) watchContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	w.cancel.Store(&cancel)
	return cctx, cancel
}

// OnBrokerRead implements kgo.HookBrokerRead.
func (w *authWatch) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == kmsg.SASLAuthenticate.Int16() && err != nil && closedByPeer(err) {
		w.rejected.Store(true)
		if c := w.cancel.Load(); c != nil {
			(*c)()
		}
	}
}

func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// isAuthError reports whether err (from a first request) means the cluster rejected the
// credentials: SASL authentication failed, the mechanism is not enabled, or the broker closed the
// connection in answer to the SASL authentication.
func isAuthError(err error, w *authWatch) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) ||
		errors.Is(err, kerr.IllegalSaslState) {
		return true
	}
	return w != nil && w.rejected.Load()
}

// authError is the configuration error reported when the cluster rejects the credentials. It
// names the destination and the user, never the password.
func authError(component string, c connConfig, err error, w *authWatch) error {
	if w != nil && w.rejected.Load() && !errors.Is(err, kerr.SaslAuthenticationFailed) {
		err = errors.New("the broker closed the connection in answer to the SASL authentication")
	}
	return fmt.Errorf("%s: Kafka brokers %s rejected the SASL %s username/password for user %q (check sasl.username and sasl.password): %w",
		component, c.describe(), c.mechanism, c.username, redactErr(err, c.password))
}

// redactErr removes secret from err's text, should a broker or library ever echo it.
func redactErr(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "[redacted]"))
}
