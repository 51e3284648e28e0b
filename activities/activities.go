package activities

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/models/bo"
	"github.com/passflow/passflow/models/judge"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

func summarize(xs []float64) contract.Summary {
	var clean []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			clean = append(clean, x)
		}
	}
	if len(clean) == 0 {
		return contract.Summary{}
	}
	sum := 0.0
	for _, x := range clean {
		sum += x
	}
	mean := sum / float64(len(clean))
	ss := 0.0
	for _, x := range clean {
		ss += (x - mean) * (x - mean)
	}
	sd := 0.0
	if len(clean) > 1 {
		sd = math.Sqrt(ss / float64(len(clean)-1))
	}
	return contract.Summary{N: len(clean), Mean: mean, SD: sd, P50: models.Quantile(0.5, clean), P95: models.Quantile(0.95, clean)}
}

func summarizeAll(samples map[string][]float64) map[string]contract.Summary {
	out := make(map[string]contract.Summary, len(samples))
	for m, xs := range samples {
		out[m] = summarize(xs)
	}
	return out
}

// Activities holds the dependencies of every pass activity. Register it with
// Register so each method gets its stable name.
type Activities struct {
	Connector Connector
	// Schedules keeps targets' Temporal Schedules (SyncSchedule); nil
	// makes SyncSchedule fail for good.
	Schedules Schedules
	// Metrics, when set, counts what the activities do.
	Metrics *Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SeedSalt is mixed into every optimizer seed: the passes of two
	// simulated campaigns that share pass IDs are then independent runs.
	// Zero (production) leaves the seeds as the pass IDs give them.
	SeedSalt uint64
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Activities) connect(spec target.Spec) (TelemetrySource, Actuator, error) {
	tel, act, err := a.Connector.Connect(spec)
	if err != nil {
		return nil, nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("connect target %s: %v", spec.Name, err), contract.ErrTypeInvalidTarget, err)
	}
	return tel, act, nil
}

// wrap says what failed around err. A non-retryable ApplicationError inside
// err stays non-retryable, of the same type: Temporal reads only the
// outermost error of an activity. Any other error becomes a flat, retryable
// one with the same text.
func wrap(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.NonRetryable() {
		return temporal.NewNonRetryableApplicationError(msg+": "+ae.Message(), ae.Type(), nil)
	}
	// Flat: Temporal would otherwise carry each wrapped error as a cause of
	// its own, and a pass's reason would repeat the message once per layer.
	return errors.New(msg + ": " + err.Error())
}

// errorRatio is the error ratio the target's error budget burns over the
// window ending at to: bad over total events (request-weighted) when the
// budget names counting queries, else the mean of its error-ratio metric's
// samples; NaN when there is no data.
func errorRatio(ctx context.Context, tel TelemetrySource, spec target.Spec, window time.Duration, to time.Time) (float64, error) {
	eb := spec.ErrorBudget
	if eb.Metric != "" {
		xs, err := tel.Samples(ctx, Query{Metric: eb.Metric, Cohort: CohortBaseline, From: to.Add(-window), To: to})
		if err != nil {
			return 0, wrap(err, "analyze %s: error budget: read %s over %s", spec.Name, eb.Metric, window)
		}
		if s := summarize(xs); s.N > 0 {
			return s.Mean, nil
		}
		return math.NaN(), nil
	}
	ec, ok := tel.(EventCounter)
	if !ok {
		return 0, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"analyze %s: error budget: bad and total need telemetry that counts events (Prometheus)", spec.Name), contract.ErrTypeInvalidTarget, nil)
	}
	bad, okBad, err := ec.Count(ctx, "error_budget.bad", eb.Bad, window, to)
	if err != nil {
		return 0, wrap(err, "analyze %s: error budget: count bad events over %s", spec.Name, window)
	}
	total, okTotal, err := ec.Count(ctx, "error_budget.total", eb.Total, window, to)
	if err != nil {
		return 0, wrap(err, "analyze %s: error budget: count events over %s", spec.Name, window)
	}
	if !okBad || !okTotal || total <= 0 {
		return math.NaN(), nil
	}
	return bad / total, nil
}

