package osstest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// TestDocumentedSignature reproduces the worked example of the public OSS V1 signing documentation.
func TestDocumentedSignature(t *testing.T) {
	r, _ := http.NewRequest(http.MethodPut, "http://oss-example.oss-cn-hangzhou.aliyuncs.com/nelson", nil)
	r.Header.Set("Content-MD5", "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=")
	r.Header.Set("Content-Type", "text/html")
	r.Header.Set("Date", "Thu, 17 Nov 2005 18:49:58 GMT")
	r.Header.Set("X-OSS-Meta-Author", "foo@bar.com")
	r.Header.Set("X-OSS-Magic", "abracadabra")
	sts := StringToSign(r, "oss-example", "nelson")
	want := "PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\nThu, 17 Nov 2005 18:49:58 GMT\nx-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n/oss-example/nelson"
	if sts != want {
		t.Fatalf("string to sign:\n%q\nwant\n%q", sts, want)
	}
	if sig := Sign("OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV", sts); sig != "26NBxoKdsyly4EDv6inkoDft/yA=" {
		t.Fatalf("signature = %s", sig)
	}
}

func TestSubResourcesInResource(t *testing.T) {
	r, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1/b/k?uploadId=U1&partNumber=2&prefix=x", nil)
	r.Header.Set("Date", "d")
	got := StringToSign(r, "b", "k")
	if !strings.HasSuffix(got, "/b/k?partNumber=2&uploadId=U1") {
		t.Fatalf("resource: %q", got)
	}
}

func TestSDKAgainstServer(t *testing.T) {
	s := Start(t)
	s.CreateBucket("bkt")
	client, err := oss.New(s.Endpoint, AccessKeyID, AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	b, err := client.Bucket("bkt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetBucketInfo("bkt"); err != nil {
		t.Fatalf("GetBucketInfo: %v", err)
	}
	if err := b.PutObject("dir/a b.txt", strings.NewReader("hello"), oss.ContentType("text/plain"), oss.ContentEncoding("identity"), oss.Meta("x", "y")); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	rc, err := b.GetObject("dir/a b.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if string(body) != "hello" {
		t.Fatalf("body %q", body)
	}
	lr, err := b.ListObjects(oss.Prefix("dir/"))
	if err != nil || len(lr.Objects) != 1 || lr.Objects[0].Key != "dir/a b.txt" {
		t.Fatalf("ListObjects: %+v %v", lr, err)
	}
	lr2, err := b.ListObjectsV2(oss.Prefix("dir/"))
	if err != nil || len(lr2.Objects) != 1 || lr2.Objects[0].Key != "dir/a b.txt" {
		t.Fatalf("ListObjectsV2: %+v %v", lr2, err)
	}

	// Multipart: two parts (the first at least 100 KiB), completed; another aborted.
	part1 := bytes.Repeat([]byte("a"), 200*1024)
	imur, err := b.InitiateMultipartUpload("big", oss.ContentType("application/x-ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	p1, err := b.UploadPart(imur, bytes.NewReader(part1), int64(len(part1)), 1)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := b.UploadPart(imur, strings.NewReader("tail"), 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CompleteMultipartUpload(imur, []oss.UploadPart{p1, p2}); err != nil {
		t.Fatal(err)
	}
	objs := s.Objects("bkt", "big")
	if len(objs) != 1 || len(objs[0].Body) != len(part1)+4 || objs[0].ContentType != "application/x-ndjson" {
		t.Fatalf("multipart object: %+v", objs)
	}
	imur2, err := b.InitiateMultipartUpload("aborted")
	if err != nil {
		t.Fatal(err)
	}
	lu, err := b.ListMultipartUploads()
	if err != nil || len(lu.Uploads) != 1 {
		t.Fatalf("ListMultipartUploads: %+v %v", lu, err)
	}
	if err := b.AbortMultipartUpload(imur2); err != nil {
		t.Fatal(err)
	}
	if s.PendingUploads() != 0 {
		t.Fatal("abort left the upload")
	}

	// A wrong secret and an unknown key are rejected with OSS's XML errors.
	for _, c := range []struct{ id, secret, code string }{
		{AccessKeyID, "wrong-secret", "SignatureDoesNotMatch"},
		{"LTAIunknown", AccessKeySecret, "InvalidAccessKeyId"},
	} {
		bad, _ := oss.New(s.Endpoint, c.id, c.secret)
		bb, _ := bad.Bucket("bkt")
		err := bb.PutObject("x", strings.NewReader("x"))
		se, ok := err.(oss.ServiceError)
		if !ok || se.StatusCode != 403 || se.Code != c.code {
			t.Fatalf("%s: want 403 %s, got %#v", c.id, c.code, err)
		}
	}
	if n := len(s.Objects("bkt", "x")); n != 0 {
		t.Fatal("a rejected request stored an object")
	}

	// STS credentials need their security token.
	s.AddCredentials("STS.key", "sts-secret", "sts-token")
	sts, _ := oss.New(s.Endpoint, "STS.key", "sts-secret", oss.SecurityToken("sts-token"))
	sb, _ := sts.Bucket("bkt")
	if err := sb.PutObject("sts", strings.NewReader("x")); err != nil {
		t.Fatalf("STS put: %v", err)
	}
	nots, _ := oss.New(s.Endpoint, "STS.key", "sts-secret")
	nb, _ := nots.Bucket("bkt")
	if err := nb.PutObject("sts2", strings.NewReader("x")); err == nil {
		t.Fatal("STS credentials without token accepted")
	}
	if _, err := b.GetObject("missing"); err == nil || err.(oss.ServiceError).Code != "NoSuchKey" {
		t.Fatalf("missing key: %v", err)
	}
}
