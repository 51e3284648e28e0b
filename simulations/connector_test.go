package simulations

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

func TestConnector(t *testing.T) {
	clock := newClock()
	sim := testSpec("checkout-api", target.Simulator{Seed: 1})
	real := testSpec("search-api", target.Simulator{})
	real.Telemetry = target.Telemetry{Prometheus: &target.Prometheus{URL: "http://127.0.0.1:9090"}}
	real.Actuator = target.Actuator{Webhook: &target.Webhook{URL: "http://127.0.0.1:8080/config"}}
	half := testSpec("half-api", target.Simulator{})
	half.Actuator = real.Actuator

	errFallback := errors.New("fallback called")
	var fallbackGot string
	fallback := activities.ConnectorFunc(func(spec target.Spec) (activities.TelemetrySource, activities.Actuator, error) {
		fallbackGot = spec.Name
		return nil, nil, errFallback
	})

	tests := []struct {
		name     string
		fallback activities.Connector
		spec     target.Spec
		wantErr  string // "" for success
		wantFB   bool
	}{
		{"simulated", nil, sim, "", false},
		{"real without fallback", nil, real, "simulations: target search-api does not use the simulator", false},
		{"real with fallback", fallback, real, errFallback.Error(), true},
		{"half simulated", fallback, half, "telemetry and actuator must both use the simulator", false},
		{"simulated with fallback", fallback, sim, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fallbackGot = ""
			c := NewConnector(Options{Now: clock.Now}, tt.fallback)
			src, act, err := c.Connect(tt.spec)
			if (fallbackGot != "") != tt.wantFB {
				t.Errorf("fallback called for %q, want called: %v", fallbackGot, tt.wantFB)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			src2, act2, err := c.Connect(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if src != src2 || act != act2 || src != activities.TelemetrySource(act.(*Service)) {
				t.Error("Connect did not return one cached service per target")
			}
			if s, ok := c.Service(tt.spec.Name); !ok || s != act {
				t.Error("Service() does not return the connected service")
			}
		})
	}
}

func TestConnectorSpecChangeKeepsTimeline(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	c := NewConnector(Options{Now: clock.Now}, nil)
	spec := testSpec("checkout-api", target.Simulator{Seed: 1})
	_, act, err := c.Connect(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := act.Change(ctx, activities.Change{Key: "k", Action: webhook.ActionApply, Config: candidate(), Percent: 5}); err != nil {
		t.Fatal(err)
	}
	spec.Telemetry.Simulator = &target.Simulator{Seed: 1, Regression: 0.3}
	_, act2, err := c.Connect(spec)
	if err != nil {
		t.Fatal(err)
	}
	if act2 == act {
		t.Fatal("a changed simulator spec kept the old service")
	}
	if got := act2.(*Service).Applied(); len(got) != 1 || got[0].Key != "k" {
		t.Errorf("new service lost the timeline: %+v", got)
	}
	if _, err := act2.Change(ctx, activities.Change{Key: "k", Action: webhook.ActionApply, Config: candidate(), Percent: 5}); err != nil {
		t.Errorf("repeating a key on the new service: %v", err)
	}
	if n := len(act2.(*Service).Applied()); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}
