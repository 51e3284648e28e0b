package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/passflow/passflow/access"
	"github.com/passflow/passflow/devserver"
	"github.com/passflow/passflow/examples"
	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workers"
	"github.com/passflow/passflow/workflows"
)

// DevOptions configure `passflow dev`.
type DevOptions struct {
	DBPath    string
	Ephemeral bool
	Port      int
	UIPort    int
	NoUI      bool
	HTTPAddr  string
	// Auth guards the HTTP API; empty makes (or reuses) a local admin
	// credential in the state directory.
	Auth      APIConfig
	Namespace string
	// StateDir holds the pass store, the simulator's state and the server
	// log; empty means the database file's directory (a temporary directory
	// when ephemeral).
	StateDir string
	// Demo runs DemoPasses passes on the demo target once everything is
	// up, one after another, and follows them.
	Demo       bool
	DemoPasses int
	// DemoTarget overrides the built-in demo target file.
	DemoTarget string
	// NoWorker runs no worker in the process: passes wait for `passflow
	// worker` processes.
	NoWorker bool
	// Targets are target files or directories applied once everything is up.
	Targets []string
	// Pragmas override SQLite settings (for benchmarks).
	Pragmas map[string]string
}

// Dev runs the embedded server, the Web UI, a worker and the HTTP API until
// ctx ends. Progress goes to out.
func Dev(ctx context.Context, opts DevOptions, out io.Writer) error {
	began := time.Now()
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	demo, err := demoTarget(opts.DemoTarget)
	if err != nil && opts.Demo {
		return err
	}
	stateDir := opts.StateDir
	if stateDir == "" && opts.Ephemeral {
		if stateDir, err = os.MkdirTemp("", "passflow-"); err != nil {
			return err
		}
		defer os.RemoveAll(stateDir)
	} else if stateDir == "" {
		stateDir = filepath.Dir(opts.DBPath)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil { // passflow's own: nobody else reads it
		return fmt.Errorf("state directory: %w", err)
	}

	// Bind or check every port before starting anything.
	if err := devserver.CheckPorts(opts.Port); err != nil {
		var pe *devserver.PortInUseError
		errors.As(err, &pe)
		return &portError{what: pe.What + fmt.Sprintf(" (ports %d-%d are derived from --port)", opts.Port, opts.Port+13),
			addr: addrOf(pe.Port), flag: "--port", err: pe.Err}
	}
	uiPort := opts.UIPort
	if opts.NoUI {
		uiPort = 0
	} else if err := devserver.CheckPort(uiPort, "Temporal Web UI"); err != nil {
		return &portError{what: "Temporal Web UI", addr: addrOf(uiPort), flag: "--ui-port (or --no-ui)", err: errors.Unwrap(err)}
	}
	ln, err := listen(opts.HTTPAddr)
	if err != nil {
		return err
	}
	defer ln.Close()

	logFile, err := os.OpenFile(filepath.Join(stateDir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("server log: %w", err)
	}
	defer logFile.Close()

	srv, err := devserver.Start(ctx, devserver.Options{
		DBPath: opts.DBPath, Ephemeral: opts.Ephemeral, Port: opts.Port, UIPort: uiPort,
		Namespace: opts.Namespace, SearchAttributes: workflows.SearchAttributeNames, Log: logFile,
		Pragmas: opts.Pragmas,
	})
	if err != nil {
		return err
	}
	defer srv.Stop()

	reg, sdkMetrics, stopMetrics := metricsRegistry()
	defer stopMetrics.Close()
	c, err := Conn{Address: srv.Address(), Namespace: opts.Namespace, Metrics: sdkMetrics}.Dial(ctx, logFile)
	if err != nil {
		return err
	}
	defer c.Close()
	auth := opts.Auth
	var local *access.Local
	if auth.WebConfig == "" && auth.AccessFile == "" {
		l, err := access.EnsureLocal(stateDir, "http://"+ln.Addr().String())
		if err != nil {
			return err
		}
		local, auth.WebConfig, auth.AccessFile = &l, string(l.WebConfig), l.AccessFile
	}
	rt, err := startRuntime(c, reg, stateDir, ln, auth, workers.Options{}, opts.NoWorker)
	if err != nil {
		return err
	}
	defer rt.stop()

	db := opts.DBPath
	if opts.Ephemeral {
		db = "in memory (--ephemeral)"
	}
	fmt.Fprintf(out, "passflow dev ready in %s\n", time.Since(began).Round(time.Millisecond))
	fmt.Fprintf(out, "  Temporal   %s  namespace %s  database %s\n", srv.Address(), opts.Namespace, db)
	if u := srv.UIAddress(); u != "" {
		fmt.Fprintf(out, "  Web UI     %s/namespaces/%s/workflows\n", u, opts.Namespace)
	}
	fmt.Fprintf(out, "  HTTP API   http://%s  (/healthz, /metrics, /v1/targets, /v1/passes, /v1/alerts)\n", ln.Addr())
	if local != nil {
		fmt.Fprintf(out, "  access     %s holds every role; its password is in %s, which the CLI reads (roles: %s)\n",
			access.LocalAdmin, local.Credentials, local.AccessFile)
	} else {
		fmt.Fprintf(out, "  access     web config %s, roles %s\n", auth.WebConfig, auth.AccessFile)
	}
	fmt.Fprintf(out, "  state      %s  server log %s\n", stateDir, logFile.Name())
	if len(opts.Targets) > 0 {
		if code := operator.ApplyFiles(ctx, c, opts.Targets, "passflow dev --targets", nil, out, out); code != 0 {
			fmt.Fprintf(out, "  warning    some of --targets could not be applied (above)\n")
		}
	}

	if opts.Demo {
		if err := runDemo(ctx, c, demo, max(opts.DemoPasses, 1), srv, out); err != nil && ctx.Err() == nil {
			fmt.Fprintf(out, "demo: %v\n", err)
		}
	}
	fmt.Fprintln(out, "serving; Ctrl-C stops")
	<-ctx.Done()
	fmt.Fprintln(out, "stopping")
	return nil
}

// runDemo registers the demo target and runs passes on it one after
// another, the first followed step by step, each summed up in a line with
// what the simulated service truly runs afterwards: the loop at work.
func runDemo(ctx context.Context, c client.Client, spec target.Spec, passes int, srv *devserver.Server, out io.Writer) error {
	reg, err := operator.Apply(ctx, c, spec, "examples/targets/demo.yaml", "passflow dev --demo")
	if err != nil {
		return err
	}
	truth, err := newDemoTruth(spec)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\ndemo target %s %s (tuner %s, schedule %q): %d passes, one after another\n", spec.Name, reg.Result,
		workflows.TunerID(spec.Name), spec.Triggers.Schedule, passes)
	if u := srv.UIAddress(); u != "" {
		fmt.Fprintf(out, "  watch them %s/namespaces/%s/workflows\n", u, srv.Namespace())
		fmt.Fprintf(out, "  schedule   %s/namespaces/%s/schedules\n", u, srv.Namespace())
	}
	if len(spec.Risk.Approvers) > 0 {
		fmt.Fprintf(out, "  a high-risk candidate waits for a human: `passflow approve|reject PASS` within %s (the CLI answers as %s), or the demo approves as %s\n",
			demoApprovalAfter, access.LocalAdmin, spec.Risk.Approvers[0])
	}
	incumbent := spec.Params.Current()
	fmt.Fprintf(out, "  start      %s: %s\n\n", incumbent, truth.describe(incumbent))
	var rows []demoRow
	for n := 1; n <= passes && ctx.Err() == nil; n++ {
		st, err := demoPass(ctx, c, spec, n == 1, out)
		if err != nil {
			return err
		}
		if st.Outcome == workflows.OutcomePromoted && st.Candidate != nil {
			incumbent = st.Candidate
		}
		row := demoRow{pass: n, outcome: st.Outcome, approved: st.Approval, config: incumbent}
		if st.Change != nil {
			row.change = fmt.Sprintf("%+.1f%%", 100**st.Change)
		}
		rows = append(rows, row)
		fmt.Fprintf(out, "pass %d %-11s %s\n        now %s: %s\n", n, strings.ReplaceAll(string(st.Outcome), "_", " "),
			st.Reason, incumbent, truth.describe(incumbent))
	}
	fmt.Fprintln(out)
	truth.table(out, spec.Params.Current(), rows)
	return nil
}

// demoPass requests one pass of the demo target and follows it to its end,
// step by step when verbose; the demo approves it as the first approver
// when it waits for a human for demoApprovalAfter.
func demoPass(ctx context.Context, c client.Client, spec target.Spec, verbose bool, out io.Writer) (workflows.PassStatus, error) {
	rep, err := operator.Request(ctx, c, spec.Name, workflows.PassRequest{
		Trigger: workflows.TriggerOperator, RequestedBy: "passflow dev --demo", Reason: "the demo"})
	if err != nil {
		return workflows.PassStatus{}, err
	}
	if rep.PassID == "" {
		return workflows.PassStatus{}, fmt.Errorf("no demo pass: %s", rep.Reason)
	}
	if len(spec.Risk.Approvers) > 0 {
		actx, cancel := context.WithCancel(ctx)
		defer cancel()
		go operator.AutoApprove(actx, c, rep.PassID, spec.Risk.Approvers[0], demoApprovalAfter)
	}
	w := io.Discard
	if verbose {
		w = out
		fmt.Fprintf(out, "pass %s, step by step:\n", rep.PassID)
	}
	if _, err := operator.Follow(ctx, c, rep.PassID, w, 250*time.Millisecond); err != nil {
		return workflows.PassStatus{}, err
	}
	if verbose {
		fmt.Fprintln(out)
	}
	return operator.Status(ctx, c, rep.PassID)
}

// demoApprovalAfter is how long the demo waits for a human approval before it
// approves itself.
const demoApprovalAfter = 5 * time.Second

func demoTarget(path string) (target.Spec, error) {
	if path == "" {
		return target.Parse("examples/targets/demo.yaml (built in)", examples.DemoTarget)
	}
	return target.Load(path)
}

func addrOf(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
