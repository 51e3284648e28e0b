package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"

	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/workflows"
)

// TestApprovalsThroughTheAPI: a pass of a target whose policy asks two
// approvers waits, whatever the start request carries; a viewer sees it in
// the approvals list; answers from a non-approver, from callers without the
// approver role, duplicates, and a flood of 1,000 of them are refused and
// leave nothing in the pass's history; the second approver's answer lets it
// go on to its outcome, every applied stage promoted or undone; its record
// keeps who approved.
func TestApprovalsThroughTheAPI(t *testing.T) {
	const name = "e2e-approvals"
	body := strings.Replace(apiTarget(name), "risk: {approval_from: forbidden, max_step: 0.01}",
		"risk: {approval_from: low, approvers: [alice, bob], quorum: 2, approval_timeout: 1h, max_step: 0.01}", 1)
	req, _ := http.NewRequest(http.MethodPut, apiServer.URL+"/v1/targets/"+name, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := apiHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	decode(t, resp, http.StatusCreated, nil)

	// The start request carries a target that would skip approval: the
	// pass takes the registered policy all the same.
	var rep workflows.RequestReply
	resp, err = apiHTTP.Post(apiServer.URL+"/v1/targets/"+name+"/passes", "application/yaml",
		strings.NewReader(strings.Replace(body, "approval_from: low", "approval_from: forbidden", 1)))
	if err != nil {
		t.Fatal(err)
	}
	decode(t, resp, http.StatusAccepted, &rep)
	id := rep.PassID
	waitWithin(t, 30*time.Second, func() bool {
		st, err := operator.Status(context.Background(), temporalClient, id)
		return err == nil && st.Step == workflows.StepApproval
	}, "the pass waits for an approval")

	var waiting []operator.Waiting
	resp, err = as("carol").Get(apiServer.URL + "/v1/approvals")
	if err != nil {
		t.Fatal(err)
	}
	decode(t, resp, http.StatusOK, &waiting)
	i := slices.IndexFunc(waiting, func(w operator.Waiting) bool { return w.ID == id })
	if i < 0 || waiting[i].Request.Quorum != 2 || !slices.Equal(waiting[i].Request.Approvers, []string{"alice", "bob"}) ||
		waiting[i].Band == "" || waiting[i].Candidate == "" || waiting[i].RequestedBy != "admin" {
		t.Fatalf("approvals %+v: want %s, asked by admin, waiting for 2 of alice and bob, with its candidate and band", waiting, id)
	}

	answer := func(user string, approved bool) (int, string) {
		b := `{"approved": false, "reason": "not now"}`
		if approved {
			b = `{"approved": true, "reason": "looks fine"}`
		}
		resp, err := as(user).Post(apiServer.URL+"/v1/passes/"+id+"/approval", "application/json", strings.NewReader(b))
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}
	for _, tt := range []struct {
		user string
		code int
		says string
	}{
		{"mallory", http.StatusForbidden, "mallory is not an approver of e2e-approvals"},
		{"carol", http.StatusForbidden, "carol does not hold the approver role"},
		{"am", http.StatusForbidden, "am does not hold the approver role"},
		{"alice", http.StatusOK, `"decision": "pending"`},
		{"alice", http.StatusConflict, "alice has answered pass " + id + " already"},
	} {
		if code, msg := answer(tt.user, true); code != tt.code || !strings.Contains(msg, tt.says) {
			t.Fatalf("answer as %s: %d %s; want %d saying %q", tt.user, code, msg, tt.code, tt.says)
		}
	}

	// A flood of answers the pass refuses leaves its history as it was.
	before := historyLength(t, id)
	var wg sync.WaitGroup
	codes := make([]int, 1000)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(codes); i += 8 {
				user := "mallory"
				if i%2 == 1 {
					user = "alice"
				}
				codes[i], _ = answer(user, i%3 != 0)
			}
		})
	}
	wg.Wait()
	for i, c := range codes {
		if want := map[bool]int{false: http.StatusForbidden, true: http.StatusConflict}[i%2 == 1]; c != want {
			t.Fatalf("flood answer %d: %d, want %d", i, c, want)
		}
	}
	if after := historyLength(t, id); after != before {
		t.Fatalf("the flood grew the pass's history from %d to %d events", before, after)
	}

	if code, msg := answer("bob", true); code != http.StatusOK || !strings.Contains(msg, `"decision": "approved"`) {
		t.Fatalf("bob's approval: %d %s, want approved", code, msg)
	}
	if code, msg := answer("bob", true); code != http.StatusConflict || !strings.Contains(msg, "not waiting for an approval") {
		t.Fatalf("an answer after the decision: %d %s, want 409 not waiting", code, msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := operator.Follow(ctx, temporalClient, id, io.Discard, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	switch st.Outcome {
	case workflows.OutcomePromoted:
	case workflows.OutcomeRolledBack:
		checkUndone(t, st)
	default:
		t.Fatalf("outcome %s (%s): want promoted or rolled back", st.Outcome, st.Reason)
	}
	var recs []workflows.PassRecord
	waitWithin(t, 10*time.Second, func() bool {
		resp, err := apiHTTP.Get(apiServer.URL + "/v1/targets/" + name + "/history")
		if err != nil {
			return false
		}
		decode(t, resp, http.StatusOK, &recs)
		return len(recs) > 0 && recs[len(recs)-1].ID == id && recs[len(recs)-1].Outcome != ""
	}, "the tuner records the pass")
	rec := recs[len(recs)-1]
	var who []string
	for _, a := range rec.Approvals {
		who = append(who, a.Approver)
	}
	if !slices.Equal(who, []string{"alice", "bob"}) || rec.Approval == nil || rec.Approval.Approver != "bob" || rec.RequestedBy != "admin" {
		t.Errorf("record %+v: want it asked by admin, approved by alice then bob", rec)
	}

	// The pass's whole story reads back from the audit, as JSON Lines.
	resp, err = as("carol").Get(apiServer.URL + "/v1/targets/" + name + "/audit?format=jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var story []string
	for _, line := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
		var e workflows.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if e.Pass == id {
			story = append(story, e.Event+" "+e.Actor)
		}
	}
	want := []string{"requested admin", "proposed gaussian-process", "risk ", "approval-asked ", "approved alice", "approved bob"}
	if len(story) < len(want)+2 || !slices.Equal(story[:len(want)], want) || story[len(story)-1] != "outcome " ||
		!slices.Contains(story, "stage ") {
		t.Errorf("audit of %s: %q; want %q, the stages' verdicts, then the outcome", id, story, want)
	}
	if *record {
		saveHistory(t, id, filepath.Join("..", "workflows", "testdata", "pass_approved.json"))
	}
}

// historyLength counts the events in a workflow's history.
func historyLength(t *testing.T, id string) int {
	t.Helper()
	it := temporalClient.GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		if _, err := it.Next(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// waitWithin waits for cond as waitFor does, for at most timeout.
func waitWithin(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	waitFor(t, ctx, cond, what)
}
