// Command passflow runs optimization passes on live services' configuration
// as durable Temporal workflows. See README.md; `passflow help` lists the
// commands.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // schedules and freeze windows name time zones; do not depend on the host's database

	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/bcrypt"

	"github.com/passflow/passflow/access"
	"github.com/passflow/passflow/api"
	"github.com/passflow/passflow/app"
	"github.com/passflow/passflow/cli"
	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/simulations/campaign"
	"github.com/passflow/passflow/simulations/report"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

type command struct {
	name, args, help string
	run              func(args []string, stdout, stderr io.Writer) int
}

var commands []command

func init() {
	commands = []command{
		{"dev", "[flags]", "run the embedded Temporal server, Web UI, a worker and the HTTP API", devCmd},
		{"worker", "--address HOST:PORT --namespace NS [flags]", "run a worker against an existing Temporal cluster", workerCmd},
		{"targets", "apply|list|show|pause|resume|delete ...", "register targets and manage them (`passflow targets` for details)", targetsCmd},
		{"run", "--target NAME|FILE [--follow]", "request a pass of a target (a file is applied first)", runCmd},
		{"history", "TARGET [--json]", "list a target's passes", historyCmd},
		{"audit", "TARGET [--json]", "a target's audit trail: who asked, what was proposed, risk, answers, verdicts, undos, outcomes", auditCmd},
		{"status", "PASS_ID [--json]", "show a pass's status", statusCmd},
		{"cancel", "PASS_ID", "cancel a pass; it undoes what it applied", cancelCmd},
		{"approvals", "[--json]", "list the passes waiting for an approval (through the HTTP API)", approvalsCmd},
		{"approve", "PASS_ID [--reason TEXT]", "approve a pass, as your credentials' identity (through the HTTP API)", decideCmd(true)},
		{"reject", "PASS_ID --reason TEXT", "reject a pass, as your credentials' identity (through the HTTP API)", decideCmd(false)},
		{"hash-password", "< PASSWORD", "print the bcrypt hash of the password on stdin, for a web config's basic_auth_users", hashPasswordCmd},
		{"validate", "FILE...", "check target files; exit 2 on any problem", validateCmd},
		{"judge", "--baseline FILE --canary FILE --metrics FILE [--json]", "judge canary samples against baseline samples", judgeCmd},
		{"optimize", "--space FILE [--seed N] [--budget N] [--init N] [--batch Q]", "ask/tell optimizer over JSON Lines on stdin/stdout", optimizeCmd},
		{"simulate", "--scenario NAME|FILE|all [flags] | --list", "campaigns of real passes against simulated worlds, in simulated time", campaign.Command{Report: report.Write}.Run},
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "passflow: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "passflow tunes live services' knobs with durable optimization passes.\n\nUsage:")
	name, args := 0, 0
	for _, c := range commands {
		name, args = max(name, len(c.name)), max(args, len(c.args))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  passflow %-*s %-*s %s\n", name, c.name, min(args, 52), c.args, c.help)
	}
	fmt.Fprintln(w, "\n`passflow COMMAND --help` shows a command's flags.")
}

// flags returns a flag set for a command that reports errors to stderr.
func flags(name string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("passflow "+name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	return fs
}

// parse parses args; ok is false when the command should exit with code.
func parse(fs *pflag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK, false
		}
		fmt.Fprintf(fs.Output(), "%s: %v (--help lists the flags)\n", fs.Name(), err)
		return exitUsage, false
	}
	return 0, true
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "passflow: %v\n", err)
	return exitFail
}