// read returns each metric's samples of a cohort over [from, to).
func (a *Activities) read(ctx context.Context, tel TelemetrySource, metrics []string, cohort string, from, to time.Time) (map[string][]float64, error) {
	out := make(map[string][]float64, len(metrics))
	for _, m := range metrics {
		xs, err := tel.Samples(ctx, Query{Metric: m, Cohort: cohort, From: from, To: to})
		if err != nil {
			return nil, fmt.Errorf("read %s of cohort %s over [%s, %s): %w",
				m, cohort, from.Format(time.RFC3339), to.Format(time.RFC3339), err)
		}
		out[m] = xs
	}
	return out, nil
}

// Lookback is how far back Analyze reads the baseline: one verification
// window, and at least a minute.
func Lookback(spec target.Spec) time.Duration { return max(spec.VerifyFor(), time.Minute) }

// The error budget's burn-rate windows (the multiwindow rule of the Google
// SRE workbook: both must burn too fast to call it burning).
const (
	ShortBurnWindow = time.Hour
	LongBurnWindow  = 6 * time.Hour
)

// Analyze reads the baseline configuration and SLIs. It asks to skip the pass
// when any metric the pass needs has no data, or when the error budget is
// spent or burns faster than max_burn_rate over both the 1h and the 6h
// window. It also sizes the stages' wait from the baseline's noise.
func (a *Activities) Analyze(ctx context.Context, in contract.AnalyzeInput) (contract.AnalyzeResult, error) {
	spec := in.Target
	tel, act, err := a.connect(spec)
	if err != nil {
		return contract.AnalyzeResult{}, err
	}
	base, err := act.Baseline(ctx)
	if err != nil {
		return contract.AnalyzeResult{}, wrap(err, "analyze %s: read baseline configuration", spec.Name)
	}
	to := a.now()
	from := to.Add(-Lookback(spec))
	metrics := spec.Metrics()
	samples, err := a.read(ctx, tel, metrics, CohortBaseline, from, to)
	if err != nil {
		return contract.AnalyzeResult{}, wrap(err, "analyze %s", spec.Name)
	}
	res := contract.AnalyzeResult{Baseline: base, From: from, To: to, SLIs: summarizeAll(samples),
		VerifyFor: spec.VerifyFor(), EnoughSamples: true}
	var missing []string
	for _, m := range metrics {
		if res.SLIs[m].N == 0 {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		res.Skip, res.Reason = true, fmt.Sprintf("no telemetry for %v over the last %s", missing, to.Sub(from))
		return res, nil
	}
	if eb := spec.ErrorBudget; eb != nil {
		ratio := func(window time.Duration) (float64, error) {
			return errorRatio(ctx, tel, spec, window, to)
		}
		short, err := ratio(ShortBurnWindow)
		if err != nil {
			return contract.AnalyzeResult{}, err
		}
		long, err := ratio(LongBurnWindow)
		if err != nil {
			return contract.AnalyzeResult{}, err
		}
		whole, err := ratio(time.Duration(eb.Window))
		if err != nil {
			return contract.AnalyzeResult{}, err
		}
		an := models.Analyze(models.AnalyzeInput{
			SLO: eb.SLO, MaxBurnRate: eb.MaxBurnRate,
			ShortErrorRatio: short, LongErrorRatio: long, WindowErrorRatio: whole,
			Requests: math.NaN(), Errors: math.NaN(), Cost: math.NaN(),
		})
		an.SLIs = models.SLIs{} // the per-metric SLIs are in res.SLIs
		res.Budget = &an
		if an.Skip {
			res.Skip, res.Reason = true, "error budget: "+an.Reason
			return res, nil
		}
	}
	if res.Breaking, res.BreakingWhy, err = a.breaking(ctx, tel, spec, in.BaselineSince, to); err != nil {
		return contract.AnalyzeResult{}, wrap(err, "analyze %s", spec.Name)
	}
	// Size the wait: the samples the judge needs given the baseline's noise,
	// at the rate the telemetry delivers them.
	res.SamplesNeeded = spec.Judge().SamplesNeeded(samples)
	if n := res.SLIs[spec.Objective.Metric].N; n > 1 && res.SamplesNeeded > 0 {
		scrape := to.Sub(from) / time.Duration(n)
		res.VerifyFor, res.EnoughSamples = judge.WaitFor(res.SamplesNeeded, scrape, spec.VerifyFor(), spec.MaxVerifyFor())
	}
	return res, nil
}

// BreachLookback is how far back Analyze looks for a guardrail the
// baseline breaks: a day, so that the daily peak is in it whatever the hour
// of the pass (a window read just before a pass at 13:00 misses a 14:00
// peak).
const BreachLookback = 24 * time.Hour

// BreachWindow is the shortest window breaking judges the day in: an hour,
// or the target's Lookback when longer; 24 reads per guardrail at most, and
// a confidence shared among no more windows.
const BreachWindow = time.Hour

// breaking judges each of the baseline's windows of the last
// BreachLookback (BreachWindow or Lookback each, ending at to) against the guardrails
// (judge.SLOs), at the judge's confidence shared among the windows
// (Bonferroni): a guardrail shown over its limit in any window makes the
// pass a repair (a regression, a drift, a load the tuned configuration has
// no headroom for). Only the windows since the baseline's configuration
// took it over count (since; zero looks back the whole day), the earliest
// cut at since: a promotion a few hours ago leaves the day's earlier
// hours to the configuration it replaced, whose breaches are no reason to
// repair its successor. It returns the guardrails, and one line of
// evidence each, from its worst window.
func (a *Activities) breaking(ctx context.Context, tel TelemetrySource, spec target.Spec, since, to time.Time) (names, why []string, err error) {
	if len(spec.Constraints) == 0 {
		return nil, nil, nil
	}
	var metrics []string
	for _, c := range spec.Constraints {
		if !slices.Contains(metrics, c.Metric) {
			metrics = append(metrics, c.Metric)
		}
	}
	w := max(Lookback(spec), BreachWindow)
	windows := breachWindows(w, since, to)
	confidence := 1 - (1-spec.Judge().Confidence)/float64(max(len(windows), 1))
	worst := map[string]judge.SLOVerdict{}
	when := map[string]window{}
	for _, win := range windows {
		samples, err := a.read(ctx, tel, metrics, CohortBaseline, win.from, win.to)
		if err != nil {
			return nil, nil, wrap(err, "look for broken guardrails")
		}
		for _, v := range judge.SLOs(spec.Constraints, samples, confidence) {
			if v.Class != judge.SLOBroken {
				continue
			}
			if prev, ok := worst[v.Metric]; !ok || math.Abs(v.Mean-v.Line) > math.Abs(prev.Mean-prev.Line) {
				worst[v.Metric], when[v.Metric] = v, win
			}
		}
	}
	for _, c := range spec.Constraints {
		v, ok := worst[c.Metric]
		if !ok || slices.Contains(names, c.Metric) {
			continue
		}
		names = append(names, c.Metric)
		why = append(why, fmt.Sprintf("guardrail %s over %s–%s: %s", c.Metric,
			when[c.Metric].from.UTC().Format("15:04"), when[c.Metric].to.UTC().Format("15:04"), v.Why))
	}
	return names, why, nil
}

// window is a time window [from, to).
type window struct{ from, to time.Time }

// breachWindows returns the windows breaking reads, newest first: w long,
// back from to over BreachLookback (at least one), none reaching before
// since, the earliest cut at it (a zero since cuts nothing).
func breachWindows(w time.Duration, since, to time.Time) []window {
	var out []window
	for k := range max(int(BreachLookback/w), 1) {
		win := window{from: to.Add(-time.Duration(k+1) * w), to: to.Add(-time.Duration(k) * w)}
		if !win.to.After(since) {
			break
		}
		if win.from.Before(since) {
			win.from = since
		}
		out = append(out, win)
	}
	return out
}

// Propose warm-starts the optimizer with the target's history and asks it for
// one candidate inside the trust region around the incumbent.
func (a *Activities) Propose(ctx context.Context, in contract.ProposeInput) (contract.ProposeResult, error) {
	spec := in.Target
	hist := in.History
	if err := spec.Params.CheckConfig(in.Incumbent); err != nil {
		return contract.ProposeResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("propose for %s: the running configuration does not fit the target's params: %v", spec.Name, err),
			contract.ErrTypeInvalidTarget, err)
	}
	region := &models.TrustRegion{Incumbent: in.Incumbent, MaxStep: spec.Risk.MaxStep, Delta: spec.Risk.Delta}
	res := Resolution(spec, in.IncumbentSLIs)
	opt, name, err := newOptimizer(res.Tighten(spec.Problem()), in.Seed^a.SeedSalt, region, res.MinGain, in.Breaking)
	if err != nil {
		return contract.ProposeResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("propose for %s: %v", spec.Name, err), contract.ErrTypeInvalidTarget, err)
	}
	// Values that older passes made up for a broken guardrail are dropped
	// (the guardrail is labeled violated instead); observations of
	// configurations that no longer fit the space (a knob's range changed)
	// are left out rather than failing the pass.
	hist, repaired := models.RepairLegacy(hist, spec.Constraints)
	if repaired > 0 {
		activity.GetLogger(ctx).Warn("history holds values made up by an older passflow; dropped, their guardrails labeled violated",
			"target", spec.Name, "values", repaired)
	}
	var usable []models.Observation
	for _, o := range hist {
		if spec.Params.CheckConfig(o.Config) == nil {
			usable = append(usable, o)
		}
	}
	if inc, ok := incumbentObservation(spec, in); ok {
		usable = append(usable, inc)
	}
	if err := opt.Tell(usable...); err != nil {
		return contract.ProposeResult{}, wrap(err, "propose for %s: tell history", spec.Name)
	}
	out := contract.ProposeResult{Optimizer: name, History: len(usable), Resolution: &res}
	sugs, err := opt.Ask(1)
	if errors.Is(err, models.ErrNoSafeCandidate) || errors.Is(err, models.ErrNoGain) {
		out.NoSafe, out.Reason = true, err.Error()
		return out, nil
	}
	if err != nil {
		return contract.ProposeResult{}, wrap(err, "propose for %s", spec.Name)
	}
	if len(sugs) == 0 {
		out.NoSafe, out.Reason = true, "the optimizer has no new configuration to try"
		return out, nil
	}
	out.Suggestion = sugs[0]
	out.Step, out.CategoricalChanges, err = spec.Params.StepWithin(in.Incumbent, sugs[0].Config, spec.Risk.MaxStep)
	if err != nil {
		return contract.ProposeResult{}, wrap(err, "propose for %s", spec.Name)
	}
	activity.GetLogger(ctx).Info("proposed", "target", spec.Name, "candidate", sugs[0].Config.String(), "why", sugs[0].Why)
	return out, nil
}

