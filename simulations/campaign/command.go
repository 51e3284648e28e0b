package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
)

// Exit codes of the simulate command.
const (
	ExitOK    = 0
	ExitFail  = 1 // a campaign failed, a goal was missed, the report failed
	ExitUsage = 2 // bad flags, an unknown scenario
)

// Command is `passflow simulate`: campaigns of real passes against
// simulated worlds, in simulated time.
type Command struct {
	// Report writes the report directory of --report (package
	// simulations/report's Write); nil refuses --report.
	Report func(dir string, results []Result) error
	// Scenarios finds the worlds (DefaultScenarios when nil).
	Scenarios Scenarios
}

// Usage is the simulate command's synopsis.
const Usage = "--scenario NAME|FILE|all [--passes 30] [--seeds 5] [--policy gp|random|hold|oracle|all] [--report DIR] [--json | --trace] [--check-goals] [--parallel N] | --list"

// simulateOptions are the simulate command's flags.
type simulateOptions struct {
	scenarios  []string
	passes     int
	seeds      int
	policy     string
	report     string
	json       bool
	trace      bool
	checkGoals bool
	list       bool
	parallel   int
}

// Run runs the command with args; it prints results to stdout, progress
// (on a terminal only) and errors to stderr, and returns the exit code.
func (c Command) Run(args []string, stdout, stderr io.Writer) int {
	lib := c.Scenarios
	if lib == nil {
		lib = DefaultScenarios()
	}
	var o simulateOptions
	fs := pflag.NewFlagSet("passflow simulate", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.StringSliceVar(&o.scenarios, "scenario", nil, "built-in scenario NAME, scenario FILE, or all (repeatable, or comma-separated)")
	fs.IntVar(&o.passes, "passes", DefaultPasses, "passes per campaign")
	fs.IntVar(&o.seeds, "seeds", 5, "campaigns per scenario and policy, with seeds 1 to N")
	fs.StringVar(&o.policy, "policy", string(PolicyGP), "how passes choose candidates: gp, random, hold, all (the three), or oracle (a reference that reads the world's truth); --check-goals without --policy runs all")
	fs.StringVar(&o.report, "report", "", "write a report (figures, tables, JSON) into DIR")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per campaign (its summary) instead of a table")
	fs.BoolVar(&o.trace, "trace", false, "print one JSON object per pass (its campaign's scenario, policy and seed; what it tried, how it ended and why, the truths) instead of a table")
	fs.BoolVar(&o.checkGoals, "check-goals", false, "print the goals table (on stderr with --json or --trace) and exit 1 if one is missed")
	fs.BoolVar(&o.list, "list", false, "print the built-in scenarios' names, one a line")
	fs.IntVar(&o.parallel, "parallel", 0, "campaigns run at once (default: one per core)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: passflow simulate %s\n\n", Usage)
		fmt.Fprintln(stderr, "Runs campaigns of the real tuner and passes against simulated worlds in simulated time")
		fmt.Fprintf(stderr, "and measures them against the worlds' truth. The demo target is the scenario %q.\n\nFlags:\n", DemoName)
		fs.PrintDefaults()
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "passflow simulate: "+format+" (passflow simulate --help shows the flags)\n", a...)
		return ExitUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return ExitOK
		}
		return usage("%v", err)
	}
	if o.list {
		for _, n := range lib.Names() {
			fmt.Fprintln(stdout, n)
		}
		return ExitOK
	}
	switch {
	case fs.NArg() > 0:
		return usage("unexpected arguments %q: scenarios go in --scenario", fs.Args())
	case len(o.scenarios) == 0:
		return usage("--scenario NAME|FILE|all is required (--list shows the names)")
	case o.passes < 1:
		return usage("--passes: expected a number >= 1, got %d", o.passes)
	case o.seeds < 1:
		return usage("--seeds: expected a number >= 1, got %d", o.seeds)
	case o.parallel < 0:
		return usage("--parallel: expected a number >= 0, got %d", o.parallel)
	case o.report != "" && c.Report == nil:
		return usage("--report: this build has no report writer")
	case o.json && o.trace:
		return usage("--json and --trace: expected one of them, one JSON object per campaign or per pass")
	}
	var policies []Policy
	switch p := Policy(o.policy); {
	case o.policy == "all" || (o.checkGoals && !fs.Changed("policy")):
		policies = Policies()
	case p.Valid():
		policies = []Policy{p}
	default:
		return usage("--policy: expected gp, random, hold, oracle or all, got %q", o.policy)
	}
	worlds, err := resolve(lib, o.scenarios)
	if err != nil {
		return usage("--scenario: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	jobs := Jobs(worlds, policies, Seeds(o.seeds))
	bar := newProgressBar(stderr)
	start := time.Now()
	results, runErr := RunAll(ctx, jobs, BatchOptions{Passes: o.passes, Parallel: o.parallel, Progress: bar.update})
	total := time.Since(start)
	bar.done()

	code := ExitOK
	switch {
	case o.json || o.trace:
		write := printSummaries
		if o.trace {
			write = printPasses
		}
		if err := write(stdout, results); err != nil {
			fmt.Fprintf(stderr, "passflow simulate: %v\n", err)
			return ExitFail
		}
	default:
		PrintTable(stdout, results)
		if o.seeds > 1 && len(results) > 1 {
			fmt.Fprintln(stdout)
			PrintMedians(stdout, results)
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "passflow simulate: %v\n", runErr)
		code = ExitFail
	}
	if o.report != "" && len(results) > 0 {
		if err := c.Report(o.report, results); err != nil {
			fmt.Fprintf(stderr, "passflow simulate: report: %v\n", err)
			code = ExitFail
		} else if !o.json && !o.trace {
			fmt.Fprintf(stdout, "\nreport written to %s\n", o.report)
		}
	}
	if o.checkGoals {
		goals := Goals(results, total)
		w := stdout
		if o.json || o.trace {
			w = stderr
		} else {
			fmt.Fprintln(w)
		}
		PrintGoals(w, goals)
		if !Met(goals) {
			code = ExitFail
		}
	}
	return code
}

// tracedPass is a line of --trace: a pass with its campaign's key.
type tracedPass struct {
	Scenario string `json:"scenario"`
	Policy   Policy `json:"policy"`
	Seed     uint64 `json:"seed"`
	Pass
}

// printSummaries prints one JSON object per campaign: its summary.
func printSummaries(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(r.Summary); err != nil {
			return err
		}
	}
	return nil
}

