package actuators

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

// receiver is a webhook receiver as a service implements one: it verifies
// signatures, keeps one effect per idempotency key, and can be told to fail.
type receiver struct {
	mu       sync.Mutex
	baseline map[string]any
	canary   map[string]any
	percent  float64
	seen     map[string][]byte
	effects  int
	failures []int         // statuses to answer first, one per request
	slow     time.Duration // how long the next request waits before its answer
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	if d := rc.slow; d > 0 {
		rc.slow = 0
		rc.mu.Unlock()
		time.Sleep(d)
		rc.mu.Lock()
	}
	defer rc.mu.Unlock()
	if err := webhook.Verify([]byte("s3cret"), r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), body, time.Now(), time.Minute); err != nil {
		http.Error(w, "bad signature: "+err.Error(), http.StatusUnauthorized)
		return
	}
	if len(rc.failures) > 0 {
		code := rc.failures[0]
		rc.failures = rc.failures[1:]
		http.Error(w, "not now", code)
		return
	}
	if r.Method == http.MethodGet {
		json.NewEncoder(w).Encode(webhook.State{Baseline: rc.baseline, Canary: rc.canary, Percent: rc.percent})
		return
	}
	key := r.Header.Get(webhook.HeaderIdempotency)
	if prev, ok := rc.seen[key]; ok {
		w.Write(prev)
		return
	}
	var ch webhook.Change
	if err := json.Unmarshal(body, &ch); err != nil || ch.Key != key {
		http.Error(w, "bad change", http.StatusBadRequest)
		return
	}
	if threads, _ := ch.Config["worker_threads"].(float64); threads > 1024 {
		http.Error(w, "worker_threads: expected at most 1024", http.StatusUnprocessableEntity)
		return
	}
	var reply webhook.ChangeReply
	switch ch.Action {
	case webhook.ActionApply, webhook.ActionRevert:
		reply = webhook.ChangeReply{Replaced: rc.canary, Percent: rc.percent}
		rc.canary, rc.percent = ch.Config, ch.Percent
	case webhook.ActionPromote:
		reply.Replaced, rc.baseline, rc.canary, rc.percent = rc.baseline, ch.Config, nil, 0
	}
	rc.effects++
	out, _ := json.Marshal(reply)
	rc.seen[key] = out
	w.Write(out)
}

func TestWebhookActuator(t *testing.T) {
	// The service has a knob the target does not tune: it is left out.
	rc := &receiver{baseline: map[string]any{"worker_threads": 32.0, "gc_mode": "throughput", "cache_ttl_s": 60.0}, seen: map[string][]byte{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	t.Setenv("HOOK_SECRET", "s3cret")
	spec := target.Spec{Name: "svc", Actuator: target.Actuator{Webhook: &target.Webhook{URL: srv.URL + "/config", SecretEnv: "HOOK_SECRET"}},
		Params: models.Space{{Name: "worker_threads", Type: models.Int, Min: 1, Max: 1024}, {Name: "gc_mode", Type: models.Categorical, Choices: []string{"throughput", "low-latency"}}}}
	w, err := NewWebhook(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base, err := w.Baseline(ctx)
	if err != nil || base.String() != "gc_mode=throughput worker_threads=32" {
		t.Fatalf("baseline %s, %v", base, err)
	}
	cand := models.Config{"worker_threads": models.Num(40), "gc_mode": models.Str("throughput")}
	apply := activities.Change{Key: "pass/svc/1/stage-1", PassID: "pass/svc/1", Stage: 1, Action: webhook.ActionApply, Percent: 5, Config: cand}

	// Twice unavailable: retryable errors; then applied, once, however
	// often the key is repeated.
	rc.failures = []int{http.StatusInternalServerError, http.StatusTooManyRequests}
	for i := range 2 {
		var ae *temporal.ApplicationError
		if _, err := w.Change(ctx, apply); err == nil || (errors.As(err, &ae) && ae.NonRetryable()) {
			t.Fatalf("attempt %d: %v, want a retryable error", i+1, err)
		}
	}
	for range 3 {
		replaced, err := w.Change(ctx, apply)
		if err != nil || replaced.Config != nil || replaced.Percent != 0 {
			t.Fatalf("apply: replaced %+v, %v; want no canary before", replaced, err)
		}
	}
	if rc.effects != 1 || rc.percent != 5 {
		t.Fatalf("%d effects, canary at %v%%: want one, at 5%%", rc.effects, rc.percent)
	}

	// An answer that does not come in time is retryable; the next try,
	// with the same key, has its effect once.
	w.hc.Timeout = 50 * time.Millisecond
	rc.slow = 300 * time.Millisecond
	slowApply := apply
	slowApply.Key, slowApply.Percent = "pass/svc/1/stage-2", 25
	var ae0 *temporal.ApplicationError
	if _, err := w.Change(ctx, slowApply); err == nil || (errors.As(err, &ae0) && ae0.NonRetryable()) {
		t.Fatalf("a slow answer: %v, want a retryable timeout", err)
	}
	time.Sleep(350 * time.Millisecond) // the slow request's effect lands
	if _, err := w.Change(ctx, slowApply); err != nil || rc.effects != 2 || rc.percent != 25 {
		t.Fatalf("the retry: %v, %d effects at %v%%; want the stage applied once", err, rc.effects, rc.percent)
	}
	w.hc.Timeout = webhookTimeout
	// The receiver's answer says which canary ran, at what share.
	undo := activities.Change{Key: "pass/svc/1/undo-stage-2", Action: webhook.ActionRevert, Percent: 5, Config: cand}
	if replaced, err := w.Change(ctx, undo); err != nil || replaced.Config.String() != cand.String() || replaced.Percent != 25 {
		t.Fatalf("revert replaced %+v, %v; want the candidate at 25%%", replaced, err)
	}
	replaced, err := w.Change(ctx, activities.Change{Key: "pass/svc/1/promote", Action: webhook.ActionPromote, Percent: 100, Config: cand})
	if err != nil || replaced.Config.String() != "gc_mode=throughput worker_threads=32" {
		t.Fatalf("promote replaced %+v, %v; want the old baseline", replaced, err)
	}

	// A refusal is for good and carries the receiver's message; a wrong
	// secret is refused by the receiver.
	bad := apply
	bad.Key, bad.Config = "pass/svc/2/stage-1", models.Config{"worker_threads": models.Num(2000)}
	var ae *temporal.ApplicationError
	if _, err := w.Change(ctx, bad); !errors.As(err, &ae) || !ae.NonRetryable() || ae.Type() != contract.ErrTypeInvalidChange ||
		!strings.Contains(err.Error(), "worker_threads: expected at most 1024") {
		t.Errorf("a refused change: %v, want a non-retryable InvalidChange with the receiver's message", err)
	}
	t.Setenv("HOOK_SECRET", "wrong")
	w2, _ := NewWebhook(spec)
	if _, err := w2.Change(ctx, apply); !errors.As(err, &ae) || !ae.NonRetryable() || !strings.Contains(err.Error(), "401") {
		t.Errorf("a wrong secret: %v, want a refusal for good", err)
	}
	t.Setenv("HOOK_SECRET", "")
	if _, err := NewWebhook(spec); err == nil || !strings.Contains(err.Error(), "HOOK_SECRET is empty") {
		t.Errorf("no secret: %v, want an error naming the variable", err)
	}
}
