package actuators

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

// The exit statuses a program run by an actuator gives.
const (
	// exitTempFail is EX_TEMPFAIL of sysexits.h: the program could not do
	// it now and asks to be run again later, a retryable error.
	exitTempFail = 75
	// actionState is the action of the command actuator's state request.
	actionState = "state"
)

// Bounds of a program's output.
const (
	// maxStdout bounds the answer read from a program's standard output,
	// as the webhook package bounds a receiver's.
	maxStdout = 1 << 20
	// stderrTail is how much of the end of a program's standard error a
	// failure carries: where programs write why they gave up.
	stderrTail = 512
	// strayDelay is how long a run waits, once its program has exited, for
	// processes it left behind to close its output; they are killed then.
	strayDelay = time.Second
)

// Command is the command actuator: each change runs the target's program
// (argv, without a shell, in a process group of its own, with the worker's
// environment) with the change as JSON on standard input, the body the
// webhook actuator posts (webhook.Change: pass_id, target, stage, percent,
// config, key, action apply|revert|promote). The program answers by its
// exit status:
//
//   - 0: done. Standard output is empty (what the changed cohort ran
//     before is unknown) or a webhook.ChangeReply, {"replaced": {...}}:
//     the canary's configuration before an apply or a revert (null when
//     there was none), the baseline's before a promote.
//   - 75 (EX_TEMPFAIL): not now; the change is retried with backoff.
//   - anything else, or death by a signal: refused for good, a
//     non-retryable InvalidChange error carrying the last 512 bytes of
//     standard error.
//
// A run that outlasts the target's timeout (default 30s) is killed with its
// whole process group and retried; so is one whose activity is cancelled.
// Processes the program leaves behind in its group are killed once it has
// exited. Idempotency is the program's: the body carries the key, and a
// repeated key must have no second effect and give the same answer.
//
// Baseline runs the same program with {"action": "state", "target": NAME,
// "key": ""} on standard input; the program answers, exit 0, with the
// service's state on standard output as a webhook.State: {"baseline":
// {...}, "canary": {...}, "percent": P}, of which the target's knobs are
// read (the service may have more).
//
// Nothing of the worker's environment is ever part of an error or a log
// line; a failure names the program (argv[0]) and its exit status only,
// with the tail of what it wrote to standard error.
type Command struct {
	target string
	prog   program
	knobs  knobs
}

var _ activities.Actuator = (*Command)(nil)

// NewCommand builds the command actuator of spec.
func NewCommand(spec target.Spec) (*Command, error) {
	c := spec.Actuator.Command
	if c == nil {
		return nil, fmt.Errorf("target %s: actuator: expected a command", spec.Name)
	}
	prog, err := newProgram(fmt.Sprintf("target %s: actuator.command", spec.Name), c.Argv, c.Timeout)
	if err != nil {
		return nil, err
	}
	return &Command{target: spec.Name, prog: prog, knobs: newKnobs(spec.Params)}, nil
}

