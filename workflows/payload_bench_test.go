package workflows_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/examples"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// Temporal's default limit on one payload (limit.blobSize.error) and the
// size above which it logs a warning (limit.blobSize.warn).
const (
	blobSizeError = 2 << 20
	blobSizeWarn  = 512 << 10
)

// BenchmarkPayloads measures the payloads that carry a target's history,
// with 100 and 500 observations (the tuner's default limit) on the demo
// target: the pass's input (the tuner's start-child command and the pass's
// first event), the propose activity's input (its scheduled event), and the
// tuner's continue-as-new input (its state: the history, the audit of the
// last 100 passes, the spec). Each operation encodes the payload as the
// SDK's default data converter does (JSON); bytes is its size. It fails when
// a payload reaches Temporal's 2 MiB limit.
func BenchmarkPayloads(b *testing.B) {
	spec, err := target.Parse("demo.yaml", examples.DemoTarget)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{100, 500} {
		hist, err := simulations.History(spec, n, 0.05/4, 1) // 5% noise, 16 samples a window
		if err != nil {
			b.Fatal(err)
		}
		passID := workflows.PassID(spec.Name, n+1)
		req := workflows.PassRequest{Trigger: workflows.TriggerSchedule, RequestedBy: workflows.ScheduleID(spec.Name),
			Reason: "scheduled run schedule/demo-checkout-workflow-2026-11-27T03:00:00Z",
			At:     time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
		payloads := []struct {
			name string
			v    any
		}{
			{"pass-input", workflows.PassInput{PassID: passID, Target: spec, Trigger: req.Trigger,
				RequestedBy: req.RequestedBy, History: hist, Requests: []workflows.PassRequest{req}}},
			{"propose-input", contract.ProposeInput{PassID: passID, Target: spec, Incumbent: spec.Params.Current(),
				IncumbentSLIs: incumbentSLIs(spec), History: hist, Seed: contract.Seed(passID)}},
			{"tuner-continue-as-new", workflows.TunerInput{Name: spec.Name, State: fullTunerState(spec, hist)}},
		}
		for _, p := range payloads {
			b.Run(fmt.Sprintf("obs=%d/%s", n, p.name), func(b *testing.B) {
				var size int
				for b.Loop() {
					data, err := json.Marshal(p.v)
					if err != nil {
						b.Fatal(err)
					}
					size = len(data)
				}
				b.ReportMetric(float64(size), "bytes")
				switch {
				case size >= blobSizeError:
					b.Fatalf("%s with %d observations is %d bytes: at or over Temporal's %d-byte payload limit", p.name, n, size, blobSizeError)
				case size >= blobSizeWarn:
					b.Logf("%s with %d observations is %d bytes: over Temporal's %d-byte warning", p.name, n, size, blobSizeWarn)
				}
			})
		}
	}
}

// fullTunerState is a tuner's state after many passes: hist, and the
// audit's default limit of records.
func fullTunerState(spec target.Spec, hist []models.Observation) *workflows.TunerState {
	at := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	st := &workflows.TunerState{
		Name: spec.Name, Spec: &spec, SpecHash: "3f2a9c1e0b7d4a65", SpecVersion: 3, SpecSource: "examples/targets/demo.yaml",
		Registered: at, Updated: at, Passes: len(hist), History: hist, LastPromoted: spec.Params.Current(),
		LastAlertRequest: at, LastAlertPass: workflows.PassID(spec.Name, 1),
	}
	for i := range workflows.DefaultAuditLimit {
		o := hist[len(hist)-1-i%len(hist)]
		change := -0.012
		at := at.Add(time.Duration(i) * 24 * time.Hour)
		st.Recent = append(st.Recent, workflows.PassRecord{
			ID: o.Source, Trigger: workflows.TriggerSchedule, RequestedBy: workflows.ScheduleID(spec.Name),
			Outcome: workflows.OutcomePromoted, Reason: "all 3 stages passed",
			Requested: at, Started: at, Ended: at.Add(95 * time.Minute),
			Baseline: spec.Params.Current(), Candidate: o.Config, RiskBand: models.BandMedium,
			Change: &change, SpecVersion: 3, Trail: fullTrail(at),
		})
	}
	return st
}

// fullTrail is the audit a promoted pass keeps in its record with two
// answers and three stages, each detail as long as the audit keeps (160
// bytes).
func fullTrail(at time.Time) []workflows.AuditEntry {
	var out []workflows.AuditEntry
	for _, e := range []string{"proposed", "risk", "approval-asked", "approved", "approved", "stage", "stage", "stage"} {
		out = append(out, workflows.AuditEntry{Time: at, Event: e, Actor: "alice@example.com", Detail: strings.Repeat("x", 160)})
	}
	return out
}

// incumbentSLIs is what Analyze measures of the incumbent.
func incumbentSLIs(spec target.Spec) map[string]contract.Summary {
	out := map[string]contract.Summary{}
	for i, m := range spec.Metrics() {
		v := 1.0 + float64(i)/3
		out[m] = contract.Summary{N: 240, Mean: v, SD: v * 0.05, P50: v, P95: v * 1.08}
	}
	return out
}
