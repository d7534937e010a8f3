package generate

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// The world is the fixed population records are drawn from: clients (IP, country, region, ISP, ASN,
// user agent, TLS fingerprints), paths (with their content kind and size), edge servers and origins.
// It is built once per generator from the seed.
type world struct {
	clients  []client
	paths    []path
	pops     []pop
	dnsNames []string
	origins  []string
	accounts []string
}

type client struct {
	ip, country, region, isp, asn string
	lang                          string
	ua                            *userAgent
	pop                           int // index into pops
	cookie                        string
	resolver                      string
	subnet                        string // the IPv4 client's /24 as an EDNS subnet, "-" for IPv6
}

type userAgent struct {
	s          string
	bot        string // BotTag
	ja3, ja4   string
	tlsHash    string
	proto      string // preferred HTTP protocol
	xRequested bool
}

type pathKind int

const (
	kindPage pathKind = iota
	kindScript
	kindStyle
	kindImage
	kindAPI
	kindVideo
	kindDownload
)

type path struct {
	host, p     string
	originHost  string
	kind        pathKind
	query       string // "" = none
	size        int64  // typical body size
	lastMod     int64  // Unix seconds of Last-Modified
	contentType string
	etag        string
}

type pop struct {
	id, ip string
}

type country struct {
	code    string
	weight  int
	regions []string
	isps    [][2]string // name, ASN
	octets  []int       // first octets of its address space
	lang    string
	pops    []string
}

var countries = []country{
	{"CN", 42, []string{"CN-BJ", "CN-SH", "CN-GD", "CN-ZJ", "CN-JS", "CN-SC", "CN-HB"},
		[][2]string{{"China Telecom", "4134"}, {"China Unicom", "4837"}, {"China Mobile", "9808"}},
		[]int{36, 58, 101, 106, 112, 114, 115, 116, 117, 119, 120, 121, 123, 175, 180, 183, 218, 222},
		"zh-CN,zh;q=0.9", []string{"hz", "sh", "bj", "gz"}},
	{"US", 15, []string{"US-CA", "US-VA", "US-NY", "US-TX", "US-WA", "US-IL"},
		[][2]string{{"Comcast Cable", "7922"}, {"AT&T Services", "7018"}, {"Amazon.com", "16509"}, {"Google LLC", "15169"}, {"Verizon Business", "701"}},
		[]int{24, 50, 66, 67, 68, 71, 73, 75, 76, 98, 99, 104, 107, 108},
		"en-US,en;q=0.9", []string{"sjc", "iad", "lax"}},
	{"HK", 5, []string{"HK-HCW", "HK-KKC", "HK-NTW"},
		[][2]string{{"PCCW Global", "4760"}, {"Hong Kong Broadband Network", "9269"}},
		[]int{42, 58, 112, 113, 119, 203},
		"zh-HK,zh;q=0.9,en;q=0.8", []string{"hkg"}},
	{"SG", 5, []string{"SG-01", "SG-03", "SG-05"},
		[][2]string{{"Singtel", "7473"}, {"StarHub", "4657"}},
		[]int{8, 42, 101, 116, 175, 202},
		"en-SG,en;q=0.9", []string{"sin"}},
	{"JP", 6, []string{"JP-13", "JP-27", "JP-23"},
		[][2]string{{"NTT Communications", "4713"}, {"KDDI", "2516"}, {"SoftBank", "17676"}},
		[]int{60, 110, 118, 126, 133, 153, 180, 210},
		"ja-JP,ja;q=0.9", []string{"nrt"}},
	{"DE", 4, []string{"DE-BE", "DE-HE", "DE-BY", "DE-NW"},
		[][2]string{{"Deutsche Telekom", "3320"}, {"Hetzner Online", "24940"}, {"Vodafone GmbH", "3209"}},
		[]int{46, 78, 79, 80, 84, 87, 91, 93},
		"de-DE,de;q=0.9,en;q=0.8", []string{"fra"}},
	{"GB", 3, []string{"GB-ENG", "GB-SCT"},
		[][2]string{{"British Telecommunications", "2856"}, {"Virgin Media", "5089"}},
		[]int{2, 31, 51, 81, 86, 90},
		"en-GB,en;q=0.9", []string{"lhr"}},
	{"IN", 4, []string{"IN-MH", "IN-KA", "IN-DL", "IN-TN"},
		[][2]string{{"Reliance Jio", "55836"}, {"Bharti Airtel", "9498"}},
		[]int{49, 103, 106, 117, 122, 157},
		"en-IN,en;q=0.9,hi;q=0.8", []string{"bom"}},
	{"KR", 3, []string{"KR-11", "KR-26"},
		[][2]string{{"Korea Telecom", "4766"}, {"SK Broadband", "9318"}},
		[]int{1, 14, 39, 58, 112, 121, 175, 211},
		"ko-KR,ko;q=0.9", []string{"icn"}},
	{"BR", 3, []string{"BR-SP", "BR-RJ"},
		[][2]string{{"Claro S.A.", "28573"}, {"Telefonica Brasil", "27699"}},
		[]int{177, 179, 186, 187, 189, 191, 200, 201},
		"pt-BR,pt;q=0.9", []string{"gru"}},
	{"FR", 2, []string{"FR-IDF", "FR-ARA"},
		[][2]string{{"Orange S.A.", "3215"}, {"Free SAS", "12322"}},
		[]int{2, 78, 82, 86, 88, 90, 92},
		"fr-FR,fr;q=0.9", []string{"cdg"}},
	{"AU", 2, []string{"AU-NSW", "AU-VIC"},
		[][2]string{{"Telstra", "1221"}, {"Optus", "4804"}},
		[]int{1, 27, 49, 58, 101, 110, 120, 124},
		"en-AU,en;q=0.9", []string{"syd"}},
}

