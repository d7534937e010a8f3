package generate

import (
	"strconv"
	"time"
)

// ---- firewall ----

var (
	fwActions  = newChoice("deny", 40, "Observe", 20, "captcha", 9, "js", 9, "captcha_pass", 5, "js_pass", 6, "sigchl", 3, "pass", 8)
	fwSources  = newChoice("http_managed", 28, "http_custom", 20, "http_ratelimit", 12, "http_bot", 10, "http_ddos", 5, "base_protect", 6, "ip_access_rule", 6, "http_anti_scan", 4, "http_whitelist", 3, "http_security_level", 3, "api_shield", 3)
	fwManaged  = newChoice("sqli", 30, "xss", 25, "path_traversal", 10, "scanner_behavior", 10, "code_exec", 5, "webshell", 5, "cmdi", 5, "ssrf", 3, "protocol_violation", 4, "other", 3)
	fwRuleType = map[string][]string{
		"http_custom": {"acl"}, "http_ratelimit": {"cc"}, "http_bot": {"others"}, "http_ddos": {"cc"},
		"base_protect": {"others"}, "ip_access_rule": {"ip"}, "http_anti_scan": {"others"},
		"http_whitelist": {"acl"}, "http_security_level": {"low", "medium", "high"}, "api_shield": {"schema_validation", "api_rule"},
	}
)

func fillFirewall(g *Generator) {
	s := &g.st
	r := g.rng
	// Blocked traffic skews to scripted clients.
	s.c = &g.w.clients[g.zClient.Uint64()]
	s.p = &g.w.paths[g.zPath.Uint64()]
	g.newID()
	s.start = g.clock().Add(-time.Duration(r.IntN(2000)) * time.Millisecond).Add(time.Duration(r.IntN(1000)) * time.Microsecond)
	s.action = fwActions.pick(r)
	s.secSource = fwSources.pick(r)
	s.managed = ""
	if s.secSource == "http_managed" {
		s.managed = fwManaged.pick(r)
		s.ruleType = s.managed
	} else {
		types := fwRuleType[s.secSource]
		s.ruleType = types[r.IntN(len(types))]
	}
	if s.secSource == "base_protect" || s.secSource == "http_ddos" {
		s.secRule = "-1"
	} else {
		s.secRule = strconv.Itoa(100000 + r.IntN(9000))
	}
	if s.p.kind == kindAPI {
		s.method = methodsAPI.pick(r)
	} else {
		s.method = methodsStatic.pick(r)
	}
	s.tls, s.scheme = "TLSv1.3", "https"
	if r.IntN(20) == 0 {
		s.tls, s.scheme = "-", "http"
	}
	s.proto = s.c.ua.proto
	switch s.action {
	case "deny":
		s.status, s.originStatus = 403, -1
	case "captcha", "js", "sigchl":
		s.status, s.originStatus = 200, -1
	default:
		s.status = 200
		if r.IntN(20) == 0 {
			s.status = 404
		}
		s.originStatus = s.status
	}
	s.referer = "-"
	if r.IntN(3) == 0 {
		s.referer = referers.pick(r)
	}
}

var firewallWriters = map[string]writeFunc{
	"Action":                 wStr(func(s *state) string { return s.action }),
	"ClientRequestID":        appendRequestID,
	"Datetime":               func(g *Generator, dst []byte) []byte { return g.appendTime(dst, g.st.start) },
	"JA3Hash":                accessWriters["JA3Hash"],
	"JA4Hash":                accessWriters["JA4Hash"],
	"ManagedRuleType":        wStr(func(s *state) string { return s.managed }),
	"RuleID":                 wStr(func(s *state) string { return s.secRule }),
	"RuleType":               wStr(func(s *state) string { return s.ruleType }),
	"Source":                 wStr(func(s *state) string { return s.secSource }),
	"TlsHash":                accessWriters["TlsHash"],
	"ClientASN":              accessWriters["ClientASN"],
	"ClientCountryCode":      accessWriters["ClientCountryCode"],
	"ClientIP":               accessWriters["ClientIP"],
	"ClientISP":              accessWriters["ClientISP"],
	"ClientRequestHost":      accessWriters["ClientRequestHost"],
	"ClientRequestMethod":    accessWriters["ClientRequestMethod"],
	"ClientRequestPath":      accessWriters["ClientRequestPath"],
	"ClientRequestProtocol":  accessWriters["ClientRequestProtocol"],
	"ClientRequestReferer":   accessWriters["ClientRequestReferer"],
	"ClientRequestQuery":     accessWriters["ClientRequestQuery"],
	"ClientRequestScheme":    accessWriters["ClientRequestScheme"],
	"ClientRequestURI":       accessWriters["ClientRequestURI"],
	"ClientRequestUserAgent": accessWriters["ClientRequestUserAgent"],
	"EdgeResponseContentType": wStr(func(s *state) string {
		if s.action == "deny" || s.action == "captcha" || s.action == "js" || s.action == "sigchl" {
			return "text/html; charset=utf-8"
		}
		return s.p.contentType
	}),
	"EdgeResponseStatusCode":   wInt(func(s *state) int64 { return s.status }),
	"OriginResponseStatusCode": wInt(func(s *state) int64 { return s.originStatus }),
}