// incumbentObservation is the incumbent as Analyze measured it, when every
// metric the optimizer models has data.
func incumbentObservation(spec target.Spec, in contract.ProposeInput) (models.Observation, bool) {
	o, measured := contract.Measured(spec, in.Incumbent, in.IncumbentSLIs)
	if !measured || slices.ContainsFunc(spec.Constraints, func(c models.Constraint) bool { _, ok := o.Constraints[c.Metric]; return !ok }) {
		return models.Observation{}, false
	}
	o.Source, o.Violated = in.PassID+"/incumbent", slices.Clone(in.Breaking)
	return o, true
}

// newOptimizer returns the optimizer the propose step uses, and its name:
// the Gaussian-process optimizer in safe mode.
func newOptimizer(p models.Problem, seed uint64, region *models.TrustRegion, minGain float64, repair []string) (models.Optimizer, string, error) {
	gp, err := bo.New(p, bo.Options{Seed: seed, Region: region, MinGain: minGain, Repair: repair})
	return gp, "gaussian-process", err
}

// Resolution is what the target's canary can decide, from the noise of the
// incumbent's SLIs over the window read before the pass (a stage's length):
// the optimizer aims inside guardrail lines the first stage can decide, and
// proposes only gains the deciding stage can show.
func Resolution(spec target.Spec, slis map[string]contract.Summary) models.Resolution {
	se := make(map[string]float64, len(slis))
	for m, s := range slis {
		se[m] = s.SE()
	}
	first, deciding := 1.0, 0.0
	if len(spec.Canary.Stages) > 0 {
		first = spec.Canary.Stages[0] / 100
	}
	if k := spec.DecidingStage(); k > 0 {
		deciding = spec.Canary.Stages[k-1] / 100
	}
	// The deciding stage may wait up to max_verify_for for a gain to show.
	extend := 1.0
	if v := spec.VerifyFor(); v > 0 && spec.MaxVerifyFor() > v {
		extend = float64(spec.MaxVerifyFor()) / float64(v)
	}
	return models.Resolve(spec.Problem(), se, slis[spec.Objective.Metric].Mean, first, deciding, extend)
}

