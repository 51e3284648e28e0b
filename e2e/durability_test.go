package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/passflow/passflow/app"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/devserver"
	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/workflows"
)

// TestDurabilityAcrossKill runs `passflow dev` on a database file, starts a
// pass with a long verification wait and queues a second one behind it,
// kills the process with SIGKILL in the middle of the wait, starts it again
// on the same file, and checks that the first pass completes with every
// change applied exactly once, then the queued one runs, and the target's
// history holds both, in order.
func TestDurabilityAcrossKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the passflow binary")
	}
	dir := t.TempDir()
	bin := passflowBinary(t)
	defer func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "server.log")); err == nil {
				t.Logf("passflow dev's server log (last 6 KiB):\n%s", tail(b, 6144))
			}
		}
	}()
	port, err := devserver.FreePortBlock()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"dev", "--db", filepath.Join(dir, "temporal.db"), "--port", strconv.Itoa(port),
		"--no-ui", "--http", "127.0.0.1:0"}

	p := startDev(t, bin, args)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := app.Conn{Address: fmt.Sprintf("127.0.0.1:%d", port), Namespace: "default"}.Dial(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := spec(t, "durable", 0.002, 0.01, 0)
	s.Canary.VerifyFor = model.Duration(12 * time.Second) // long enough to kill the process inside the wait
	s.Canary.CheckEvery = model.Duration(3 * time.Second)
	s.Canary.MaxVerifyFor = s.Canary.VerifyFor
	id, err := startPass(ctx, c, s, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	// What passflow keeps is its owner's alone: the database and the log
	// 0600.
	for name, want := range map[string]os.FileMode{"temporal.db": 0o600, "server.log": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
	// A second request while the first pass runs: queued behind it.
	queued, err := operator.Request(ctx, c, s.Name, workflows.PassRequest{Trigger: workflows.TriggerOperator, RequestedBy: "second"})
	if err != nil || queued.Status != workflows.ReplyQueued {
		t.Fatalf("second request: %+v %v, want queued", queued, err)
	}
	waitFor(t, ctx, func() bool {
		st, err := operator.Status(ctx, c, id)
		return err == nil && len(st.Stages) > 1 && st.Stages[1].Applied
	}, "stage 2 applied")
	time.Sleep(time.Second) // inside stage 2's 12-second wait
	p.kill()
	c.Close()
	t.Log("killed passflow dev during stage 2's verification wait, with a pass queued; starting it again")

	startDev(t, bin, args)
	c, err = app.Conn{Address: fmt.Sprintf("127.0.0.1:%d", port), Namespace: "default"}.Dial(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var progress strings.Builder
	st, err := operator.Follow(ctx, c, id, &progress, 200*time.Millisecond)
	t.Logf("after the restart:\n%s", progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != workflows.OutcomePromoted {
		t.Fatalf("outcome after restart %s (%s), want promoted", st.Outcome, st.Reason)
	}
	n := map[string]int{}
	for _, e := range readEvents(t, filepath.Join(dir, "sim", s.Name+".events.jsonl")) {
		n[e.Key]++
	}
	for _, k := range []string{"stage-1", "stage-2", "stage-3", "promote"} {
		if n[id+"/"+k] != 1 {
			t.Errorf("%s applied %d times across the restart, want exactly once (all: %v)", k, n[id+"/"+k], n)
		}
	}

	// The queued pass runs after the first, and the history holds both, in
	// order.
	progress.Reset()
	second, err := operator.Follow(ctx, c, queued.PassID, &progress, 200*time.Millisecond)
	t.Logf("the queued pass:\n%s", progress.String())
	if err != nil || !second.Outcome.Decided() {
		t.Fatalf("queued pass %s: %s (%s) %v, want a decision", queued.PassID, second.Outcome, second.Reason, err)
	}
	if !second.Started.After(st.Ended) {
		t.Errorf("queued pass started %s, before the first ended %s", second.Started, st.Ended)
	}
	var ts workflows.TunerState
	waitFor(t, ctx, func() bool {
		ts, err = operator.TargetStateWithHistory(ctx, c, s.Name)
		return err == nil && len(ts.Recent) == 2
	}, "both passes recorded")
	if ts.Recent[0].ID != id || ts.Recent[1].ID != queued.PassID || len(ts.History) != 2 {
		t.Errorf("recorded %+v with %d observations, want %s then %s and two observations", ts.Recent, len(ts.History), id, queued.PassID)
	}
}

// devCmd is a started passflow binary.
type devCmd struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// kill stops the process with SIGKILL and waits until it is gone.
func (d *devCmd) kill() {
	_ = d.cmd.Process.Kill()
	<-d.exited
}

// interrupt stops the process with SIGINT and waits until it is gone.
func (d *devCmd) interrupt() {
	_ = d.cmd.Process.Signal(os.Interrupt)
	<-d.exited
}

// startDev starts the binary and waits for its ready line.
func startDev(t testing.TB, bin string, args []string) *devCmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// Ask nicely, then make sure: no passflow outlives its test.
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "passflow dev ready") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
		return &devCmd{cmd: cmd, exited: exited}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("passflow dev did not get ready within 60s")
	}
	return nil
}

func waitFor(t *testing.T, ctx context.Context, cond func() bool, what string) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func readEvents(t *testing.T, path string) []simulations.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []simulations.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e simulations.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, e)
	}
	return out
}

