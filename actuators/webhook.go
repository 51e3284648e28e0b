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
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
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
	// params are the knobs the target tunes: a service may have more,
	// which its answers carry and the actuator leaves out.
	params []string
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
	for _, p := range spec.Params {
		a.params = append(a.params, p.Name)
	}
	if w.SecretEnv != "" {
		if a.secret = []byte(os.Getenv(w.SecretEnv)); len(a.secret) == 0 {
			return nil, fmt.Errorf("target %s: actuator.webhook.secret_env: the environment variable %s is empty on this worker", spec.Name, w.SecretEnv)
		}
	}
	return a, nil
}

// Change posts ch and returns the configuration the receiver says the
// changed cohort ran before.
func (w *Webhook) Change(ctx context.Context, ch activities.Change) (models.Config, error) {
	body, err := json.Marshal(webhook.Change{PassID: ch.PassID, Target: w.target, Stage: ch.Stage, Percent: ch.Percent,
		Config: toMap(ch.Config), Key: ch.Key, Action: ch.Action})
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("webhook %s of %s: %v", ch.Action, w.target, err), activities.ErrTypeInvalidChange, nil)
	}
	reply, err := webhook.Do(ctx, w.hc, http.MethodPost, w.url, ch.Key, w.secret, body, w.now())
	if err != nil {
		return nil, classify(fmt.Sprintf("webhook %s of %s", ch.Action, w.target), err)
	}
	var r webhook.ChangeReply
	if len(reply) > 0 {
		if err := json.Unmarshal(reply, &r); err != nil {
			return nil, fmt.Errorf("webhook %s of %s: the answer is not a {\"replaced\": {...}} object: %v", ch.Action, w.target, err)
		}
	}
	return w.fromMap(r.Replaced, false)
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
	return w.fromMap(st.Baseline, true)
}

// classify turns a delivery error into the activity's: retryable, or an
// InvalidChange refusal for good.
func classify(what string, err error) error {
	var we *webhook.Error
	if errors.As(err, &we) && !we.Retry {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", what, err), activities.ErrTypeInvalidChange, nil)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// toMap is a configuration as JSON carries it: numbers and strings.
func toMap(c models.Config) map[string]any {
	if c == nil {
		return nil
	}
	m := make(map[string]any, len(c))
	for k, v := range c {
		if v.IsStr() {
			m[k] = v.String()
		} else {
			m[k] = v.Float()
		}
	}
	return m
}

// fromMap reads a configuration a receiver sent, each value a number or a
// string, keeping the target's knobs only; whole requires every one of them.
func (w *Webhook) fromMap(m map[string]any, whole bool) (models.Config, error) {
	if m == nil {
		return nil, nil
	}
	c := make(models.Config, len(w.params))
	var missing []string
	for _, k := range w.params {
		switch v := m[k].(type) {
		case float64:
			c[k] = models.Num(v)
		case string:
			c[k] = models.Str(v)
		case nil:
			missing = append(missing, k)
		default:
			return nil, fmt.Errorf("webhook of %s: configuration: %s: expected a number or a string, got %v", w.target, k, v)
		}
	}
	if whole && len(missing) > 0 {
		return nil, fmt.Errorf("webhook of %s: the service's configuration has no %s, which the target tunes", w.target, strings.Join(missing, ", "))
	}
	return c, nil
}
