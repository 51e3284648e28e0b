package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/access"
	"github.com/passflow/passflow/app"
	"github.com/passflow/passflow/devserver"
	"github.com/passflow/passflow/examples"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// passflowBinary builds cmd/passflow once per test binary.
func passflowBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "passflow-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "passflow")
		if out, err := exec.Command("go", "build", "-o", builtBin, "../cmd/passflow").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build passflow: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return builtBin
}

// devProcess is a running `passflow dev` on a file database.
type devProcess struct {
	cmd     *devCmd
	client  client.Client
	address string // Temporal's frontend
	ready   time.Duration
	// auth sends the local admin credential the dev wrote into its state.
	auth basicAuth
}

func startDevProcess(tb testing.TB, dbDir string, extra ...string) *devProcess {
	tb.Helper()
	port, err := devserver.FreePortBlock()
	if err != nil {
		tb.Fatal(err)
	}
	args := append([]string{"dev", "--db", filepath.Join(dbDir, "temporal.db"), "--port", strconv.Itoa(port),
		"--no-ui", "--http", "127.0.0.1:0"}, extra...)
	bin := passflowBinary(tb)
	began := time.Now()
	cmd := startDev(tb, bin, args)
	p := &devProcess{cmd: cmd, ready: time.Since(began), address: fmt.Sprintf("127.0.0.1:%d", port)}
	c, err := app.Conn{Address: fmt.Sprintf("127.0.0.1:%d", port), Namespace: "default"}.Dial(context.Background(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	p.client = c
	cred, err := access.ReadCredentials(filepath.Join(dbDir, access.CredentialsFile))
	if err != nil {
		tb.Fatal(err)
	}
	p.auth = basicAuth{user: cred.User, password: cred.Password}
	return p
}

func (p *devProcess) stop() {
	p.client.Close()
	p.cmd.interrupt()
}

// BenchmarkColdStart measures `passflow dev` from exec to ready, on a new
// database file and again on the existing one, in each of the bench runs
// (PASSFLOW_BENCH_RUNS, default 5), and reports min, median and max of each.
func BenchmarkColdStart(b *testing.B) {
	var fresh, existing []float64
	for range benchRuns(b) {
		dir := b.TempDir()
		first := startDevProcess(b, dir)
		first.stop()
		second := startDevProcess(b, dir)
		second.stop()
		fresh = append(fresh, ms(first.ready))
		existing = append(existing, ms(second.ready))
	}
	b.Logf("cold start to ready, ms, min / median / max over %d runs: new database %s, existing database %s",
		len(fresh), reportSpread(b, "ms-new-db", fresh), reportSpread(b, "ms-existing-db", existing))
}

// BenchmarkDemoPass measures the wall time of the first pass on the demo
// target, each of the bench runs (PASSFLOW_BENCH_RUNS, default 5) on a new
// `passflow dev`, and reports min, median and max. A pass counts only when
// it ended with a decision (Outcome.Decided); the benchmark fails when one
// did not.
func BenchmarkDemoPass(b *testing.B) {
	spec, err := target.Parse("demo.yaml", examples.DemoTarget)
	if err != nil {
		b.Fatal(err)
	}
	var secs []float64
	outcomes := map[workflows.Outcome]int{}
	runs := benchRuns(b)
	for run := range runs {
		took, st, err := demoPass(b, spec)
		applied := 0
		for _, s := range st.Stages {
			if s.Applied {
				applied++
			}
		}
		if err != nil || !st.Outcome.Decided() {
			b.Errorf("run %d: demo pass %s: %q (%s) %v, want a decision", run+1, st.ID, st.Outcome, st.Reason, err)
			continue
		}
		secs = append(secs, took.Seconds())
		outcomes[st.Outcome]++
		b.Logf("run %d: demo pass %s in %.1f s after %d of %d stages applied", run+1, st.Outcome, took.Seconds(), applied, len(st.Stages))
	}
	if len(secs) == 0 {
		return
	}
	b.Logf("demo pass wall time, s, min / median / max over %d decided passes of %d: %s; outcomes %v",
		len(secs), runs, reportSpread(b, "s/pass", secs), outcomes)
}

// demoPass runs the first pass of the demo target on a new `passflow dev`
// and returns its wall time and final status.
func demoPass(b *testing.B, spec target.Spec) (time.Duration, workflows.PassStatus, error) {
	p := startDevProcess(b, b.TempDir())
	defer p.stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	began := time.Now()
	id, err := startPass(ctx, p.client, spec, "BenchmarkDemoPass")
	if err != nil {
		return 0, workflows.PassStatus{}, err
	}
	// As in `passflow dev --demo`: a high-risk candidate is approved by
	// the demo after its wait, which counts in the pass's wall time.
	go operator.AutoApprove(ctx, p.client, id, spec.Risk.Approvers[0], 10*time.Second)
	st, err := operator.Follow(ctx, p.client, id, io.Discard, 50*time.Millisecond)
	return time.Since(began), st, err
}

// BenchmarkConcurrentPasses runs 50 targets at once on one `passflow dev`
// for the bench window (PASSFLOW_BENCH_WINDOW, default 1m): 50 workers each
// own one target (its own simulated service, 3 stages of 1-second
// verification) and ask its tuner for the next pass as soon as the previous
// one ended. Each of the bench runs (PASSFLOW_BENCH_RUNS, default 5) starts
// a new `passflow dev`. It reports min, median and max over the runs of the
// passes completed within the window per minute, and over all runs the
// latency of a request (the tuner's request_pass update, answered) and of
// each step of the completed passes (activity scheduled → completed, and
// timer overshoot), from their histories. Only passes that ended with a
// decision (Outcome.Decided) count as completed; the others are reported
// apart and fail the benchmark.
//
// It measures passflow dev's default SQLite settings; with
// PASSFLOW_BENCH_SQLITE=all it compares the other settings too (about 4
// more minutes a run).
func BenchmarkConcurrentPasses(b *testing.B) {
	configs := []struct {
		name    string
		pragmas []string
	}{
		{"default(wal,sync=normal)", nil},
		{"wal,sync=full", []string{"--sqlite-pragma", "synchronous=full"}},
		{"wal,sync=off", []string{"--sqlite-pragma", "synchronous=off"}},
		{"rollback-journal,sync=full", []string{"--sqlite-pragma", "journal_mode=delete", "--sqlite-pragma", "synchronous=full"}},
	}
	if os.Getenv("PASSFLOW_BENCH_SQLITE") != "all" {
		configs = configs[:1]
	}
	window := benchWindow(b, time.Minute)
	for _, cfg := range configs {
		b.Run(cfg.name, func(b *testing.B) {
			r := concurrentRuns(b, window, func() (client.Client, func()) {
				p := startDevProcess(b, b.TempDir(), cfg.pragmas...)
				return p.client, p.stop
			})
			b.ReportMetric(pct(r.requests, 0.5), "p50-request-ms")
			b.ReportMetric(pct(r.requests, 0.99), "p99-request-ms")
			b.ReportMetric(pct(r.timers, 0.5), "p50-timer-late-ms")
			b.ReportMetric(pct(r.timers, 0.99), "p99-timer-late-ms")
		})
	}
}

// concurrentRuns runs runConcurrent with 50 targets for window on a new
// server from start in each of the bench runs, stopping each (start's
// second result) before the next starts. It reports passes/min (min, median
// and max over the runs), the request errors and failed passes of all runs,
// and the p50 and p99 step latency of all runs' completed passes; it fails b
// when a pass failed. It returns every run's measurements pooled,
// passes/min aside.
func concurrentRuns(b *testing.B, window time.Duration, start func() (client.Client, func())) concurrentRun {
	var all concurrentRun
	var perMin []float64
	outcomes := map[workflows.Outcome]int{}
	for run := range benchRuns(b) {
		c, stop := start()
		r := runConcurrent(b, c, 50, window)
		stop()
		perMin = append(perMin, float64(r.done)/window.Minutes())
		all.done += r.done
		all.requestErrors += r.requestErrors
		all.failed = append(all.failed, r.failed...)
		all.requests = append(all.requests, r.requests...)
		all.steps, all.timers = append(all.steps, r.steps...), append(all.timers, r.timers...)
		for o, n := range r.outcomes {
			outcomes[o] += n
		}
		// One line a run: the testing package keeps only a benchmark's
		// first ten lines of log.
		b.Logf("run %d: %d passes decided within the window (%.0f/min; %v; per tenth of the window %v), %d failed, %d request errors",
			run+1, r.done, perMin[run], r.outcomes, r.tenths, len(r.failed), r.requestErrors)
	}
	b.Logf("passes/min, min / median / max over %d runs of %s: %s; decided %v; failed %d; request errors %d; step p50 / p99 %.1f / %.1f ms",
		len(perMin), window, reportSpread(b, "passes/min", perMin), outcomes, len(all.failed), all.requestErrors,
		pct(all.steps, 0.5), pct(all.steps, 0.99))
	b.ReportMetric(float64(len(all.failed)), "failed-passes")
	b.ReportMetric(float64(all.requestErrors), "request-errors")
	b.ReportMetric(pct(all.steps, 0.5), "p50-step-ms")
	b.ReportMetric(pct(all.steps, 0.99), "p99-step-ms")
	if n := len(all.failed); n > 0 {
		b.Errorf("%d passes ended without a decision (%d decided within the windows), the first: %v", n, all.done, all.failed[:min(n, 10)])
	}
	return all
}

// benchWindow is how long the runtime benchmarks load the server:
// PASSFLOW_BENCH_WINDOW (a Go duration), or def.
func benchWindow(b *testing.B, def time.Duration) time.Duration {
	s := os.Getenv("PASSFLOW_BENCH_WINDOW")
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		b.Fatalf("PASSFLOW_BENCH_WINDOW=%q: expected a positive Go duration such as 20s", s)
	}
	return d
}

// defaultBenchRuns is how many runs a runtime figure is reported from
// (min, median and max) unless PASSFLOW_BENCH_RUNS says otherwise.
const defaultBenchRuns = 5

// benchRuns is how many times the runtime benchmarks repeat their
// measurement: PASSFLOW_BENCH_RUNS, default defaultBenchRuns.
func benchRuns(b *testing.B) int {
	s := os.Getenv("PASSFLOW_BENCH_RUNS")
	if s == "" {
		return defaultBenchRuns
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("PASSFLOW_BENCH_RUNS=%q: expected a positive number of runs", s)
	}
	return n
}

// reportSpread reports the min, median and max of xs, one value a run, as
// the metrics unit-min, unit-median and unit-max, and returns them as
// "min / median / max".
func reportSpread(b *testing.B, unit string, xs []float64) string {
	lo, med, hi := pct(xs, 0), models.Quantile(0.5, xs), pct(xs, 1)
	b.ReportMetric(lo, unit+"-min")
	b.ReportMetric(med, unit+"-median")
	b.ReportMetric(hi, unit+"-max")
	return fmt.Sprintf("%.4g / %.4g / %.4g", lo, med, hi)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func benchSpec(b *testing.B, i int) target.Spec {
	y := fmt.Sprintf(`
name: bench-%d
params:
  - {name: worker_threads, type: int, min: 4, max: 256, log: true, current: 32}
  - {name: cache_ttl_s, type: float, min: 1, max: 3600, log: true, current: 60}
objective: {metric: cost_per_request, goal: minimize}
constraints: [{metric: latency_p95_ms, max: 250}, {metric: error_rate, max: 0.01}]
telemetry: {simulator: {model: web, seed: %d, noise: 0.02, scrape: 100ms}}
actuator: {simulator: {}}
canary: {stages: [5, 25, 100], verify_for: 1s, max_verify_for: 1s, check_every: 1s}
risk: {approval_from: forbidden, max_step: 0.05}
`, i, i)
	s, err := target.Parse("bench.yaml", []byte(y))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// concurrentRun is what runConcurrent measured.
type concurrentRun struct {
	done          int                       // passes decided within the window
	outcomes      map[workflows.Outcome]int // of the passes counted in done
	failed        []string                  // passes that ended without a decision, within the window or after
	tenths        []int                     // passes done per tenth of the window
	requestErrors int                       // requests that failed (and were retried)
	requests      []float64                 // request latencies, ms
	steps, timers []float64                 // step latencies and timer overshoots of the completed passes, ms
}

// runConcurrent registers n targets, then keeps one pass in flight on each
// for window: each worker asks its target's tuner for a pass, waits until it
// ended, and asks again. A pass counts as done when it ended within the
// window with a decision (Outcome.Decided); one that ended without (failed,
// abandoned) is listed in failed instead, whenever it ended.
func runConcurrent(b *testing.B, c client.Client, n int, window time.Duration) concurrentRun {
	ctx := context.Background()
	specs := make([]target.Spec, n)
	for w := range specs {
		specs[w] = benchSpec(b, w)
		if _, err := operator.Apply(ctx, c, specs[w], "BenchmarkConcurrentPasses", "BenchmarkConcurrentPasses"); err != nil {
			b.Fatal(err)
		}
	}
	r := concurrentRun{outcomes: map[workflows.Outcome]int{}}
	began := time.Now()
	deadline := began.Add(window)
	var mu sync.Mutex
	var ids []string
	var ended []time.Duration // when each counted pass ended, since began
	var wg sync.WaitGroup
	for _, spec := range specs {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				asked := time.Now()
				rep, err := operator.Request(ctx, c, spec.Name, workflows.PassRequest{
					Trigger: workflows.TriggerOperator, RequestedBy: "BenchmarkConcurrentPasses"})
				took := time.Since(asked)
				if err == nil && rep.PassID == "" {
					err = fmt.Errorf("no pass: %s %s", rep.Status, rep.Reason)
				}
				mu.Lock()
				r.requests = append(r.requests, float64(took.Microseconds())/1000)
				if err != nil {
					r.requestErrors++ // counted and retried
				}
				mu.Unlock()
				if err != nil {
					b.Logf("request a pass of %s: %v", spec.Name, err)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				st, err := awaitPass(ctx, c, rep.PassID)
				if err != nil || !st.Outcome.Decided() {
					mu.Lock()
					r.failed = append(r.failed, fmt.Sprintf("%s: %q (%s) %v", rep.PassID, st.Outcome, st.Reason, err))
					mu.Unlock()
					continue
				}
				if time.Now().After(deadline) {
					return // finished after the window: not counted
				}
				mu.Lock()
				ids = append(ids, rep.PassID)
				r.outcomes[st.Outcome]++
				ended = append(ended, time.Since(began))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Passes ended per tenth of the window: a throughput that falls over
	// the window shows here.
	r.tenths = make([]int, 10)
	for _, e := range ended {
		r.tenths[min(9, int(10*e/window))]++
	}
	for _, id := range ids {
		s, t := latencies(b, c, id)
		r.steps, r.timers = append(r.steps, s...), append(r.timers, t...)
	}
	r.done = len(ids)
	return r
}

// latencies reads a pass's history: each activity's scheduled → completed
// time, and each timer's firing delay past its duration, in ms.
func latencies(b *testing.B, c client.Client, id string) (steps, timers []float64) {
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	scheduled := map[int64]time.Time{}
	started := map[int64]time.Time{}
	durations := map[int64]time.Duration{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			b.Fatal(err)
		}
		at := ev.GetEventTime().AsTime()
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			scheduled[ev.GetEventId()] = at
		case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			a := ev.GetActivityTaskCompletedEventAttributes()
			steps = append(steps, float64(at.Sub(scheduled[a.GetScheduledEventId()]).Microseconds())/1000)
		case enums.EVENT_TYPE_TIMER_STARTED:
			started[ev.GetEventId()] = at
			durations[ev.GetEventId()] = ev.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration()
		case enums.EVENT_TYPE_TIMER_FIRED:
			sid := ev.GetTimerFiredEventAttributes().GetStartedEventId()
			late := at.Sub(started[sid]) - durations[sid]
			timers = append(timers, float64(late.Microseconds())/1000)
		}
	}
	return steps, timers
}

// startPass applies spec (once per target; an unchanged spec is a no-op) and
// requests a pass; it returns the ID of the pass that serves the request.
func startPass(ctx context.Context, c client.Client, spec target.Spec, by string) (string, error) {
	if _, err := operator.Apply(ctx, c, spec, by, by); err != nil {
		return "", err
	}
	rep, err := operator.Request(ctx, c, spec.Name, workflows.PassRequest{Trigger: workflows.TriggerOperator, RequestedBy: by})
	if err != nil {
		return "", err
	}
	if rep.PassID == "" {
		return "", fmt.Errorf("no pass: %s", rep.Reason)
	}
	return rep.PassID, nil
}

// awaitPass waits until the pass id has started (its tuner starts it a
// moment after the request) and then until it has ended, and returns its
// final status: a pass that failed returns its error, with the status its
// error carries when it has one.
func awaitPass(ctx context.Context, c client.Client, id string) (workflows.PassStatus, error) {
	var st workflows.PassStatus
	for {
		_, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err == nil {
			break
		}
		var nf *serviceerror.NotFound
		if !errors.As(err, &nf) {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	err := c.GetWorkflow(ctx, id, "").Get(ctx, &st)
	var failed *temporal.ApplicationError
	if errors.As(err, &failed) && failed.HasDetails() {
		_ = failed.Details(&st)
	}
	return st, err
}

func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// BenchmarkWorkers measures passes per minute with one and with two
// `passflow worker` processes against one `passflow dev --no-worker`, under
// the same load as BenchmarkConcurrentPasses (50 simulated targets, a pass
// each at a time, 1-second windows), the workers sharing one state
// directory; each of the bench runs (PASSFLOW_BENCH_RUNS, default 5) starts
// them anew. Its window is 30 s unless PASSFLOW_BENCH_WINDOW says otherwise:
// it compares two setups, at twice the runs of BenchmarkConcurrentPasses.
// As there, a pass that ended without a decision fails it.
func BenchmarkWorkers(b *testing.B) {
	window := benchWindow(b, 30*time.Second)
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			concurrentRuns(b, window, func() (client.Client, func()) {
				dir := b.TempDir()
				p := startDevProcess(b, dir, "--no-worker")
				bin := passflowBinary(b)
				var workers []*exec.Cmd
				for range n {
					workers = append(workers, startWorker(b, bin, p.address, dir))
				}
				return p.client, func() {
					for _, w := range workers {
						_ = w.Process.Signal(os.Interrupt)
						_ = w.Wait()
					}
					p.stop()
				}
			})
		})
	}
}
