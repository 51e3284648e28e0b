package activities_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

// TestNotifyDeliversSignedBodies: a JSON receiver gets the notification
// signed with its secret, a Slack receiver a text body; a 5xx is retried, a
// 4xx and a missing secret are refused for good; each attempt is counted.
func TestNotifyDeliversSignedBodies(t *testing.T) {
	var mu sync.Mutex
	type got struct {
		header http.Header
		body   []byte
	}
	var received []got
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, got{r.Header.Clone(), b})
		mu.Unlock()
		w.WriteHeader(status)
	}))
	defer srv.Close()
	t.Setenv("NOTIFY_SECRET", "s3cret")
	reg := prometheus.NewRegistry()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	acts := &activities.Activities{Metrics: activities.NewMetrics(reg), Now: func() time.Time { return now }}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(acts.Notify)
	n := contract.Notification{Event: target.EventPromoted, Target: "svc", PassID: "pass/svc/1", Summary: "pass/svc/1 promoted"}
	run := func(r target.Notify) error {
		_, err := env.ExecuteActivity(acts.Notify, contract.NotifyInput{Key: "notify/pass/svc/1/promoted/0", Receiver: r, Notification: n})
		return err
	}

	if err := run(target.Notify{URL: srv.URL, Format: target.NotifyJSON, SecretEnv: "NOTIFY_SECRET"}); err != nil {
		t.Fatal(err)
	}
	var back contract.Notification
	h := received[0].header
	if err := webhook.Verify([]byte("s3cret"), h.Get(webhook.HeaderTimestamp), h.Get(webhook.HeaderSignature), received[0].body, now, time.Minute); err != nil ||
		json.Unmarshal(received[0].body, &back) != nil || back.PassID != n.PassID || h.Get(webhook.HeaderIdempotency) != "notify/pass/svc/1/promoted/0" {
		t.Fatalf("JSON receiver got %s with %v (%v): want the notification, signed, with its key", received[0].body, h, err)
	}
	if err := run(target.Notify{URL: srv.URL, Format: target.NotifySlack}); err != nil {
		t.Fatal(err)
	}
	var slack map[string]string
	if json.Unmarshal(received[1].body, &slack) != nil || !strings.Contains(slack["text"], "pass/svc/1 promoted") || received[1].header.Get(webhook.HeaderSignature) != "" {
		t.Fatalf("Slack receiver got %s: want {\"text\": ...} naming the pass, unsigned", received[1].body)
	}

	var ae *temporal.ApplicationError
	status = http.StatusServiceUnavailable
	if err := run(target.Notify{URL: srv.URL, Format: target.NotifyJSON}); err == nil || (errors.As(err, &ae) && ae.NonRetryable()) {
		t.Errorf("503: %v, want a retryable error", err)
	}
	status = http.StatusBadRequest
	if err := run(target.Notify{URL: srv.URL, Format: target.NotifyJSON}); !errors.As(err, &ae) || ae.Type() != contract.ErrTypeNotifyRefused {
		t.Errorf("400: %v, want a refusal for good", err)
	}
	if err := run(target.Notify{URL: srv.URL, Format: target.NotifyJSON, SecretEnv: "NO_SUCH_SECRET"}); !errors.As(err, &ae) ||
		ae.Type() != contract.ErrTypeNotifyRefused || !strings.Contains(err.Error(), "NO_SUCH_SECRET is empty") {
		t.Errorf("missing secret: %v, want a refusal naming the variable", err)
	}
	for result, want := range map[string]float64{"sent": 2, "retried": 1, "failed": 2} {
		if got := testutil.ToFloat64(acts.Metrics.Notifications.WithLabelValues(result)); got != want {
			t.Errorf("passflow_notifications_total{result=%q} = %v, want %v", result, got, want)
		}
	}
}
