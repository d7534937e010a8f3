package console

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleEditTask: a task's page shows its health as records arrive, edits fields, sampling and
// filter (only what changed is sent), pauses and resumes, and deletes; the create flow, the list
// and the task's page fit a 420 px wide screen.
func TestConsoleEditTask(t *testing.T) {
	sk := startSink(t)
	s := startServe(t)
	b := newBrowser(t, s.base, 1280, 800)
	b.signIn(keyID, keySecret)
	b.wait(`document.querySelector('#create-task')`)
	b.create(taskSpec{name: "edit-me", site: fmt.Sprint(site), fields: []string{"EdgeStartTimestamp", "ClientRequestID", "ClientIP"},
		filters: []filterSpec{{"ClientRequestMethod", "equals", "GET"}}, dest: "http",
		params: map[string]string{"DestUrl": sk.URL("edit-me")}})
	b.waitText("#created", "Task edit-me created")

	b.run(chromedp.Navigate(s.base + "/console/#/tasks/edit-me"))
	b.wait(`document.querySelector('#edit-card #field-list')`)
	body, _ := records("e", 30)
	if code, ans := s.ingest(t, "access", body); code != 200 {
		t.Fatalf("ingest: %d %s", code, ans)
	}
	b.waitText(`.stat [data-count="delivered"]`, "30") // the page refreshes by itself
	b.waitText(".health-cell", "Last delivery")
	b.checkLabels("task page")
	b.shot("task")

	// Edit: one field fewer, a quarter of the records, no filter.
	b.click(`#field-order button[data-key="rm:ClientIP"]`)
	b.set("#sampling-rate", "25")
	b.click(`#filters .remove`)
	b.wait(`!document.querySelector('#save-task').disabled`)
	b.waitText("#task-code", "As the unsaved changes would make it.")
	b.waitText("#task-code", "DiscardRate: 0.75")
	b.shot("task-edited")
	b.click("#save-task")
	b.waitText("#toast", "Task edit-me updated: ")
	for _, what := range []string{"fields", "sampling rate", "filter"} {
		if !strings.Contains(b.text("#toast"), what) {
			t.Errorf("the update's message %q does not name %s", b.text("#toast"), what)
		}
	}
	b.waitText("#task-code", "As the task runs now.")
	b.waitText("#task-code", "FieldList: EdgeStartTimestamp,ClientRequestID")
	b.waitText("#task-code", "FilterRules: '[]'")
	b.wait(`document.querySelector('#save-task').disabled`)
	b.shot("task-saved")

	// The new settings deliver: 2 fields, about a quarter of 400 records.
	before := len(sk.Records("edit-me"))
	body, _ = records("f", 400)
	if code, ans := s.ingest(t, "access", body); code != 200 {
		t.Fatalf("ingest after the edit: %d %s", code, ans)
	}
	got := sk.Records("edit-me")[before:]
	if len(got) < 50 || len(got) > 150 {
		t.Errorf("%d of 400 records delivered at 25 %%", len(got))
	}
	for _, r := range got {
		if len(r) != 2 || r["ClientIP"] != nil {
			t.Fatalf("record %v: want EdgeStartTimestamp and ClientRequestID", r)
		}
	}

	// Pause and resume from the task's page.
	b.click("#pause-task")
	b.waitText("h1", "offline")
	b.wait(`document.querySelector('#resume-task')`)
	b.click("#resume-task")
	b.waitText("h1", "online")

	// Narrow: the task's page, the list, and the steps of the create flow.
	b.resize(420, 900)
	time.Sleep(300 * time.Millisecond)
	b.shot("task-narrow")
	if o := b.overflow(); len(o) > 0 {
		t.Errorf("the task's page does not fit 420 px: %v", o)
	}
	b.run(chromedp.Navigate(s.base + "/console/#/"))
	b.wait(`document.querySelector('tr[data-task="edit-me"]')`)
	b.click("#create-task")
	b.wait(`document.querySelector('#task-name')`)
	b.typeIn("#task-name", "narrow")
	b.typeIn("#site-id", fmt.Sprint(site))
	b.shot("step1-narrow")
	if o := b.overflow(); len(o) > 0 {
		t.Errorf("step 1 does not fit 420 px: %v", o)
	}
	b.click("#wizard-next")
	b.wait(`document.querySelector('#field-list')`)
	b.click("#add-condition")
	b.set("#cond-field-0", "EdgeResponseStatusCode")
	b.set("#cond-op-0", "ge")
	b.set("#cond-value-0", "500")
	b.checkLabels("step 2, narrow")
	b.shot("step2-narrow")
	if o := b.overflow(); len(o) > 0 {
		t.Errorf("step 2 does not fit 420 px: %v", o)
	}
	b.click("#wizard-next")
	b.wait(`document.querySelector('#dest-http')`)
	b.click("#dest-http")
	b.shot("step3-narrow")
	b.click("#wizard-next")
	b.wait(`document.querySelector('#p-DestUrl')`)
	b.set("#p-DestUrl", sk.URL("narrow"))
	b.wait(`document.querySelector('#review pre')`)
	b.shot("step4-narrow")
	if o := b.overflow(); len(o) > 0 {
		t.Errorf("step 4 does not fit 420 px: %v", o)
	}

	// Delete from the task's page.
	b.resize(1280, 800)
	b.run(chromedp.Navigate(s.base + "/console/#/tasks/edit-me"))
	b.wait(`document.querySelector('#delete-task')`)
	b.click("#delete-task")
	b.wait(`document.querySelector('dialog[open]')`)
	b.click("#confirm-delete")
	b.wait(`location.hash === '#/' && document.querySelector('#task-table')`)
	b.waitText("#task-table", "No delivery tasks yet")
	if strings.Contains(b.text("#task-table"), "edit-me") {
		t.Error("the deleted task is listed")
	}
}