// printPasses prints one JSON object per pass of each campaign, with the
// campaign's key.
func printPasses(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		for _, p := range r.Passes {
			if err := enc.Encode(tracedPass{Scenario: r.Scenario, Policy: r.Policy, Seed: r.Seed, Pass: p}); err != nil {
				return err
			}
		}
	}
	return nil
}

// PrintMedians prints one line per scenario and policy: the medians over
// their seeds.
func PrintMedians(w io.Writer, results []Result) {
	type key struct {
		scenario string
		policy   Policy
	}
	var keys []key
	groups := map[key][]Result{}
	for _, r := range results {
		k := key{r.Scenario, r.Policy}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "scenario\tpolicy\tseeds\tgap after %d\tfinal gap\trolled back\tfalse rb\tSLO-viol. prom.\tworse prom.\trepairs\tbreaking stages\tworst breach\tpasses on a broken incumbent\t(medians; sums for violations)\t\n", GoalPass)
	for _, k := range keys {
		rs := groups[k]
		med := func(f func(Result) float64) float64 {
			xs := make([]float64, len(rs))
			for i, r := range rs {
				xs[i] = f(r)
			}
			return median(xs)
		}
		sum := func(f func(Summary) int) int {
			n := 0
			for _, r := range rs {
				n += f(r.Summary)
			}
			return n
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%g\t%g\t%d\t%d\t%d\t%g\t%.2f\t%d\t\t\n", k.scenario, k.policy, len(rs),
			pct(med(func(r Result) float64 { return GapAt(r, GoalPass) })),
			pct(med(func(r Result) float64 { return GapAt(r, len(r.Passes)) })),
			med(func(r Result) float64 { return float64(r.Summary.Rollbacks) }),
			med(func(r Result) float64 { return float64(r.Summary.FalseRollbacks) }),
			sum(func(s Summary) int { return s.SLOViolatingPromotions }),
			sum(func(s Summary) int { return s.WorsePromotions }),
			sum(func(s Summary) int { return s.Repairs }),
			med(func(r Result) float64 { return float64(r.Summary.ViolatingStages) }),
			med(func(r Result) float64 { return r.Summary.WorstBreach }),
			sum(func(s Summary) int { return s.IncumbentViolations }))
	}
	tw.Flush()
}

// progressBar draws the batch's progress on a terminal, and nothing
// elsewhere (a file, a pipe, a test's buffer).
type progressBar struct {
	w     io.Writer
	on    bool
	start time.Time
	drawn bool
}

func newProgressBar(w io.Writer) *progressBar {
	return &progressBar{w: w, on: isTerminal(w), start: time.Now()}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

const barWidth = 30

func (b *progressBar) update(p BatchProgress) {
	if !b.on || p.TotalPasses == 0 {
		return
	}
	filled := barWidth * p.Passes / p.TotalPasses
	fmt.Fprintf(b.w, "\r[%s%s] %d/%d passes, %d/%d campaigns, %s ", strings.Repeat("=", filled),
		strings.Repeat(" ", barWidth-filled), p.Passes, p.TotalPasses, p.Campaigns, p.TotalCampaigns,
		time.Since(b.start).Round(time.Second))
	b.drawn = true
}

func (b *progressBar) done() {
	if b.drawn {
		fmt.Fprintf(b.w, "\r%s\r", strings.Repeat(" ", barWidth+60))
	}
}
