// Package actuators connects passflow to real services: each actuator
// applies a configuration to a cohort at a traffic share, idempotent under
// its key (activities.Actuator).
//
// Invariants: a secret is read from the worker's environment when the
// actuator is built and never appears in an error; an answer worth another
// try (a timeout, 408, 429, 5xx) is a retryable error, which the activity's
// retry policy retries with backoff; a refusal (another 4xx) is a
// non-retryable InvalidChange error carrying the receiver's message.
package actuators

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

// webhookTimeout bounds one call of the webhook actuator.
const webhookTimeout = 10 * time.Second

// Webhook is the webhook actuator: a signed POST of each change
// (webhook.Change) to the target's URL, and a signed GET of the same URL
// for what the service runs (webhook.State).
type Webhook struct {
	target, url string
	// knobs are the target's: a service may have more, which its answers
	// carry and the actuator leaves out.
	knobs  knobs
	secret []byte
	hc     *http.Client
	now    func() time.Time
}

var _ activities.Actuator = (*Webhook)(nil)

// NewWebhook builds the webhook actuator of spec, reading its secret from
// the environment variable the target names.
func NewWebhook(spec target.Spec) (*Webhook, error) {
	w := spec.Actuator.Webhook
	if w == nil {
		return nil, fmt.Errorf("target %s: actuator: expected a webhook", spec.Name)
	}
	a := &Webhook{target: spec.Name, url: w.URL, hc: &http.Client{Timeout: webhookTimeout}, now: time.Now}
	a.knobs = newKnobs(spec.Params)
	if w.SecretEnv != "" {
		if a.secret = []byte(os.Getenv(w.SecretEnv)); len(a.secret) == 0 {
			return nil, fmt.Errorf("target %s: actuator.webhook.secret_env: the environment variable %s is empty on this worker", spec.Name, w.SecretEnv)
		}
	}
	return a, nil
}

// Change posts ch and returns what the receiver says the changed cohort
// ran before.
func (w *Webhook) Change(ctx context.Context, ch activities.Change) (activities.Replaced, error) {
	body, err := changeBody(w.target, ch)
	if err != nil {
		return activities.Replaced{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("webhook %s of %s: %v", ch.Action, w.target, err), contract.ErrTypeInvalidChange, nil)
	}
	reply, err := webhook.Do(ctx, w.hc, http.MethodPost, w.url, ch.Key, w.secret, body, w.now())
	if err != nil {
		return activities.Replaced{}, classify(fmt.Sprintf("webhook %s of %s", ch.Action, w.target), err)
	}
	var r webhook.ChangeReply
	if len(reply) > 0 {
		if err := json.Unmarshal(reply, &r); err != nil {
			return activities.Replaced{}, fmt.Errorf("webhook %s of %s: the answer is not a {\"replaced\": {...}, \"percent\": N} object: %v", ch.Action, w.target, err)
		}
	}
	replaced, err := w.knobs.replaced(r)
	if err != nil {
		return activities.Replaced{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("webhook %s of %s: the answer: %v", ch.Action, w.target, err), contract.ErrTypeInvalidChange, nil)
	}
	return replaced, nil
}

// Baseline asks the receiver what the service runs outside any canary.
func (w *Webhook) Baseline(ctx context.Context) (models.Config, error) {
	reply, err := webhook.Do(ctx, w.hc, http.MethodGet, w.url, "", w.secret, nil, w.now())
	if err != nil {
		return nil, classify("webhook state of "+w.target, err)
	}
	var st webhook.State
	if err := json.Unmarshal(reply, &st); err != nil {
		return nil, fmt.Errorf("webhook state of %s: the answer is not a {\"baseline\": {...}} object: %v", w.target, err)
	}
	if len(st.Baseline) == 0 {
		return nil, fmt.Errorf("webhook state of %s: the answer names no baseline configuration", w.target)
	}
	base, err := w.knobs.config(st.Baseline, true)
	if err != nil {
		return nil, fmt.Errorf("webhook state of %s: %w", w.target, err)
	}
	return base, nil
}
