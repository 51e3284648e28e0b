package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
	"github.com/passflow/passflow/workflows"
)

// TestNotificationsReachReceiversWithoutDelayingThePass: a pass on a real
// server tells a signed JSON receiver its outcome, while a receiver that
// answers 503 to everything is retried in the background and does not hold
// the pass back.
func TestNotificationsReachReceiversWithoutDelayingThePass(t *testing.T) {
	const name = "e2e-notify"
	t.Setenv("E2E_NOTIFY_SECRET", "e2e-s3cret")
	var mu sync.Mutex
	var got []contract.Notification
	var verr []error
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		err := webhook.Verify([]byte("e2e-s3cret"), r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), b, time.Now(), time.Minute)
		var n contract.Notification
		if err == nil {
			err = json.Unmarshal(b, &n)
		}
		mu.Lock()
		got, verr = append(got, n), append(verr, err)
		mu.Unlock()
	}))
	defer good.Close()
	var failed sync.WaitGroup
	failed.Add(1)
	var once sync.Once
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(failed.Done)
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer bad.Close()

	spec := strings.Replace(apiTarget(name), "risk: {approval_from: forbidden, max_step: 0.01}", fmt.Sprintf(`risk: {approval_from: forbidden, max_step: 0.01}
notify:
  - {url: %q, secret_env: E2E_NOTIFY_SECRET}
  - {url: %q, format: slack, events: [promoted, rolled_back]}`, good.URL+"/hook", bad.URL+"/services/T0/B0/TOKEN"), 1)
	s, err := target.Parse("e2e", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := operator.Apply(ctx, temporalClient, s, "e2e", "e2e"); err != nil {
		t.Fatal(err)
	}
	rep, err := operator.Request(ctx, temporalClient, name, workflows.PassRequest{Trigger: workflows.TriggerOperator, RequestedBy: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := operator.Follow(ctx, temporalClient, rep.PassID, io.Discard, 100*time.Millisecond)
	if err != nil || !st.Outcome.Decided() {
		t.Fatalf("pass %s: %v (%s), want a decision", st.Outcome, err, st.Reason)
	}
	// The pass ended while the failing receiver is still being retried
	// (six attempts over about a minute).
	failed.Wait()
	d, err := temporalClient.DescribeWorkflowExecution(ctx, "notify/"+rep.PassID+"/"+string(st.Outcome)+"/1", "")
	if err != nil || d.GetWorkflowExecutionInfo().GetCloseTime() != nil {
		t.Errorf("the failing receiver's delivery: %v, closed %v; want it still retrying after the pass ended", err, d.GetWorkflowExecutionInfo().GetCloseTime())
	}
	waitWithin(t, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0
	}, "the good receiver hears of the outcome")
	mu.Lock()
	defer mu.Unlock()
	if verr[0] != nil || got[0].PassID != rep.PassID || got[0].Event != string(st.Outcome) || got[0].Outcome != string(st.Outcome) {
		t.Errorf("good receiver got %+v (%v), want the pass's %s, signed", got[0], verr[0], st.Outcome)
	}
	if *record {
		saveHistory(t, rep.PassID, filepath.Join("..", "workflows", "testdata", "pass_notify.json"))
		saveHistory(t, "notify/"+rep.PassID+"/"+string(st.Outcome)+"/0", filepath.Join("..", "workflows", "testdata", "notify_sent.json"))
	}
}