// ---- tcp_udp_proxy ----

var (
	proxyApps = []struct {
		proto string
		port  int64
	}{{"tcp", 443}, {"tcp", 443}, {"tcp", 3306}, {"tcp", 6379}, {"tcp", 22}, {"udp", 53}, {"udp", 443}, {"tcp", 8080}, {"udp", 27015}}
	proxyProtos  = newChoice("off", 70, "v1", 10, "v2", 20)
	proxyStatus  = newChoice("200", 93, "502", 3, "504", 2, "400", 1, "403", 1)
	matchedFW    = newChoice("", 95, "whitelist", 3, "blacklist", 2)
	proxyDomains = []string{"tcp.example.com", "game.example.com", "db.example.com", "udp.example.com"}
)

func fillProxy(g *Generator) {
	s := &g.st
	r := g.rng
	s.c = &g.w.clients[g.zClient.Uint64()]
	g.newID()
	s.end = g.clock().Add(-time.Duration(r.IntN(2000)) * time.Millisecond).Add(time.Duration(r.IntN(1000)) * time.Microsecond)
	dur := time.Duration(g.logNormal(30000, 2, 5)) * time.Millisecond
	s.connectAt = s.end.Add(-dur)
	s.start = s.end
	app := proxyApps[r.IntN(len(proxyApps))]
	s.clientProto, s.originPort = app.proto, app.port
	s.proxyProto = proxyProtos.pick(r)
	s.matchedFW = matchedFW.pick(r)
	s.ipFirewall = s.matchedFW != "" || r.IntN(4) == 0
	s.blockRule = ""
	s.status, _ = strconv.ParseInt(proxyStatus.pick(r), 10, 64)
	if s.matchedFW == "blacklist" {
		s.status = 403
		s.blockRule = strconv.Itoa(200000 + r.IntN(999))
	}
	s.clientBytes = g.logNormal(4000, 1.6, 0)
	s.originBytes = g.logNormal(40000, 2, 0)
	if s.status != 200 {
		s.originBytes = 0
	}
	s.clientPort = int64(1024 + r.IntN(64511))
}

var proxyWriters = map[string]writeFunc{
	"BlockRuleID":      wStr(func(s *state) string { return s.blockRule }),
	"ConnectTimeStamp": func(g *Generator, dst []byte) []byte { return g.appendTime(dst, g.st.connectAt) },
	"DisconnetTimeStamp": func(g *Generator, dst []byte) []byte {
		return g.appendTime(dst, g.st.end)
	},
	"DomainName": func(g *Generator, dst []byte) []byte {
		return appendStr(dst, proxyDomains[g.st.id[1]%uint64(len(proxyDomains))])
	},
	"EdgeServerIP":            accessWriters["EdgeServerIP"],
	"IpFirewall":              func(g *Generator, dst []byte) []byte { return strconv.AppendBool(dst, g.st.ipFirewall) },
	"LogTimeStamp":            func(g *Generator, dst []byte) []byte { return g.appendTime(dst, g.st.end) },
	"ProxyProtocol":           wStr(func(s *state) string { return s.proxyProto }),
	"SessionID":               appendRequestID,
	"SiteName":                accessWriters["SiteName"],
	"Status":                  wInt(func(s *state) int64 { return s.status }),
	"ClientASN":               accessWriters["ClientASN"],
	"ClientBytes":             wInt(func(s *state) int64 { return s.clientBytes }),
	"ClientCountryCode":       accessWriters["ClientCountryCode"],
	"ClientIP":                accessWriters["ClientIP"],
	"ClientISP":               accessWriters["ClientISP"],
	"ClientMatchedIpFirewall": wStr(func(s *state) string { return s.matchedFW }),
	"ClientPort":              wInt(func(s *state) int64 { return s.clientPort }),
	"ClientProto":             wStr(func(s *state) string { return s.clientProto }),
	"OriginBytes":             wInt(func(s *state) int64 { return s.originBytes }),
	"OriginIP": func(g *Generator, dst []byte) []byte {
		return appendStr(dst, g.w.origins[g.st.id[0]%uint64(len(g.w.origins))])
	},
	"OriginPort":  wInt(func(s *state) int64 { return s.originPort }),
	"OriginProto": wStr(func(s *state) string { return s.clientProto }),
}

