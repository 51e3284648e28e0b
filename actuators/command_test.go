package actuators

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

// script writes a program for an actuator to run into dir: a shell script
// is fine as the program, passflow itself runs no shell.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// knobSpace is the target's knobs in these tests.
func knobSpace() models.Space {
	threads, mode, ttl := models.Num(32), models.Str("throughput"), models.Num(60)
	return models.Space{
		{Name: "worker_threads", Type: models.Int, Min: 1, Max: 1024, Current: &threads},
		{Name: "gc_mode", Type: models.Categorical, Choices: []string{"throughput", "low-latency"}, Current: &mode},
		{Name: "cache.ttl-s", Type: models.Float, Min: 1, Max: 600, Current: &ttl},
	}
}

func commandSpec(argv []string, timeout time.Duration) target.Spec {
	return target.Spec{Name: "svc", Params: knobSpace(),
		Actuator: target.Actuator{Command: &target.Command{Argv: argv, Timeout: target.Duration(timeout)}}}
}

// retryable reports whether err is an error the activity retries.
func retryable(err error) bool {
	var ae *temporal.ApplicationError
	return err != nil && !(errors.As(err, &ae) && ae.NonRetryable())
}

// refused reports whether err is a non-retryable InvalidChange error.
func refused(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.NonRetryable() && ae.Type() == contract.ErrTypeInvalidChange
}

func TestCommandChange(t *testing.T) {
	dir := t.TempDir()
	// The program keeps its standard input and arguments, and answers.
	prog := script(t, dir, "apply", `cat > "$0.stdin"
for a in "$@"; do printf '%s\n' "$a"; done > "$0.args"
printf '{"replaced": {"worker_threads": 32, "gc_mode": "throughput", "cache.ttl-s": 60, "not_tuned": "x"}}\n'
`)
	// An argument a shell would expand or split is passed as is.
	odd := `a b;$(touch ` + filepath.Join(dir, "pwned") + `)`
	c, err := NewCommand(commandSpec([]string{prog, "--service", odd}, 0))
	if err != nil {
		t.Fatal(err)
	}
	cand := models.Config{"worker_threads": models.Num(40), "gc_mode": models.Str("low-latency"), "cache.ttl-s": models.Num(42.5)}
	ch := activities.Change{Key: "pass/svc/1/stage-1", PassID: "pass/svc/1", Stage: 1, Action: webhook.ActionApply, Percent: 5, Config: cand}
	replaced, err := c.Change(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	if want := "cache.ttl-s=60 gc_mode=throughput worker_threads=32"; replaced.Config.String() != want {
		t.Errorf("replaced %+v, want %s (the target's knobs only)", replaced, want)
	}
	raw, err := os.ReadFile(prog + ".stdin")
	if err != nil {
		t.Fatal(err)
	}
	var got webhook.Change
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("stdin %s: %v", raw, err)
	}
	want := webhook.Change{PassID: "pass/svc/1", Target: "svc", Stage: 1, Percent: 5, Key: "pass/svc/1/stage-1", Action: "apply",
		Config: map[string]any{"worker_threads": 40.0, "gc_mode": "low-latency", "cache.ttl-s": 42.5}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stdin = %+v, want %+v", got, want)
	}
	if args, _ := os.ReadFile(prog + ".args"); string(args) != "--service\n"+odd+"\n" {
		t.Errorf("arguments %q, want them as given", args)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("an argument was run by a shell")
	}
}

