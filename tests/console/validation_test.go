package console

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// errorOf is the text of the error shown beside the form field of target.
func (b *browser) errorOf(target string) string {
	b.t.Helper()
	return b.text(fmt.Sprintf(`[data-target=%q] .error`, target))
}

// waitError waits until the field of target shows an error holding substr.
func (b *browser) waitError(target, substr string) {
	b.t.Helper()
	b.waitText(fmt.Sprintf(`[data-target=%q] .error`, target), substr)
}

// TestConsoleValidation: every step checks what is typed with the API's validation and shows each
// problem beside its field, with the "did you mean"; Next stays on a step with problems; a
// destination that refuses the task keeps it uncreated and says why.
func TestConsoleValidation(t *testing.T) {
	s := startServe(t)
	b := newBrowser(t, s.base, 1280, 800)
	b.signIn(keyID, keySecret)
	b.wait(`document.querySelector('#create-task')`)
	b.click("#create-task")
	b.wait(`document.querySelector('#task-name')`)

	// Step 1.
	b.typeIn("#task-name", "bad name!")
	b.waitError("name", "use letters, digits, '-' and '_'")
	if b.errorOf("site_id") != "" {
		t.Error("an untouched field shows its problem before Next")
	}
	b.click("#wizard-next")
	b.waitError("site_id", "required")
	b.wait(`document.activeElement && document.activeElement.id === 'task-name'`) // the first field with a problem
	b.wait(`document.querySelector('#task-name').getAttribute('aria-invalid') === 'true'`)
	b.shot("step1-problems")
	b.set("#task-name", "web-check")
	b.typeIn("#site-id", fmt.Sprint(site))
	b.wait(`!document.querySelector('[data-target="name"] .error').textContent`)
	b.click("#wizard-next")
	b.wait(`document.querySelector('#field-list')`)

	// Step 2: no field, a filter field misspelt, an operator's value of the wrong type, a rate
	// out of range.
	b.click("#select-none")
	b.click("#add-condition")
	b.set("#cond-field-0", "ClientIPP")
	b.set("#cond-value-0", "192.0.2.1")
	b.click("#add-condition")
	b.set("#cond-field-1", "EdgeResponseStatusCode")
	b.set("#cond-op-1", "gt")
	b.set("#cond-value-1", "abc")
	b.set("#sampling-rate", "150")
	b.click("#wizard-next")
	b.waitError("fields", "at least one field is required")
	b.waitText("#cond-err-0", `did you mean "ClientIP"`)
	b.waitText("#cond-err-1", `int field: "abc" is not a number`)
	b.waitError("sampling_rate", "150 is not in (0, 100] percent")
	var ops []string
	b.eval(`[...document.querySelectorAll('#cond-op-1 option')].map((o) => o.value)`, &ops)
	if strings.Join(ops, ",") != "equals,not_equals,gt,ge,lt,le,exists,not_exists" {
		t.Errorf("operators offered for an int field: %v", ops)
	}
	b.eval(`[...document.querySelectorAll('#cond-op-0 option')].map((o) => o.value)`, &ops)
	if len(ops) != 16 { // an unknown field: every operator, for Load to judge
		t.Errorf("operators offered for an unknown field: %v", ops)
	}
	b.shot("step2-problems")
	b.click("#select-default")
	b.set("#cond-field-0", "ClientIP")
	b.set("#cond-op-0", "starts_with")
	b.set("#cond-value-1", "499")
	b.set("#sampling-rate", "50")
	b.wait(`!document.querySelector('#cond-err-0').textContent && !document.querySelector('#cond-err-1').textContent`)
	b.click("#wizard-next")
	b.wait(`document.querySelector('#dest-http')`)

	// Step 3: a destination is required.
	b.click("#wizard-next")
	b.waitText("#delivery-type-err", "required")
	b.click("#dest-kafka")
	b.click("#wizard-next")
	b.wait(`document.querySelector('#p-Brokers')`)

	// Step 4: Kafka parameters with problems, SASL without user and password.
	b.set("#p-Brokers", "localhost\nkafka.example.com:99999")
	b.click("#p-UserAuth")
	b.wait(`document.querySelector('#p-UserName')`)
	b.click("#wizard-create")
	b.waitError("delivery.Brokers", `"localhost" is not host:port`)
	b.waitError("delivery.Brokers", `port "99999" is not a number from 1 to 65535`)
	b.waitError("delivery.Topic", "required")
	b.waitError("delivery.UserName", "required")
	b.waitError("delivery.Password", "required")
	b.waitText("#review", "problem(s) left")
	b.checkLabels("step 4 with problems")
	b.shot("step4-problems")

	// A destination that refuses the task: a directory that cannot be created.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.click("#step-3")
	b.wait(`document.querySelector('#dest-local')`)
	b.click("#dest-local")
	b.click("#wizard-next")
	b.wait(`document.querySelector('#p-Path')`)
	b.set("#p-Path", filepath.Join(file, "sub"))
	b.wait(`document.querySelector('#review pre')`)
	b.click("#wizard-create")
	b.waitText("#create-error", "the destination refused the task")
	b.shot("step4-refused")
	b.set("#p-Path", t.TempDir())
	b.click("#wizard-create")
	b.waitText("#created", "Task web-check created")
	b.waitText("#created", "online")
	b.shot("created")

	// A task of that name exists now: the name is taken.
	b.run(chromedp.Navigate(s.base + "/console/#/"))
	b.wait(`document.querySelector('tr[data-task="web-check"]')`)
	b.click("#create-task")
	b.wait(`document.querySelector('#task-name')`)
	b.typeIn("#task-name", "web-check")
	b.waitError("name", `a task named "web-check" already exists`)
}

// TestConsoleCustomFields: an access-log task selects request headers and cookies; the console sends
// them as ESA's API takes the native extension keys (custom_fields as a JSON string) and the task is
// created with them.
func TestConsoleCustomFields(t *testing.T) {
	s := startServe(t)
	b := newBrowser(t, s.base, 1280, 800)
	b.signIn(keyID, keySecret)
	b.wait(`document.querySelector('#create-task')`)
	b.click("#create-task")
	b.wait(`document.querySelector('#task-name')`)
	b.typeIn("#task-name", "with-headers")
	b.typeIn("#site-id", fmt.Sprint(site))
	b.click("#wizard-next")
	b.wait(`document.querySelector('#cf-request_headers')`)
	b.set("#cf-request_headers", "User-Agent\nX-Request-ID")
	b.set("#cf-cookies", "session_id")
	b.click("#add-condition")
	b.set("#cond-field-0", "CustomFields.request_headers.user-agent")
	b.set("#cond-op-0", "contains")
	b.set("#cond-value-0", "curl")
	var opts []string
	b.eval(`[...document.querySelectorAll('datalist option')].map((o) => o.value).filter((v) => v.startsWith('CustomFields.'))`, &opts)
	if len(opts) != 3 {
		t.Errorf("the filter's field list offers custom fields %v", opts)
	}
	b.shot("custom-fields")
	b.click("#wizard-next")
	b.wait(`document.querySelector('#dest-local')`)
	b.click("#dest-local")
	b.click("#wizard-next")
	b.wait(`document.querySelector('#p-Path')`)
	b.set("#p-Path", t.TempDir())
	b.waitText("#review pre", "custom_fields:")
	b.waitText("#review pre", "- user-agent")
	b.click("#wizard-create")
	b.waitText("#created", "Task with-headers created")
	b.shot("custom-fields-created")
}
