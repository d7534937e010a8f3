package generate

import (
	"strconv"
	"time"
)

// state is the current record's facts, filled once per record so that fields agree with each other
// (no origin fields on a cache hit, Last-Modified of the path, end time after start time, ...).
type state struct {
	start, end time.Time
	c          *client
	p          *path
	id         [2]uint64

	method, proto, tls, cipher, scheme string
	status, originStatus               int64
	cache                              string
	fetch                              bool // an origin fetch happened
	originTLS                          string
	originIP                           string
	bodyBytes, respBytes, reqBytes     int64
	respTime, ttfb                     int64
	dnsMs, tcpMs, tlsMs, originMs      int64
	rangeStart, rangeEnd               int64
	hasRange                           bool
	referer                            string
	compAlgo                           string
	compRatio                          float64
	secAction, secRule, secSource      string
	botTag                             string
	smart                              bool
	xrw                                bool
	traceID                            uint64

	// other categories
	action, ruleType, managed    string
	connectAt                    time.Time
	proxyProto, clientProto      string
	clientBytes, originBytes     int64
	originPort, clientPort       int64
	ipFirewall                   bool
	blockRule, matchedFW         string
	qname, qtype, rcode, dnsProt string
	ednsSubnet                   string
	processUs                    int64
	er                           routineState
	ec                           containerState
}

var (
	methodsStatic = newChoice("GET", 955, "HEAD", 35, "OPTIONS", 10)
	methodsAPI    = newChoice("GET", 62, "POST", 28, "PUT", 4, "DELETE", 2, "OPTIONS", 4)
	cacheStatic   = newChoice("HIT", 78, "MISS", 12, "EXPIRED", 5, "REVALIDATED", 3, "STALE", 1, "UPDATING", 1)
	cachePage     = newChoice("HIT", 45, "MISS", 30, "BYPASS", 20, "EXPIRED", 5)
	cacheAPI      = newChoice("BYPASS", 88, "MISS", 10, "HIT", 2)
	tls13Ciphers  = newChoice("TLS_AES_128_GCM_SHA256", 70, "TLS_AES_256_GCM_SHA384", 20, "TLS_CHACHA20_POLY1305_SHA256", 10)
	tls12Ciphers  = newChoice("ECDHE-RSA-AES128-GCM-SHA256", 60, "ECDHE-ECDSA-AES128-GCM-SHA256", 30, "ECDHE-RSA-AES256-GCM-SHA384", 10)
	errStatus     = newChoice("404", 62, "403", 8, "499", 6, "502", 10, "504", 6, "500", 5, "503", 3)
	secActions    = newChoice("deny", 45, "js", 15, "captcha", 10, "monitor", 25, "sigchl", 5)
	secSources    = newChoice("http_custom", 30, "http_managed", 25, "http_ratelimit", 20, "http_bot", 15, "ip_access_rule", 5, "base_protect", 5)
	referers      = newChoice("-", 40, "https://www.example.com/", 25, "https://www.google.com/", 12, "https://www.baidu.com/", 10, "https://m.example.com/", 8, "https://www.bing.com/", 5)
)

func (g *Generator) newID() { g.st.id = [2]uint64{g.rng.Uint64(), g.rng.Uint64()} }

