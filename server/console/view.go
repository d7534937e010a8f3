package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/esa-connect/esa-connect/config"
	"github.com/esa-connect/esa-connect/translate"
)

// taskYAML is a task as ESA's API shows it (config.ExportESA: every secret masked), as YAML in ESA's
// member order, with the esa-connect settings that ESA has no member for and the console can set
// (custom_fields) added. `esa-connect tasks create` and Load read it back once the masked secrets are
// given.
func taskYAML(t *config.Task) (string, error) {
	e := config.ExportESA(t)
	e.Status = ""
	b, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil { // JSON is YAML: the node keeps the member order
		return "", err
	}
	root := doc.Content[0]
	if cf := t.CustomFields; cf != nil {
		var n yaml.Node
		if err := n.Encode(cf); err != nil {
			return "", err
		}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "custom_fields"}, &n)
	}
	block(root)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return "", err
	}
	_ = enc.Close()
	return out.String(), nil
}

// block makes a node decoded from JSON print in YAML's block style.
func block(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		n.Style &^= yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		block(c)
	}
}

// pipeline is the Benthos config of a task (translate.Task: literal secrets become ${ESA_<TASK>_…}
// references, never the secret).
func pipeline(t *config.Task) string {
	b, err := translate.Task(t)
	if err != nil {
		return "# " + err.Error()
	}
	return string(b)
}

// secretMembers are the delivery members that hold secrets: the page shows whether they are set,
// never their value.
var secretMembers = map[string]bool{"AccessKey": true, "SecretKey": true, "Password": true, "PrivateKey": true}

// sinkView is a destination as the page shows it: ESA's SinkConfig with every secret as "set" or
// "not set". Header and query values of token-like names are secrets too.
func sinkView(t *config.Task) map[string]any {
	sc := config.ExportESA(t).SinkConfig
	out := map[string]any{}
	for k, v := range sc {
		switch {
		case secretMembers[k]:
			out[k] = setOrNot(v)
		case k == "StandardAuthParam":
			m, _ := v.(map[string]any)
			sub := map[string]any{}
			for mk, mv := range m {
				if secretMembers[mk] {
					mv = setOrNot(mv)
				}
				sub[mk] = mv
			}
			out[k] = sub
		case k == "HeaderParam" || k == "QueryParam":
			m, _ := v.(map[string]any)
			sub := map[string]any{}
			for name, mv := range m {
				val := mv
				if sv, ok := mv.(map[string]any); ok {
					val = sv["StaticValue"]
				}
				if config.IsSecretName(name) {
					val = setOrNot(val)
				}
				sub[name] = val
			}
			out[k] = sub
		default:
			out[k] = v
		}
	}
	// Only an s3 or s3_compatible destination has an S3 block (config decodes the type's block alone).
	if s3 := t.Destination.S3; s3 != nil {
		for k, v := range map[string]string{"AccessKey": s3.AccessKeyID, "SecretKey": s3.SecretAccessKey} {
			out[k] = setOrNot(v)
		}
	}
	return out
}

func setOrNot(v any) string {
	if s, _ := v.(string); s != "" {
		if config.IsEnvRef(s) {
			return "set (" + s + ")"
		}
		return "set"
	}
	return "not set"
}

// destinationSummary is a line saying where a task delivers, without secrets.
func destinationSummary(t *config.Task) string {
	d := t.Destination
	switch {
	case d.HTTP != nil:
		return config.RedactURL(d.HTTP.URL)
	case d.Kafka != nil:
		b := ""
		if len(d.Kafka.Brokers) > 0 {
			b = d.Kafka.Brokers[0]
		}
		if n := len(d.Kafka.Brokers) - 1; n > 0 {
			b += fmt.Sprintf(" +%d", n)
		}
		return fmt.Sprintf("topic %s at %s", d.Kafka.Topic, b)
	case d.SLS != nil:
		return fmt.Sprintf("%s/%s (%s)", d.SLS.Project, d.SLS.Logstore, d.SLS.Region)
	case d.OSS != nil:
		p := d.OSS.Bucket
		if d.OSS.Prefix != "" {
			p += "/" + d.OSS.Prefix
		}
		return fmt.Sprintf("oss://%s (%s)", p, d.OSS.Region)
	case d.S3 != nil:
		s := "s3://" + d.S3.BucketPath
		if d.S3.Endpoint != "" {
			s += " at " + config.RedactURL(d.S3.Endpoint)
		}
		return s
	case d.Local != nil:
		return d.Local.Path
	}
	return ""
}

// deliveryTitle is the page's name of a destination type.
func deliveryTitle(esaType string) string {
	if d, ok := destinationByType(esaType); ok {
		return d.Title
	}
	return esaType
}

// challengeRE finds the challenge object in a pending task's reason.
var challengeRE = regexp.MustCompile(`read (\S+) and give`)

// challengeOf is the ownership challenge object named by a pending task's reason.
func challengeOf(reason string) string {
	if m := challengeRE.FindStringSubmatch(reason); m != nil {
		return m[1]
	}
	return ""
}

// filterRows turns conditions back into the form's rows; ok is false when the filter has OR groups,
// which the rows cannot show (the page then edits the filter JSON).
func filterRows(conds []config.Condition) ([]filterRow, bool) {
	rows := make([]filterRow, 0, len(conds))
	for _, c := range conds {
		if len(c.Any) > 0 {
			return nil, false
		}
		vals := make([]string, len(c.Values))
		for i, v := range c.Values {
			s := fmt.Sprint(v)
			if strings.Contains(s, ",") && (c.Op != "regex" && c.Op != "not_regex") {
				if op, _ := operatorByName(c.Op); op.Values == "many" {
					return nil, false // a value with a comma: the row would split it
				}
			}
			vals[i] = s
		}
		rows = append(rows, filterRow{Field: c.Field, Op: c.Op, Value: strings.Join(vals, ", "), IgnoreCase: c.IgnoreCase})
	}
	return rows, true
}