func TestCommandExits(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 3000)
	tests := []struct {
		name, body string
		check      func(t *testing.T, replaced activities.Replaced, err error)
	}{
		{"empty answer", "cat >/dev/null\n", func(t *testing.T, replaced activities.Replaced, err error) {
			if err != nil || replaced.Config != nil || replaced.Percent != 0 {
				t.Errorf("replaced %+v, %v; want nothing, unknown", replaced, err)
			}
		}},
		{"no canary before", `echo '{"replaced": null}'` + "\n", func(t *testing.T, replaced activities.Replaced, err error) {
			if err != nil || replaced.Config != nil || replaced.Percent != 0 {
				t.Errorf("replaced %+v, %v; want nothing", replaced, err)
			}
		}},
		{"a canary before", `echo '{"replaced": {"worker_threads": 8}, "percent": 10}'` + "\n", func(t *testing.T, replaced activities.Replaced, err error) {
			if err != nil || replaced.Config.String() != "worker_threads=8" || replaced.Percent != 10 {
				t.Errorf("replaced %+v, %v; want worker_threads=8 at 10%%", replaced, err)
			}
		}},
		{"a share out of range", `echo '{"replaced": {"worker_threads": 8}, "percent": 120}'` + "\n", func(t *testing.T, _ activities.Replaced, err error) {
			if !refused(err) || !strings.Contains(err.Error(), "percent: expected the canary's share of the traffic before the change, in [0, 100], got 120") {
				t.Errorf("%v, want a refusal naming percent", err)
			}
		}},
		{"tempfail", "echo 'busy, try later' >&2\nexit 75\n", func(t *testing.T, _ activities.Replaced, err error) {
			if !retryable(err) || !strings.Contains(err.Error(), "exited 75 (EX_TEMPFAIL: try again later): busy, try later") {
				t.Errorf("%v, want a retryable error with the program's message", err)
			}
		}},
		{"refusal", "echo " + long + " >&2\necho 'worker_threads: expected at most 1024' >&2\nexit 3\n", func(t *testing.T, _ activities.Replaced, err error) {
			if !refused(err) || !strings.Contains(err.Error(), "exited 3: …") || !strings.Contains(err.Error(), "x\nworker_threads: expected at most 1024") {
				t.Fatalf("%v, want a non-retryable InvalidChange ending with the stderr's last line", err)
			}
			if n := len(err.Error()); n > 700 {
				t.Errorf("message of %d bytes, want the stderr's tail only", n)
			}
		}},
		{"silent refusal", "exit 1\n", func(t *testing.T, _ activities.Replaced, err error) {
			if !refused(err) || !strings.Contains(err.Error(), "exited 1 (nothing on standard error)") {
				t.Errorf("%v, want a refusal saying there was no message", err)
			}
		}},
		{"killed by a signal", "kill -TERM $$\n", func(t *testing.T, _ activities.Replaced, err error) {
			if !refused(err) || !strings.Contains(err.Error(), "killed by signal 15") {
				t.Errorf("%v, want a refusal naming the signal", err)
			}
		}},
		{"answer not JSON", "echo applying...\n", func(t *testing.T, _ activities.Replaced, err error) {
			if !refused(err) || !strings.Contains(err.Error(), "logs belong on standard error") {
				t.Errorf("%v, want a refusal", err)
			}
		}},
		{"answer of the wrong kind", `echo '{"replaced": {"worker_threads": [1]}}'` + "\n", func(t *testing.T, _ activities.Replaced, err error) {
			if !refused(err) || !strings.Contains(err.Error(), "worker_threads: expected a finite number or a string") {
				t.Errorf("%v, want a refusal naming the knob", err)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCommand(commandSpec([]string{script(t, dir, fmt.Sprint("p", i), tt.body)}, 5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			replaced, err := c.Change(context.Background(), activities.Change{Key: "k", Action: webhook.ActionApply, Percent: 5,
				Config: models.Config{"worker_threads": models.Num(40)}})
			tt.check(t, replaced, err)
		})
	}
	t.Run("missing program", func(t *testing.T) {
		c, err := NewCommand(commandSpec([]string{filepath.Join(dir, "nowhere")}, 0))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Change(context.Background(), activities.Change{Key: "k", Action: webhook.ActionApply}); !refused(err) ||
			!strings.Contains(err.Error(), "no such file or directory") {
			t.Errorf("%v, want a refusal", err)
		}
	})
}

// TestCommandTimeout: a program that outlasts the timeout is killed with
// every process of its group, and the change is retried.
func TestCommandTimeout(t *testing.T) {
	dir := t.TempDir()
	prog := script(t, dir, "slow", `echo $$ > "$0.pgid"
sleep 30 &
echo $! > "$0.child"
wait
`)
	c, err := NewCommand(commandSpec([]string{prog}, 300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Change(context.Background(), activities.Change{Key: "k", Action: webhook.ActionApply})
	if !retryable(err) || !strings.Contains(err.Error(), "did not finish within 300ms; its process group was killed") {
		t.Fatalf("%v, want a retryable timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v, want about the timeout", d)
	}
	pgid, child := readPid(t, prog+".pgid"), readPid(t, prog+".child")
	if pgid == child {
		t.Fatalf("the child %d is the program", child)
	}
	waitGone(t, pgid, child)
}

// TestCommandLeavesNothing: once the program has exited, what it left
// running in its group is killed, even what holds its output open.
func TestCommandLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	prog := script(t, dir, "leaves", `echo $$ > "$0.pgid"
sleep 30 >/dev/null 2>&1 &
echo $! > "$0.quiet"
sleep 30 &
echo $! > "$0.holding"
echo '{"replaced": {"worker_threads": 8}}'
`)
	c, err := NewCommand(commandSpec([]string{prog}, 0))
	if err != nil {
		t.Fatal(err)
	}
	replaced, err := c.Change(context.Background(), activities.Change{Key: "k", Action: webhook.ActionApply})
	if err != nil || replaced.Config.String() != "worker_threads=8" {
		t.Fatalf("replaced %+v, %v", replaced, err)
	}
	waitGone(t, readPid(t, prog+".pgid"), readPid(t, prog+".quiet"))
	waitGone(t, readPid(t, prog+".pgid"), readPid(t, prog+".holding"))
}

// TestCommandCancelled: the end of the activity's context kills the group.
func TestCommandCancelled(t *testing.T) {
	dir := t.TempDir()
	prog := script(t, dir, "slow", "echo $$ > \"$0.pgid\"\nsleep 30\n")
	c, err := NewCommand(commandSpec([]string{prog}, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Change(ctx, activities.Change{Key: "k", Action: webhook.ActionApply}); !retryable(err) ||
		!strings.Contains(err.Error(), "context deadline exceeded; its process group was killed") {
		t.Fatalf("%v, want a retryable error", err)
	}
	waitGone(t, readPid(t, prog+".pgid"), 0)
}

func TestCommandBaseline(t *testing.T) {
	dir := t.TempDir()
	prog := script(t, dir, "state", `body=$(cat)
printf '%s' "$body" > "$0.stdin"
case "$body" in
*'"action":"state"'*) echo '{"baseline": {"worker_threads": 16, "gc_mode": "throughput", "cache.ttl-s": 30, "other": true}, "canary": {"worker_threads": 20}, "percent": 5}' ;;
*) exit 2 ;;
esac
`)
	c, err := NewCommand(commandSpec([]string{prog}, 0))
	if err != nil {
		t.Fatal(err)
	}
	base, err := c.Baseline(context.Background())
	if err != nil || base.String() != "cache.ttl-s=30 gc_mode=throughput worker_threads=16" {
		t.Fatalf("baseline %s, %v", base, err)
	}
	if body, _ := os.ReadFile(prog + ".stdin"); string(body) != `{"action":"state","target":"svc","key":""}` {
		t.Errorf("state request %s", body)
	}

	partial := script(t, dir, "partial", `echo '{"baseline": {"worker_threads": 16}}'`+"\n")
	c, _ = NewCommand(commandSpec([]string{partial}, 0))
	if _, err := c.Baseline(context.Background()); err == nil || !strings.Contains(err.Error(), "has no gc_mode, cache.ttl-s, which the target tunes") {
		t.Errorf("a partial baseline: %v", err)
	}
}

func TestNewCommand(t *testing.T) {
	for _, tt := range []struct {
		name string
		spec target.Spec
		want string
	}{
		{"no block", target.Spec{Name: "svc"}, "target svc: actuator: expected a command"},
		{"no argv", commandSpec(nil, 0), "actuator.command.argv: expected a program"},
		{"PATH lookup", commandSpec([]string{"apply"}, 0), `actuator.command.argv[0]: expected an absolute path (passflow looks nothing up in PATH and runs no shell), got "apply"`},
		{"negative timeout", commandSpec([]string{"/bin/true"}, -time.Second), "actuator.command.timeout: expected a duration > 0"},
	} {
		if _, err := NewCommand(tt.spec); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	c, err := NewCommand(commandSpec([]string{"/bin/true"}, 0))
	if err != nil || c.prog.timeout != 30*time.Second {
		t.Errorf("default timeout: %v, %v", c, err)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitGone waits, briefly, until no live process is left in the group
// pgid, nor the process pid (when not 0). A zombie counts as gone: it is
// dead, waiting for whoever adopted it to reap it.
func waitGone(t *testing.T, pgid, pid int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := liveInGroup(pgid)
		if pid > 0 && alive(pid) {
			left = append(left, pid)
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v of group %d are still running", left, pgid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stat returns a process's state and process group from /proc.
func stat(pid int) (state byte, pgrp int, ok bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(raw, ')')
	f := strings.Fields(string(raw[i+1:])) // state, ppid, pgrp, ...
	if len(f) < 3 {
		return 0, 0, false
	}
	pgrp, _ = strconv.Atoi(f[2])
	return f[0][0], pgrp, true
}

func alive(pid int) bool {
	state, _, ok := stat(pid)
	return ok && state != 'Z' && state != 'X'
}

func liveInGroup(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, pgrp, ok := stat(pid); ok && pgrp == pgid && state != 'Z' && state != 'X' {
			pids = append(pids, pid)
		}
	}
	return pids
}
