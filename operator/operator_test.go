package operator

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/workflows"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// snapshots are the statuses a follower sees of one pass that fails its
// second stage and rolls back.
func snapshots() []workflows.PassStatus {
	base := models.Config{"threads": models.Num(32)}
	cand := models.Config{"threads": models.Num(40)}
	judged := func(v string, latency float64) *contract.Judgement {
		return &contract.Judgement{Verdict: v,
			Canary:   map[string]contract.Summary{"latency": {N: 60, Mean: latency}},
			Baseline: map[string]contract.Summary{"latency": {N: 60, Mean: 100}}}
	}
	s0 := workflows.PassStatus{ID: "p1", Target: "svc", Step: workflows.StepAnalyze,
		Stages: []workflows.StageStatus{{Index: 1, Percent: 5}, {Index: 2, Percent: 100}}}
	s1 := s0
	s1.Step, s1.Baseline = workflows.StepCanary, base
	s1.SLIs = map[string]contract.Summary{"latency": {N: 60, Mean: 100}}
	s1.Candidate, s1.Why = cand, "initial design"
	s1.Risk = &models.Risk{Band: models.BandMedium, Reasons: []string{"step 0.1"}}
	s1.Stages = []workflows.StageStatus{{Index: 1, Percent: 5, Applied: true}, {Index: 2, Percent: 100}}
	s2 := s1
	s2.Stages = []workflows.StageStatus{
		{Index: 1, Percent: 5, Applied: true, Verdict: "pass", Judgement: judged("pass", 101)},
		{Index: 2, Percent: 100, Applied: true, Verdict: "fail", Reasons: []string{"latency high"}, Judgement: judged("fail", 130)},
	}
	s2.Step = workflows.StepCompensate
	s2.Compensations = []workflows.Compensation{{Stage: 2, FromPercent: 100, ToPercent: 5, Done: true}}
	s3 := s2
	s3.Step, s3.Outcome, s3.Reason = workflows.StepDone, workflows.OutcomeRolledBack, "stage 2 (100%) failed: latency high"
	s3.Compensations = append(s3.Compensations, workflows.Compensation{Stage: 1, FromPercent: 5, ToPercent: 0, Done: true})
	ch := 0.3
	s3.Change = &ch
	return []workflows.PassStatus{s0, s1, s2, s3}
}

func TestProgressGolden(t *testing.T) {
	var lines []string
	prev := workflows.PassStatus{}
	for _, st := range snapshots() {
		lines = append(lines, Progress(prev, st)...)
		prev = st
	}
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "progress.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("progress lines differ from %s (go test -update rewrites it)\n got:\n%s\nwant:\n%s", golden, got, want)
	}
	// Each event is reported once: replaying the same snapshot adds nothing.
	last := snapshots()[3]
	if extra := Progress(last, last); len(extra) != 0 {
		t.Errorf("an unchanged status printed %q", extra)
	}
}

// TestProgressBake: a stage that passed and bakes says so once when its
// bake begins and once when the bake is judged.
func TestProgressBake(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 13, 0, 0, 0, time.UTC)
	stage := workflows.StageStatus{Index: 2, Percent: 25, Applied: true, From: t0, To: t0.Add(30 * time.Minute), Verdict: "pass"}
	passed := workflows.PassStatus{ID: "p1", Target: "svc", Step: workflows.StepCanary, Stages: []workflows.StageStatus{stage}}
	baking := passed
	stage.BakeFrom = t0.Add(30 * time.Minute)
	baking.Stages = []workflows.StageStatus{stage}
	judged := baking
	stage.To, stage.Verdict = stage.BakeFrom.Add(18*time.Hour), "fail"
	stage.Reasons = []string{"bake: worse over the load cycle: cost +2.1%"}
	judged.Stages = []workflows.StageStatus{stage}

	var lines []string
	prev := workflows.PassStatus{}
	for _, st := range []workflows.PassStatus{passed, baking, baking, judged, judged} {
		lines = append(lines, Progress(prev, st)...)
		prev = st
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{"25%: pass", "25%: baking beside the baseline", "25% bake: fail — bake: worse over the load cycle"} {
		if strings.Count(got, want) != 1 {
			t.Errorf("want %q once in:\n%s", want, got)
		}
	}
}