// TestTwoWorkersShareATarget runs two `passflow worker` processes on one
// server (`passflow dev --no-worker`) and one state directory: passes of one
// target run on either, each proposes from the observations of every earlier
// pass whichever worker measured them, and once the first worker stops the
// second carries on with the whole history. Before the tuner the history
// lived in a file of the worker that recorded it.
func TestTwoWorkersShareATarget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the passflow binary")
	}
	dir := t.TempDir()
	bin := passflowBinary(t)
	dev := startDevProcess(t, dir, "--no-worker")
	addr, c := dev.address, dev.client
	defer c.Close()
	workers := []*exec.Cmd{startWorker(t, bin, addr, dir), startWorker(t, bin, addr, dir)}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pollers := func(n int) func() bool {
		return func() bool {
			d, err := c.DescribeTaskQueue(ctx, "passflow", enums.TASK_QUEUE_TYPE_WORKFLOW)
			ids := map[string]bool{}
			for _, p := range d.GetPollers() {
				if time.Since(p.GetLastAccessTime().AsTime()) < 10*time.Second {
					ids[p.GetIdentity()] = true
				}
			}
			return err == nil && len(ids) == n
		}
	}
	waitFor(t, ctx, pollers(2), "two workers polling")

	s := spec(t, "shared", 0.002, 0.01, 0)
	const passes = 3
	var perPass []map[string]bool
	stopped := ""
	for i := range passes {
		if i == passes-1 {
			// Stop a worker that ran the earlier passes: the last pass runs
			// on the other one alone.
			for _, w := range workers {
				id := fmt.Sprintf("%d@", w.Process.Pid)
				for ran := range perPass[0] {
					if stopped == "" && strings.HasPrefix(ran, id) {
						_ = w.Process.Signal(os.Interrupt)
						_ = w.Wait()
						stopped = ran
					}
				}
			}
			if stopped == "" {
				t.Fatalf("pass 1 ran on %v, none of the two workers", perPass[0])
			}
			waitFor(t, ctx, pollers(1), "one worker polling")
		}
		id, err := startPass(ctx, c, s, t.Name())
		if err != nil {
			t.Fatal(err)
		}
		st, err := operator.Follow(ctx, c, id, io.Discard, 100*time.Millisecond)
		if err != nil || !st.Outcome.Decided() {
			t.Fatalf("pass %s: %s (%s) %v", id, st.Outcome, st.Reason, err)
		}
		identities := map[string]bool{}
		proposed := -1
		it := c.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
				identities[a.GetIdentity()] = true
			}
			if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil {
				var res contract.ProposeResult
				if converter.GetDefaultDataConverter().FromPayloads(a.GetResult(), &res) == nil && res.Optimizer != "" {
					proposed = res.History
				}
			}
		}
		perPass = append(perPass, identities)
		// Every earlier pass's observation, plus the incumbent as measured.
		if proposed != i+1 {
			t.Errorf("pass %d proposed from %d observations, want %d", i+1, proposed, i+1)
		}
	}
	t.Logf("workers per pass: %v; stopped %s before the last", perPass, stopped)
	if last := perPass[passes-1]; len(last) == 0 || last[stopped] {
		t.Errorf("the last pass ran on %v, want the other worker than %s", last, stopped)
	}
	st, err := operator.TargetStateWithHistory(ctx, c, s.Name)
	if err != nil || len(st.History) != passes {
		t.Errorf("tuner history %d observations (%v), want %d", len(st.History), err, passes)
	}
}

// TestHelpPrintsNoSecret: `--help` names the environment variable the API
// key comes from, never its value.
func TestHelpPrintsNoSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the passflow binary")
	}
	cmd := exec.Command(passflowBinary(t), "worker", "--help")
	cmd.Env = append(os.Environ(), "TEMPORAL_API_KEY=sekrit-4f2a9")
	out, _ := cmd.CombinedOutput()
	if strings.Contains(string(out), "sekrit-4f2a9") || !strings.Contains(string(out), "$TEMPORAL_API_KEY") {
		t.Errorf("passflow worker --help:\n%s\nwant $TEMPORAL_API_KEY named and its value nowhere", out)
	}
}

// TestMetricsOfTheSDKAndThePasses: passflow dev's /metrics serves the
// Temporal SDK's client and worker metrics and the passes in flight, to the
// local admin.
func TestMetricsOfTheSDKAndThePasses(t *testing.T) {
	addr := freeAddr(t)
	p := startDevProcess(t, t.TempDir(), "--http", addr)
	defer p.stop()
	c := &http.Client{Timeout: 10 * time.Second, Transport: p.auth}
	var body string
	waitWithin(t, 30*time.Second, func() bool {
		resp, err := c.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK && strings.Contains(body, "temporal_request") &&
			strings.Contains(body, "passflow_passes_waiting_for_approval")
	}, "the SDK's metrics and the pass gauges on /metrics")
	if resp, err := http.Get("http://" + addr + "/metrics"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without credentials: %v %v, want 401", resp.Status, err)
	}
}

// startWorker runs `passflow worker` against the Temporal frontend at addr
// with the state directory dir (where passflow dev keeps the API's access
// files), env added to the test's environment; it is stopped when the test
// ends.
func startWorker(tb testing.TB, bin, addr, dir string, env ...string) *exec.Cmd {
	tb.Helper()
	w := exec.Command(bin, "worker", "--address", addr, "--namespace", "default", "--state", dir, "--http", "127.0.0.1:0")
	w.Env = append(os.Environ(), env...)
	w.Stdout, w.Stderr = os.Stderr, os.Stderr
	if err := w.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = w.Process.Signal(os.Interrupt); _ = w.Wait() })
	return w
}
