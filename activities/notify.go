package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/contract"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/webhook"
)

// notifyTimeout bounds one delivery attempt.
const notifyTimeout = 10 * time.Second

// Notify delivers a notification to one receiver: the JSON notification,
// or a Slack-compatible {"text": ...} body, signed when the receiver names a
// secret. A refusal for good is a non-retryable error; anything else worth
// another try is a retryable one. Each attempt is counted in /metrics by
// result. Idempotent: the receiver gets the same key on every attempt.
func (a *Activities) Notify(ctx context.Context, in contract.NotifyInput) error {
	body, err := notificationBody(in.Receiver.Format, in.Notification)
	if err != nil {
		return a.notified("failed", temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeNotifyRefused, nil))
	}
	var secret []byte
	if env := in.Receiver.SecretEnv; env != "" {
		if secret = []byte(os.Getenv(env)); len(secret) == 0 {
			return a.notified("failed", temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("notify %s: the secret's environment variable %s is empty on this worker", webhook.Redact(in.Receiver.URL), env),
				contract.ErrTypeNotifyRefused, nil))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	err = webhook.Post(ctx, &http.Client{Timeout: notifyTimeout}, in.Receiver.URL, in.Key, secret, body, a.now())
	var we *webhook.Error
	switch {
	case err == nil:
		return a.notified("sent", nil)
	case errors.As(err, &we) && !we.Retry:
		return a.notified("failed", temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeNotifyRefused, nil))
	}
	result := "retried"
	if info := activity.GetInfo(ctx); info.RetryPolicy != nil && info.RetryPolicy.MaximumAttempts > 0 && info.Attempt >= info.RetryPolicy.MaximumAttempts {
		result = "failed"
	}
	return a.notified(result, err)
}

// notified counts a delivery attempt's result and returns err.
func (a *Activities) notified(result string, err error) error {
	if a.Metrics != nil && a.Metrics.Notifications != nil {
		a.Metrics.Notifications.WithLabelValues(result).Inc()
	}
	return err
}

// notificationBody is the body a receiver of format gets.
func notificationBody(format string, n contract.Notification) ([]byte, error) {
	switch format {
	case "", target.NotifyJSON:
		return json.Marshal(n)
	case target.NotifySlack:
		lines := []string{fmt.Sprintf("*passflow* · %s · `%s`", strings.ReplaceAll(n.Event, "_", " "), n.PassID), n.Summary}
		return json.Marshal(map[string]string{"text": strings.Join(lines, "\n")})
	}
	return nil, fmt.Errorf("notify: format: expected json or slack, got %q", format)
}
