package simulations

import (
	"reflect"
	"testing"

	"github.com/passflow/passflow/target"
)

func TestHistory(t *testing.T) {
	spec := testSpec("svc", target.Simulator{Model: "web", Seed: 3})
	a, err := History(spec, 20, 0.01, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := History(spec, 20, 0.01, 7)
	if len(a) != 20 || !reflect.DeepEqual(a, b) {
		t.Fatalf("got %d observations, equal on a second call: %v; want 20, repeatable", len(a), reflect.DeepEqual(a, b))
	}
	m, _ := NewModel("web", spec.Params, 3)
	for i, o := range a {
		if err := spec.Params.CheckConfig(o.Config); err != nil || o.Source == "" {
			t.Fatalf("observation %d: %v, source %q", i, err, o.Source)
		}
		truth, _ := m.Truth(o.Config)
		if want := truth[MetricCost]; !near(o.Objective, want, 0.06) || !near(o.Uncertainty[MetricCost], 0.01*want, 1e-9) {
			t.Errorf("observation %d: objective %g ± %g, want %g within 6%% (1%% noise)", i, o.Objective, o.Uncertainty[MetricCost], want)
		}
	}
	spec.Telemetry.Simulator = nil
	if _, err := History(spec, 1, 0.01, 1); err == nil {
		t.Error("a target that is not simulated: want an error")
	}
}
