package authkey_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/esa-connect/esa-connect/plugins/authkey"
)

// The worked example of docs/destinations.md#server-authentication.
func TestAuthVector(t *testing.T) {
	if got := authkey.Hash("/accesslog/post", 1512057900, "0", "aliyuncdn1234"); got != "0b3cc22622bdbb82d5ba632a5a5c89ca" {
		t.Fatalf("md5hash = %s", got)
	}
	if got := authkey.Sign("/accesslog/post", 1512057900, "0", "aliyuncdn1234"); got != "1512057900-0-0b3cc22622bdbb82d5ba632a5a5c89ca" {
		t.Fatalf("auth_key = %s", got)
	}
}

func TestVerifyAuthKeyReasons(t *testing.T) {
	const path, key = "/accesslog/post", "aliyuncdn1234"
	good := "1512057900-0-0b3cc22622bdbb82d5ba632a5a5c89ca"
	before := time.Unix(1512057900, 0)
	cases := []struct {
		name    string
		authKey string
		path    string
		key     string
		now     time.Time
		want    error
	}{
		{"valid", good, path, key, before, nil},
		{"valid at the expiry second", good, path, key, time.Unix(1512057900, 999e6), nil},
		{"upper-case hash", strings.ToUpper(good), path, key, before, nil},
		{"expired", good, path, key, time.Unix(1512057901, 0), authkey.ErrExpired},
		{"wrong key", good, path, "aliyuncdn1235", before, authkey.ErrBadHash},
		{"wrong path", good, "/accesslog/other", key, before, authkey.ErrBadHash},
		{"tampered timestamp", "1512057999-0-0b3cc22622bdbb82d5ba632a5a5c89ca", path, key, before, authkey.ErrBadHash},
		{"missing", "", path, key, before, authkey.ErrMissing},
		{"no dashes", "15120579000b3cc22622bdbb82d5ba632a5a5c89ca", path, key, before, authkey.ErrMalformed},
		{"one dash", "1512057900-0b3cc22622bdbb82d5ba632a5a5c89ca", path, key, before, authkey.ErrMalformed},
		{"dash in rand", "1512057900-a-b-0b3cc22622bdbb82d5ba632a5a5c89ca", path, key, before, authkey.ErrMalformed},
		{"empty rand", "1512057900--0b3cc22622bdbb82d5ba632a5a5c89ca", path, key, before, authkey.ErrMalformed},
		{"timestamp not a number", "soon-0-0b3cc22622bdbb82d5ba632a5a5c89ca", path, key, before, authkey.ErrMalformed},
		{"short hash", "1512057900-0-0b3cc226", path, key, before, authkey.ErrMalformed},
		{"trailing dash", "1512057900-0-", path, key, before, authkey.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := authkey.Verify(c.authKey, c.path, c.key, c.now)
			if c.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), c.key) {
				t.Fatalf("error leaks the private key: %v", err)
			}
		})
	}
}

func TestSignerFreshAndVerifiable(t *testing.T) {
	s, err := authkey.NewSigner("/ingest", "secret123", 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	seen := map[string]bool{}
	for range 100 {
		k := s.Sign(now)
		if seen[k] {
			t.Fatalf("auth_key repeated: %s", k)
		}
		seen[k] = true
		parts := strings.Split(k, "-")
		if len(parts) != 3 || parts[0] != "1800000300" || len(parts[1]) != 32 || len(parts[2]) != 32 {
			t.Fatalf("auth_key %q is not <expiry>-<uuid hex>-<md5>", k)
		}
		if err := authkey.Verify(k, "/ingest", "secret123", now.Add(299*time.Second)); err != nil {
			t.Fatalf("fresh key rejected: %v", err)
		}
		if err := authkey.Verify(k, "/ingest", "secret123", now.Add(301*time.Second)); !errors.Is(err, authkey.ErrExpired) {
			t.Fatalf("stale key: %v, want expired", err)
		}
	}
}

func TestValidatePrivateKey(t *testing.T) {
	for key, ok := range map[string]bool{
		"aliyuncdn1234": true, "abc123": true, "A1b2C3d4E5f6G7h8I9": true,
		"abc12": false, "A1b2C3d4E5f6G7h8I9x": false, "abcdefgh": false, "12345678": false,
		"abc-123": false, "abc 123": false, "äbc123": false,
	} {
		err := authkey.ValidatePrivateKey(key)
		if (err == nil) != ok {
			t.Errorf("ValidatePrivateKey(%q) = %v, want ok=%v", key, err, ok)
		}
		if err != nil && strings.Contains(err.Error(), key) {
			t.Errorf("error leaks the key: %v", err)
		}
	}
	if _, err := authkey.NewSigner("/", "abc123", 0); err == nil {
		t.Error("NewSigner accepted expired_time 0")
	}
}

// ExampleVerify checks the worked vector of the specification the way a receiver does.
func ExampleVerify() {
	// The sender (esa_http) signs path /accesslog/post with the private key; the timestamp is the expiry.
	authKey := authkey.Sign("/accesslog/post", 1512057900, "0", "aliyuncdn1234")
	fmt.Println("auth_key =", authKey)

	// The receiver checks it against the same path and key at the time the request arrives.
	fmt.Println(authkey.Verify(authKey, "/accesslog/post", "aliyuncdn1234", time.Unix(1512057000, 0)))

	// After the expiry, or with another key, the receiver answers 403 with the reason.
	err := authkey.Verify(authKey, "/accesslog/post", "aliyuncdn1234", time.Unix(1512058000, 0))
	fmt.Println(errors.Is(err, authkey.ErrExpired))
	err = authkey.Verify(authKey, "/accesslog/post", "otherkey99", time.Unix(1512057000, 0))
	fmt.Println(err)
	// Output:
	// auth_key = 1512057900-0-0b3cc22622bdbb82d5ba632a5a5c89ca
	// <nil>
	// true
	// auth_key signature mismatch for path "/accesslog/post"
}