// ApplyStage routes the stage's share of the traffic to the candidate.
func (a *Activities) ApplyStage(ctx context.Context, in contract.ChangeInput) (contract.ChangeResult, error) {
	return a.change(ctx, in, webhook.ActionApply)
}

// RevertStage undoes a stage: the canary goes back to in.Percent of the
// traffic running in.Config (what the stage replaced; 0 removes the
// canary).
func (a *Activities) RevertStage(ctx context.Context, in contract.ChangeInput) (contract.ChangeResult, error) {
	res, err := a.change(ctx, in, webhook.ActionRevert)
	if err == nil && a.Metrics != nil {
		a.Metrics.Reverts.Inc()
	}
	return res, err
}

// Promote makes the candidate the service's baseline.
func (a *Activities) Promote(ctx context.Context, in contract.ChangeInput) (contract.ChangeResult, error) {
	return a.change(ctx, in, webhook.ActionPromote)
}

// change asks the target's actuator for in as action.
func (a *Activities) change(ctx context.Context, in contract.ChangeInput, action string) (contract.ChangeResult, error) {
	_, act, err := a.connect(in.Target)
	if err != nil {
		return contract.ChangeResult{}, err
	}
	replaced, err := act.Change(ctx, Change{Key: in.Key, PassID: in.PassID, Stage: in.Stage, Action: action,
		Percent: in.Percent, Config: in.Config})
	if err != nil {
		if action == webhook.ActionPromote {
			return contract.ChangeResult{}, wrap(err, "promote on %s", in.Target.Name)
		}
		return contract.ChangeResult{}, wrap(err, "%s stage %d (%g%%) of %s", action, in.Stage, in.Percent, in.Target.Name)
	}
	if a.Metrics != nil && action == webhook.ActionApply {
		a.Metrics.Applies.Inc()
	}
	return contract.ChangeResult{At: a.now(), Replaced: replaced.Config, ReplacedPercent: replaced.Percent}, nil
}

