package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits of a task definition (docs/task.md#validation).
const (
	MaxCustomFieldsPerKind = 100
	MaxHTTPHeaders         = 20
	MaxHTTPQueryParams     = 20
	MaxKafkaBrokers        = 50
	// MaxHTTPBatchSize and MaxHTTPBatchMB bound an HTTP request (ESA's defaults are 1,000 and 5).
	MaxHTTPBatchSize = 100000
	MaxHTTPBatchMB   = 100
)

// Bounds of the settings that cost CPU or memory while a task runs. Validate reports a value outside
// them with its path and the bound, e.g. "destination.batching.period: 1ns is below the minimum of 100ms".
const (
	// MinBatchPeriod is the shortest batching period (a destination's batching.period and the HTTP
	// destination's period): an output flushes at every period even when idle, so a period of a few
	// nanoseconds keeps a core busy doing nothing.
	MinBatchPeriod = 100 * time.Millisecond
	// MaxBatchCount is the largest batching.count, in records (0 takes the default).
	MaxBatchCount = 10_000_000
	// MinBatchByteSize and MaxBatchByteSize bound batching.byte_size when it is given (0 takes the
	// default): 1 KiB and 1 GiB.
	MinBatchByteSize = 1 << 10
	MaxBatchByteSize = 1 << 30
	// MaxHTTPTimeout is the largest HTTP destination timeout (ESA TransformTimeout), in seconds.
	MaxHTTPTimeout = 3600
	// MaxHTTPRetry is the largest HTTP destination max_retry (ESA MaxRetry).
	MaxHTTPRetry = 100
	// MaxInFlightLimit is the largest max_in_flight of a destination (concurrent batches or requests).
	MaxInFlightLimit = 1024
)

var (
	taskNameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	envRefRE     = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`)
	privateKeyRE = regexp.MustCompile(`^[A-Za-z0-9]{6,18}$`)
	headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// IsEnvRef reports whether s is an environment variable reference "${NAME}", the recommended way
// to give a secret.
func IsEnvRef(s string) bool { return envRefRE.MatchString(s) }

// Validate checks a task against every rule of docs/task.md (its keys, the destinations and
// #validation) and returns all problems at once, each with the path of the field in the Task model
// (e.g. "fields[2]", "destination.brokers[0]"). Load calls it; call it again after changing a Task in
// code.
func Validate(t *Task) Errors {
	v := &validator{t: t, max: math.MaxInt}
	v.task()
	return v.errs
}

type validator struct {
	t    *Task
	cat  *Category
	errs Errors
	// report, when set, gives the path a problem is reported at, or false to drop it (Load: the path
	// the user wrote; problems under a value that could not be decoded are dropped).
	report func(path string) (string, bool)
	// max is the number of problems described; the ones after it are only counted in more.
	max  int
	more int
}

func (v *validator) add(path, format string, args ...any) {
	if v.report != nil {
		var ok bool
		if path, ok = v.report(path); !ok {
			return
		}
	}
	if v.full() {
		v.more++
		return
	}
	v.errs = append(v.errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// full reports whether max problems were described: a caller may then skip the work of describing
// the next one (a "did you mean" suggestion).
func (v *validator) full() bool { return len(v.errs) >= v.max }

// oneOf checks an enumerated value; empty is allowed when allowEmpty.
func (v *validator) oneOf(path, val string, allowEmpty bool, choices ...string) {
	if val == "" && allowEmpty || slices.Contains(choices, val) {
		return
	}
	if val == "" {
		v.add(path, "required (one of %s)", strings.Join(choices, ", "))
		return
	}
	v.add(path, "%q is not one of %s%s", val, strings.Join(choices, ", "), didYouMean(val, choices))
}

func (v *validator) required(path, val string) bool {
	if strings.TrimSpace(val) == "" {
		v.add(path, "required")
		return false
	}
	return true
}

// maskedSecret is the problem of a secret that is ESASecretMask.
const maskedSecret = `"` + ESASecretMask + `" is what an ESA export shows in place of a secret: the export does ` +
	`not carry the secret; give it in the task file, literally or as an ${ENV_VAR} reference`

// secret checks a credential: a literal or a well-formed ${ENV_VAR} reference, not the mask of an
// export.
func (v *validator) secret(path, val string) {
	if val == ESASecretMask {
		v.add(path, "%s", maskedSecret)
		return
	}
	if strings.Contains(val, "${") && !IsEnvRef(val) {
		v.add(path, "malformed environment reference: write ${NAME} with NAME of letters, digits and '_'")
	}
}

func (v *validator) nonNegative(path string, n int64) {
	if n < 0 {
		v.add(path, "must not be negative, not %d", n)
	}
}

// atMost checks a count that must not be negative nor above max; unit follows the limit in the message.
func (v *validator) atMost(path string, n, max int64, unit string) {
	switch {
	case n < 0:
		v.nonNegative(path, n)
	case n > max:
		v.add(path, "%d is above the maximum of %d%s", n, max, unit)
	}
}

// period checks an optional batching period: a duration of at least MinBatchPeriod.
func (v *validator) period(path, s string) {
	if s == "" {
		return
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil || d <= 0:
		v.add(path, "%q is not a positive duration (e.g. 5s, 500ms)", s)
	case d < MinBatchPeriod:
		v.add(path, "%s is below the minimum of %s", s, MinBatchPeriod)
	}
}

func (v *validator) task() {
	t := v.t
	switch {
	case t.Name == "":
		v.add("name", "required")
	case len(t.Name) > 64:
		v.add("name", "%d characters; at most 64 are allowed", len(t.Name))
	case !taskNameRE.MatchString(t.Name):
		v.add("name", "%q: use letters, digits, '-' and '_', starting with a letter or digit", t.Name)
	}
	if t.Category == "" {
		v.add("category", "required (one of %s)", strings.Join(canonicalCategoryNames(), ", "))
	} else if c, ok := LookupCategory(t.Category); ok {
		v.cat = c
	} else {
		v.add("category", "%q is not a log category (one of %s)%s", t.Category,
			strings.Join(canonicalCategoryNames(), ", "), didYouMean(t.Category, categoryNames()))
	}
	v.oneOf("status", t.Status, true, StatusOnline, StatusOffline)
	v.nonNegative("site_id", t.SiteID)
	v.oneOf("data_center", t.DataCenter, true, "cn", "oversea")
	v.fields()
	v.sampling()
	for _, e := range ValidateConditions(v.cat, t.Filters, "filters") {
		v.add(e.Path, "%s", e.Msg)
	}
	v.customFields()
	v.transforms()
	v.retry()
	v.source()
	v.destination()
	v.output()
	v.deadLetter()
	v.buffer()
	if k, _ := t.Destination.Kind(); t.OwnershipToken != "" && t.Destination.Type != "" && !k.Ownership {
		v.add("ownership_token", "only the s3 and s3_compatible destinations use an ownership token")
	}
}

// retry checks the retry policy.
func (v *validator) retry() {
	r := v.t.Retry
	if r == nil {
		return
	}
	typ := v.t.Destination.Type
	k, _ := v.t.Destination.Kind() // an unknown type retries nothing
	switch {
	case typ == "" || k.Retry == RetryAll:
	case k.Retry == RetryTiming:
		if len(r.OnStatus) > 0 {
			v.add("retry.on_status", "applies to the %s destinations (HTTP statuses); %s retries by its own error codes (max_elapsed and max_backoff apply)",
				joinAnd(RetryTypes(RetryAll)), typ)
		}
	default:
		v.add("retry", "applies to the %s destinations; %s retries by its own rules (a failed write fails its batch, which the source sends again)", joinAnd(RetryTypes(RetryTiming)), typ)
		return
	}
	for i, s := range r.OnStatus {
		if !ValidRetryStatus(s) {
			v.add(indexPath("retry.on_status", i), "%q is not an HTTP status (100–599) or a class (1xx–5xx)", s)
		}
	}
	for _, d := range []struct {
		name, val string
		min       time.Duration
	}{
		{"max_elapsed", r.MaxElapsed, time.Second}, {"max_backoff", r.MaxBackoff, 100 * time.Millisecond}} {
		if d.val == "" {
			continue
		}
		if dur, err := time.ParseDuration(d.val); err != nil || dur < d.min {
			v.add("retry."+d.name, "%q: want a duration of at least %s (such as 10m)", d.val, d.min)
		}
	}
}

// joinAnd joins names as "a, b and c".
func joinAnd(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// ValidRetryStatus reports whether s is an HTTP status code (100–599) or a class (1xx–5xx), as
// retry.on_status takes them.
func ValidRetryStatus(s string) bool {
	if len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5' {
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 100 && n <= 599 && strconv.Itoa(n) == s
}

// transforms checks the privacy transforms: each names a delivered string field once and gives
// exactly one transform with valid settings.
func (v *validator) transforms() {
	t := v.t
	seen := map[string]int{}
	for i, tr := range t.Transforms {
		p := indexPath("transforms", i)
		n := 0
		for _, set := range []bool{tr.Hash != nil, tr.TruncateIP != nil, tr.Redact != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			v.add(p, "give exactly one of hash, truncate_ip and redact")
		}
		fp := joinPath(p, "field")
		switch j, dup := seen[tr.Field]; {
		case tr.Field == "":
			v.add(fp, "required")
		case !slices.Contains(t.Fields, tr.Field):
			v.add(fp, "%q is not one of the task's fields%s", tr.Field, didYouMean(tr.Field, t.Fields))
		case dup:
			v.add(fp, "%q has a transform already (transforms[%d])", tr.Field, j)
		default:
			seen[tr.Field] = i
			if v.cat != nil {
				if f, ok := v.cat.Field(tr.Field); ok && f.Type != TypeString {
					v.add(fp, "%q is a %s field; transforms apply to string fields", tr.Field, f.Type)
				}
			}
		}
		if h := tr.Hash; h != nil {
			kp := joinPath(p, "hash.key")
			switch {
			case h.Key == "":
				v.add(kp, "required (a ${VAR} reference to a secret of at least %d bytes)", MinHashKeyBytes)
			case !IsEnvRef(h.Key) && len(h.Key) < MinHashKeyBytes:
				v.add(kp, "at least %d bytes", MinHashKeyBytes)
			}
			v.oneOf(joinPath(p, "hash.encoding"), h.Encoding, true, "hex", "base64url")
		}
		if ip := tr.TruncateIP; ip != nil {
			if ip.IPv4Prefix < 0 || ip.IPv4Prefix > 32 {
				v.add(joinPath(p, "truncate_ip.ipv4_prefix"), "%d: must be 0–32 (0: the default, %d)", ip.IPv4Prefix, DefaultIPv4Prefix)
			}
			if ip.IPv6Prefix < 0 || ip.IPv6Prefix > 128 {
				v.add(joinPath(p, "truncate_ip.ipv6_prefix"), "%d: must be 0–128 (0: the default, %d)", ip.IPv6Prefix, DefaultIPv6Prefix)
			}
		}
		if r := tr.Redact; r != nil && len(r.With) > MaxRedactLength {
			v.add(joinPath(p, "redact.with"), "%d bytes; at most %d", len(r.With), MaxRedactLength)
		}
	}
}

func canonicalCategoryNames() []string {
	var names []string
	for _, c := range catalog.list {
		names = append(names, c.Name)
	}
	return names
}

func (v *validator) fields() {
	t := v.t
	if len(t.Fields) == 0 {
		v.add("fields", "at least one field is required")
		return
	}
	seen := map[string]int{}
	for i, f := range t.Fields {
		p := indexPath("fields", i)
		if f == "" {
			v.add(p, "empty field name")
			continue
		}
		if j, dup := seen[f]; dup {
			v.add(p, "%q is already listed as fields[%d]", f, j)
			continue
		}
		seen[f] = i
		if v.cat == nil {
			continue
		}
		if _, ok := v.cat.Field(f); !ok {
			hint := ""
			if !v.full() {
				hint = didYouMean(f, v.cat.FieldNames())
			}
			if f == "CustomFields" {
				hint = " (configure custom_fields instead; CustomFields is added to every record then)"
			}
			v.add(p, "%q is not a field of category %s%s", f, v.cat.Name, hint)
		}
	}
}

func (v *validator) sampling() {
	r := v.t.SamplingRate
	if math.IsNaN(r) || r <= 0 || r > 100 {
		v.add("sampling_rate", "%v is not in (0, 100] percent", r)
	} else if c := r * 100; math.Abs(c-math.Round(c)) > 1e-6 {
		v.add("sampling_rate", "%v has more than 2 decimals", r)
	}
	if k := v.t.SampleKey; k != "" && v.cat != nil {
		if _, ok := v.cat.Field(k); !ok {
			v.add("sample_key", "%q is not a field of category %s%s", k, v.cat.Name, didYouMean(k, v.cat.FieldNames()))
		}
	}
}

// ValidateCustomFields checks the custom fields of an access-log site (the headers and cookies that
// ESA's CreateSiteCustomLog sets) as a task's custom_fields are checked, with problems at
// request_headers[i], response_headers[i] and cookies[i].
func ValidateCustomFields(cf *CustomFields) Errors {
	cat, _ := LookupCategory("access")
	v := &validator{t: &Task{CustomFields: cf}, cat: cat, max: MaxProblems, report: func(path string) (string, bool) {
		return strings.TrimPrefix(path, "custom_fields."), true
	}}
	v.customFields()
	return v.errs
}

func (v *validator) customFields() {
	cf := v.t.CustomFields
	if cf == nil {
		return
	}
	if v.cat != nil && !v.cat.CustomFields {
		v.add("custom_fields", "only category access has custom fields, not %s", v.cat.Name)
		return
	}
	if len(cf.RequestHeaders)+len(cf.ResponseHeaders)+len(cf.Cookies) == 0 {
		v.add("custom_fields", "lists no header or cookie name")
		return
	}
	check := func(kind string, names []string, fold bool) {
		p := joinPath("custom_fields", kind)
		if len(names) > MaxCustomFieldsPerKind {
			v.add(p, "%d names; at most %d are allowed", len(names), MaxCustomFieldsPerKind)
		}
		seen := map[string]int{}
		for i, n := range names {
			np := indexPath(p, i)
			if msg := customFieldNameProblem(n); msg != "" {
				v.add(np, "%s", msg)
				continue
			}
			key := n
			if fold {
				key = strings.ToLower(n)
			}
			if j, dup := seen[key]; dup {
				v.add(np, "%q is already listed as %s[%d]", n, kind, j)
				continue
			}
			seen[key] = i
		}
	}
	check(KindRequestHeaders, cf.RequestHeaders, true)
	check(KindResponseHeaders, cf.ResponseHeaders, true)
	check(KindCookies, cf.Cookies, false)
}

// hostPortProblem checks host:port with a numeric port. Messages never quote user info.
func hostPortProblem(s string) string {
	if strings.Contains(s, "@") {
		return fmt.Sprintf("%q: give host:port without user info", RedactURL(s))
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Sprintf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	_ = host // an empty host means all interfaces (listen addresses)
	return ""
}

func (v *validator) source() {
	s := v.t.Source
	v.oneOf("source.type", s.Type, false, sourceTypes...)
	switch s.Type {
	case "http":
		if s.HTTP == nil {
			return
		}
		v.ingest(s.HTTP)
	case "kafka":
		k := s.Kafka
		if k == nil {
			v.add("source", "kafka needs brokers, topics and group")
			return
		}
		v.brokers("source.brokers", k.Brokers)
		if len(k.Topics) == 0 {
			v.add("source.topics", "at least one topic is required")
		}
		for i, tp := range k.Topics {
			if strings.TrimSpace(tp) == "" {
				v.add(indexPath("source.topics", i), "empty topic")
			}
		}
		v.required("source.group", k.Group)
		v.sasl("source.sasl", k.SASL)
		v.tls("source.tls", k.TLS)
		v.oneOf("source.start_offset", k.StartOffset, true, "earliest", "latest")
	case "file":
		if s.File == nil || len(s.File.Paths) == 0 {
			v.add("source.paths", "at least one path is required")
			return
		}
		for i, p := range s.File.Paths {
			if strings.TrimSpace(p) == "" {
				v.add(indexPath("source.paths", i), "empty path")
			}
		}
	case "generate":
		if g := s.Generate; g != nil {
			v.nonNegative("source.count", g.Count)
			if g.Rate != "" && !validRate(g.Rate) {
				v.add("source.rate", "%q is not a rate like 1000/s", g.Rate)
			}
		}
	case "benthos":
		if len(s.Benthos) == 0 {
			v.add("source.config", "required: a Benthos input config")
		}
	}
}

// validRate accepts "<count>/<unit>" with a positive count and a unit of s, m, h or a duration (1s, 100ms).
func validRate(s string) bool {
	n, unit, ok := strings.Cut(s, "/")
	if !ok {
		return false
	}
	if c, err := strconv.ParseFloat(n, 64); err != nil || c <= 0 {
		return false
	}
	if unit != "" && (unit[0] < '0' || unit[0] > '9') {
		unit = "1" + unit
	}
	d, err := time.ParseDuration(unit)
	return err == nil && d > 0
}

// ingest checks the HTTP ingest source: its address, path, TLS and authentication. An address that is
// not loopback needs authentication (a bearer token, an auth_key private key or client certificates)
// unless insecure is set.
func (v *validator) ingest(h *HTTPSource) {
	if msg := hostPortProblem(h.Address); msg != "" {
		v.add("source.address", "%s", msg)
	}
	if !strings.HasPrefix(h.Path, "/") {
		v.add("source.path", "%q must start with /", h.Path)
	}
	mutual := false
	if t := h.TLS; t != nil {
		if t.CertFile == "" || t.KeyFile == "" {
			v.add("source.tls", "cert_file and key_file are both required")
		}
		mutual = t.ClientCAFile != ""
	}
	authenticated := mutual
	if a := h.Auth; a != nil {
		switch {
		case a.BearerToken != "" && a.PrivateKey != "":
			v.add("source.auth", "set bearer_token or private_key, not both")
		case a.BearerToken == "" && a.PrivateKey == "":
			v.add("source.auth", "set bearer_token or private_key")
		}
		if a.BearerToken != "" {
			authenticated = true
			v.secret("source.auth.bearer_token", a.BearerToken)
			if !strings.Contains(a.BearerToken, "${") && a.BearerToken != ESASecretMask && len(a.BearerToken) < MinBearerToken {
				v.add("source.auth.bearer_token", "too short: use at least %d characters", MinBearerToken)
			}
		}
		if a.PrivateKey != "" {
			authenticated = true
			v.privateKey("source.auth.private_key", a.PrivateKey)
		}
		v.nonNegative("source.auth.expired_time", a.ExpiredTime)
		if a.URLPath != "" && !strings.HasPrefix(a.URLPath, "/") {
			v.add("source.auth.url_path", "%q must start with /", a.URLPath)
		}
	}
	if !authenticated && !h.Insecure && hostPortProblem(h.Address) == "" && !IsLoopback(h.Address) {
		v.add("source.address", "%s is not a loopback address and requests are not authenticated: set source.auth (bearer_token or private_key) or source.tls.client_ca_file, or insecure: true to accept records from anyone who can reach it", h.Address)
	}
}

// privateKey checks an ESA auth_key private key: 6–18 letters and digits with at least one of each
// (or an environment reference).
func (v *validator) privateKey(path, key string) {
	switch {
	case key == ESASecretMask:
		v.secret(path, key)
	case IsEnvRef(key):
	case strings.Contains(key, "${"):
		v.secret(path, key)
	case !privateKeyRE.MatchString(key) || !strings.ContainsAny(key, "0123456789") ||
		strings.IndexFunc(key, func(r rune) bool { return r < '0' || r > '9' }) < 0:
		v.add(path, "must be 6–18 letters and digits with at least one of each")
	}
}

// IsLoopback reports whether the host of the host:port address is a loopback name or address
// (localhost, 127.0.0.0/8, ::1). An empty host (":4196") listens on every interface and is not.
func IsLoopback(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) brokers(path string, brokers []string) {
	switch {
	case len(brokers) == 0:
		v.add(path, "at least one broker (host:port) is required")
	case len(brokers) > MaxKafkaBrokers:
		v.add(path, "%d brokers; at most %d are allowed", len(brokers), MaxKafkaBrokers)
	}
	for i, b := range brokers {
		if msg := hostPortProblem(b); msg != "" {
			v.add(indexPath(path, i), "%s", msg)
		} else if h, _, _ := net.SplitHostPort(b); h == "" {
			v.add(indexPath(path, i), "%q has no host", b)
		}
	}
}

func (v *validator) sasl(path string, s *SASL) {
	if s == nil {
		return
	}
	v.oneOf(joinPath(path, "mechanism"), s.Mechanism, false, SASLMechanisms()...)
	v.required(joinPath(path, "username"), s.Username)
	if v.required(joinPath(path, "password"), s.Password) {
		v.secret(joinPath(path, "password"), s.Password)
	}
}

func (v *validator) tls(path string, t *TLS) {
	if t == nil {
		return
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add(path, "cert_file and key_file go together")
	}
}

func (v *validator) batching(path string, b *Batching) {
	if b == nil {
		return
	}
	v.atMost(joinPath(path, "count"), int64(b.Count), MaxBatchCount, " records")
	if n := b.ByteSize; n > 0 && n < MinBatchByteSize {
		v.add(joinPath(path, "byte_size"), "%d is below the minimum of %d (1 KiB)", n, MinBatchByteSize)
	} else {
		v.atMost(joinPath(path, "byte_size"), int64(n), MaxBatchByteSize, " (1 GiB)")
	}
	v.period(joinPath(path, "period"), b.Period)
}

// credentials checks an optional key pair: both or neither.
func (v *validator) credentials(idPath, id, secretPath, secret string) {
	if (id == "") != (secret == "") {
		if id == "" {
			v.add(idPath, "required with %s", secretPath[strings.LastIndex(secretPath, ".")+1:])
		} else {
			v.add(secretPath, "required with %s", idPath[strings.LastIndex(idPath, ".")+1:])
		}
	}
	v.secret(secretPath, secret)
	v.secret(idPath, id)
}

// endpointURL checks an http(s) URL without a path (an S3-compatible endpoint).
func (v *validator) endpointURL(path, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(path, "%q is not a URL like https://host[:port]", RedactURL(s))
		return
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		v.add(path, "%q: give the endpoint without bucket, path, query or credentials", RedactURL(s))
	}
}

func (v *validator) destination() {
	d := &v.t.Destination
	v.oneOf("destination.type", d.Type, false, destinationTypes()...)
	if _, ok := d.Kind(); !ok {
		return // reported by oneOf
	}
	params := d.params()
	if params == nil {
		v.add("destination", "the %s parameters are missing", d.Type)
		return
	}
	params.check(v, d.Type)
}

// check validates an sls destination.
func (s *SLSDestination) check(v *validator, _ string) {
	const p = "destination"
	v.required(p+".project", s.Project)
	v.required(p+".logstore", s.Logstore)
	if s.Region == "" && s.Endpoint == "" {
		v.add(p+".region", "required (or endpoint)")
	}
	v.credentials(p+".access_key_id", s.AccessKeyID, p+".access_key_secret", s.AccessKeySecret)
	v.secret(p+".security_token", s.SecurityToken)
	v.atMost(p+".max_in_flight", int64(s.MaxInFlight), MaxInFlightLimit, "")
	v.batching(p+".batching", s.Batching)
}

// check validates an oss destination.
func (o *OSSDestination) check(v *validator, _ string) {
	const p = "destination"
	v.required(p+".bucket", o.Bucket)
	v.required(p+".region", o.Region)
	if strings.HasPrefix(o.Prefix, "/") {
		v.add(p+".prefix", "%q must not start with /", o.Prefix)
	}
	v.credentials(p+".access_key_id", o.AccessKeyID, p+".access_key_secret", o.AccessKeySecret)
	v.secret(p+".security_token", o.SecurityToken)
	v.atMost(p+".max_in_flight", int64(o.MaxInFlight), MaxInFlightLimit, "")
	v.batching(p+".batching", o.Batching)
	v.objectOptions(p)
}

// check validates an s3 or s3_compatible (typ) destination.
func (s *S3Destination) check(v *validator, typ string) {
	const p = "destination"
	if v.required(p+".bucket_path", s.BucketPath) {
		if bucket, _, _ := strings.Cut(s.BucketPath, "/"); bucket == "" {
			v.add(p+".bucket_path", "%q: write bucket[/path] without a leading /", s.BucketPath)
		}
	}
	if s.Region == "" && (typ == "s3" || RegionFromEndpoint(s.Endpoint) == "") {
		// An S3-compatible endpoint that names its region (oss-cn-hangzhou.aliyuncs.com, see
		// docs/task.md#s3-and-s3_compatible) gives the region; anything else needs it.
		v.required(p+".region", s.Region)
	}
	if typ == "s3_compatible" {
		if v.required(p+".endpoint", s.Endpoint) {
			v.endpointURL(p+".endpoint", s.Endpoint)
		}
	} else if s.Endpoint != "" {
		v.endpointURL(p+".endpoint", s.Endpoint)
	}
	v.oneOf(p+".server_side_encryption", s.ServerSideEncryption, true, "AES256")
	v.credentials(p+".access_key_id", s.AccessKeyID, p+".secret_access_key", s.SecretAccessKey)
	v.secret(p+".session_token", s.SessionToken)
	v.atMost(p+".max_in_flight", int64(s.MaxInFlight), MaxInFlightLimit, "")
	v.batching(p+".batching", s.Batching)
	v.objectOptions(p)
}

// check validates an http destination.
func (h *HTTPDestination) check(v *validator, _ string) { v.httpDestination(h) }

// check validates a kafka destination.
func (k *KafkaDestination) check(v *validator, _ string) {
	const p = "destination"
	v.required(p+".topic", k.Topic)
	v.brokers(p+".brokers", k.Brokers)
	v.oneOf(p+".compression", k.Compression, true, KafkaCompressions()...)
	v.sasl(p+".sasl", k.SASL)
	v.tls(p+".tls", k.TLS)
	v.oneOf(p+".balancer", k.Balancer, true, KafkaBalancers()...)
	if k.KeyField != "" && !slices.Contains(v.t.Fields, k.KeyField) {
		v.add(p+".key_field", "%q is not one of the delivered fields%s", k.KeyField, didYouMean(k.KeyField, v.t.Fields))
	}
	v.atMost(p+".max_in_flight", int64(k.MaxInFlight), MaxInFlightLimit, "")
	v.batching(p+".batching", k.Batching)
}

// check validates a local destination.
func (l *LocalDestination) check(v *validator, _ string) {
	const p = "destination"
	v.required(p+".path", l.Path)
	v.batching(p+".batching", l.Batching)
	v.objectOptions(p)
}

// level checks a compression level: 0 (the default), gzip and zlib 1–9, zstd 1–22; other codecs take
// none.
func (v *validator) level(path, codec string, level int) {
	if level == 0 {
		return
	}
	switch codec {
	case "gzip", "zlib":
		if level < 1 || level > 9 {
			v.add(path, "%d is not a %s level (1–9)", level, codec)
		}
	case "zstd":
		if level < 1 || level > 22 {
			v.add(path, "%d is not a zstd level (1–22)", level)
		}
	default:
		if codec == "" {
			codec = "no"
		}
		v.add(path, "only gzip, zlib and zstd take a level; compression is %s", codec)
	}
}

// objectOptions checks the compression and partition of an object destination at path.
func (v *validator) objectOptions(path string) {
	o, ok := v.t.Destination.Objects()
	if !ok {
		return
	}
	codecs := ObjectCompressions()
	if v.t.Output.Format == FormatParquet {
		codecs = ParquetCompressions() // the codec of the Parquet file's pages (docs/destinations.md#parquet)
	}
	v.oneOf(path+".compression", o.Compression, true, codecs...)
	codec := o.Compression
	if codec == "" {
		codec = codecs[0]
	}
	if slices.Contains(codecs, codec) {
		v.level(path+".compression_level", codec, o.CompressionLevel)
	}
	pt := o.Partition
	if pt == nil {
		return
	}
	pp := path + ".partition"
	v.oneOf(pp+".style", pt.Style, true, "hive", "plain")
	if pt.MaxOpen != 0 && (pt.MaxOpen < 1 || pt.MaxOpen > MaxPartitionMaxOpen) {
		v.add(pp+".max_open", "%d is not in 1..%d (0: the default, %d)", pt.MaxOpen, MaxPartitionMaxOpen, DefaultPartitionMaxOpen)
	}
	switch {
	case len(pt.By) == 0:
		v.add(pp+".by", "at least one level is required: date, hour or one of the task's fields")
		return
	case len(pt.By) > MaxPartitionLevels:
		v.add(pp+".by", "%d levels; at most %d are allowed", len(pt.By), MaxPartitionLevels)
	}
	choices := append([]string{PartitionDate, PartitionHour}, v.t.Fields...)
	seen := map[string]int{}
	for i, b := range pt.By {
		bp := indexPath(pp+".by", i)
		if j, dup := seen[b]; dup {
			v.add(bp, "%q is already listed as by[%d]", b, j)
			continue
		}
		seen[b] = i
		switch {
		case b == PartitionDate:
		case b == PartitionHour:
			if _, ok := seen[PartitionDate]; !ok {
				v.add(bp, "hour needs date before it (by: [date, hour])")
			}
		case b == "":
			v.add(bp, "empty level")
		case !slices.Contains(v.t.Fields, b):
			hint := ""
			if !v.full() {
				hint = didYouMean(b, choices)
			}
			v.add(bp, "%q is not date, hour or one of the task's fields%s", b, hint)
		case v.cat != nil:
			if f, ok := v.cat.Field(b); ok && f.Type == TypeTimestamp {
				v.add(bp, "%q is a timestamp: partition by date and hour instead", b)
			}
		}
	}
}

func (v *validator) httpDestination(h *HTTPDestination) {
	const p = "destination"
	if v.required(p+".url", h.URL) {
		if !strings.HasPrefix(h.URL, "http://") && !strings.HasPrefix(h.URL, "https://") {
			v.add(p+".url", "must start with http:// or https://")
		} else if u, err := url.Parse(h.URL); err != nil || u.Host == "" {
			v.add(p+".url", "not a valid URL")
		} else if maskedURL(u) {
			v.add(p+".url", "has %q in place of its user info or a token-like query value, as an ESA export "+
				"shows them: the export does not carry them; give the URL in the task file, with the secrets "+
				"literally or as ${ENV_VAR} references", ESASecretMask)
		}
	}
	v.oneOf(p+".compression", h.Compression, true, HTTPCompressions()...)
	if h.Compression == "" || slices.Contains(HTTPCompressions(), h.Compression) {
		v.level(p+".compression_level", h.Compression, h.CompressionLevel)
	}
	if a := h.Auth; a != nil {
		if a.PrivateKey == "" {
			v.add(p+".auth.private_key", "required")
		} else {
			v.privateKey(p+".auth.private_key", a.PrivateKey)
		}
		if a.ExpiredTime <= 0 {
			v.add(p+".auth.expired_time", "must be a number of seconds greater than 0")
		}
		if a.URLPath != "" && !strings.HasPrefix(a.URLPath, "/") {
			v.add(p+".auth.url_path", "%q must start with /", a.URLPath)
		}
	}
	if len(h.Headers) > MaxHTTPHeaders {
		v.add(p+".headers", "%d headers; at most %d are allowed", len(h.Headers), MaxHTTPHeaders)
	}
	for _, name := range sortedKeys(h.Headers) {
		if !headerNameRE.MatchString(name) {
			v.add(p+".headers."+name, "not a valid header name")
		} else if h.Headers[name] == ESASecretMask {
			v.add(p+".headers."+name, "%s", maskedSecret)
		}
	}
	if len(h.Query) > MaxHTTPQueryParams {
		v.add(p+".query", "%d query parameters; at most %d are allowed", len(h.Query), MaxHTTPQueryParams)
	}
	for _, name := range sortedKeys(h.Query) {
		if name == "" || name == "auth_key" && h.Auth != nil {
			v.add(p+".query."+name, "reserved or empty query parameter name")
		} else if h.Query[name] == ESASecretMask {
			v.add(p+".query."+name, "%s", maskedSecret)
		}
	}
	if h.MaxBatchSize < 0 || h.MaxBatchSize > MaxHTTPBatchSize {
		v.add(p+".max_batch_size", "%d is not in 1..%d records", h.MaxBatchSize, MaxHTTPBatchSize)
	}
	if math.IsNaN(h.MaxBatchMB) || h.MaxBatchMB < 0 || h.MaxBatchMB > MaxHTTPBatchMB {
		v.add(p+".max_batch_mb", "%v is not in (0, %d] MB", h.MaxBatchMB, MaxHTTPBatchMB)
	}
	if h.MaxRetry != nil {
		v.atMost(p+".max_retry", int64(*h.MaxRetry), MaxHTTPRetry, " retries")
	}
	v.atMost(p+".timeout", int64(h.Timeout), MaxHTTPTimeout, " seconds")
	v.atMost(p+".max_in_flight", int64(h.MaxInFlight), MaxInFlightLimit, "")
	v.period(p+".period", h.Period)
	v.tls(p+".tls", h.TLS)
}

// maskedURL reports whether the user name, the password or a query value of u is ESASecretMask.
func maskedURL(u *url.URL) bool {
	if u.User != nil {
		pass, _ := u.User.Password()
		if u.User.Username() == ESASecretMask || pass == ESASecretMask {
			return true
		}
	}
	q, _ := url.ParseQuery(u.RawQuery)
	for _, vs := range q {
		if slices.Contains(vs, ESASecretMask) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (v *validator) output() {
	o := v.t.Output
	v.oneOf("output.format", o.Format, true, OutputFormats()...)
	v.parquetOutput()
	v.oneOf("output.timestamp_format", o.TimestampFormat, true, TimestampFormats()...)
}

func (v *validator) deadLetter() {
	dl := v.t.DeadLetter
	if dl == nil {
		return
	}
	v.oneOf("dead_letter.type", dl.Type, false, "local", "benthos")
	switch dl.Type {
	case "local":
		v.required("dead_letter.path", dl.Path)
		if len(dl.Config) > 0 {
			v.add("dead_letter.config", "only for type benthos")
		}
	case "benthos":
		if len(dl.Config) == 0 {
			v.add("dead_letter.config", "required: a Benthos output config")
		}
		if dl.Path != "" {
			v.add("dead_letter.path", "only for type local")
		}
	}
}

func (v *validator) buffer() {
	b := v.t.Buffer
	if b == nil {
		return
	}
	v.oneOf("buffer.type", b.Type, false, "memory", "disk")
	switch b.Type {
	case "disk":
	case "memory":
		for _, f := range [][2]string{{"path", b.Path}, {"max_bytes", b.MaxBytes}, {"when_full", b.WhenFull}} {
			if f[1] != "" {
				v.add("buffer."+f[0], "only for type disk")
			}
		}
		return
	default:
		return
	}
	v.required("buffer.path", b.Path)
	if b.MaxBytes != "" {
		if _, err := ParseByteSize(b.MaxBytes); err != nil {
			v.add("buffer.max_bytes", "%v", err)
		}
	}
	v.oneOf("buffer.when_full", b.WhenFull, true, "block", "reject")
}
