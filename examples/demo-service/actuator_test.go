package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/actuators"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

// TestPassflowActuator reconfigures the service with passflow's own
// webhook actuator, as a pass does: read the baseline, apply a canary
// (retried with the same key), revert it, apply again and promote.
func TestPassflowActuator(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, ln, options{baseline: testBaseline, seed: 1}, testSecret, slog.New(slog.DiscardHandler))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	t.Setenv("DEMO_SERVICE_TEST_SECRET", string(testSecret))
	act, err := actuators.NewWebhook(target.Spec{Name: "demo-service", Actuator: target.Actuator{
		Webhook: &target.Webhook{URL: "http://" + ln.Addr().String() + "/config", SecretEnv: "DEMO_SERVICE_TEST_SECRET"}},
		Params: models.Space{{Name: knobThreads}, {Name: knobTTL}, {Name: knobGCMode}}})
	if err != nil {
		t.Fatal(err)
	}
	base, err := act.Baseline(ctx)
	if err != nil || base.String() != "cache_ttl_s=60 gc_mode=throughput worker_threads=32" {
		t.Fatalf("baseline: %s, %v", base, err)
	}
	cand := models.Config{knobThreads: models.Num(12), knobTTL: models.Num(900), knobGCMode: models.Str(gcLowLatency)}
	for _, step := range []struct {
		ch       activities.Change
		replaced string // "" for nil
	}{
		{activities.Change{Key: "pass/demo-service/1/apply-1", PassID: "pass/demo-service/1", Stage: 1, Action: webhook.ActionApply, Percent: 5, Config: cand}, ""},
		{activities.Change{Key: "pass/demo-service/1/apply-1", PassID: "pass/demo-service/1", Stage: 1, Action: webhook.ActionApply, Percent: 5, Config: cand}, ""},
		{activities.Change{Key: "pass/demo-service/1/apply-2", PassID: "pass/demo-service/1", Stage: 2, Action: webhook.ActionApply, Percent: 25, Config: cand}, cand.String()},
		{activities.Change{Key: "pass/demo-service/1/undo-2", PassID: "pass/demo-service/1", Stage: 2, Action: webhook.ActionRevert, Percent: 5, Config: cand}, cand.String()},
		{activities.Change{Key: "pass/demo-service/1/promote", PassID: "pass/demo-service/1", Action: webhook.ActionPromote, Percent: 100, Config: cand}, base.String()},
	} {
		replaced, err := act.Change(ctx, step.ch)
		got := ""
		if replaced.Config != nil {
			got = replaced.Config.String()
		}
		if err != nil || got != step.replaced {
			t.Fatalf("%s (%s): replaced %q, %v; want %q", step.ch.Action, step.ch.Key, got, err, step.replaced)
		}
	}
	if now, err := act.Baseline(ctx); err != nil || now.String() != cand.String() {
		t.Fatalf("baseline after the promotion: %s, %v; want %s", now, err, cand)
	}
	// A refusal is an error for good (not retried), naming the field.
	bad := models.Config{knobThreads: models.Num(4096)}
	if _, err := act.Change(ctx, activities.Change{Key: "pass/demo-service/2/apply-1", Action: webhook.ActionApply, Percent: 5, Config: bad}); err == nil ||
		!strings.Contains(err.Error(), "config.worker_threads") {
		t.Fatalf("a bad change: %v, want a refusal naming config.worker_threads", err)
	}
}