// userAgents: browsers dominate; some verified crawlers and some scripted clients.
var userAgents = []struct {
	ua     userAgent
	weight int
}{
	{userAgent{s: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", bot: "unrecognized", proto: "HTTP/2", xRequested: true}, 30},
	{userAgent{s: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", bot: "unrecognized", proto: "HTTP/3"}, 18},
	{userAgent{s: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.39 Mobile Safari/537.36", bot: "unrecognized", proto: "HTTP/2", xRequested: true}, 16},
	{userAgent{s: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", bot: "unrecognized", proto: "HTTP/2"}, 8},
	{userAgent{s: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", bot: "unrecognized", proto: "HTTP/2", xRequested: true}, 6},
	{userAgent{s: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", bot: "unrecognized", proto: "HTTP/2"}, 5},
	{userAgent{s: "Mozilla/5.0 (Linux; Android 13; M2102J2SC) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/118.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.47", bot: "unrecognized", proto: "HTTP/1.1"}, 5},
	{userAgent{s: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", bot: "normal", proto: "HTTP/1.1"}, 3},
	{userAgent{s: "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", bot: "normal", proto: "HTTP/1.1"}, 1},
	{userAgent{s: "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", bot: "normal", proto: "HTTP/1.1"}, 2},
	{userAgent{s: "curl/8.5.0", bot: "suspected", proto: "HTTP/1.1"}, 2},
	{userAgent{s: "python-requests/2.32.3", bot: "suspected", proto: "HTTP/1.1"}, 2},
	{userAgent{s: "Go-http-client/1.1", bot: "suspected", proto: "HTTP/1.1"}, 1},
	{userAgent{s: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", bot: "malicious", proto: "HTTP/1.1"}, 1},
}

var resolvers = []string{"223.5.5.5", "114.114.114.114", "119.29.29.29", "8.8.8.8", "1.1.1.1", "208.67.222.222", "9.9.9.9", "180.76.76.76"}

var hostsByKind = map[pathKind][]string{
	kindPage:     {"www.example.com", "m.example.com", "shop.example.com", "blog.example.com"},
	kindScript:   {"static.example.com", "cdn.example.com"},
	kindStyle:    {"static.example.com", "cdn.example.com"},
	kindImage:    {"img.example.com", "cdn.example.com"},
	kindAPI:      {"api.example.com", "shop.example.com"},
	kindVideo:    {"video.example.com"},
	kindDownload: {"download.example.com"},
}

var pathKinds = newWeights(14, 18, 8, 30, 18, 8, 4)

var pageNames = []string{"", "index.html", "about", "products", "product", "cart", "checkout", "search", "news", "help", "login", "account", "category", "deals", "article"}
var apiNames = []string{"items", "users", "orders", "cart", "search", "recommendations", "session", "inventory", "prices", "reviews", "events", "config"}
var imageExts = []string{".jpg", ".png", ".webp", ".avif", ".gif"}
var imageTypes = []string{"image/jpeg", "image/png", "image/webp", "image/avif", "image/gif"}

func newWorld(r *rand.Rand) *world {
	w := &world{}
	// Edge servers: a few per POP city.
	popIdx := map[string][]int{}
	for _, c := range countries {
		for _, city := range c.pops {
			if _, ok := popIdx[city]; ok {
				continue
			}
			for i := 0; i < 4; i++ {
				popIdx[city] = append(popIdx[city], len(w.pops))
				w.pops = append(w.pops, pop{
					id: fmt.Sprintf("esa-%s-%03d", city, 10+r.IntN(90)),
					ip: fmt.Sprintf("47.%d.%d.%d", 74+r.IntN(180), r.IntN(256), 1+r.IntN(254)),
				})
			}
		}
	}
	cw := make([]int, len(countries))
	for i, c := range countries {
		cw[i] = c.weight
	}
	cwt := newWeights(cw...)
	uw := make([]int, len(userAgents))
	for i, u := range userAgents {
		uw[i] = u.weight
	}
	uwt := newWeights(uw...)
	// Each user agent gets its TLS fingerprints.
	uas := make([]*userAgent, len(userAgents))
	for i := range userAgents {
		ua := userAgents[i].ua
		ua.ja3 = string(appendHex(appendHex(nil, r.Uint64(), 16), r.Uint64(), 16))
		ua.ja4 = "t13d" + strconv.Itoa(1510+r.IntN(10)) + "h2_" + string(appendHex(nil, r.Uint64(), 12)) + "_" + string(appendHex(nil, r.Uint64(), 12))
		ua.tlsHash = string(appendHex(appendHex(nil, r.Uint64(), 16), r.Uint64(), 16))
		uas[i] = &ua
	}
	w.clients = make([]client, 4096)
	for i := range w.clients {
		c := &countries[cwt.pick(r)]
		isp := c.isps[r.IntN(len(c.isps))]
		var ip string
		if r.IntN(10) == 0 {
			ip = fmt.Sprintf("240e:%x:%x:%x::%x", r.IntN(0xfff), r.IntN(0xffff), r.IntN(0xffff), 1+r.IntN(0xfffe))
		} else {
			ip = fmt.Sprintf("%d.%d.%d.%d", c.octets[r.IntN(len(c.octets))], r.IntN(256), r.IntN(256), 1+r.IntN(254))
		}
		city := c.pops[r.IntN(len(c.pops))]
		pops := popIdx[city]
		w.clients[i] = client{
			ip: ip, country: c.code, region: c.regions[r.IntN(len(c.regions))],
			isp: isp[0], asn: isp[1], lang: c.lang,
			ua:       uas[uwt.pick(r)],
			pop:      pops[r.IntN(len(pops))],
			cookie:   "sid=" + string(appendHex(nil, r.Uint64(), 16)) + "; region=" + c.code + "; theme=" + []string{"light", "dark"}[r.IntN(2)],
			resolver: resolvers[r.IntN(len(resolvers))],
			subnet:   "-",
		}
		if dot := lastDot(ip); dot > 0 {
			w.clients[i].subnet = ip[:dot] + ".0/24"
		}
	}
	w.paths = make([]path, 2048)
	base := int64(1767225600) // 2026-01-01
	for i := range w.paths {
		k := pathKind(pathKinds.pick(r))
		hosts := hostsByKind[k]
		p := path{host: hosts[r.IntN(len(hosts))], kind: k, lastMod: base - int64(r.IntN(200*86400))}
		p.originHost = "origin-" + p.host
		h := string(appendHex(nil, r.Uint64(), 8))
		switch k {
		case kindPage:
			name := pageNames[r.IntN(len(pageNames))]
			switch name {
			case "", "index.html", "about", "help", "login", "cart", "checkout", "deals":
				p.p = "/" + name
			default:
				p.p = "/" + name + "/" + strconv.Itoa(1000+r.IntN(90000))
			}
			if name == "search" {
				p.query = "q=" + []string{"shoes", "phone", "laptop", "tea", "camera"}[r.IntN(5)] + "&page=" + strconv.Itoa(1+r.IntN(5))
			}
			p.size, p.contentType = 18000+int64(r.IntN(60000)), "text/html; charset=utf-8"
		case kindScript:
			p.p = "/assets/js/" + []string{"app", "vendor", "chunk", "runtime", "analytics"}[r.IntN(5)] + "." + h + ".js"
			p.size, p.contentType = 8000+int64(r.IntN(400000)), "application/javascript"
		case kindStyle:
			p.p = "/assets/css/" + []string{"main", "theme", "print", "fonts"}[r.IntN(4)] + "." + h + ".css"
			p.size, p.contentType = 4000+int64(r.IntN(120000)), "text/css"
		case kindImage:
			e := r.IntN(len(imageExts))
			p.p = "/images/" + []string{"products", "banners", "avatars", "thumbs"}[r.IntN(4)] + "/" + h + imageExts[e]
			p.size, p.contentType = 3000+int64(r.ExpFloat64()*80000), imageTypes[e]
			if r.IntN(4) == 0 {
				p.query = "x-oss-process=image/resize,w_" + strconv.Itoa(200*(1+r.IntN(6)))
			}
		case kindAPI:
			p.p = "/api/v" + strconv.Itoa(1+r.IntN(2)) + "/" + apiNames[r.IntN(len(apiNames))]
			if r.IntN(2) == 0 {
				p.p += "/" + strconv.Itoa(1+r.IntN(99999))
			} else {
				p.query = "page=" + strconv.Itoa(1+r.IntN(20)) + "&limit=20"
			}
			p.size, p.contentType = 300+int64(r.ExpFloat64()*4000), "application/json"
		case kindVideo:
			p.p = "/vod/" + h + "/" + []string{"720p", "1080p", "480p"}[r.IntN(3)] + "/seg-" + strconv.Itoa(r.IntN(600)) + ".ts"
			p.size, p.contentType = 600000+int64(r.IntN(1800000)), "video/mp2t"
		case kindDownload:
			p.p = "/releases/" + []string{"client", "sdk", "tools", "assets"}[r.IntN(4)] + "-" + strconv.Itoa(1+r.IntN(9)) + "." + strconv.Itoa(r.IntN(20)) + "." + strconv.Itoa(r.IntN(10)) + []string{".zip", ".tar.gz", ".dmg", ".exe", ".apk"}[r.IntN(5)]
			p.size, p.contentType = 2000000+int64(r.ExpFloat64()*60000000), "application/octet-stream"
		}
		p.etag = string(appendHex(nil, r.Uint64(), 12))
		w.paths[i] = p
	}
	// Query names for the DNS and proxy categories (Zipf over this list).
	for _, s := range []string{"www", "api", "static", "img", "m", "cdn", "mail", "shop", "video", "download", "blog", "_dmarc", "admin", "vpn", "git"} {
		w.dnsNames = append(w.dnsNames, s+".example.com.")
	}
	w.dnsNames = append(w.dnsNames, "example.com.")
	w.origins = []string{"10.20.1.11", "10.20.1.12", "10.20.2.21", "203.0.113.40", "198.51.100.7"}
	for i := 0; i < 8; i++ {
		w.accounts = append(w.accounts, strconv.FormatUint(1_000_000_000_000_000+r.Uint64N(8_999_999_999_999_999), 10))
	}
	return w
}