// fillAccess draws one edge request.
func fillAccess(g *Generator) {
	s := &g.st
	r := g.rng
	s.c = &g.w.clients[g.zClient.Uint64()]
	s.p = &g.w.paths[g.zPath.Uint64()]
	g.newID()
	s.traceID = r.Uint64()
	// start holds the end time until the response time is known.
	s.start = g.clock().Add(-time.Duration(r.IntN(2000)) * time.Millisecond).Add(time.Duration(r.IntN(1000)) * time.Microsecond)

	p := s.p
	static := p.kind != kindPage && p.kind != kindAPI
	if p.kind == kindAPI {
		s.method = methodsAPI.pick(r)
	} else {
		s.method = methodsStatic.pick(r)
	}
	switch {
	case s.method != "GET" && s.method != "HEAD":
		s.cache = "BYPASS"
	case p.kind == kindAPI:
		s.cache = cacheAPI.pick(r)
	case p.kind == kindPage:
		s.cache = cachePage.pick(r)
	default:
		s.cache = cacheStatic.pick(r)
	}
	s.fetch = s.cache != "HIT" && s.cache != "STALE"

	// TLS and protocol.
	s.proto = s.c.ua.proto
	switch x := r.IntN(100); {
	case x < 3:
		s.tls, s.cipher, s.scheme, s.proto = "-", "-", "http", "HTTP/1.1"
	case x < 12:
		s.tls, s.cipher, s.scheme = "TLSv1.2", tls12Ciphers.pick(r), "https"
		if s.proto == "HTTP/3" {
			s.proto = "HTTP/2"
		}
	default:
		s.tls, s.cipher, s.scheme = "TLSv1.3", tls13Ciphers.pick(r), "https"
	}

	// Security decision: most requests match no rule.
	s.secAction, s.secRule, s.secSource = "-", "-", "-"
	s.botTag = s.c.ua.bot
	if x := r.IntN(1000); x < 25 || (s.botTag == "malicious" && x < 400) {
		s.secAction, s.secSource = secActions.pick(r), secSources.pick(r)
		if s.secSource == "base_protect" {
			s.secRule = "-1"
		} else {
			s.secRule = strconv.Itoa(100000 + r.IntN(9000))
		}
	}

	// Status.
	s.hasRange = false
	s.status = 200
	switch x := r.IntN(1000); {
	case s.secAction == "deny":
		s.status = 403
	case s.secAction == "js" || s.secAction == "captcha" || s.secAction == "sigchl":
		s.status = 200
	case x < 40:
		s.status, _ = strconv.ParseInt(errStatus.pick(r), 10, 64)
	case x < 110 && s.method == "GET" && p.kind != kindAPI:
		s.status = 304
	case x < 125 && p.kind == kindPage:
		s.status = int64(301 + r.IntN(2))
	case p.kind == kindVideo && x < 700 || p.kind == kindDownload && x < 300:
		s.hasRange = true
		s.rangeStart = int64(r.IntN(int(p.size/2))) &^ 1023
		s.rangeEnd = s.rangeStart + 262143 + int64(r.IntN(786432))
		if s.rangeEnd >= p.size {
			s.rangeEnd = p.size - 1
		}
		s.status = 206
	}
	if s.status == 403 && s.secAction == "deny" {
		s.fetch = false
		s.cache = "-"
	}
	if s.status == 404 && static && s.cache == "HIT" {
		s.cache = "MISS"
		s.fetch = true
	}

	// Origin.
	s.originStatus, s.originIP, s.originTLS = -1, "-", "-"
	s.dnsMs, s.tcpMs, s.tlsMs, s.originMs = -1, -1, -1, -1
	if s.fetch {
		s.originIP = g.w.origins[int(s.p.lastMod)%len(g.w.origins)]
		s.originStatus = s.status
		switch s.status {
		case 304:
			s.originStatus = 304
		case 504:
			s.originStatus = -1
		case 499:
			s.originStatus = 200
		}
		s.dnsMs = g.logNormal(1, 1.2, 0)
		if s.dnsMs > 3 && r.IntN(4) > 0 {
			s.dnsMs = 0 // resolved from cache
		}
		s.tcpMs = g.logNormal(9, 0.7, 1)
		if s.originIP[0] != '1' || s.originIP[1] != '0' { // public origins speak TLS
			s.tlsMs = g.logNormal(18, 0.6, 2)
			s.originTLS = "TLSv1.3"
			if r.IntN(5) == 0 {
				s.originTLS = "TLSv1.2"
			}
		}
		s.originMs = g.logNormal(45, 0.9, 2)
	}

	// Sizes.
	switch {
	case s.method == "HEAD" || s.status == 304 || s.status == 301 || s.status == 302:
		s.bodyBytes = 0
	case s.status >= 400:
		s.bodyBytes = 150 + int64(r.IntN(900))
	case s.hasRange:
		s.bodyBytes = s.rangeEnd - s.rangeStart + 1
	default:
		s.bodyBytes = g.logNormal(float64(p.size), 0.35, 64)
	}
	s.compAlgo, s.compRatio = "-", -1
	if s.bodyBytes > 1024 && (p.kind == kindPage || p.kind == kindScript || p.kind == kindStyle || p.kind == kindAPI) {
		if r.IntN(3) == 0 {
			s.compAlgo = "br"
			s.compRatio = float64(18+r.IntN(12)) / 100
		} else {
			s.compAlgo = "gzip"
			s.compRatio = float64(22+r.IntN(14)) / 100
		}
		s.bodyBytes = int64(float64(s.bodyBytes) * s.compRatio)
	}
	s.respBytes = s.bodyBytes + 280 + int64(r.IntN(340))
	s.reqBytes = g.logNormal(620, 0.25, 120)
	if s.method == "POST" || s.method == "PUT" {
		s.reqBytes += g.logNormal(900, 1, 20)
	}

	// Timings (ms).
	s.ttfb = g.logNormal(4, 0.8, 0)
	if s.fetch {
		s.ttfb += max(s.dnsMs, 0) + s.tcpMs + max(s.tlsMs, 0) + s.originMs
	}
	s.respTime = s.ttfb + s.bodyBytes/int64(400+r.IntN(20000)) + int64(r.IntN(3))
	// The record is logged shortly after the response ended.
	s.end = s.start
	s.start = s.end.Add(-time.Duration(s.respTime)*time.Millisecond - time.Duration(r.IntN(1000))*time.Microsecond)

	s.referer = "-"
	if p.kind != kindPage || r.IntN(2) == 0 {
		s.referer = referers.pick(r)
	}
	s.xrw = p.kind == kindAPI && s.c.ua.xRequested && r.IntN(2) == 0
	s.smart = r.IntN(10) == 0
}

