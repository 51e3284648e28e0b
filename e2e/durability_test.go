package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/passflow/passflow/app"
	"github.com/passflow/passflow/devserver"
	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/workflows"
)

// TestDurabilityAcrossKill runs `passflow dev` on a database file, starts a
// pass with a long verification wait, kills the process with SIGKILL in the
// middle of the wait, starts it again on the same file, and checks that the
// pass completes and that every change was applied exactly once.
func TestDurabilityAcrossKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the passflow binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "passflow")
	build := exec.Command("go", "build", "-o", bin, "../cmd/passflow")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build passflow: %v\n%s", err, out)
	}
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
	id, err := operator.Start(ctx, c, s, "test", t.Name())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, func() bool {
		st, err := operator.Status(ctx, c, id)
		return err == nil && len(st.Stages) > 1 && st.Stages[1].Applied
	}, "stage 2 applied")
	time.Sleep(time.Second) // inside stage 2's 12-second wait
	if err := p.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.Wait()
	c.Close()
	t.Log("killed passflow dev during stage 2's verification wait; starting it again")

	p = startDev(t, bin, args)
	defer func() { _ = p.Process.Signal(os.Interrupt); _ = p.Wait() }()
	c, err = app.Conn{Address: fmt.Sprintf("127.0.0.1:%d", port), Namespace: "default"}.Dial(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := operator.Follow(ctx, c, id, io.Discard, 200*time.Millisecond)
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
	if len(n) != 4 {
		t.Errorf("applied %v, want exactly the three stages and the promotion", n)
	}
}

// startDev starts the binary and waits for its ready line.
func startDev(t *testing.T, bin string, args []string) *exec.Cmd {
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
		return cmd
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
