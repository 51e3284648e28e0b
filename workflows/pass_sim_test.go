package workflows_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workers"
	"github.com/passflow/passflow/workflows"
)

// simEnv is a time-skipping test environment running the real activities on
// a simulated service whose clock is the environment's.
func simEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	// A fixed start makes the simulated noise, a function of time, repeatable.
	env.SetStartTime(time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC))
	sims := simulations.NewConnector(simulations.Options{Now: env.Now}, nil)
	workers.RegisterWorkflows(env)
	workers.RegisterActivities(env, &activities.Activities{Connector: sims, Now: env.Now})
	return env
}

func simSpec(t *testing.T, regression float64) target.Spec {
	t.Helper()
	s, err := target.Parse("sim.yaml", []byte(fmt.Sprintf(`
name: sim
params:
  - {name: worker_threads, type: int, min: 4, max: 256, log: true, current: 32}
  - {name: cache_ttl_s, type: float, min: 1, max: 3600, log: true, current: 60}
objective: {metric: cost_per_request, goal: minimize}
constraints: [{metric: latency_p95_ms, max: 250}, {metric: error_rate, max: 0.01}]
telemetry: {simulator: {model: web, seed: 4, noise: 0.05, scrape: 15s, regression: %g}}
actuator: {simulator: {}}
canary: {stages: [5, 25, 100], verify_for: 30m, check_every: 1m}
risk: {approval_from: forbidden, max_step: 0.02}
`, regression)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSequentialEarlyAbortOnSimulator runs a whole pass with the real
// activities on a simulated service whose canary runs 5× the latency
// (about 440 ms against the 250 ms limit): the looks during the first
// 30-minute wait must abort the stage within a few minutes, long before the
// wait ends, and undo it. Time skips: the test takes a fraction of a second.
func TestSequentialEarlyAbortOnSimulator(t *testing.T) {
	env := simEnv(t)
	st, err := run(t, env, simSpec(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	s1 := st.Stages[0]
	if st.Outcome != workflows.OutcomeRolledBack || s1.Verdict != contract.VerdictFail {
		t.Fatalf("outcome %s, stage 1 %s (%v): want rolled back on stage 1", st.Outcome, s1.Verdict, s1.Reasons)
	}
	// The 5% canary is noisy (σ ≈ 0.22 a sample); BENCHMARKS.md measures how
	// many looks an abort takes. Here: within the first third of the wait.
	if s1.Checks > 10 || s1.Reasons[0] != "aborted early" {
		t.Errorf("stage 1 ended after %d looks (%v); want an early abort within 10 looks of 1 minute", s1.Checks, s1.Reasons)
	}
	t.Logf("aborted after %d looks: %v", s1.Checks, s1.Reasons)
	if len(st.Compensations) != 1 || !st.Compensations[0].Done || st.Stages[1].Applied {
		t.Errorf("compensations %+v, stage 2 applied %v: want stage 1 undone and nothing more", st.Compensations, st.Stages[1].Applied)
	}
}

// TestPromotionOnSimulator runs a whole pass with the real activities on a
// well-behaved simulated service: a candidate that truly costs 5.6% less
// (fewer threads: 32 → 20) at 104 ms instead of 88 passes every stage's
// full wait, shows its gain at the deciding stage, and is promoted.
func TestPromotionOnSimulator(t *testing.T) {
	env := simEnv(t)
	cand := models.Config{"worker_threads": models.Num(20), "cache_ttl_s": models.Num(60)}
	env.RegisterActivityWithOptions(func(context.Context, contract.ProposeInput) (contract.ProposeResult, error) {
		return contract.ProposeResult{Suggestion: models.Suggestion{Config: cand, Why: "test"}, Optimizer: "test", Step: 0.01}, nil
	}, activity.RegisterOptions{Name: contract.ProposeName})
	st, err := run(t, env, simSpec(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != workflows.OutcomePromoted {
		t.Fatalf("outcome %s (%s), want promoted", st.Outcome, st.Reason)
	}
	for _, s := range st.Stages {
		if s.Checks < 29 || s.Judgement == nil || len(s.Judgement.SLOs) != 2 {
			t.Errorf("stage %d: %d looks, judgement %v; want the full 30-minute wait and both guardrails judged", s.Index, s.Checks, s.Judgement)
			continue
		}
		// The objective is judged against the baseline while both cohorts
		// run; at 100% the baseline is the window before the pass, against
		// which only opted-in rules apply.
		if relative := s.Judgement.Judge != nil; relative != (s.Percent < 100) {
			t.Errorf("stage %d (%g%%): relative judge %v, want it exactly while a baseline cohort runs", s.Index, s.Percent, relative)
		}
	}
}