func wStr(get func(s *state) string) writeFunc {
	return func(g *Generator, dst []byte) []byte { return appendStr(dst, get(&g.st)) }
}

func wInt(get func(s *state) int64) writeFunc {
	return func(g *Generator, dst []byte) []byte { return appendInt(dst, get(&g.st)) }
}

func appendRequestID(g *Generator, dst []byte) []byte {
	dst = append(dst, '"')
	dst = appendHex(dst, g.st.id[0], 16)
	dst = appendHex(dst, g.st.id[1], 16)
	return append(dst, '"')
}

func appendURI(dst []byte, s *state) []byte {
	dst = append(dst, s.p.p...)
	if s.p.query != "" {
		dst = append(dst, '?')
		dst = append(dst, s.p.query...)
	}
	return dst
}

func dash(ok bool, v string) string {
	if ok {
		return v
	}
	return "-"
}

var accessWriters = map[string]writeFunc{
	"BotTag":          wStr(func(s *state) string { return s.botTag }),
	"ClientRequestID": appendRequestID,
	"EdgeServerID":    func(g *Generator, dst []byte) []byte { return appendStr(dst, g.w.pops[g.st.c.pop].id) },
	"EdgeServerIP":    func(g *Generator, dst []byte) []byte { return appendStr(dst, g.w.pops[g.st.c.pop].ip) },
	"EdgeStartTimestamp": func(g *Generator, dst []byte) []byte {
		return g.appendTime(dst, g.st.start)
	},
	"EdgeEndTimestamp": func(g *Generator, dst []byte) []byte { return g.appendTime(dst, g.st.end) },
	"JA3Hash":          wStr(func(s *state) string { return dash(s.tls != "-", s.c.ua.ja3) }),
	"JA4Hash":          wStr(func(s *state) string { return dash(s.tls != "-", s.c.ua.ja4) }),
	"SiteName":         wStr(func(s *state) string { return "example.com" }),
	"SmartRoutingStatus": wStr(func(s *state) string {
		if s.smart {
			return "1"
		}
		return "0"
	}),
	"TlsHash":           wStr(func(s *state) string { return dash(s.tls != "-", s.c.ua.tlsHash) }),
	"ClientASN":         wStr(func(s *state) string { return s.c.asn }),
	"ClientCountryCode": wStr(func(s *state) string { return s.c.country }),
	"ClientIP":          wStr(func(s *state) string { return s.c.ip }),
	"ClientISP":         wStr(func(s *state) string { return s.c.isp }),
	"ClientRegionCode":  wStr(func(s *state) string { return s.c.region }),
	"ClientSSLCipher":   wStr(func(s *state) string { return s.cipher }),
	"ClientSSLProtocol": wStr(func(s *state) string { return s.tls }),
	"ClientSrcPort": func(g *Generator, dst []byte) []byte {
		return appendInt(dst, int64(32768+(g.st.id[0]>>20)%28232))
	},
	"ClientXRequestedWith": wStr(func(s *state) string { return dash(s.xrw, "XMLHttpRequest") }),
	"ClientRequestBytes":   wInt(func(s *state) int64 { return s.reqBytes }),
	"ClientRequestHeaderRange": func(g *Generator, dst []byte) []byte {
		s := &g.st
		if !s.hasRange {
			return appendStr(dst, "-")
		}
		dst = append(dst, `"bytes=`...)
		dst = appendInt(dst, s.rangeStart)
		dst = append(dst, '-')
		dst = appendInt(dst, s.rangeEnd)
		return append(dst, '"')
	},
	"ClientRequestHost":     wStr(func(s *state) string { return s.p.host }),
	"ClientRequestMethod":   wStr(func(s *state) string { return s.method }),
	"ClientRequestPath":     wStr(func(s *state) string { return s.p.p }),
	"ClientRequestProtocol": wStr(func(s *state) string { return s.proto }),
	"ClientRequestReferer":  wStr(func(s *state) string { return s.referer }),
	"ClientRequestQuery":    wStr(func(s *state) string { return dash(s.p.query != "", s.p.query) }),
	"ClientRequestScheme":   wStr(func(s *state) string { return s.scheme }),
	"ClientRequestURI": func(g *Generator, dst []byte) []byte {
		dst = append(dst, '"')
		return append(appendURI(dst, &g.st), '"')
	},
	"ClientRequestUserAgent": wStr(func(s *state) string { return s.c.ua.s }),
	"EdgeCacheStatus":        wStr(func(s *state) string { return s.cache }),
	"EdgeRequestHost":        wStr(func(s *state) string { return dash(s.fetch, s.p.originHost) }),
	"EdgeResponseBodyBytes":  wInt(func(s *state) int64 { return s.bodyBytes }),
	"EdgeResponseBytes":      wInt(func(s *state) int64 { return s.respBytes }),
	"EdgeResponseCompressionAlgo": wStr(func(s *state) string {
		return s.compAlgo
	}),
	"EdgeResponseCompressionRatio": func(g *Generator, dst []byte) []byte {
		return strconv.AppendFloat(dst, g.st.compRatio, 'f', -1, 64)
	},
	"EdgeResponseContentType": wStr(func(s *state) string {
		if s.status >= 400 {
			return "text/html; charset=utf-8"
		}
		return s.p.contentType
	}),
	"EdgeResponseStatusCode":       wInt(func(s *state) int64 { return s.status }),
	"EdgeResponseTime":             wInt(func(s *state) int64 { return s.respTime }),
	"EdgeTimeToFirstByteMs":        wInt(func(s *state) int64 { return s.ttfb }),
	"OriginDNSResponseTimeMs":      wInt(func(s *state) int64 { return s.dnsMs }),
	"OriginIP":                     wStr(func(s *state) string { return s.originIP }),
	"OriginSSLProtocol":            wStr(func(s *state) string { return s.originTLS }),
	"OriginTCPHandshakeDurationMs": wInt(func(s *state) int64 { return s.tcpMs }),
	"OriginTLSHandshakeDurationMs": wInt(func(s *state) int64 { return s.tlsMs }),
	"OriginResponseDurationMs":     wInt(func(s *state) int64 { return s.originMs }),
	"OriginResponseHTTPExpires": func(g *Generator, dst []byte) []byte {
		s := &g.st
		if !s.fetch || s.originStatus < 0 || s.p.kind == kindAPI || s.status >= 400 {
			return appendStr(dst, "-")
		}
		return appendHTTPDate(dst, s.start.Add(24*time.Hour))
	},
	"OriginResponseHTTPLastModified": func(g *Generator, dst []byte) []byte {
		s := &g.st
		if !s.fetch || s.originStatus < 0 || s.p.kind == kindAPI || s.status >= 400 {
			return appendStr(dst, "-")
		}
		return appendHTTPDate(dst, time.Unix(s.p.lastMod, 0))
	},
	"OriginResponseHeaderRange": func(g *Generator, dst []byte) []byte {
		s := &g.st
		if !s.fetch || !s.hasRange {
			return appendStr(dst, "-")
		}
		dst = append(dst, `"bytes `...)
		dst = appendInt(dst, s.rangeStart)
		dst = append(dst, '-')
		dst = appendInt(dst, s.rangeEnd)
		dst = append(dst, '/')
		dst = appendInt(dst, s.p.size)
		return append(dst, '"')
	},
	"OriginResponseStatusCode": wInt(func(s *state) int64 { return s.originStatus }),
	"SecAction":                wStr(func(s *state) string { return s.secAction }),
	"SecActions":               wStr(func(s *state) string { return s.secAction }),
	"SecRuleID":                wStr(func(s *state) string { return s.secRule }),
	"SecRuleIDs":               wStr(func(s *state) string { return s.secRule }),
	"SecSource":                wStr(func(s *state) string { return s.secSource }),
	"SecSources":               wStr(func(s *state) string { return s.secSource }),
}

