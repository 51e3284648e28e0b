package activities_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/target"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is Activities on a simulated service with a fake clock.
type env struct {
	acts  *activities.Activities
	clock *clock
	spec  target.Spec
}

func newEnv(t *testing.T, extra string) *env {
	t.Helper()
	y := `
name: svc
params:
  - {name: worker_threads, type: int, min: 4, max: 256, log: true, current: 32}
  - {name: cache_ttl_s, type: float, min: 1, max: 3600, log: true, current: 60}
objective: {metric: cost_per_request, goal: minimize}
constraints: [{metric: latency_p95_ms, max: 250}, {metric: error_rate, max: 0.01}]
actuator: {simulator: {}}
canary: {stages: [5, 25, 100], verify_for: 10m, check_every: 1m}
` + extra
	spec, err := target.Parse("svc.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	sims := simulations.NewConnector(simulations.Options{Now: c.Now}, nil)
	return &env{acts: &activities.Activities{Connector: sims, Now: c.Now}, clock: c, spec: spec}
}

func TestAnalyzeErrorBudget(t *testing.T) {
	tests := []struct {
		name, budget string
		skip         bool
		reason       string
	}{
		// The simulated baseline fails about 1.7e-4 of its requests.
		{"budget healthy", "error_budget: {slo: 0.999, window: 30d, max_burn_rate: 1, metric: error_rate}", false, ""},
		{"budget burning", "error_budget: {slo: 0.9999, window: 30d, max_burn_rate: 1, metric: error_rate}", true, "error budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "telemetry: {simulator: {model: web, seed: 1, noise: 0.05, scrape: 15s}}\n"+tt.budget)
			res, err := e.acts.Analyze(context.Background(), contract.AnalyzeInput{PassID: "p", Target: e.spec})
			if err != nil {
				t.Fatal(err)
			}
			if res.Skip != tt.skip || !strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("skip %v (%q), want %v (%q)", res.Skip, res.Reason, tt.skip, tt.reason)
			}
			if res.Budget == nil || res.Budget.ShortBurnRate <= 0 || res.Budget.LongBurnRate <= 0 {
				t.Errorf("budget %+v: want both burn rates measured", res.Budget)
			}
			if !tt.skip && res.VerifyFor < e.spec.VerifyFor() {
				t.Errorf("wait %s shorter than verify_for %s", res.VerifyFor, e.spec.VerifyFor())
			}
		})
	}
}

// missing is telemetry with no data for one metric.
type missing struct {
	activities.TelemetrySource
	metric string
}

func (m missing) Samples(ctx context.Context, q activities.Query) ([]float64, error) {
	if q.Metric == m.metric {
		return nil, nil
	}
	return m.TelemetrySource.Samples(ctx, q)
}

