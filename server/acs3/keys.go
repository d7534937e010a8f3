package acs3

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Environment variables that hold the AccessKey pair given to LoadKeys.
const (
	EnvAccessKeyID     = "ESA_CONNECT_ACCESS_KEY_ID"
	EnvAccessKeySecret = "ESA_CONNECT_ACCESS_KEY_SECRET"
)

// maxKeyIDLen bounds an AccessKey ID; Alibaba Cloud's are 24 to 30 characters.
const maxKeyIDLen = 128

// Keys is the set of AccessKey pairs whose signatures a Verifier accepts. Its zero value is the
// empty set. It is immutable once loaded, so it can be shared between goroutines.
//
// The secrets are never printed: String, GoString and every fmt verb show the AccessKey IDs only.
type Keys struct {
	secrets map[string][]byte // AccessKey ID → AccessKey secret
}

// Len returns the number of AccessKey pairs.
func (k Keys) Len() int { return len(k.secrets) }

// IDs returns the AccessKey IDs, sorted.
func (k Keys) IDs() []string {
	ids := make([]string, 0, len(k.secrets))
	for id := range k.secrets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// String describes the set by its AccessKey IDs; the secrets are not shown.
func (k Keys) String() string {
	if len(k.secrets) == 0 {
		return "no AccessKeys"
	}
	noun := "AccessKeys"
	if len(k.secrets) == 1 {
		noun = "AccessKey"
	}
	return fmt.Sprintf("%d %s (%s)", len(k.secrets), noun, strings.Join(k.IDs(), ", "))
}

// GoString is String, so that %#v does not print the secrets either.
func (k Keys) GoString() string { return "acs3.Keys{" + k.String() + "}" }

// Format prints String for every verb, so that no verb (%d, %x, …) prints the secrets.
func (k Keys) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, k.GoString())
		return
	}
	io.WriteString(f, k.String())
}

// secret returns the secret of the AccessKey id.
func (k Keys) secret(id string) ([]byte, bool) {
	s, ok := k.secrets[id]
	return s, ok
}

// Check reports whether id and secret are one of the AccessKey pairs (a sign-in with a key pair, as
// the console does). The secrets are compared in constant time, by their SHA-256 digests so that
// neither their content nor their length shows in the time taken, and an unknown id costs the same
// comparison as a known one.
func (k Keys) Check(id, secret string) bool {
	want, known := k.secrets[id]
	if !known {
		want = []byte("\x00 no such AccessKey \x00")
	}
	got, exp := sha256.Sum256([]byte(secret)), sha256.Sum256(want)
	return subtle.ConstantTimeCompare(got[:], exp[:]) == 1 && known && secret != ""
}

// LoadKeys returns the AccessKey pairs that requests may be signed with: the pair in the environment
// variables ESA_CONNECT_ACCESS_KEY_ID and ESA_CONNECT_ACCESS_KEY_SECRET (both or neither), read
// through env (os.Getenv in production), and, if file is not empty, the pairs in that YAML file:
//
//	# keys.yaml (mode 0600)
//	- access_key_id: LTAI5tExampleId
//	  access_key_secret: ExampleSecret
//	- access_key_id: LTAI5tOtherId
//	  access_key_secret: OtherSecret
//
// The file must not be accessible by group or others (chmod 600). Every problem found is reported
// at once, each with its entry and line; an empty or malformed AccessKey ID, a missing secret, an
// ID defined twice (in the file or in the file and the environment) or an unknown field is an
// error. No error ever holds a secret. An empty set is not an error: the caller decides whether it
// can run without keys.
func LoadKeys(env func(string) string, file string) (Keys, error) {
	keys := Keys{secrets: map[string][]byte{}}
	origin := map[string]string{} // AccessKey ID → where it was defined, for duplicate errors
	var problems []error

	id, secret := env(EnvAccessKeyID), env(EnvAccessKeySecret)
	switch {
	case id != "" && secret == "":
		problems = append(problems, fmt.Errorf("%s is set but %s is not: set both or neither", EnvAccessKeyID, EnvAccessKeySecret))
	case id == "" && secret != "":
		problems = append(problems, fmt.Errorf("%s is set but %s is not: set both or neither", EnvAccessKeySecret, EnvAccessKeyID))
	case id != "":
		bad := false
		if p := checkKeyID(id); p != "" {
			problems = append(problems, fmt.Errorf("%s %s", EnvAccessKeyID, p))
			bad = true
		}
		if p := checkSecret(secret); p != "" {
			problems = append(problems, fmt.Errorf("%s %s", EnvAccessKeySecret, p))
			bad = true
		}
		if !bad {
			keys.secrets[id] = []byte(secret)
			origin[id] = "the environment (" + EnvAccessKeyID + ")"
		}
	}

	if file != "" {
		problems = append(problems, loadKeyFile(file, keys.secrets, origin)...)
	}
	if len(problems) > 0 {
		return Keys{}, fmt.Errorf("load AccessKeys: %w", errors.Join(problems...))
	}
	return keys, nil
}