// appendHeaders appends the raw RequestHeaders and ResponseHeaders maps (and nothing for categories
// without custom fields) that esa_fields takes custom fields from.
func appendHeaders(g *Generator, dst []byte) []byte {
	s := &g.st
	if s.c == nil || s.p == nil {
		return dst
	}
	dst = append(dst, `,"RequestHeaders":{"host":"`...)
	dst = append(dst, s.p.host...)
	dst = append(dst, `","user-agent":"`...)
	dst = append(dst, s.c.ua.s...)
	dst = append(dst, `","accept":"`...)
	switch s.p.kind {
	case kindAPI:
		dst = append(dst, `application/json`...)
	case kindImage:
		dst = append(dst, `image/avif,image/webp,*/*`...)
	case kindPage:
		dst = append(dst, `text/html,application/xhtml+xml`...)
	default:
		dst = append(dst, `*/*`...)
	}
	dst = append(dst, `","accept-encoding":"gzip, br","accept-language":"`...)
	dst = append(dst, s.c.lang...)
	dst = append(dst, `","x-trace-id":"`...)
	dst = appendHex(dst, s.traceID, 16)
	dst = append(dst, '"')
	if s.traceID%10 < 7 { // most browsers carry cookies
		dst = append(dst, `,"cookie":"`...)
		dst = append(dst, s.c.cookie...)
		dst = append(dst, '"')
	}
	dst = append(dst, `},"ResponseHeaders":{"content-type":"`...)
	dst = append(dst, s.p.contentType...)
	dst = append(dst, `","cache-control":"`...)
	switch s.p.kind {
	case kindAPI:
		dst = append(dst, `no-cache`...)
	case kindPage:
		dst = append(dst, `max-age=300`...)
	default:
		dst = append(dst, `max-age=86400`...)
	}
	dst = append(dst, `","etag":"W/\"`...)
	dst = append(dst, s.p.etag...)
	dst = append(dst, `\"","server":"ESA"}`...)
	return dst
}