// ---- dns ----

var (
	qtypes  = newChoice("A", 52, "AAAA", 25, "HTTPS", 7, "CNAME", 5, "TXT", 5, "MX", 3, "NS", 2, "SOA", 1)
	rcodes  = newChoice("NOERROR", 89, "NXDOMAIN", 9, "SERVFAIL", 1, "REFUSED", 1)
	nsAddrs = []string{"47.100.1.53", "47.100.2.53", "8.129.1.53", "8.129.2.53"}
)

func fillDNS(g *Generator) {
	s := &g.st
	r := g.rng
	s.c = &g.w.clients[g.zClient.Uint64()]
	s.start = g.clock().Add(-time.Duration(r.IntN(2000)) * time.Millisecond).Add(time.Duration(r.IntN(1000)) * time.Microsecond)
	s.qname = g.w.dnsNames[g.zHost.Uint64()]
	s.qtype = qtypes.pick(r)
	s.rcode = rcodes.pick(r)
	if s.rcode == "NXDOMAIN" {
		s.qname = "x" + strconv.Itoa(r.IntN(100000)) + ".example.com."
	}
	s.dnsProt = "udp"
	if r.IntN(10) == 0 {
		s.dnsProt = "tcp"
	}
	s.ednsSubnet = "-"
	if r.IntN(3) > 0 { // most resolvers forward the IPv4 client's /24
		s.ednsSubnet = s.c.subnet
	}
	s.processUs = g.logNormal(180, 0.8, 15)
}

func lastDot(ip string) int {
	for i := len(ip) - 1; i >= 0; i-- {
		switch ip[i] {
		case '.':
			return i
		case ':':
			return -1
		}
	}
	return -1
}

var dnsWriters = map[string]writeFunc{
	"DestIP": func(g *Generator, dst []byte) []byte {
		return appendStr(dst, nsAddrs[uint64(g.st.processUs)%uint64(len(nsAddrs))])
	},
	"EDNSSubnet":   wStr(func(s *state) string { return s.ednsSubnet }),
	"ProcessTime":  wInt(func(s *state) int64 { return s.processUs }),
	"Protocol":     wStr(func(s *state) string { return s.dnsProt }),
	"QueryName":    wStr(func(s *state) string { return s.qname }),
	"QueryType":    wStr(func(s *state) string { return s.qtype }),
	"ResponseCode": wStr(func(s *state) string { return s.rcode }),
	"SiteName":     accessWriters["SiteName"],
	"SourceIP":     wStr(func(s *state) string { return s.c.resolver }),
	"Timestamp":    func(g *Generator, dst []byte) []byte { return g.appendTime(dst, g.st.start) },
}

// ---- edge_routine ----

type routineState struct {
	account, routine, spec, version, event string
	fetch, kv, cache, console, errMsg      string
	sub                                    [5]int64
	cpuUs, durMs, size, status, errCode    int64
}