// loadKeyFile adds the pairs of a keys file to secrets and returns every problem found.
func loadKeyFile(file string, secrets map[string][]byte, origin map[string]string) []error {
	f, err := os.Open(file)
	if err != nil {
		return []error{fmt.Errorf("keys file: %w", err)}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return []error{fmt.Errorf("keys file: %w", err)}
	}
	if !st.Mode().IsRegular() {
		return []error{fmt.Errorf("keys file %s is not a regular file", file)}
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return []error{fmt.Errorf("keys file %s is accessible by group or others (mode %04o): it holds secrets, restrict it with chmod 600 %s", file, perm, file)}
	}
	data, err := io.ReadAll(io.LimitReader(f, 16<<20+1))
	if err != nil {
		return []error{fmt.Errorf("keys file %s: %w", file, err)}
	}
	if len(data) > 16<<20 {
		return []error{fmt.Errorf("keys file %s is larger than 16 MiB", file)}
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 syntax errors name a line and the kind of problem, never the text of a value.
		return []error{fmt.Errorf("keys file %s: %w", file, err)}
	}
	if len(doc.Content) == 0 {
		return nil // an empty file: no keys
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.SequenceNode {
		return []error{fmt.Errorf("keys file %s: line %d: expected a list of {access_key_id, access_key_secret}", file, root.Line)}
	}

	var problems []error
	for i, item := range root.Content {
		where := fmt.Sprintf("keys file %s: entry %d (line %d)", file, i+1, item.Line)
		if item.Kind != yaml.MappingNode {
			problems = append(problems, fmt.Errorf("%s: expected a mapping with access_key_id and access_key_secret", where))
			continue
		}
		var (
			id, secret       string
			hasID, hasSecret bool
			entryOK          = true
		)
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, v := item.Content[j], item.Content[j+1]
			switch k.Value {
			case "access_key_id", "access_key_secret":
				isID := k.Value == "access_key_id"
				if (isID && hasID) || (!isID && hasSecret) {
					problems = append(problems, fmt.Errorf("%s: line %d: %s is given twice", where, k.Line, k.Value))
					entryOK = false
					continue
				}
				if v.Kind != yaml.ScalarNode {
					problems = append(problems, fmt.Errorf("%s: line %d: %s must be a string", where, v.Line, k.Value))
					entryOK = false
					continue
				}
				val := v.Value
				if v.Tag == "!!null" {
					val = ""
				}
				if isID {
					id, hasID = val, true
				} else {
					secret, hasSecret = val, true
				}
			default:
				problems = append(problems, fmt.Errorf("%s: line %d: unknown field %q (expected access_key_id and access_key_secret)", where, k.Line, truncate(k.Value)))
				entryOK = false
			}
		}
		if !hasID {
			problems = append(problems, fmt.Errorf("%s: access_key_id is missing", where))
			entryOK = false
		} else if p := checkKeyID(id); p != "" {
			problems = append(problems, fmt.Errorf("%s: access_key_id %s", where, p))
			entryOK = false
		}
		if !hasSecret {
			problems = append(problems, fmt.Errorf("%s: access_key_secret is missing", where))
			entryOK = false
		} else if p := checkSecret(secret); p != "" {
			problems = append(problems, fmt.Errorf("%s: access_key_secret %s", where, p))
			entryOK = false
		}
		if hasID && id != "" {
			if prev, dup := origin[id]; dup {
				problems = append(problems, fmt.Errorf("%s: access_key_id %q is already defined in %s", where, id, prev))
				continue
			}
			origin[id] = fmt.Sprintf("entry %d (line %d) of %s", i+1, item.Line, file)
		}
		if entryOK {
			secrets[id] = []byte(secret)
		}
	}
	return problems
}

// checkKeyID returns what is wrong with an AccessKey ID, or "". The ID travels in the Authorization
// header (Credential=<id>,SignedHeaders=…), so it cannot hold a separator or a blank.
func checkKeyID(id string) string {
	if id == "" {
		return "is empty"
	}
	if len(id) > maxKeyIDLen {
		return fmt.Sprintf("is longer than %d characters", maxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == ',' || c == ';' || c == '=' {
			return fmt.Sprintf("%q holds %q: an AccessKey ID is printable ASCII without blanks, ',', ';' or '='", truncate(id), string(rune(c)))
		}
	}
	return ""
}

// checkSecret returns what is wrong with an AccessKey secret, or "". It never quotes the secret.
func checkSecret(s string) string {
	if s == "" {
		return "is empty"
	}
	if strings.TrimSpace(s) != s {
		return "has leading or trailing white space (a copy-paste mistake?)"
	}
	return ""
}

// truncate shortens a value taken from a request to quote it in a message.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