// Check is the look during a verification wait: the sequential test of the
// critical relative rules (the objective's default among them) and of the
// guardrails' limits on the stage's data so far (judge.CheckSequential).
// It fails the stage on a breach.
func (a *Activities) Check(ctx context.Context, in contract.WindowInput) (contract.Judgement, error) {
	tel, _, err := a.connect(in.Target)
	if err != nil {
		return contract.Judgement{}, err
	}
	cfg := checkRules(in)
	metrics := in.Target.Metrics()
	from := in.From
	if in.Bake && in.To.Sub(from) > contract.BakeHour {
		from = in.To.Add(-contract.BakeHour)
	}
	canary, err := a.read(ctx, tel, metrics, CohortCanary, from, in.To)
	if err != nil {
		return contract.Judgement{}, wrap(err, "check stage %d of %s", in.Stage, in.Target.Name)
	}
	baseline, err := a.read(ctx, tel, metrics, CohortBaseline, from, in.To)
	if err != nil {
		return contract.Judgement{}, wrap(err, "check stage %d of %s", in.Stage, in.Target.Name)
	}
	seq, err := judge.CheckSequential(cfg, in.Target.Constraints, baseline, canary)
	if err != nil {
		return contract.Judgement{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("check stage %d of %s: %v", in.Stage, in.Target.Name, err), contract.ErrTypeInvalidTarget, err)
	}
	j := contract.Judgement{Verdict: contract.VerdictPass, Canary: summarizeAll(canary), Baseline: summarizeAll(baseline),
		BaselineWindow: "same", Sequential: &seq}
	if seq.Breach {
		j.Verdict, j.Reasons = contract.VerdictFail, seq.Reasons
		for _, e := range seq.Evidence {
			if !e.Breach {
				continue
			}
			switch {
			case e.Test == "slo":
				j.Violate(e.Metric)
			case e.Metric == in.Target.Objective.Metric:
				j.Fail(e.Metric)
				j.ObjectiveWorse = true
			default:
				j.Fail(e.Metric)
			}
		}
	}
	return j, nil
}