// Change runs the program with ch and returns what it says the changed
// cohort ran before.
func (c *Command) Change(ctx context.Context, ch activities.Change) (activities.Replaced, error) {
	what := fmt.Sprintf("command %s of %s", ch.Action, c.target)
	body, err := changeBody(c.target, ch)
	if err != nil {
		return activities.Replaced{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", what, err), contract.ErrTypeInvalidChange, nil)
	}
	out, err := c.prog.run(ctx, body)
	if err != nil {
		return activities.Replaced{}, classify(what, err)
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return activities.Replaced{}, nil
	}
	var r webhook.ChangeReply
	if err := json.Unmarshal(out, &r); err != nil {
		// The program did exit 0: run again, it would print the same.
		return activities.Replaced{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s: %s exited 0, but its standard output is neither empty nor a {\"replaced\": {...}, \"percent\": N} object (logs belong on standard error): %v",
			what, c.prog.name(), err), contract.ErrTypeInvalidChange, nil)
	}
	replaced, err := c.knobs.replaced(r)
	if err != nil {
		return activities.Replaced{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: the answer of %s: %v", what, c.prog.name(), err), contract.ErrTypeInvalidChange, nil)
	}
	return replaced, nil
}

// Baseline asks the program what the service runs outside any canary.
func (c *Command) Baseline(ctx context.Context) (models.Config, error) {
	what := "command state of " + c.target
	body, err := json.Marshal(struct {
		Action string `json:"action"`
		Target string `json:"target"`
		Key    string `json:"key"`
	}{actionState, c.target, ""})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := c.prog.run(ctx, body)
	if err != nil {
		return nil, classify(what, err)
	}
	var st webhook.State
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("%s: the standard output of %s is not a {\"baseline\": {...}} object: %v", what, c.prog.name(), err)
	}
	if len(st.Baseline) == 0 {
		return nil, fmt.Errorf("%s: the standard output of %s names no baseline configuration", what, c.prog.name())
	}
	base, err := c.knobs.config(st.Baseline, true)
	if err != nil {
		return nil, fmt.Errorf("%s: the answer of %s: %w", what, c.prog.name(), err)
	}
	return base, nil
}

// program is a program an actuator runs: an absolute path and its
// arguments, never through a shell, bounded by timeout.
type program struct {
	argv    []string
	timeout time.Duration
}

// newProgram checks argv and fills the default timeout; at names the block
// in errors, e.g. "target x: actuator.command".
func newProgram(at string, argv []string, timeout target.Duration) (program, error) {
	switch {
	case len(argv) == 0:
		return program{}, fmt.Errorf("%s.argv: expected a program and its arguments", at)
	case !filepath.IsAbs(argv[0]):
		return program{}, fmt.Errorf("%s.argv[0]: expected an absolute path (passflow looks nothing up in PATH and runs no shell), got %q", at, argv[0])
	case timeout < 0:
		return program{}, fmt.Errorf("%s.timeout: expected a duration > 0, got %s", at, time.Duration(timeout))
	case timeout == 0:
		timeout = target.DefaultActuatorTimeout
	}
	return program{argv: append([]string(nil), argv...), timeout: time.Duration(timeout)}, nil
}

// name is how errors name the program: its path, never its arguments'
// values, nor anything of its environment.
func (p program) name() string { return p.argv[0] }

// failure is a failed run of a program, or a file the file actuator
// cannot use; retry says whether trying again may help.
type failure struct {
	msg   string
	retry bool
}

func (e *failure) Error() string { return e.msg }

// Retryable reports whether trying again may help (see classify).
func (e *failure) Retryable() bool { return e.retry }

// lasting returns a failure that trying again will not cure.
func lasting(format string, args ...any) error {
	return &failure{msg: fmt.Sprintf(format, args...)}
}

// run runs the program with stdin (none when nil) in a process group of
// its own and returns its standard output on exit 0. A timeout or the end
// of ctx kills the whole group. Its errors are *failure.
func (p program) run(ctx context.Context, stdin []byte) ([]byte, error) {
	cmd := exec.Command(p.argv[0], p.argv[1:]...) // an absolute path: no lookup
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout capped
	stderr := tail{max: stderrTail}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = strayDelay
	if err := ctx.Err(); err != nil {
		return nil, &failure{msg: fmt.Sprintf("%s not started: %v", p.name(), err), retry: true}
	}
	if err := cmd.Start(); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // its text repeats the path
		}
		// A program that is missing or not executable stays so.
		stays := errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.ENOEXEC)
		return nil, &failure{msg: fmt.Sprintf("start %s: %v", p.name(), err), retry: !stays}
	}
	pgid := cmd.Process.Pid // Setpgid: the program leads a group of its own
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	var waitErr error
	select {
	case waitErr = <-done:
		killGroup(pgid) // what it left behind
	case <-timer.C:
		killGroup(pgid)
		<-done
		msg := fmt.Sprintf("%s did not finish within %s; its process group was killed", p.name(), p.timeout)
		if len(bytes.TrimSpace(stderr.buf)) > 0 {
			msg += stderr.suffix()
		}
		return nil, &failure{msg: msg, retry: true}
	case <-ctx.Done():
		killGroup(pgid)
		<-done
		return nil, &failure{msg: fmt.Sprintf("%s stopped: %v; its process group was killed", p.name(), ctx.Err()), retry: true}
	}
	ps := cmd.ProcessState
	if ps == nil {
		return nil, &failure{msg: fmt.Sprintf("wait for %s: %v", p.name(), waitErr), retry: true}
	}
	switch code := ps.ExitCode(); {
	case code == 0:
		if stdout.over {
			return nil, &failure{msg: fmt.Sprintf("%s exited 0 but wrote more than %d bytes to standard output", p.name(), maxStdout)}
		}
		return stdout.buf.Bytes(), nil
	case code == exitTempFail:
		return nil, &failure{msg: fmt.Sprintf("%s exited %d (EX_TEMPFAIL: try again later)%s", p.name(), code, stderr.suffix()), retry: true}
	case code < 0:
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return nil, &failure{msg: fmt.Sprintf("%s was killed by signal %d (%v)%s", p.name(), int(ws.Signal()), ws.Signal(), stderr.suffix())}
		}
		return nil, &failure{msg: fmt.Sprintf("%s ended: %v%s", p.name(), ps, stderr.suffix())}
	default:
		return nil, &failure{msg: fmt.Sprintf("%s exited %d%s", p.name(), code, stderr.suffix())}
	}
}

// killGroup kills the process group pgid, if any of it is left.
func killGroup(pgid int) {
	if pgid > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // ESRCH: none is left
	}
}

// capped keeps the first maxStdout bytes written to it and notes whether
// there were more; it never fails a write, so the program never sees a
// broken pipe.
type capped struct {
	buf  bytes.Buffer
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := maxStdout - c.buf.Len(); len(p) > room {
		c.buf.Write(p[:room])
		c.over = true
	} else {
		c.buf.Write(p)
	}
	return len(p), nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf []byte
	cut bool
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.cut = true
	}
	return len(p), nil
}

// suffix is ": " and the kept text, trimmed and cut at a character
// boundary, "…" first when some was dropped; or a note that there was none.
func (t *tail) suffix() string {
	b := t.buf
	cut := t.cut
	if len(b) > t.max {
		b, cut = b[len(b)-t.max:], true
	}
	for len(b) > 0 && !utf8.RuneStart(b[0]) {
		b = b[1:]
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	switch {
	case s == "":
		return " (nothing on standard error)"
	case cut:
		return ": …" + s
	default:
		return ": " + s
	}
}
