package s3verified

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/esa-connect/esa-connect/config"
)

// ErrNotVerified is wrapped by the error of an output whose ownership is not (yet) proven.
var ErrNotVerified = errors.New("ownership of the destination bucket is not verified")

// ChallengeKey is the key of the ownership challenge object of task
// (docs/destinations.md#ownership-verification).
func (c Config) ChallengeKey(task string) string { return config.OwnershipObjectKey(c.Path(), task) }

// usedKey is the key of the object that records when a token was first used, so that the 7-day age
// limit applies at first use only and a verified task keeps running after restarts.
func (c Config) usedKey(task string) string {
	k := c.ChallengeKey(task)
	return strings.TrimSuffix(k, ".txt") + ".used"
}

// ObjectURL is s3://bucket/key, for messages.
func (c Config) ObjectURL(key string) string { return "s3://" + c.Bucket() + "/" + key }

// WriteChallenge writes a fresh ownership token to the challenge object of task and returns the
// object's key. The token is not returned: whoever configures the task must read it from the bucket.
func WriteChallenge(ctx context.Context, client *s3.Client, c Config, secret, task string) (string, error) {
	if secret == "" {
		return "", errors.New("ownership secret is empty: set ESA_OWNERSHIP_SECRET")
	}
	var nb [4]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return "", err
	}
	tok := config.OwnershipToken(secret, c.Bucket(), c.Path(), task, time.Now().Unix(), hex.EncodeToString(nb[:]))
	key := c.ChallengeKey(task)
	in := &s3.PutObjectInput{
		Bucket:      aws.String(c.Bucket()),
		Key:         aws.String(key),
		Body:        bytes.NewReader([]byte(tok + "\n")),
		ContentType: aws.String("text/plain"),
	}
	if c.ServerSideEncryption != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(c.ServerSideEncryption)
	}
	if _, err := client.PutObject(ctx, in); err != nil {
		if ce := credentialError(c, err); ce != nil {
			return key, fmt.Errorf("writing ownership challenge %s: %w", c.ObjectURL(key), ce)
		}
		return key, fmt.Errorf("writing ownership challenge %s: %w", c.ObjectURL(key), err)
	}
	return key, nil
}

// firstUse returns when token was first used by this task, from the record object, or now when
// there is no record for this token (or it cannot be read).
func firstUse(ctx context.Context, client *s3.Client, c Config, task, token string, now time.Time) (time.Time, bool, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.Bucket()), Key: aws.String(c.usedKey(task))})
	if err != nil {
		code, status := errorCode(err)
		if code == "NoSuchKey" || status == 404 || code == "AccessDenied" {
			return now, false, nil
		}
		return now, false, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 4096))
	if err != nil {
		return now, false, err
	}
	tok, at, ok := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if !ok || strings.TrimSpace(tok) != strings.TrimSpace(token) {
		return now, false, nil
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(at), 10, 64)
	if err != nil {
		return now, false, nil
	}
	return time.Unix(sec, 0), true, nil
}

// CheckOwnership verifies token for task against c (docs/destinations.md#ownership-verification).
// Without a token it writes the challenge object and returns an error naming it; with a token that
// does not verify it returns an error naming the object too. The token's age is checked at its first
// use, which is recorded in the bucket next to the challenge object. Errors wrap ErrNotVerified when
// the configuration (not the network) is at fault.
func CheckOwnership(ctx context.Context, client *s3.Client, c Config, secret, token, task string) error {
	key := c.ChallengeKey(task)
	if secret == "" {
		return fmt.Errorf("%w: ownership_secret is empty: set ESA_OWNERSHIP_SECRET (the same value as when the challenge %s was written)", ErrNotVerified, c.ObjectURL(key))
	}
	if strings.TrimSpace(token) == "" {
		if _, err := WriteChallenge(ctx, client, c, secret, task); err != nil {
			return err
		}
		return fmt.Errorf("%w: no ownership_token is configured; wrote the challenge object %s: read it and set ownership_token to its content", ErrNotVerified, c.ObjectURL(key))
	}
	now := time.Now()
	at, recorded, err := firstUse(ctx, client, c, task, token, now)
	if err != nil {
		if ce := credentialError(c, err); ce != nil {
			return ce
		}
		return fmt.Errorf("reading %s: %w", c.ObjectURL(c.usedKey(task)), err)
	}
	if err := config.VerifyOwnershipToken(secret, token, c.Bucket(), c.Path(), task, at); err != nil {
		return fmt.Errorf("%w: %v; run `esa-connect verify` to write a new challenge object %s and set ownership_token to its content", ErrNotVerified, err, c.ObjectURL(key))
	}
	if recorded {
		return nil
	}
	in := &s3.PutObjectInput{
		Bucket:      aws.String(c.Bucket()),
		Key:         aws.String(c.usedKey(task)),
		Body:        bytes.NewReader([]byte(strings.TrimSpace(token) + "\n" + strconv.FormatInt(now.Unix(), 10) + "\n")),
		ContentType: aws.String("text/plain"),
	}
	if c.ServerSideEncryption != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(c.ServerSideEncryption)
	}
	if _, err := client.PutObject(ctx, in); err != nil {
		if ce := credentialError(c, err); ce != nil {
			return ce
		}
		return fmt.Errorf("recording first use of the ownership token at %s: %w", c.ObjectURL(c.usedKey(task)), err)
	}
	return nil
}