// checkRules are the relative rules a look tests besides the guardrails'
// limits: the target's (target.Spec.Judge); in a repair or a bake only the
// opted-in ones (target.Spec.RepairJudge); none at 100%, where no baseline
// runs beside the canary.
func checkRules(in contract.WindowInput) judge.Config {
	switch {
	case in.Percent >= 100:
		return judge.Config{}
	case in.Repair || in.Bake:
		cfg, _ := in.Target.RepairJudge()
		return cfg
	}
	return in.Target.Judge()
}

// Verify judges a stage at the end of its wait. The guardrails are judged
// against their limits (judge.SLOs): a guardrail broken with
// confidence, or without data, fails the stage; one the window cannot decide
// yet makes it marginal and is listed in Undecided, so the pass may wait
// longer. The relative rules (judge.Judge: rank test and Hodges–Lehmann
// interval per metric, weighted score, never a pass on missing data) are the
// objective's default rule and the rules the target opted into. When the
// baseline cohort has no traffic (the 100% stage) the pre-pass reference
// window stands in for it, and only the opted-in rules apply there (see
// target.Spec.JudgeAgainstReference).
func (a *Activities) Verify(ctx context.Context, in contract.WindowInput) (contract.Judgement, error) {
	tel, _, err := a.connect(in.Target)
	if err != nil {
		return contract.Judgement{}, err
	}
	spec := in.Target
	if in.Bake {
		return a.verifyBake(ctx, tel, in)
	}
	metrics := spec.Metrics()
	canary, err := a.read(ctx, tel, metrics, CohortCanary, in.From, in.To)
	if err != nil {
		return contract.Judgement{}, wrap(err, "verify stage %d of %s", in.Stage, spec.Name)
	}
	baseline, err := a.read(ctx, tel, metrics, CohortBaseline, in.From, in.To)
	if err != nil {
		return contract.Judgement{}, wrap(err, "verify stage %d of %s", in.Stage, spec.Name)
	}
	window, cfg, relative := "same", spec.Judge(), true
	if in.Repair {
		cfg, relative = spec.RepairJudge()
	}
	// At 100% no traffic is left on the baseline: a few samples of it (a
	// change that landed late) are no baseline to judge against.
	if (in.Percent >= 100 || noData(baseline)) && !in.ReferenceFrom.IsZero() {
		if baseline, err = a.read(ctx, tel, metrics, CohortBaseline, in.ReferenceFrom, in.ReferenceTo); err != nil {
			return contract.Judgement{}, wrap(err, "verify stage %d of %s", in.Stage, spec.Name)
		}
		window = "reference"
		cfg, relative = spec.JudgeAgainstReference()
	}
	j := contract.Judgement{Verdict: contract.VerdictPass, Canary: summarizeAll(canary), Baseline: summarizeAll(baseline),
		BaselineWindow: window}
	if relative {
		v, err := judge.Judge(cfg, baseline, canary)
		if err != nil {
			return contract.Judgement{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("verify stage %d of %s: %v", in.Stage, spec.Name, err), contract.ErrTypeInvalidTarget, err)
		}
		j.Verdict, j.Reasons, j.Judge = v.Verdict, v.Reasons, &v
		for _, m := range v.Metrics {
			if m.Class == judge.ClassPass {
				continue
			}
			j.Fail(m.Metric)
			if m.Metric == spec.Objective.Metric && (m.Class == judge.ClassHigh || m.Class == judge.ClassLow) {
				j.ObjectiveWorse = true
			}
		}
	}
	if in.Repair && window == "same" && in.Stage == spec.DecidingStage() {
		// A repair is promoted only while the baseline beside it is still
		// shown to break a guardrail: the candidate may cost objective, and
		// a second window, apart from Analyze's, keeps a chance excursion
		// of a baseline at its limit from buying it.
		j.BaselineSLOs = judge.SLOs(spec.Constraints, baseline, cfg.WithDefaults().Confidence)
		if !slices.ContainsFunc(j.BaselineSLOs, func(v judge.SLOVerdict) bool { return v.Class == judge.SLOBroken }) {
			j.Verdict = contract.VerdictMarginal
			j.Reasons = append(j.Reasons, "no repair: the baseline beside the canary was not shown to break a guardrail")
		}
	}
	if !in.Repair && relative && window == "same" && in.Stage == spec.DecidingStage() && !j.ObjectiveWorse && j.Verdict == contract.VerdictPass {
		shown, leaning, why, err := gainShown(spec, baseline, canary)
		if err != nil {
			return contract.Judgement{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("verify stage %d of %s: %v", in.Stage, spec.Name, err), contract.ErrTypeInvalidTarget, err)
		}
		if !shown {
			j.Verdict = contract.VerdictMarginal
			j.Reasons = append(j.Reasons, "the deciding stage did not show a gain: "+why)
			if leaning {
				// Better by the estimate, not yet shown: more samples may tell.
				j.Undecided = append(j.Undecided, spec.Objective.Metric)
			}
		}
	}
	j.SLOs = judge.SLOs(spec.Constraints, canary, cfg.WithDefaults().Confidence)
	for _, g := range j.SLOs {
		switch g.Class {
		case judge.SLOBroken, judge.SLONoData:
			j.Verdict = contract.VerdictFail
			j.Reasons = append(j.Reasons, fmt.Sprintf("guardrail %s: %s", g.Metric, g.Why))
			if g.Class == judge.SLOBroken {
				j.Violate(g.Metric)
			} else {
				j.Fail(g.Metric) // no data: failed, not shown broken
			}
		case judge.SLOUndecided:
			if j.Verdict == contract.VerdictPass {
				j.Verdict = contract.VerdictMarginal
			}
			j.Undecided = append(j.Undecided, g.Metric)
			j.Reasons = append(j.Reasons, fmt.Sprintf("guardrail %s undecided: %s", g.Metric, g.Why))
		}
	}
	if a.Metrics != nil {
		a.Metrics.Verdicts.WithLabelValues(j.Verdict).Inc()
	}
	return j, nil
}

