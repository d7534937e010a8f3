package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// OwnershipTokenMaxAge is how old an ownership token may be at first use
// (docs/destinations.md#ownership-verification).
const OwnershipTokenMaxAge = 7 * 24 * time.Hour

// ownershipClockSkew is how far in the future a token's issue time may be (clocks differ).
const ownershipClockSkew = 5 * time.Minute

// OwnershipObjectKey is the key of the ownership challenge object of task under path:
// <path>/esa-ownership-<task>.txt, or esa-ownership-<task>.txt when path is empty.
func OwnershipObjectKey(path, task string) string {
	name := "esa-ownership-" + task + ".txt"
	if path == "" {
		return name
	}
	return path + "/" + name
}

// SplitBucketPath splits an S3 bucket_path (bucket[/path]) into the bucket and the path, removing
// trailing slashes from the path (the path is otherwise kept exactly as written).
func SplitBucketPath(bucketPath string) (bucket, path string) {
	bucket, path, _ = strings.Cut(bucketPath, "/")
	return bucket, strings.TrimRight(path, "/")
}

// OwnershipToken returns the ownership token (docs/destinations.md#ownership-verification):
// v1.<issued>.<nonce>.<base64url, no padding, of HMAC-SHA256(secret, bucket|path|task|issued|nonce)>.
// path is the path of bucket_path exactly as written, without a trailing slash.
func OwnershipToken(secret, bucket, path, task string, issued int64, nonce string) string {
	mac := ownershipMAC(secret, bucket, path, task, strconv.FormatInt(issued, 10), nonce)
	return "v1." + strconv.FormatInt(issued, 10) + "." + nonce + "." + base64.RawURLEncoding.EncodeToString(mac)
}

func ownershipMAC(secret, bucket, path, task, issued, nonce string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(bucket + "|" + path + "|" + task + "|" + issued + "|" + nonce))
	return h.Sum(nil)
}

// ErrOwnershipTokenExpired is returned (wrapped) by VerifyOwnershipToken for a token older than
// OwnershipTokenMaxAge.
var ErrOwnershipTokenExpired = errors.New("ownership token is older than 7 days")

// VerifyOwnershipToken checks that token was issued with secret for exactly this bucket, path and
// task, and that it is at most 7 days old at now (the token's first use). The MAC is compared in
// constant time. Errors never contain the secret.
func VerifyOwnershipToken(secret, token, bucket, path, task string, now time.Time) error {
	if secret == "" {
		return errors.New("ownership secret is empty (set ESA_OWNERSHIP_SECRET)")
	}
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return errors.New("ownership token is malformed (want v1.<issued>.<nonce>.<mac>)")
	}
	issued, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || issued <= 0 || parts[1] != strconv.FormatInt(issued, 10) {
		return errors.New("ownership token is malformed: bad issue time")
	}
	if parts[2] == "" {
		return errors.New("ownership token is malformed: empty nonce")
	}
	got, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil {
		return errors.New("ownership token is malformed: bad MAC encoding")
	}
	want := ownershipMAC(secret, bucket, path, task, parts[1], parts[2])
	if !hmac.Equal(got, want) {
		return fmt.Errorf("ownership token does not verify for bucket %q, path %q and task %q", bucket, path, task)
	}
	at := time.Unix(issued, 0)
	if now.Sub(at) > OwnershipTokenMaxAge {
		return fmt.Errorf("%w (issued %s)", ErrOwnershipTokenExpired, at.UTC().Format(time.RFC3339))
	}
	if at.Sub(now) > ownershipClockSkew {
		return fmt.Errorf("ownership token was issued in the future (%s)", at.UTC().Format(time.RFC3339))
	}
	return nil
}