func TestMissingDataSkipsAndNeverPasses(t *testing.T) {
	e := newEnv(t, "telemetry: {simulator: {model: web, seed: 1, scrape: 15s}}")
	sims := e.acts.Connector
	e.acts.Connector = activities.ConnectorFunc(func(s target.Spec) (activities.TelemetrySource, activities.Actuator, error) {
		tel, act, err := sims.Connect(s)
		return missing{tel, "error_rate"}, act, err
	})
	ctx := context.Background()
	res, err := e.acts.Analyze(ctx, contract.AnalyzeInput{PassID: "p", Target: e.spec})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Skip || !strings.Contains(res.Reason, "error_rate") {
		t.Fatalf("analyze without error_rate data: skip %v (%q), want a skip naming error_rate", res.Skip, res.Reason)
	}
	from := e.clock.Now()
	e.clock.Advance(10 * time.Minute)
	j, err := e.acts.Verify(ctx, contract.WindowInput{Target: e.spec, Stage: 1, Percent: 5, From: from, To: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if j.Verdict == contract.VerdictPass {
		t.Fatalf("verdict pass with no error_rate data: %+v", j.Reasons)
	}
}

func TestVerifyAndCheck(t *testing.T) {
	tests := []struct {
		name       string
		regression float64
		same       bool // canary runs the baseline configuration (A/A)
		verdict    string
		breach     bool
	}{
		{"A/A passes", 0, true, contract.VerdictPass, false},
		// Guardrails are SLOs: 30% more latency (about 115 ms) keeps the
		// 250 ms limit, and the objective is unchanged.
		{"30% latency regression under the limit passes", 0.3, true, contract.VerdictPass, false},
		// 3.5× the latency (about 310 ms) breaks it.
		{"latency past its limit fails", 2.5, true, contract.VerdictFail, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, fmt.Sprintf("telemetry: {simulator: {model: web, seed: 2, noise: 0.05, scrape: 15s, regression: %g}}", tt.regression))
			ctx := context.Background()
			an, err := e.acts.Analyze(ctx, contract.AnalyzeInput{PassID: "p", Target: e.spec})
			if err != nil || an.Skip {
				t.Fatalf("analyze: %v %+v", err, an)
			}
			ch := contract.ChangeInput{PassID: "p", Target: e.spec, Key: "p/stage-1", Stage: 1, Config: an.Baseline, Percent: 25}
			if _, err := e.acts.ApplyStage(ctx, ch); err != nil {
				t.Fatal(err)
			}
			from := e.clock.Now()
			w := contract.WindowInput{Target: e.spec, Stage: 1, Percent: 25, From: from,
				ReferenceFrom: an.From, ReferenceTo: an.To}
			breach := false
			for look := 1; look <= 10; look++ {
				e.clock.Advance(time.Minute)
				w.To = e.clock.Now()
				j, err := e.acts.Check(ctx, w)
				if err != nil {
					t.Fatal(err)
				}
				if j.Verdict == contract.VerdictFail {
					breach = true
					// The injected fault raises latency and error rate.
					if len(j.Failed) == 0 || slices.ContainsFunc(j.Failed, func(m string) bool {
						return m != "latency_p95_ms" && m != "error_rate"
					}) {
						t.Errorf("look %d failed on %v, want latency_p95_ms or error_rate", look, j.Failed)
					}
					break
				}
			}
			if breach != tt.breach {
				t.Errorf("sequential breach %v, want %v", breach, tt.breach)
			}
			j, err := e.acts.Verify(ctx, w)
			if err != nil {
				t.Fatal(err)
			}
			if j.Verdict != tt.verdict {
				t.Fatalf("verdict %s (%v), want %s", j.Verdict, j.Reasons, tt.verdict)
			}
			if j.Judge == nil || len(j.Judge.Metrics) != 1 || j.Judge.Metrics[0].Metric != "cost_per_request" {
				t.Errorf("judge evidence %+v: want the objective's default rule alone", j.Judge)
			}
			if len(j.SLOs) != 2 {
				t.Errorf("guardrail verdicts %+v: want one per guardrail", j.SLOs)
			}
			if tt.breach && !slices.Contains(j.Violated, "latency_p95_ms") {
				t.Errorf("violated %v: want latency_p95_ms shown broken", j.Violated)
			}
		})
	}
}