// verifyBake judges a bake (contract.WindowInput.Bake): its window read an
// hour at a time on both cohorts and judged by judge.Bake. A guardrail over
// its limit in any hour fails it. Outside a repair, so does an objective
// shown worse over the bake, and one not shown better makes it marginal: a
// candidate that gains in the stage's hour and loses the rest of the day is
// not promoted. A repair asks only the guardrails.
func (a *Activities) verifyBake(ctx context.Context, tel TelemetrySource, in contract.WindowInput) (contract.Judgement, error) {
	spec := in.Target
	metrics := spec.Metrics()
	// Whole hours from the start; a last piece shorter than half an hour
	// joins the hour before it.
	d := in.To.Sub(in.From)
	n := max(int(d/contract.BakeHour), 1)
	if d-time.Duration(n)*contract.BakeHour >= contract.BakeHour/2 {
		n++
	}
	hours := make([]judge.BakeHour, 0, n)
	for k := range n {
		from := in.From.Add(time.Duration(k) * contract.BakeHour)
		to := from.Add(contract.BakeHour)
		if k == n-1 {
			to = in.To
		}
		h := judge.BakeHour{From: from}
		var err error
		if h.Canary, err = a.read(ctx, tel, metrics, CohortCanary, from, to); err != nil {
			return contract.Judgement{}, wrap(err, "verify the bake of stage %d of %s", in.Stage, spec.Name)
		}
		if h.Baseline, err = a.read(ctx, tel, metrics, CohortBaseline, from, to); err != nil {
			return contract.Judgement{}, wrap(err, "verify the bake of stage %d of %s", in.Stage, spec.Name)
		}
		hours = append(hours, h)
	}
	v := judge.Bake(judge.BakeInput{
		Objective: spec.Objective.Metric, Goal: spec.Objective.Goal, Constraints: spec.Constraints, Hours: hours,
		GainConfidence: GainConfidence, SLOConfidence: spec.Judge().WithDefaults().Confidence,
	})
	j := contract.Judgement{Verdict: contract.VerdictPass, Canary: map[string]contract.Summary{},
		Baseline: map[string]contract.Summary{}, BaselineWindow: "same", Bake: &v}
	for _, m := range metrics {
		var c, b []float64
		for _, h := range hours {
			c, b = append(c, h.Canary[m]...), append(b, h.Baseline[m]...)
		}
		j.Canary[m], j.Baseline[m] = summarize(c), summarize(b)
	}
	for _, br := range v.Broken {
		j.Verdict = contract.VerdictFail
		j.Violate(br.SLO.Metric)
	}
	if !in.Repair {
		switch v.Class {
		case judge.BakeWorse:
			j.Verdict, j.ObjectiveWorse = contract.VerdictFail, true
			j.Fail(spec.Objective.Metric)
		case judge.BakeUnshown, judge.BakeNoData:
			if j.Verdict == contract.VerdictPass {
				j.Verdict = contract.VerdictMarginal
			}
		}
	}
	if j.Verdict != contract.VerdictPass || len(v.Broken) > 0 {
		j.Reasons = append(j.Reasons, "bake: "+v.Why)
	}
	if a.Metrics != nil {
		a.Metrics.Verdicts.WithLabelValues(j.Verdict).Inc()
	}
	return j, nil
}

