package activities_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/examples"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/target"
)

// Temporal's default limits on one payload (limit.blobSize.warn and
// limit.blobSize.error): the server logs a warning above the first and fails
// the command above the second.
const (
	blobSizeWarn  = 512 << 10
	blobSizeError = 2 << 20
)

// BenchmarkPropose measures the propose activity on the demo target (three
// knobs, one of them categorical) with a history of 100 and 500
// observations, the tuner's default limit, as a pass runs it: the input
// decoded from its JSON payload, the optimizer warm-started with the
// history and the measured incumbent, one candidate asked for. It reports
// the size of that payload and fails when it reaches Temporal's 2 MiB limit,
// and the time of a propose: the mean, and min, median and max over the b.N
// operations (10 in make bench-tuner), each timed alone.
func BenchmarkPropose(b *testing.B) {
	spec, err := target.Parse("demo.yaml", examples.DemoTarget)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{100, 500} {
		b.Run(fmt.Sprintf("obs=%d", n), func(b *testing.B) {
			in := proposeInput(b, spec, n)
			payload, err := json.Marshal(in)
			if err != nil {
				b.Fatal(err)
			}
			size := len(payload)
			if size >= blobSizeError {
				b.Fatalf("the propose input with %d observations is %d bytes: at or over Temporal's %d-byte payload limit", n, size, blobSizeError)
			}
			if size >= blobSizeWarn {
				b.Logf("the propose input with %d observations is %d bytes: over Temporal's %d-byte warning", n, size, blobSizeWarn)
			}

			var suite testsuite.WorkflowTestSuite
			suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
			env := suite.NewTestActivityEnvironment()
			a := &activities.Activities{Connector: simulations.NewConnector(simulations.Options{StateDir: b.TempDir()}, nil)}
			env.RegisterActivityWithOptions(a.Propose, activity.RegisterOptions{Name: contract.ProposeName})

			var res contract.ProposeResult
			var took []float64 // ms
			b.ResetTimer()
			for b.Loop() {
				began := time.Now()
				v, err := env.ExecuteActivity(contract.ProposeName, in)
				if err != nil {
					b.Fatal(err)
				}
				if err := v.Get(&res); err != nil {
					b.Fatal(err)
				}
				took = append(took, float64(time.Since(began).Microseconds())/1000)
			}
			b.StopTimer()
			slices.Sort(took)
			b.ReportMetric(took[0], "min-ms")
			b.ReportMetric((took[(len(took)-1)/2]+took[len(took)/2])/2, "median-ms")
			b.ReportMetric(took[len(took)-1], "max-ms")
			if res.NoSafe {
				b.Logf("no safe candidate: %s", res.Reason)
			} else {
				b.Logf("candidate %s (step %.3f, history %d)", res.Suggestion.Config, res.Step, res.History)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
			b.ReportMetric(float64(size), "input-bytes")
		})
	}
}

// proposeInput is the propose step's input for spec after n passes: the
// history synthesized from the simulator's response surface for spec.
func proposeInput(tb testing.TB, spec target.Spec, n int) contract.ProposeInput {
	tb.Helper()
	const passID = "pass/demo-checkout/501"
	// 5% noise over a 16-sample canary window: a relative standard error of 1.25%.
	hist, err := simulations.History(spec, n, 0.05/4, 1)
	if err != nil {
		tb.Fatal(err)
	}
	return contract.ProposeInput{
		PassID: passID, Target: spec, Incumbent: spec.Params.Current(), IncumbentSLIs: incumbentSLIs(tb, spec),
		History: hist, Seed: contract.Seed(passID),
	}
}

// incumbentSLIs is the incumbent as Analyze measures it: the simulator's
// true values with 5% noise over 240 samples.
func incumbentSLIs(tb testing.TB, spec target.Spec) map[string]contract.Summary {
	tb.Helper()
	model, err := simulations.NewModel(spec.Telemetry.Simulator.Model, spec.Params, spec.Telemetry.Simulator.Seed)
	if err != nil {
		tb.Fatal(err)
	}
	const noise = 0.05
	truth, err := model.Truth(spec.Params.Current())
	if err != nil {
		tb.Fatal(err)
	}
	slis := map[string]contract.Summary{}
	for _, m := range spec.Metrics() {
		v := truth[m]
		slis[m] = contract.Summary{N: 240, Mean: v, SD: v * noise, P50: v, P95: v * (1 + 1.645*noise)}
	}
	return slis
}
