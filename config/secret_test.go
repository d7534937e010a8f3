package config

import "testing"

func TestMaskKeyID(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"LTAI5tAbCdEfGhIjKlMn", "LTAI*************lMn"},
		{"AKIAIOSFODNN7EXAMPLE", "AKIA*************PLE"},
		{"esatestroot", "esat****oot"},
		{"LTAIabcde", "LTAI**cde"},
		{"12345678", "********"},
		{"short", "*****"},
		{"", ""},
		{"ключ-доступа-1", "ключ*******а-1"},
	} {
		if got := MaskKeyID(tc.id); got != tc.want {
			t.Errorf("MaskKeyID(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://logs.example.com/accesslog/post", "https://logs.example.com/accesslog/post"},
		{"https://user:pass@logs.example.com:8443/in?token=t0k&x=1", "https://logs.example.com:8443/in?REDACTED"},
		{"https://token-as-user@h/p", "https://h/p"},
		{"http://u:p%40ss@127.0.0.1:9000", "http://127.0.0.1:9000"},
		{"https://u:p@ss@host/x", "https://host/x"},
		{"https://h/p#frag", "https://h/p"},
		{"https://h/p#frag?not-a-query", "https://h/p"},
		{"https://h/users/@me?k=v", "https://h/users/@me?REDACTED"},
		{"https://h?sig=abc", "https://h?REDACTED"},
		{"oss-cn-hangzhou.aliyuncs.com", "oss-cn-hangzhou.aliyuncs.com"},
		{"127.0.0.1:9000", "127.0.0.1:9000"},
		{"ak:secret@127.0.0.1:9000", "127.0.0.1:9000"},
		{"user:pass@host", "host"},
		// Unparsable: everything up to the last '@' goes.
		{"https://u:pa?ss@host/p", "https://host/p"},
		{"https://u:pa ss@host/p?q", "https://host/p?REDACTED"},
		{"http://[::1", "http://[::1"},
		{"", ""},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIsSecretName(t *testing.T) {
	for _, name := range []string{
		"Authorization", "Proxy-Authorization", "authorization", "Cookie", "Set-Cookie", "X-Api-Key",
		"x-api-key", "apikey", "api_key", "API-KEY", "key", "token", "access_token", "X-Amz-Security-Token",
		"password", "passwd", "pwd", "secret", "client_secret", "credential", "X-Credentials", "signature",
		"sig", "sign", "X-Hub-Signature-256", "session", "SESSIONID", "jwt", "X-Hmac", "auth_key",
	} {
		if !IsSecretName(name) {
			t.Errorf("IsSecretName(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"", "X-Source", "tenant", "Content-Type", "Accept", "User-Agent", "format", "region", "X-Request-Id", "page"} {
		if IsSecretName(name) {
			t.Errorf("IsSecretName(%q) = true, want false", name)
		}
	}
}