// GainConfidence is the one-sided confidence at which the deciding stage
// (target.Spec.DecidingStage) must show the objective better than the
// baseline for the candidate to be promoted: a change that gains nothing
// shown is a risk taken for nothing, and promoting what merely was not
// shown worse lets noise walk the service to worse configurations.
const GainConfidence = 0.95

// gainShown reports whether the canary's objective is better than the
// baseline's at GainConfidence, one-sided: the judge's interval (at the
// matching two-sided level) lies wholly on the good side of zero. leaning
// is set when it is not shown but the estimate is on the good side.
func gainShown(spec target.Spec, baseline, canary map[string][]float64) (shown, leaning bool, why string, err error) {
	good, gained, sign := judge.Decrease, judge.ClassLow, -1.0 // lower is better: a canary shown lower gains
	if spec.Objective.Goal == models.Maximize {
		good, gained, sign = judge.Increase, judge.ClassHigh, 1
	}
	v, err := judge.Judge(judge.Config{
		Rules:      []judge.Rule{{Metric: spec.Objective.Metric, Direction: good}},
		Confidence: 1 - 2*(1-GainConfidence),
	}, baseline, canary)
	if err != nil {
		return false, false, "", err
	}
	m := v.Metrics[0]
	shown = m.Class == gained
	leaning = !shown && m.Class != judge.ClassNoData && sign*m.Shift > 0
	// The rule watches the gain's direction, so its own words call a loss
	// "the good direction": the reason says it as a gain.
	ci := fmt.Sprintf("%+.1f%% [%+.1f%%, %+.1f%%] at %g%% two-sided, p=%.3g",
		100*m.RelShift, 100*m.RelCILow, 100*m.RelCIHigh, 100*(1-2*(1-GainConfidence)), m.PValue)
	switch {
	case m.Class == judge.ClassNoData:
		why = m.Why
	case shown:
		why = "a gain shown: canary " + ci
	case leaning:
		why = "the estimate gains, not shown yet: canary " + ci
	default:
		why = "no gain: canary " + ci
	}
	return shown, leaning, fmt.Sprintf("%s at %.0f%% one-sided: %s", spec.Objective.Metric, 100*GainConfidence, why), nil
}

func noData(m map[string][]float64) bool {
	for _, xs := range m {
		if summarize(xs).N > 0 {
			return false
		}
	}
	return true
}

// Record reports a pass's end: it logs the audit event and counts the
// outcome. The observation and the audit of record go back to the target's
// tuner in the pass's result; Record keeps nothing, so a retry is harmless.
func (a *Activities) Record(ctx context.Context, in contract.RecordInput) error {
	if in.Event.Time.IsZero() {
		in.Event.Time = a.now()
	}
	activity.GetLogger(ctx).Info("pass ended", "pass", in.Event.PassID, "target", in.Event.Target,
		"trigger", in.Event.Trigger, "outcome", in.Event.Outcome, "reason", in.Event.Reason,
		"candidate", in.Event.Candidate.String(), "measured", in.Observation != nil)
	if a.Metrics != nil {
		a.Metrics.Passes.WithLabelValues(in.Event.Target, in.Event.Outcome).Inc()
		a.Metrics.LastOutcome.WithLabelValues(in.Event.Target).Set(float64(in.Event.Time.Unix()))
	}
	return nil
}