func TestReconcileRestoresEveryCohort(t *testing.T) {
	e := newEnv(t, "telemetry: {simulator: {model: web, seed: 1}}")
	ctx := context.Background()
	cand := models.Config{"worker_threads": models.Num(40), "cache_ttl_s": models.Num(60)}
	if _, err := e.acts.ApplyStage(ctx, contract.ChangeInput{PassID: "p", Target: e.spec, Key: "p/stage-1",
		Stage: 1, Config: cand, Percent: 25}); err != nil {
		t.Fatal(err)
	}
	in := contract.ReconcileInput{PassID: "p", Target: e.spec, Key: "p/reconcile", Config: e.spec.Params.Current()}
	for range 2 { // a retried restore changes nothing twice
		if _, err := e.acts.Reconcile(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	_, act, _ := e.acts.Connector.Connect(e.spec)
	svc := act.(*simulations.Service)
	st := svc.State(e.clock.Now())
	if st.Percent != 0 || !st.Baseline.Equal(e.spec.Params.Current()) {
		t.Errorf("after the restore: canary %g%%, baseline %s; want no canary and %s", st.Percent, st.Baseline, e.spec.Params.Current())
	}
	if n := len(svc.Applied()); n != 2 {
		t.Errorf("%d changes applied, want the stage and one restore", n)
	}
}

// schedules is an in-memory Schedules.
type schedules map[string]contract.ScheduleInput

func (s schedules) Put(_ context.Context, in contract.ScheduleInput) error {
	s[in.ID] = in
	return nil
}
func (s schedules) Delete(_ context.Context, id string) error { delete(s, id); return nil }

func TestSyncSchedule(t *testing.T) {
	ctx := context.Background()
	if err := (&activities.Activities{}).SyncSchedule(ctx, contract.ScheduleInput{ID: "schedule/x"}); err == nil {
		t.Fatal("a worker without a schedule client must refuse")
	}
	s := schedules{}
	a := &activities.Activities{Schedules: s}
	in := contract.ScheduleInput{ID: "schedule/x", Target: "x", Cron: "0 2 * * *"}
	for range 2 {
		if err := a.SyncSchedule(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if len(s) != 1 || s["schedule/x"].Cron != "0 2 * * *" {
		t.Fatalf("schedules %+v, want schedule/x at 0 2 * * *", s)
	}
	in.Delete = true
	for range 2 {
		if err := a.SyncSchedule(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if len(s) != 0 {
		t.Fatalf("schedules %+v after delete, want none", s)
	}
}

func TestApplyIsIdempotentPerKey(t *testing.T) {
	e := newEnv(t, "telemetry: {simulator: {model: web, seed: 1}}")
	ctx := context.Background()
	cfg := models.Config{"worker_threads": models.Num(40), "cache_ttl_s": models.Num(60)}
	ch := contract.ChangeInput{PassID: "p", Target: e.spec, Key: "p/stage-1", Stage: 1, Config: cfg, Percent: 5}
	for range 3 {
		if _, err := e.acts.ApplyStage(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	_, act, _ := e.acts.Connector.Connect(e.spec)
	if n := len(act.(*simulations.Service).Applied()); n != 1 {
		t.Fatalf("%d changes applied for one key, want 1", n)
	}
	bad := ch
	bad.Key, bad.Config = "p/stage-2", models.Config{"worker_threads": models.Num(1000), "cache_ttl_s": models.Num(60)}
	if _, err := e.acts.ApplyStage(ctx, bad); err == nil || !strings.Contains(err.Error(), "worker_threads") {
		t.Fatalf("out-of-range change: error %v, want one naming worker_threads", err)
	}
}

// TestRepair: a baseline over a guardrail's limit makes Analyze name it; a
// repair's stages judge the guardrails without the objective's rule, and
// its deciding stage passes only while the baseline beside the canary is
// shown to break a guardrail.
func TestRepair(t *testing.T) {
	// More threads and a longer TTL give the simulated service capacity:
	// its p95 falls from about 96 ms (the baseline) to about 66 ms.
	canary := models.Config{"worker_threads": models.Num(128), "cache_ttl_s": models.Num(600)}
	tests := []struct {
		name     string
		limit    float64 // latency_p95_ms
		breaking bool
		verdict  string
	}{
		{"a broken baseline is repaired", 80, true, contract.VerdictPass},
		{"a healthy baseline needs no repair", 250, false, contract.VerdictMarginal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "telemetry: {simulator: {model: web, seed: 3, noise: 0.05, scrape: 15s}}")
			e.spec.Constraints[0].Max = &tt.limit
			ctx := context.Background()
			an, err := e.acts.Analyze(ctx, contract.AnalyzeInput{PassID: "p", Target: e.spec})
			if err != nil || an.Skip {
				t.Fatalf("analyze: %v %+v", err, an)
			}
			if got := slices.Equal(an.Breaking, []string{"latency_p95_ms"}); got != tt.breaking || len(an.BreakingWhy) != len(an.Breaking) {
				t.Fatalf("breaking %v (%v), want latency_p95_ms named: %v", an.Breaking, an.BreakingWhy, tt.breaking)
			}
			ch := contract.ChangeInput{PassID: "p", Target: e.spec, Key: "p/stage-2", Stage: 2, Config: canary, Percent: 25}
			if _, err := e.acts.ApplyStage(ctx, ch); err != nil {
				t.Fatal(err)
			}
			from := e.clock.Now()
			e.clock.Advance(10 * time.Minute)
			w := contract.WindowInput{Target: e.spec, Stage: 2, Percent: 25, From: from, To: e.clock.Now(),
				ReferenceFrom: an.From, ReferenceTo: an.To, Repair: true}
			if j, err := e.acts.Check(ctx, w); err != nil || j.Verdict != contract.VerdictPass {
				t.Fatalf("look: %v %+v, want a pass", err, j.Reasons)
			}
			j, err := e.acts.Verify(ctx, w)
			if err != nil {
				t.Fatal(err)
			}
			if j.Verdict != tt.verdict {
				t.Fatalf("verdict %s (%v; canary %+v, baseline %+v), want %s", j.Verdict, j.Reasons, j.Canary, j.Baseline, tt.verdict)
			}
			if j.Judge != nil {
				t.Errorf("a repair without opted-in rules was judged on %+v", j.Judge.Metrics)
			}
			if len(j.BaselineSLOs) != 2 {
				t.Errorf("baseline guardrails %+v: want both judged at the deciding stage", j.BaselineSLOs)
			}
		})
	}
}

// peak is telemetry whose latency runs at 400 ms over the hour from
// peakFrom: a daily peak the window just before a pass misses.
type peak struct {
	activities.TelemetrySource
	peakFrom time.Time
}

func (p peak) Samples(ctx context.Context, q activities.Query) ([]float64, error) {
	xs, err := p.TelemetrySource.Samples(ctx, q)
	if err != nil || q.Metric != "latency_p95_ms" || q.From.Before(p.peakFrom) || !q.From.Before(p.peakFrom.Add(time.Hour)) {
		return xs, err
	}
	for i := range xs {
		xs[i] = 400 + float64(i%7)
	}
	return xs, nil
}

// TestAnalyzeFindsTheDaysPeak: a guardrail the baseline broke at a peak
// hours before the pass, not in the window just before it, makes the pass a
// repair, and the evidence names the peak's window; unless the baseline's
// configuration took it over after the peak (a promotion since): the peak
// was another configuration's. A takeover within the peak's hour leaves
// the rest of that hour to judge.
func TestAnalyzeFindsTheDaysPeak(t *testing.T) {
	e := newEnv(t, "telemetry: {simulator: {model: web, seed: 1, noise: 0.05, scrape: 15s}}")
	e.clock.Advance(24 * time.Hour) // a day of the service's history
	sims := e.acts.Connector
	peakFrom := e.clock.Now().Add(-5 * time.Hour)
	e.acts.Connector = activities.ConnectorFunc(func(s target.Spec) (activities.TelemetrySource, activities.Actuator, error) {
		tel, act, err := sims.Connect(s)
		return peak{tel, peakFrom}, act, err
	})
	hhmm := func(t time.Time) string { return t.UTC().Format("15:04") }
	for _, tt := range []struct {
		name   string
		since  time.Time
		window string // the evidence's window; "" for no repair
	}{
		// The day is judged an hour at a time (verify_for is shorter).
		{"no takeover known", time.Time{}, hhmm(peakFrom) + "–" + hhmm(peakFrom.Add(time.Hour))},
		{"taken over before the peak", peakFrom.Add(-2 * time.Hour), hhmm(peakFrom) + "–" + hhmm(peakFrom.Add(time.Hour))},
		{"taken over within the peak", peakFrom.Add(30 * time.Minute), hhmm(peakFrom.Add(30*time.Minute)) + "–" + hhmm(peakFrom.Add(time.Hour))},
		{"taken over after the peak", peakFrom.Add(time.Hour), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.acts.Analyze(context.Background(), contract.AnalyzeInput{PassID: "p", Target: e.spec, BaselineSince: tt.since})
			if err != nil {
				t.Fatal(err)
			}
			if res.SLIs["latency_p95_ms"].Mean > 250 {
				t.Fatalf("the window before the pass reads %v ms: the test wants it under the limit", res.SLIs["latency_p95_ms"].Mean)
			}
			if tt.window == "" {
				if len(res.Breaking) > 0 {
					t.Errorf("breaking %v (%v), want none: the peak was the previous configuration's", res.Breaking, res.BreakingWhy)
				}
				return
			}
			if !slices.Equal(res.Breaking, []string{"latency_p95_ms"}) || len(res.BreakingWhy) != 1 || !strings.Contains(res.BreakingWhy[0], tt.window) {
				t.Errorf("breaking %v (%v), want latency_p95_ms broken over %s", res.Breaking, res.BreakingWhy, tt.window)
			}
		})
	}
}

// TestRefusalsStayRefusals: an actuator's or a telemetry source's
// non-retryable error stays non-retryable, of its type, through the
// activity's own wording; Temporal reads only the outermost error.
func TestRefusalsStayRefusals(t *testing.T) {
	inner := temporal.NewNonRetryableApplicationError("bad query", "InvalidQuery", nil)
	err := activities.WrapForTest(activities.WrapForTest(inner, "read %s", "cost"), "analyze %s", "svc")
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || !ae.NonRetryable() || ae.Type() != "InvalidQuery" || ae.Message() != "analyze svc: read cost: bad query" {
		t.Fatalf("%v: want a non-retryable InvalidQuery saying where", err)
	}
	if plain := activities.WrapForTest(errors.New("timeout"), "read"); errors.As(plain, &ae) {
		t.Errorf("%v: a retryable error became an application error", plain)
	}
}

// counted is telemetry that also counts events: bad and total over any
// window, at the given ratio.
type counted struct {
	activities.TelemetrySource
	ratio   float64
	queries []string
}

func (c *counted) Count(_ context.Context, name, query string, window time.Duration, _ time.Time) (float64, bool, error) {
	c.queries = append(c.queries, fmt.Sprintf("%s %s", name, window))
	if name == "error_budget.bad" {
		return 1e6 * c.ratio * window.Hours(), true, nil
	}
	return 1e6 * window.Hours(), true, nil
}

// TestErrorBudgetFromCountedEvents: with bad and total queries, the burn is
// bad over total events per window, request-weighted, over the hour, six
// hours and the SLO's window; no metric is read for it.
func TestErrorBudgetFromCountedEvents(t *testing.T) {
	for _, tt := range []struct {
		ratio float64
		skip  bool
	}{{0.0005, false}, {0.002, true}} {
		e := newEnv(t, "telemetry: {simulator: {model: web, seed: 1, noise: 0.05, scrape: 15s}}")
		e.spec.ErrorBudget = &target.ErrorBudget{SLO: 0.999, Window: target.Duration(30 * 24 * time.Hour), MaxBurnRate: 1,
			Bad: "sum(increase(bad[{{.Window}}]))", Total: "sum(increase(all[{{.Window}}]))"}
		sims := e.acts.Connector
		c := &counted{ratio: tt.ratio}
		e.acts.Connector = activities.ConnectorFunc(func(s target.Spec) (activities.TelemetrySource, activities.Actuator, error) {
			tel, act, err := sims.Connect(s)
			c.TelemetrySource = tel
			return c, act, err
		})
		res, err := e.acts.Analyze(context.Background(), contract.AnalyzeInput{PassID: "p", Target: e.spec})
		if err != nil {
			t.Fatal(err)
		}
		want := tt.ratio / 0.001
		if res.Skip != tt.skip || res.Budget == nil || math.Abs(res.Budget.ShortBurnRate-want) > 1e-9 || math.Abs(res.Budget.LongBurnRate-want) > 1e-9 {
			t.Errorf("ratio %v: skip %v (%s), budget %+v; want burn %v", tt.ratio, res.Skip, res.Reason, res.Budget, want)
		}
		if !slices.Contains(c.queries, "error_budget.bad 1h0m0s") || !slices.Contains(c.queries, "error_budget.total 720h0m0s") {
			t.Errorf("counted %q: want the hour's and the SLO window's bad and total", c.queries)
		}
	}
}

// windows is telemetry that records the windows read of one metric and
// cohort.
type windows struct {
	activities.TelemetrySource
	mu   sync.Mutex
	read [][2]time.Time
}

func (w *windows) Samples(ctx context.Context, q activities.Query) ([]float64, error) {
	if q.Metric == "cost_per_request" && q.Cohort == activities.CohortCanary {
		w.mu.Lock()
		w.read = append(w.read, [2]time.Time{q.From, q.To})
		w.mu.Unlock()
	}
	return w.TelemetrySource.Samples(ctx, q)
}

// TestVerifyBakeReadsHours: a bake is read an hour at a time from its
// start, a last piece shorter than half an hour joining the hour before;
// its looks (Check) read the last hour only.
func TestVerifyBakeReadsHours(t *testing.T) {
	for _, tt := range []struct {
		bake       time.Duration
		hours      int
		lastLength time.Duration
	}{{18*time.Hour + 20*time.Minute, 18, 80 * time.Minute}, {18*time.Hour + 40*time.Minute, 19, 40 * time.Minute}} {
		e := newEnv(t, "telemetry: {simulator: {model: web, seed: 1, noise: 0.05, scrape: 15s}}")
		sims := e.acts.Connector
		w := &windows{}
		e.acts.Connector = activities.ConnectorFunc(func(s target.Spec) (activities.TelemetrySource, activities.Actuator, error) {
			tel, act, err := sims.Connect(s)
			w.TelemetrySource = tel
			return w, act, err
		})
		from := e.clock.Now()
		e.clock.Advance(tt.bake)
		in := contract.WindowInput{Target: e.spec, Stage: 2, Percent: 25, From: from, To: e.clock.Now(), Bake: true}
		j, err := e.acts.Verify(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if j.Bake == nil || len(w.read) != tt.hours {
			t.Fatalf("bake of %s: %d windows read (%v), judgement %+v; want %d", tt.bake, len(w.read), w.read, j.Bake, tt.hours)
		}
		for k, r := range w.read {
			want := time.Hour
			if k == tt.hours-1 {
				want = tt.lastLength
			}
			if r[0] != from.Add(time.Duration(k)*time.Hour) || r[1].Sub(r[0]) != want {
				t.Errorf("window %d: %v–%v, want %s from %v", k, r[0], r[1], want, from.Add(time.Duration(k)*time.Hour))
			}
		}
		w.read = nil
		if _, err := e.acts.Check(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if len(w.read) != 1 || w.read[0][1].Sub(w.read[0][0]) != time.Hour || w.read[0][1] != in.To {
			t.Errorf("a bake's look read %v: want the last hour", w.read)
		}
	}
}
