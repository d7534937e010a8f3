package acs3

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeKeyFile(t testing.TB, perm os.FileMode, content string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(file, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, perm); err != nil { // WriteFile's perm is filtered by the umask
		t.Fatal(err)
	}
	return file
}

func TestLoadKeysEnv(t *testing.T) {
	noEnv := envOf(nil)
	keys, err := LoadKeys(noEnv, "")
	if err != nil || keys.Len() != 0 {
		t.Fatalf("no keys: %v, %v", keys, err)
	}

	keys, err = LoadKeys(envOf(map[string]string{EnvAccessKeyID: "LTAI5tA", EnvAccessKeySecret: "s3cr3t-A"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := keys.secret("LTAI5tA"); !ok || string(s) != "s3cr3t-A" || keys.Len() != 1 {
		t.Fatalf("keys %v", keys)
	}

	for _, tc := range []struct {
		env      map[string]string
		mentions []string
	}{
		{map[string]string{EnvAccessKeyID: "LTAI5tA"}, []string{EnvAccessKeySecret + " is not"}},
		{map[string]string{EnvAccessKeySecret: "s3cr3t-A"}, []string{EnvAccessKeyID + " is not"}},
		{map[string]string{EnvAccessKeyID: "LTAI 5tA", EnvAccessKeySecret: "s3cr3t-A"}, []string{EnvAccessKeyID}},
		{map[string]string{EnvAccessKeyID: "LTAI5tA", EnvAccessKeySecret: " s3cr3t-A\n"}, []string{EnvAccessKeySecret, "white space"}},
	} {
		_, err := LoadKeys(envOf(tc.env), "")
		if err == nil {
			t.Errorf("%v: no error", tc.env)
			continue
		}
		for _, m := range tc.mentions {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%v: error %q does not mention %q", tc.env, err, m)
			}
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("the error holds the secret: %v", err)
		}
	}
}

func TestLoadKeysFile(t *testing.T) {
	env := envOf(map[string]string{EnvAccessKeyID: "LTAI5tEnv", EnvAccessKeySecret: "env-s3cr3t"})
	good := "- access_key_id: LTAI5tA\n  access_key_secret: a-s3cr3t\n" +
		"- access_key_id: LTAI5tB\n  access_key_secret: 'b s3cr3t: with # signs'\n" +
		"- access_key_id: LTAI5tC\n  access_key_secret: 12345\n"
	keys, err := LoadKeys(env, writeKeyFile(t, 0o600, good))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys.IDs(), ","); got != "LTAI5tA,LTAI5tB,LTAI5tC,LTAI5tEnv" {
		t.Fatalf("IDs %s", got)
	}
	for id, want := range map[string]string{"LTAI5tB": "b s3cr3t: with # signs", "LTAI5tC": "12345", "LTAI5tEnv": "env-s3cr3t"} {
		if s, _ := keys.secret(id); string(s) != want {
			t.Errorf("secret of %s is wrong", id)
		}
	}
	// The secrets are printed by no verb.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%T"} {
		if out := fmt.Sprintf(verb, keys); strings.Contains(out, "s3cr3t") || strings.Contains(out, "12345") ||
			strings.Contains(out, hexOf("a-s3cr3t")) {
			t.Errorf("%s prints a secret: %s", verb, out)
		}
	}
	if s := keys.String(); s != "4 AccessKeys (LTAI5tA, LTAI5tB, LTAI5tC, LTAI5tEnv)" {
		t.Errorf("String() = %s", s)
	}

	for _, empty := range []string{"", "# no keys yet\n", "[]\n", "~\n"} {
		keys, err := LoadKeys(envOf(nil), writeKeyFile(t, 0o600, empty))
		if err != nil || keys.Len() != 0 {
			t.Errorf("%q: %v, %v", empty, keys, err)
		}
	}
	// Only the owner can read it; 0o400 is fine too.
	if _, err := LoadKeys(envOf(nil), writeKeyFile(t, 0o400, good)); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}