var (
	routines = []struct{ name, spec string }{
		{"api-gateway", "50ms"}, {"image-resize", "100ms"}, {"ab-test", "5ms"}, {"auth-check", "5ms"}, {"geo-redirect", "5ms"}, {"html-rewrite", "50ms"},
	}
	erErrors = []struct {
		code int64
		msg  string
	}{{1101, "Uncaught TypeError: Cannot read properties of undefined (reading 'id')"}, {1102, "Script exceeded CPU time limit"}, {1103, "Sub-request limit exceeded"}, {1104, "Script exceeded memory limit"}}
	kvStatus    = newChoice("-", 50, "hit", 35, "miss", 12, "error", 3)
	erCache     = newChoice("-", 55, "HIT", 30, "MISS", 15)
	erConsole   = newChoice("", 70, "cache miss for key user:session", 8, "redirecting to regional site", 8, "token verified", 10, "upstream slow: retrying once", 4)
	eventTypes  = newChoice("fetch", 97, "scheduled", 3)
	erRespCodes = newChoice("200", 88, "302", 4, "304", 3, "404", 3, "500", 2)
)

func fillRoutine(g *Generator) {
	s := &g.st
	r := g.rng
	e := &s.er
	s.c = &g.w.clients[g.zClient.Uint64()]
	s.p = &g.w.paths[g.zPath.Uint64()]
	g.newID()
	s.traceID = r.Uint64()
	s.start = g.clock().Add(-time.Duration(r.IntN(2000)) * time.Millisecond).Add(time.Duration(r.IntN(1000)) * time.Microsecond)
	rt := routines[int(s.p.lastMod)%len(routines)]
	e.account = g.w.accounts[int(s.p.lastMod/7)%len(g.w.accounts)]
	e.routine, e.spec = rt.name, rt.spec
	e.version = "1767" + strconv.Itoa(100000000+int(s.p.lastMod%899999999))
	e.event = eventTypes.pick(r)
	if s.p.kind == kindAPI {
		s.method = methodsAPI.pick(r)
	} else {
		s.method = methodsStatic.pick(r)
	}
	nsub := int64(0)
	if r.IntN(3) > 0 {
		nsub = int64(1 + r.IntN(4))
	}
	e.sub = [5]int64{}
	for i := int64(0); i < nsub; i++ {
		switch x := r.IntN(100); {
		case x < 90:
			e.sub[0]++
		case x < 94:
			e.sub[1]++
		case x < 98:
			e.sub[2]++
		default:
			e.sub[3]++
		}
	}
	e.fetch = "-"
	if nsub > 0 {
		e.fetch = "200"
		if e.sub[3] > 0 {
			e.fetch = "502"
		} else if e.sub[2] > 0 {
			e.fetch = "404"
		}
	}
	e.kv, e.cache, e.console = kvStatus.pick(r), erCache.pick(r), erConsole.pick(r)
	e.cpuUs = g.logNormal(900, 0.9, 40)
	e.durMs = e.cpuUs/1000 + nsub*g.logNormal(25, 0.8, 1)
	e.status, _ = strconv.ParseInt(erRespCodes.pick(r), 10, 64)
	e.errCode, e.errMsg = 0, ""
	if r.IntN(200) == 0 {
		ee := erErrors[r.IntN(len(erErrors))]
		e.errCode, e.errMsg, e.status = ee.code, ee.msg, 500
	}
	e.size = g.logNormal(float64(s.p.size)/4, 0.6, 0)
	if e.status == 304 || e.status == 302 {
		e.size = 0
	}
}

var routineWriters = map[string]writeFunc{
	"AccountID":           wStr(func(s *state) string { return s.er.account }),
	"ClientRequestHost":   accessWriters["ClientRequestHost"],
	"ClientRequestID":     appendRequestID,
	"ClientRequestMethod": accessWriters["ClientRequestMethod"],
	"ClientRequestPath":   accessWriters["ClientRequestPath"],
	"LogTimestamp":        func(g *Generator, dst []byte) []byte { return g.appendTime(dst, g.st.start) },
	"SubRequestID": func(g *Generator, dst []byte) []byte {
		return append(appendHex(append(dst, '"'), g.st.traceID, 16), '"')
	},
	"FetchStatus":          wStr(func(s *state) string { return s.er.fetch }),
	"KvStatus":             wStr(func(s *state) string { return s.er.kv }),
	"CacheStatus":          wStr(func(s *state) string { return s.er.cache }),
	"SubRequest2xxCount":   wInt(func(s *state) int64 { return s.er.sub[0] }),
	"SubRequest3xxCount":   wInt(func(s *state) int64 { return s.er.sub[1] }),
	"SubRequest4xxCount":   wInt(func(s *state) int64 { return s.er.sub[2] }),
	"SubRequest5xxCount":   wInt(func(s *state) int64 { return s.er.sub[3] }),
	"SubRequestOtherCount": wInt(func(s *state) int64 { return s.er.sub[4] }),
	"CodeVersion":          wStr(func(s *state) string { return s.er.version }),
	"ConsoleLog":           wStr(func(s *state) string { return s.er.console }),
	"CPUTime":              wInt(func(s *state) int64 { return s.er.cpuUs }),
	"Duration":             wInt(func(s *state) int64 { return s.er.durMs }),
	"ErrorCode":            wInt(func(s *state) int64 { return s.er.errCode }),
	"ErrorMessage":         wStr(func(s *state) string { return s.er.errMsg }),
	"EventType":            wStr(func(s *state) string { return s.er.event }),
	"ResponseSize":         wInt(func(s *state) int64 { return s.er.size }),
	"ResponseStatus":       wInt(func(s *state) int64 { return s.er.status }),
	"RoutineName":          wStr(func(s *state) string { return s.er.routine }),
	"RoutineSpec":          wStr(func(s *state) string { return s.er.spec }),
}

