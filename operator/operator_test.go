package operator

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