func TestLoadKeysFileRefused(t *testing.T) {
	good := "- access_key_id: LTAI5tA\n  access_key_secret: a-s3cr3t\n"
	for _, perm := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602} {
		_, err := LoadKeys(envOf(nil), writeKeyFile(t, perm, good))
		if err == nil || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), fmt.Sprintf("%04o", perm)) {
			t.Errorf("mode %04o: %v", perm, err)
		}
	}
	if _, err := LoadKeys(envOf(nil), filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadKeys(envOf(nil), t.TempDir()); err == nil {
		t.Errorf("a directory: no error")
	}

	// Every problem is reported at once, with its entry and line, and no secret.
	bad := "" +
		"- access_key_id: LTAI5tA\n" + // entry 1, line 1
		"  access_key_secret: a-s3cr3t\n" +
		"- access_key_id: LTAI5tA\n" + // entry 2, line 3: duplicate
		"  access_key_secret: a2-s3cr3t\n" +
		"- access_key_id: ''\n" + // entry 3, line 5: empty id
		"  access_key_secret: c-s3cr3t\n" +
		"- access_key_id: LTAI5tD\n" + // entry 4, line 7: no secret
		"- access_key_id: LTAI5tE\n" + // entry 5, line 8: unknown field
		"  access_key_secert: e-s3cr3t\n" +
		"  access_key_secret: e-s3cr3t\n" +
		"- access_key_id: LTAI5tEnv\n" + // entry 6, line 11: duplicate of the environment's
		"  access_key_secret: f-s3cr3t\n" +
		"- just a string\n" + // entry 7, line 13
		"- access_key_id: [LTAI5tG]\n" + // entry 8, line 14: not a string
		"  access_key_secret: g-s3cr3t\n" +
		"- access_key_id: LTAI5tH\n" + // entry 9, line 16: blank in secret
		"  access_key_secret: 'h-s3cr3t '\n" +
		"- access_key_secret: j-s3cr3t\n" // entry 10, line 18: no id
	env := envOf(map[string]string{EnvAccessKeyID: "LTAI5tEnv", EnvAccessKeySecret: "env-s3cr3t"})
	_, err := LoadKeys(env, writeKeyFile(t, 0o600, bad))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`entry 2 (line 3): access_key_id "LTAI5tA" is already defined in entry 1 (line 1)`,
		"entry 3 (line 5): access_key_id is empty",
		"entry 4 (line 7): access_key_secret is missing",
		`entry 5 (line 8): line 9: unknown field "access_key_secert"`,
		`entry 6 (line 11): access_key_id "LTAI5tEnv" is already defined in the environment`,
		"entry 7 (line 13): expected a mapping",
		"entry 8 (line 14): line 14: access_key_id must be a string",
		"entry 9 (line 16): access_key_secret has leading or trailing white space",
		"entry 10 (line 18): access_key_id is missing",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "s3cr3t") {
		t.Errorf("the error holds a secret:\n%s", msg)
	}

	for _, notList := range []string{"access_key_id: LTAI5tA\naccess_key_secret: x\n", "just text\n"} {
		if _, err := LoadKeys(envOf(nil), writeKeyFile(t, 0o600, notList)); err == nil || !strings.Contains(err.Error(), "expected a list") {
			t.Errorf("%q: %v", notList, err)
		}
	}
	if _, err := LoadKeys(envOf(nil), writeKeyFile(t, 0o600, "- access_key_id: [\n")); err == nil || !strings.Contains(err.Error(), "yaml") {
		t.Errorf("a syntax error: %v", err)
	}
}

func hexOf(s string) string { return fmt.Sprintf("%x", s) }

func TestKeysCheck(t *testing.T) {
	env := envOf(map[string]string{EnvAccessKeyID: "LTAI5tEnv", EnvAccessKeySecret: "env-s3cr3t"})
	keys, err := LoadKeys(env, writeKeyFile(t, 0o600, "- access_key_id: LTAI5tA\n  access_key_secret: a-s3cr3t\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, secret string
		ok         bool
	}{
		{"LTAI5tEnv", "env-s3cr3t", true},
		{"LTAI5tA", "a-s3cr3t", true},
		{"LTAI5tA", "env-s3cr3t", false},           // another pair's secret
		{"LTAI5tEnv", "a-s3cr3t", false},           // another pair's secret
		{"LTAI5tA", "a-s3cr3", false},              // a prefix
		{"LTAI5tA", "a-s3cr3t ", false},            // a blank more
		{"LTAI5tA", "A-S3CR3T", false},             // case matters
		{"LTAI5tA", "", false},                     // no secret
		{"ltai5ta", "a-s3cr3t", false},             // IDs are case-sensitive
		{"LTAI5tB", "a-s3cr3t", false},             // an unknown ID
		{"", "", false},                            // nothing
		{"", "\x00 no such AccessKey \x00", false}, // the unknown ID's stand-in
	} {
		if got := keys.Check(tc.id, tc.secret); got != tc.ok {
			t.Errorf("Check(%q, %q) = %v, want %v", tc.id, tc.secret, got, tc.ok)
		}
	}
	if (Keys{}).Check("LTAI5tA", "a-s3cr3t") {
		t.Error("the empty set accepts a pair")
	}
}
