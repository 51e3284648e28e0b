package workflows_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// TestPassNotifiesWithoutWaiting: a pass tells each receiver the events it
// wants, each through its own Notify child; receivers that fail for good or
// keep failing do not delay it: it ends when the same pass without
// receivers ends.
func TestPassNotifiesWithoutWaiting(t *testing.T) {
	endOf := func(receivers []target.Notify, fail bool) (workflows.PassStatus, []string) {
		f := &fakes{step: 0.24} // high band: asks for an approval
		env := newEnv(t, f)
		var mu sync.Mutex
		var sent []string
		env.RegisterActivityWithOptions(func(ctx context.Context, in contract.NotifyInput) error {
			mu.Lock()
			sent = append(sent, in.Notification.Event+" "+in.Receiver.URL)
			mu.Unlock()
			if fail {
				return temporal.NewApplicationError("503 from the receiver", "webhook")
			}
			return nil
		}, activity.RegisterOptions{Name: contract.NotifyName})
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflowNoRejection(workflows.ApprovalUpdate, "1", t, workflows.Approval{Approver: "alice", Approved: true})
		}, time.Hour)
		spec := testSpec()
		spec.Notify = receivers
		st, err := run(t, env, spec)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(sent)
		return st, slices.Compact(sent)
	}
	quiet, none := endOf(nil, false)
	if len(none) != 0 {
		t.Fatalf("notified %q without receivers", none)
	}
	receivers := []target.Notify{
		{URL: "http://ops.example/hook", Format: target.NotifyJSON, Events: target.NotifyEvents},
		{URL: "http://chat.example/hook", Format: target.NotifySlack, Events: []string{target.EventApprovalRequested}},
	}
	for _, fail := range []bool{false, true} {
		st, sent := endOf(receivers, fail)
		want := []string{
			"approval_decided http://ops.example/hook",
			"approval_requested http://chat.example/hook", "approval_requested http://ops.example/hook",
			"promoted http://ops.example/hook",
		}
		if !slices.Equal(sent, want) {
			t.Errorf("failing %v: sent %q, want %q", fail, sent, want)
		}
		took, quietTook := st.Ended.Sub(st.Started), quiet.Ended.Sub(quiet.Started)
		if st.Outcome != workflows.OutcomePromoted || took.Round(time.Second) != quietTook.Round(time.Second) {
			t.Errorf("failing %v: %s after %s, want promoted after %s as without receivers", fail, st.Outcome, took, quietTook)
		}
	}
}
