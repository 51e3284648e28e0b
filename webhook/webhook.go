// Package webhook signs and sends passflow's outgoing webhooks (a target's
// notifications; its webhook actuator). A receiver verifies a request with
// Verify: X-Passflow-Signature is "sha256=" and the hex HMAC-SHA256, keyed
// with the shared secret, of X-Passflow-Timestamp (Unix seconds), a dot and
// the body.
//
// Invariants: a secret is never part of an error or a log line, nor is a
// URL's path or query, which often hold one (a Slack webhook's); an answer
// is classified once, here: 2xx delivered, 408, 429, 5xx and transport
// errors worth retrying, any other status a refusal for good.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed request.
const (
	HeaderTimestamp   = "X-Passflow-Timestamp"
	HeaderSignature   = "X-Passflow-Signature"
	HeaderIdempotency = "Idempotency-Key"
)

// Sign returns the signature header's value for body sent at ts.
func Sign(secret []byte, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a received request's signature and that its timestamp is
// within maxAge of now; it compares in constant time.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, maxAge time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%s: expected Unix seconds, got %q", HeaderTimestamp, timestamp)
	}
	ts := time.Unix(sec, 0)
	if d := now.Sub(ts); d > maxAge || d < -maxAge {
		return fmt.Errorf("%s: %s is more than %s from now", HeaderTimestamp, ts.UTC().Format(time.RFC3339), maxAge)
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return fmt.Errorf("%s: does not match the body", HeaderSignature)
	}
	return nil
}

// Error is a delivery that failed; Retry says whether trying again may
// help.
type Error struct {
	Method string // POST when empty
	URL    string
	Status int // 0 when no answer came
	Msg    string
	Retry  bool
}

// Retryable reports whether trying again may help: a timeout, 408, 429 or
// a 5xx.
func (e *Error) Retryable() bool { return e.Retry }

func (e *Error) Error() string {
	method := e.Method
	if method == "" {
		method = http.MethodPost
	}
	if e.Status == 0 {
		return fmt.Sprintf("%s %s: %s", method, Redact(e.URL), e.Msg)
	}
	return fmt.Sprintf("%s %s: %d %s: %s", method, Redact(e.URL), e.Status, http.StatusText(e.Status), e.Msg)
}

// Redact returns a URL's scheme and host only: its path and query may hold
// a secret.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(a URL that does not parse)"
	}
	if u.Path == "" && u.RawQuery == "" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Post sends body as JSON to url, signed with secret when it is not empty,
// with key as its idempotency key. It returns nil on a 2xx and an *Error
// otherwise.
func Post(ctx context.Context, hc *http.Client, to, key string, secret []byte, body []byte, now time.Time) error {
	_, err := Do(ctx, hc, http.MethodPost, to, key, secret, body, now)
	return err
}

// maxReply bounds the answer Do reads.
const maxReply = 1 << 20

// Do sends a signed request (the body may be empty, as for a GET) and
// returns the answer's body on a 2xx, an *Error otherwise.
func Do(ctx context.Context, hc *http.Client, method, to, key string, secret []byte, body []byte, now time.Time) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, to, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Method: method, URL: to, Msg: "expected an absolute http(s) URL"}
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "passflow")
	if key != "" {
		req.Header.Set(HeaderIdempotency, key)
	}
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	if len(secret) > 0 {
		req.Header.Set(HeaderSignature, Sign(secret, now, body))
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its text repeats the whole URL
			err = ue.Err
		}
		return nil, &Error{Method: method, URL: to, Msg: err.Error(), Retry: true}
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return nil, &Error{Method: method, URL: to, Status: resp.StatusCode, Msg: "reading the answer: " + err.Error(), Retry: true}
	}
	if resp.StatusCode/100 == 2 {
		return reply, nil
	}
	retry := resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	msg := strings.TrimSpace(string(reply))
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	return nil, &Error{Method: method, URL: to, Status: resp.StatusCode, Msg: msg, Retry: retry}
}

// The actions of a Change.
const (
	ActionApply   = "apply"
	ActionRevert  = "revert"
	ActionPromote = "promote"
)

// Change is the body of the webhook actuator's POST: apply puts Percent of
// the traffic on a canary running Config, revert puts the canary back to
// Percent running Config (0 removes it; a stage's undo brings back what
// the stage replaced), promote makes Config the
// baseline and removes the canary. A receiver answers 2xx with a
// ChangeReply, and gives the same answer, with no second effect, to a
// repeated Key.
type Change struct {
	PassID  string         `json:"pass_id"`
	Target  string         `json:"target"`
	Stage   int            `json:"stage"`
	Percent float64        `json:"percent"`
	Config  map[string]any `json:"config"`
	Key     string         `json:"key"`
	Action  string         `json:"action"`
}

// ChangeReply is a receiver's answer to a Change: what the changed cohort
// ran before, so that an undo can restore it.
type ChangeReply struct {
	// Replaced is the changed cohort's configuration: the canary's for
	// apply and revert (null when no canary ran), the baseline's for
	// promote.
	Replaced map[string]any `json:"replaced"`
	// Percent is the canary's share of the traffic before an apply or a
	// revert, 0 when no canary ran. Left out beside a replaced canary, an
	// undo steps back to the previous stage's share (the first stage's
	// removes the canary) instead of restoring it.
	Percent float64 `json:"percent,omitempty"`
}

// State is a receiver's answer to a signed GET of the same URL: what each
// cohort runs, and the canary's share of the traffic.
type State struct {
	Baseline map[string]any `json:"baseline"`
	Canary   map[string]any `json:"canary,omitempty"`
	Percent  float64        `json:"percent"`
}