func devCmd(args []string, stdout, stderr io.Writer) int {
	var o app.DevOptions
	fs := flags("dev", stderr)
	fs.StringVar(&o.DBPath, "db", ".passflow/temporal.db", "SQLite file that keeps passes across restarts")
	fs.BoolVar(&o.Ephemeral, "ephemeral", false, "keep everything in memory (nothing survives a restart)")
	fs.IntVar(&o.Port, "port", 7233, "Temporal frontend port on 127.0.0.1")
	fs.IntVar(&o.UIPort, "ui-port", 8233, "Temporal Web UI port on 127.0.0.1")
	fs.BoolVar(&o.NoUI, "no-ui", false, "do not start the Web UI")
	fs.StringVar(&o.HTTPAddr, "http", "127.0.0.1:8080", "address of passflow's HTTP API")
	authFlags(fs, &o.Auth, "default: a local admin credential in the state directory")
	fs.BoolVar(&o.NoWorker, "no-worker", false, "run no worker here: passes wait for `passflow worker` processes")
	fs.StringVar(&o.Namespace, "namespace", "default", "Temporal namespace")
	fs.StringVar(&o.StateDir, "state", "", "directory for the pass store and simulator state (default: the database's directory)")
	fs.BoolVar(&o.Demo, "demo", false, "run passes on the demo target once ready, one after another, and follow them")
	fs.IntVar(&o.DemoPasses, "demo-passes", 8, "passes --demo runs")
	fs.StringSliceVar(&o.Targets, "targets", nil, "target files or directories to apply once ready (repeatable)")
	fs.StringVar(&o.DemoTarget, "demo-target", "", "target file for --demo (default: the built-in examples/targets/demo.yaml)")
	fs.StringToStringVar(&o.Pragmas, "sqlite-pragma", nil, "override a SQLite pragma, e.g. synchronous=full (for benchmarks)")
	_ = fs.MarkHidden("sqlite-pragma")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	if err := app.Dev(ctx, o, stdout); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// authFlags adds the flags of the HTTP API's authentication and roles.
func authFlags(fs *pflag.FlagSet, a *app.APIConfig, def string) {
	fs.StringVar(&a.WebConfig, "web.config.file", "", "Prometheus web configuration: TLS, client certificates, basic-auth users ("+def+")")
	fs.StringVar(&a.AccessFile, "access.file", "", "roles of each identity: viewer, operator, trigger, approver ("+def+")")
	fs.StringSliceVar(&a.AllowCommands, "actuator.allow-command", nil, "an executable (absolute path) a target sent to the API may run as its command actuator (repeatable; default none)")
	fs.StringSliceVar(&a.AllowDirs, "actuator.allow-dir", nil, "a directory under which a target sent to the API may have its file actuator write (repeatable; default none)")
}

// connFlags adds the flags that say how to reach Temporal.
func connFlags(fs *pflag.FlagSet) *app.Conn {
	c := &app.Conn{}
	fs.StringVar(&c.Address, "address", "127.0.0.1:7233", "Temporal frontend host:port")
	fs.StringVar(&c.Namespace, "namespace", "default", "Temporal namespace")
	fs.BoolVar(&c.TLS, "tls", false, "connect with TLS")
	fs.StringVar(&c.CAFile, "tls-ca", "", "PEM file of CA certificates to verify the server (implies --tls)")
	fs.StringVar(&c.CertFile, "tls-cert", "", "PEM client certificate for mTLS (implies --tls)")
	fs.StringVar(&c.KeyFile, "tls-key", "", "PEM client key for mTLS")
	fs.StringVar(&c.ServerName, "tls-server-name", "", "server name to verify (default: the address's host)")
	fs.BoolVar(&c.TLSSkipVerify, "tls-skip-verify", false, "do not verify the server's certificate (testing only)")
	fs.StringVar(&c.APIKey, "api-key", "", "API key (default $"+app.APIKeyEnv+"; implies --tls)")
	return c
}

func workerCmd(args []string, stdout, stderr io.Writer) int {
	var o app.WorkerOptions
	fs := flags("worker", stderr)
	conn := connFlags(fs)
	fs.StringVar(&o.StateDir, "state", ".passflow", "directory for the pass store and simulator state")
	fs.StringVar(&o.HTTPAddr, "http", "127.0.0.1:8080", "address of passflow's HTTP API")
	authFlags(fs, &o.Auth, "default: the pair passflow dev keeps in --state")
	fs.IntVar(&o.Workers.MaxConcurrentActivities, "max-activities", 0, "activities run at once (default: the SDK's)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	o.Conn = *conn
	ctx, stop := signalContext()
	defer stop()
	if err := app.Worker(ctx, o, stdout); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

func runCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("run", stderr)
	conn := connFlags(fs)
	tgt := fs.String("target", "", "registered target NAME, or a target FILE to apply first")
	follow := fs.Bool("follow", false, "print the pass's progress until it ends")
	trigger := fs.String("trigger", string(workflows.TriggerOperator), "what asks for the pass: operator or simulation")
	by := fs.String("by", os.Getenv("USER"), "who asks for the pass, for the record")
	reason := fs.String("reason", "", "why, for the record")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *tgt == "" {
		fmt.Fprintln(stderr, "passflow run: --target NAME|FILE is required")
		return exitUsage
	}
	var spec *target.Spec
	name := *tgt
	if isFile(*tgt) {
		s, err := target.Load(*tgt)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitUsage
		}
		spec, name = &s, s.Name
	}
	decided := true
	code := withClient(conn, stderr, func(ctx context.Context, c client.Client) error {
		if spec != nil {
			if _, err := operator.Apply(ctx, c, *spec, *tgt, *by); err != nil {
				return err
			}
		}
		rep, err := operator.Request(ctx, c, name, workflows.PassRequest{
			Trigger: workflows.Trigger(*trigger), RequestedBy: *by, Reason: *reason})
		if err != nil {
			return err
		}
		if rep.PassID == "" {
			decided = false
			return fmt.Errorf("no pass of %s: %s", name, rep.Reason)
		}
		fmt.Fprintln(stdout, rep.PassID)
		if rep.Status != workflows.ReplyStarted {
			fmt.Fprintf(stderr, "%s: %s\n", rep.Status, rep.Reason)
		}
		if !*follow {
			return nil
		}
		st, err := operator.Follow(ctx, c, rep.PassID, stdout, 500*time.Millisecond)
		decided = st.Outcome.Decided()
		return err
	})
	if code == exitOK && !decided {
		return exitFail
	}
	return code
}

// isFile reports whether arg names a file rather than a registered target:
// it has a path separator or a YAML extension, or exists.
func isFile(arg string) bool {
	if strings.ContainsRune(arg, os.PathSeparator) || strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") {
		return true
	}
	_, err := os.Stat(arg)
	return err == nil
}

