package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOwnershipTokenVector(t *testing.T) {
	// The example of docs/destinations.md#ownership-verification.
	got := OwnershipToken("example-secret-1", "logs-bucket", "esa/access", "access-to-s3", 1764028800, "9f86d081")
	want := "v1.1764028800.9f86d081.4xPE32w0D8zqnofmAEV9bqilkGGU11AL22cRCrAvfRU"
	if got != want {
		t.Fatalf("token = %s, want %s", got, want)
	}
	if err := VerifyOwnershipToken("example-secret-1", want, "logs-bucket", "esa/access", "access-to-s3", time.Unix(1764028800+3600, 0)); err != nil {
		t.Fatalf("vector does not verify: %v", err)
	}
}

func TestVerifyOwnershipToken(t *testing.T) {
	const secret = "s3cr3t-value"
	issued := int64(1764028800)
	now := time.Unix(issued+60, 0)
	tok := OwnershipToken(secret, "b", "p/q", "task1", issued, "abcd1234")
	cases := []struct {
		name                              string
		secret, token, bucket, path, task string
		now                               time.Time
		wantErr                           string
	}{
		{"ok", secret, tok, "b", "p/q", "task1", now, ""},
		{"ok at 7 days", secret, tok, "b", "p/q", "task1", time.Unix(issued, 0).Add(OwnershipTokenMaxAge), ""},
		{"other bucket", secret, tok, "b2", "p/q", "task1", now, "does not verify"},
		{"other path", secret, tok, "b", "p", "task1", now, "does not verify"},
		{"trailing slash path", secret, tok, "b", "p/q/", "task1", now, "does not verify"},
		{"other task", secret, tok, "b", "p/q", "task2", now, "does not verify"},
		{"other secret", "other", tok, "b", "p/q", "task1", now, "does not verify"},
		{"empty secret", "", tok, "b", "p/q", "task1", now, "secret is empty"},
		{"expired", secret, tok, "b", "p/q", "task1", time.Unix(issued, 0).Add(OwnershipTokenMaxAge + time.Second), "older than 7 days"},
		{"future", secret, tok, "b", "p/q", "task1", time.Unix(issued-3600, 0), "future"},
		{"malformed", secret, "v1.x", "b", "p/q", "task1", now, "malformed"},
		{"v2", secret, "v2" + tok[2:], "b", "p/q", "task1", now, "malformed"},
		{"bad issued", secret, strings.Replace(tok, "1764028800", "01764028800", 1), "b", "p/q", "task1", now, "malformed"},
		{"tampered issued", secret, strings.Replace(tok, "1764028800", "1764028801", 1), "b", "p/q", "task1", now, "does not verify"},
		{"bad mac encoding", secret, tok[:len(tok)-2] + "!!", "b", "p/q", "task1", now, "malformed"},
		{"empty", secret, "", "b", "p/q", "task1", now, "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := VerifyOwnershipToken(c.secret, c.token, c.bucket, c.path, c.task, c.now)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error = %v, want containing %q", err, c.wantErr)
			}
			if c.secret != "" && strings.Contains(err.Error(), c.secret) {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
	if err := VerifyOwnershipToken(secret, tok, "b", "p/q", "task1", time.Unix(issued, 0).Add(8*24*time.Hour)); !errors.Is(err, ErrOwnershipTokenExpired) {
		t.Fatalf("want ErrOwnershipTokenExpired, got %v", err)
	}
}

func TestSplitBucketPathAndKey(t *testing.T) {
	for _, c := range []struct{ in, bucket, path, key string }{
		{"logs", "logs", "", "esa-ownership-t.txt"},
		{"logs/", "logs", "", "esa-ownership-t.txt"},
		{"logs/esa/access", "logs", "esa/access", "esa/access/esa-ownership-t.txt"},
		{"logs/esa/access/", "logs", "esa/access", "esa/access/esa-ownership-t.txt"},
	} {
		b, p := SplitBucketPath(c.in)
		if b != c.bucket || p != c.path {
			t.Errorf("SplitBucketPath(%q) = %q, %q; want %q, %q", c.in, b, p, c.bucket, c.path)
		}
		if k := OwnershipObjectKey(p, "t"); k != c.key {
			t.Errorf("OwnershipObjectKey(%q) = %q, want %q", p, k, c.key)
		}
	}
}
