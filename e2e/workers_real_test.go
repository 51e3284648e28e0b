package e2e

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// TestTwoWorkersTuneRealServices runs passflow beyond one process: `passflow
// dev --no-worker` is the cluster, two `passflow worker` processes share
// the work, four real demo services are scraped by one real Prometheus.
// Twenty passes (five a target) all reach a decision, both workers run
// activities, and a worker killed (SIGKILL) while a pass is in its canary
// leaves the other to finish it.
func TestTwoWorkersTuneRealServices(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the passflow binary and the demo service")
	}
	bin, demoBin := passflowBinary(t), demoServiceBinary(t)
	const secret, targets, rounds = "e2e-two-workers", 4, 5
	demos := make([]string, targets)
	for i := range demos {
		_, demos[i] = startDemoService(t, fmt.Sprintf("demo-service-%d", i), demoBin, secret, 50, "--seed", strconv.Itoa(i+1))
	}
	_, prom := startPrometheus(t, demos...)

	dir := t.TempDir()
	dev := startDevProcess(t, dir, "--no-worker")
	addr, c := dev.address, dev.client
	workers := []*exec.Cmd{startWorker(t, bin, addr, dir, "E2E_DEMO_SECRET="+secret), startWorker(t, bin, addr, dir, "E2E_DEMO_SECRET="+secret)}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	defer c.Close()
	names := make([]string, targets)
	for i := range names {
		names[i] = fmt.Sprintf("e2e-two-workers-%d", i)
		s, err := target.Parse(names[i], []byte(promTargetOf(names[i], prom, "http://"+demos[i], demos[i], "6s", "3s")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := operator.Apply(ctx, c, s, t.Name(), t.Name()); err != nil {
			t.Fatal(err)
		}
	}
	awaitScrapes(t, prom, 20)

	var mu sync.Mutex
	ran := map[string]int{} // worker identity → activities started
	var killedDuring string
	for round := range rounds {
		var wg sync.WaitGroup
		for _, name := range names {
			rep, err := operator.Request(ctx, c, name, workflows.PassRequest{Trigger: workflows.TriggerOperator, RequestedBy: t.Name()})
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				st, err := operator.Follow(ctx, c, rep.PassID, io.Discard, 200*time.Millisecond)
				if err != nil || !st.Outcome.Decided() {
					t.Errorf("pass %s: %s (%s) %v; want a decision", rep.PassID, st.Outcome, st.Reason, err)
					return
				}
				ids := activityIdentities(t, ctx, c, rep.PassID)
				mu.Lock()
				for id, n := range ids {
					ran[id] += n
				}
				mu.Unlock()
			})
		}
		if round == 1 {
			// Kill the first worker once a pass of this round has a stage
			// applied: its workflow tasks and activities move to the other.
			pass := workflows.PassID(names[0], round+1)
			waitWithin(t, 2*time.Minute, func() bool {
				st, err := operator.Status(ctx, c, pass)
				return err == nil && ((len(st.Stages) > 0 && st.Stages[0].Applied) || st.Step == workflows.StepDone)
			}, "a pass of the second round in its canary")
			_ = workers[0].Process.Kill()
			_ = workers[0].Wait()
			killedDuring = pass
		}
		wg.Wait()
	}
	t.Logf("activities per worker: %v; worker 1 (pid %d) killed during %s", ran, workers[0].Process.Pid, killedDuring)
	first, second := 0, 0
	for id, n := range ran {
		switch {
		case strings.HasPrefix(id, fmt.Sprintf("%d@", workers[0].Process.Pid)):
			first += n
		case strings.HasPrefix(id, fmt.Sprintf("%d@", workers[1].Process.Pid)):
			second += n
		}
	}
	if first == 0 || second == 0 {
		t.Errorf("activities run by the workers: %d and %d; want work done by both", first, second)
	}
	for _, name := range names {
		st, err := operator.TargetState(ctx, c, name)
		if err != nil || st.Passes != rounds {
			t.Errorf("%s: %d passes (%v), want %d", name, st.Passes, err, rounds)
		}
	}
}

// activityIdentities counts the activities each worker started in a
// workflow's history.
func activityIdentities(t *testing.T, ctx context.Context, c client.Client, id string) map[string]int {
	out := map[string]int{}
	it := c.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Error(err)
			return out
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			out[a.GetIdentity()]++
		}
	}
	return out
}