func targetsUsage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  passflow targets apply FILE|DIR... [--history-limit N]
                                            register targets, or update them; prints NAME: created|updated|unchanged
  passflow targets list [--json]            the registered targets: paused, running and queued pass, next run, passes
  passflow targets show NAME [--json]       a target's tuner state
  passflow targets pause NAME [--reason T]  stop new passes and the schedule; a running pass goes on
  passflow targets resume NAME
  passflow targets delete NAME              remove the schedule; the tuner ends after its running pass
Each takes the connection flags of passflow worker (--address, --namespace, TLS, API key).
`)
}

func targetsCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		targetsUsage(stdout)
		return exitOK
	}
	sub, args := args[0], args[1:]
	fs := flags("targets "+sub, stderr)
	conn := connFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	by := fs.String("by", os.Getenv("USER"), "who does it, for the record")
	reason := fs.String("reason", "", "why, for the record")
	historyLimit := 0
	if sub == "apply" {
		fs.IntVar(&historyLimit, "history-limit", 0, fmt.Sprintf("observations each tuner keeps, the most recent (default %d; 0 keeps the tuner's)", workflows.DefaultHistoryLimit))
	}
	if code, ok := parse(fs, args); !ok {
		return code
	}
	oneName := func() (string, bool) {
		if fs.NArg() != 1 {
			fmt.Fprintf(stderr, "passflow targets %s: expected one target NAME, got %d arguments\n", sub, fs.NArg())
			return "", false
		}
		return fs.Arg(0), true
	}
	switch sub {
	case "apply":
		if fs.NArg() == 0 {
			fmt.Fprintln(stderr, "passflow targets apply: expected one or more target files or directories")
			return exitUsage
		}
		code := exitOK
		if c := withClient(conn, stderr, func(ctx context.Context, c client.Client) error {
			var settings *workflows.TunerSettings
			if historyLimit < 0 || historyLimit > workflows.MaxHistoryLimit {
				fmt.Fprintf(stderr, "passflow targets apply: --history-limit: expected 1 to %d, got %d\n", workflows.MaxHistoryLimit, historyLimit)
				code = exitUsage
				return nil
			}
			if historyLimit > 0 {
				settings = &workflows.TunerSettings{HistoryLimit: historyLimit}
			}
			code = operator.ApplyFiles(ctx, c, fs.Args(), *by, settings, stdout, stderr)
			return nil
		}); c != exitOK {
			return c
		}
		return code
	case "list":
		return withClient(conn, stderr, func(ctx context.Context, c client.Client) error {
			rows, err := operator.Targets(ctx, c)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(stdout, rows)
			}
			cli.PrintTargets(stdout, rows)
			return nil
		})
	case "show":
		name, ok := oneName()
		if !ok {
			return exitUsage
		}
		return withClient(conn, stderr, func(ctx context.Context, c client.Client) error {
			st, err := operator.TargetState(ctx, c, name)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(stdout, st)
			}
			cli.PrintState(stdout, st)
			return nil
		})
	case "pause", "resume":
		name, ok := oneName()
		if !ok {
			return exitUsage
		}
		return withClient(conn, stderr, func(ctx context.Context, c client.Client) error {
			res, err := operator.Pause(ctx, c, name, sub == "pause", *by, *reason)
			if err != nil {
				return err
			}
			done := sub + "d" // paused, resumed
			switch {
			case !res.Changed:
				fmt.Fprintf(stdout, "%s: already %s\n", name, done)
			case res.Skipped != "":
				fmt.Fprintf(stdout, "%s: %s; queued pass %s dropped\n", name, done, res.Skipped)
			default:
				fmt.Fprintf(stdout, "%s: %s\n", name, done)
			}
			return nil
		})
	case "delete":
		name, ok := oneName()
		if !ok {
			return exitUsage
		}
		return withClient(conn, stderr, func(ctx context.Context, c client.Client) error {
			res, err := operator.Delete(ctx, c, name, *by, *reason)
			if err != nil {
				return err
			}
			if res.Running != "" {
				fmt.Fprintf(stdout, "%s: deleted; its schedule is gone, its tuner ends after pass %s\n", name, res.Running)
			} else {
				fmt.Fprintf(stdout, "%s: deleted\n", name)
			}
			return nil
		})
	}
	fmt.Fprintf(stderr, "passflow targets: unknown command %q\n", sub)
	targetsUsage(stderr)
	return exitUsage
}

func historyCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("history", stderr)
	conn := connFlags(fs)
	asJSON := fs.Bool("json", false, "print the passes as a JSON array")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "passflow history: expected one TARGET, got %d arguments\n", fs.NArg())
		return exitUsage
	}
	return withClient(conn, stderr, func(ctx context.Context, c client.Client) error {
		recs, err := operator.History(ctx, c, fs.Arg(0))
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, recs)
		}
		cli.PrintHistory(stdout, recs)
		return nil
	})
}

func auditCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("audit", stderr)
	conn := connFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON Lines, one entry a line (an export)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "passflow audit: expected one TARGET, got %d arguments\n", fs.NArg())
		return exitUsage
	}
	return withClient(conn, stderr, func(ctx context.Context, c client.Client) error {
		entries, err := operator.Audit(ctx, c, fs.Arg(0))
		if err != nil {
			return err
		}
		if !*asJSON {
			cli.PrintAudit(stdout, entries)
			return nil
		}
		for _, e := range entries {
			if err := printJSON(stdout, e); err != nil {
				return err
			}
		}
		return nil
	})
}

func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// passArg parses a command that takes one pass ID and connection flags.
func passArg(name string, args []string, stderr io.Writer, extra func(*pflag.FlagSet)) (conn *app.Conn, id string, code int, ok bool) {
	fs := flags(name, stderr)
	conn = connFlags(fs)
	if extra != nil {
		extra(fs)
	}
	if code, ok := parse(fs, args); !ok {
		return nil, "", code, false
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "passflow %s: expected one PASS_ID, got %d arguments\n", name, fs.NArg())
		return nil, "", exitUsage, false
	}
	return conn, fs.Arg(0), 0, true
}

// withClient dials Temporal and runs f with a context that SIGINT and
// SIGTERM cancel.
func withClient(conn *app.Conn, stderr io.Writer, f func(ctx context.Context, c client.Client) error) int {
	ctx, stop := signalContext()
	defer stop()
	c, err := conn.Dial(ctx, nil)
	if err != nil {
		return fail(stderr, err)
	}
	defer c.Close()
	if err := f(ctx, c); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

func statusCmd(args []string, stdout, stderr io.Writer) int {
	var asJSON bool
	conn, id, code, ok := passArg("status", args, stderr, func(fs *pflag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the status as one JSON object")
	})
	if !ok {
		return code
	}
	return withClient(conn, stderr, func(ctx context.Context, c client.Client) error {
		st, err := operator.Status(ctx, c, id)
		if err != nil {
			return err
		}
		if !asJSON {
			printStatus(stdout, st)
			return nil
		}
		return printJSON(stdout, st)
	})
}

func printStatus(w io.Writer, st workflows.PassStatus) {
	fmt.Fprintf(w, "pass %s on %s (%s), started %s\n", st.ID, st.Target, st.Trigger, st.Started.Format(time.RFC3339))
	fmt.Fprintf(w, "  step       %s\n", st.Step)
	for _, line := range operator.Progress(workflows.PassStatus{}, st) {
		fmt.Fprintln(w, line)
	}
	if st.Outcome == "" || st.Step != workflows.StepDone {
		fmt.Fprintln(w, "  outcome    (still running)")
	}
}

func cancelCmd(args []string, stdout, stderr io.Writer) int {
	conn, id, code, ok := passArg("cancel", args, stderr, nil)
	if !ok {
		return code
	}
	return withClient(conn, stderr, func(ctx context.Context, c client.Client) error {
		if err := operator.Cancel(ctx, c, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "cancel requested for pass %s; it undoes what it applied before it ends\n", id)
		return nil
	})
}

// apiFlags adds the flags that say how to reach the HTTP API and as whom;
// the returned function reads the credentials they name.
func apiFlags(fs *pflag.FlagSet) func() (api.Client, error) {
	url := fs.String("api", "", "passflow's HTTP API (default: the credentials file's, else http://127.0.0.1:8080)")
	creds := fs.String("credentials", filepath.Join(".passflow", access.CredentialsFile), "credentials file (JSON: url, user, password; passflow dev writes one into its state directory)")
	user := fs.String("user", "", "basic-auth user (instead of --credentials; needs --password-file)")
	pwFile := fs.String("password-file", "", "file holding --user's password")
	return func() (api.Client, error) {
		var c access.Credentials
		switch {
		case *user != "" && *pwFile == "":
			return api.Client{}, errors.New("--user needs --password-file")
		case *user != "":
			pw, err := os.ReadFile(*pwFile)
			if err != nil {
				return api.Client{}, fmt.Errorf("--password-file: %w", err)
			}
			c = access.Credentials{User: *user, Password: strings.TrimSpace(string(pw))}
		default:
			var err error
			if c, err = access.ReadCredentials(*creds); err != nil {
				return api.Client{}, fmt.Errorf("%w (start passflow dev, or name a file with --credentials, or give --user and --password-file)", err)
			}
		}
		if *url != "" {
			c.URL = *url
		}
		if c.URL == "" {
			c.URL = "http://127.0.0.1:8080"
		}
		return api.Client{Credentials: c}, nil
	}
}

func decideCmd(approve bool) func(args []string, stdout, stderr io.Writer) int {
	name := "approve"
	if !approve {
		name = "reject"
	}
	return func(args []string, stdout, stderr io.Writer) int {
		fs := flags(name, stderr)
		reason := fs.String("reason", "", "why")
		by := fs.String("by", "", "")
		_ = fs.MarkHidden("by")
		dial := apiFlags(fs)
		if code, ok := parse(fs, args); !ok {
			return code
		}
		switch {
		case *by != "":
			fmt.Fprintf(stderr, "passflow %s: --by: the approver is the identity of your credentials, not a name you type; drop --by\n", name)
			return exitUsage
		case fs.NArg() != 1:
			fmt.Fprintf(stderr, "passflow %s: expected one PASS_ID, got %d arguments\n", name, fs.NArg())
			return exitUsage
		case !approve && strings.TrimSpace(*reason) == "":
			fmt.Fprintln(stderr, "passflow reject: --reason TEXT is required")
			return exitUsage
		}
		c, err := dial()
		if err != nil {
			return fail(stderr, err)
		}
		ctx, stop := signalContext()
		defer stop()
		a, err := c.Decide(ctx, fs.Arg(0), approve, *reason)
		if err != nil {
			return fail(stderr, err)
		}
		switch a.Decision {
		case workflows.DecisionPending:
			fmt.Fprintf(stdout, "pass %s: %s approves (%d of %d approvals); it waits for more\n", a.ID, a.Approver, a.Approvals, a.Quorum)
		default:
			fmt.Fprintf(stdout, "pass %s: %s by %s\n", a.ID, a.Decision, a.Approver)
		}
		return exitOK
	}
}

func approvalsCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("approvals", stderr)
	asJSON := fs.Bool("json", false, "print the passes as a JSON array")
	dial := apiFlags(fs)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	c, err := dial()
	if err != nil {
		return fail(stderr, err)
	}
	ctx, stop := signalContext()
	defer stop()
	rows, err := c.Approvals(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	if *asJSON {
		if err := printJSON(stdout, rows); err != nil {
			return fail(stderr, err)
		}
		return exitOK
	}
	cli.PrintApprovals(stdout, rows, time.Now())
	return exitOK
}

func hashPasswordCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("hash-password", stderr)
	cost := fs.Int("cost", bcrypt.DefaultCost, fmt.Sprintf("bcrypt cost, %d to %d", bcrypt.MinCost, bcrypt.MaxCost))
	if code, ok := parse(fs, args); !ok {
		return code
	}
	pw, err := io.ReadAll(io.LimitReader(os.Stdin, 1024))
	if err != nil {
		return fail(stderr, err)
	}
	pw = bytes.TrimRight(pw, "\r\n")
	switch {
	case len(pw) == 0:
		fmt.Fprintln(stderr, "passflow hash-password: expected a password on stdin, got none")
		return exitUsage
	case len(pw) > 72:
		fmt.Fprintln(stderr, "passflow hash-password: expected at most 72 bytes (bcrypt's limit)")
		return exitUsage
	case *cost < bcrypt.MinCost || *cost > bcrypt.MaxCost:
		fmt.Fprintf(stderr, "passflow hash-password: --cost: expected %d to %d, got %d\n", bcrypt.MinCost, bcrypt.MaxCost, *cost)
		return exitUsage
	}
	hash, err := bcrypt.GenerateFromPassword(pw, *cost)
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintln(stdout, string(hash))
	return exitOK
}

func validateCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("validate", stderr)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	return target.ValidateFiles(fs.Args(), stdout, stderr)
}

func judgeCmd(args []string, stdout, stderr io.Writer) int {
	var o cli.JudgeOptions
	fs := flags("judge", stderr)
	fs.StringVar(&o.BaselineFile, "baseline", "", "JSON object: metric name → array of baseline samples")
	fs.StringVar(&o.CanaryFile, "canary", "", "JSON object: metric name → array of canary samples")
	fs.StringVar(&o.MetricsFile, "metrics", "", "YAML file of metric rules")
	fs.BoolVar(&o.JSON, "json", false, "print the verdict as one JSON object")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	return cli.Judge(o, stdout, stderr)
}

func optimizeCmd(args []string, stdout, stderr io.Writer) int {
	var o cli.OptimizeOptions
	fs := flags("optimize", stderr)
	fs.StringVar(&o.SpaceFile, "space", "", "space file (YAML or JSON): params, objective, constraints")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed; the same seed and answers give the same trials")
	fs.IntVar(&o.Budget, "budget", 0, "stop after this many results and print the best (0: until end of input)")
	fs.IntVar(&o.Init, "init", 0, "initial design size (0: 2·dimensions+2, between 5 and 20)")
	fs.IntVar(&o.Batch, "batch", 1, "trials proposed before their results are read")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if o.SpaceFile == "" {
		fmt.Fprintln(stderr, "passflow optimize: --space FILE is required")
		return exitUsage
	}
	return cli.Optimize(o, os.Stdin, stdout, stderr)
}