// ---- edge_container ----

type containerState struct {
	account, app, version, source, path, operator, region string
	level, msg                                            string
	ms                                                    int64
}

var (
	ecLevels  = newChoice("INFO", 80, "WARN", 12, "ERROR", 5, "DEBUG", 3)
	ecRegions = []struct{ region, operator string }{
		{"Beijing", "China Mobile"}, {"Shanghai", "China Telecom"}, {"Guangzhou", "China Unicom"}, {"Hangzhou", "China Telecom"},
		{"Chengdu", "China Mobile"}, {"Hong Kong", "PCCW"}, {"Singapore", "Singtel"}, {"Frankfurt", "Deutsche Telekom"},
	}
	ecMsgs = []string{"handled request", "cache refreshed", "connection pool resized", "upstream timeout, retrying", "health check ok", "config reloaded"}
)

func fillContainer(g *Generator) {
	s := &g.st
	r := g.rng
	e := &s.ec
	s.p = &g.w.paths[g.zPath.Uint64()]
	s.start = g.clock().Add(-time.Duration(r.IntN(2000)) * time.Millisecond).Add(time.Duration(r.IntN(1000)) * time.Microsecond)
	app := int(s.p.lastMod % 5)
	e.account = g.w.accounts[app%len(g.w.accounts)]
	e.app = "app-" + strconv.Itoa(1000+app)
	e.version = "v" + strconv.Itoa(1+app) + "." + strconv.Itoa(int(s.p.lastMod%7))
	if r.IntN(3) == 0 {
		e.source, e.path = "file", "/etc/logs/access.log"
	} else {
		e.source, e.path = "stdout", "-"
	}
	reg := ecRegions[r.IntN(len(ecRegions))]
	e.region, e.operator = reg.region, reg.operator
	e.level = ecLevels.pick(r)
	e.msg = ecMsgs[r.IntN(len(ecMsgs))]
	e.ms = g.logNormal(12, 1, 0)
}

var containerWriters = map[string]writeFunc{
	"AccountID":     wStr(func(s *state) string { return s.ec.account }),
	"ApplicationID": wStr(func(s *state) string { return s.ec.app }),
	"ContainerLog": func(g *Generator, dst []byte) []byte {
		s := &g.st
		dst = g.appendTime(dst, s.start)
		dst = append(dst[:len(dst)-1], ' ') // the time without its closing quote
		dst = append(dst, s.ec.level...)
		dst = append(dst, ' ')
		dst = append(dst, s.ec.msg...)
		dst = append(dst, " path="...)
		dst = append(dst, s.p.p...)
		dst = append(dst, " duration_ms="...)
		dst = appendInt(dst, s.ec.ms)
		return append(dst, '"')
	},
	"DataSource":   wStr(func(s *state) string { return s.ec.source }),
	"DataPath":     wStr(func(s *state) string { return s.ec.path }),
	"LogTimestamp": func(g *Generator, dst []byte) []byte { return g.appendTime(dst, g.st.start) },
	"Operator":     wStr(func(s *state) string { return s.ec.operator }),
	"Region":       wStr(func(s *state) string { return s.ec.region }),
	"VersionID":    wStr(func(s *state) string { return s.ec.version }),
}
