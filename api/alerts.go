package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/workflows"
)

// TargetLabel is the alert label that names the target an alert is about.
const TargetLabel = "passflow_target"

// webhookMessage is Alertmanager's webhook payload, version 4
// (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
// Fields passflow does not use are accepted and ignored.
type webhookMessage struct {
	Version  string          `json:"version"`
	GroupKey string          `json:"groupKey"`
	Status   string          `json:"status"`
	Receiver string          `json:"receiver"`
	Alerts   *[]webhookAlert `json:"alerts"`
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// AlertResult is one alert's fate for one target in the webhook's reply.
type AlertResult struct {
	Alert  string `json:"alert"`
	Target string `json:"target,omitempty"`
	PassID string `json:"pass_id,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// AlertsReply is the webhook's reply: which alerts requested a pass, which
// joined one already requested (or running), which went to a running pass's
// canary, and which were ignored, with why.
type AlertsReply struct {
	Requested []AlertResult `json:"requested"`
	Coalesced []AlertResult `json:"coalesced"`
	Delivered []AlertResult `json:"delivered"`
	Ignored   []AlertResult `json:"ignored"`
}

// parseWebhook decodes and checks an Alertmanager webhook body.
func parseWebhook(body []byte) ([]webhookAlert, error) {
	var m webhookMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return nil, fmt.Errorf("alert webhook body: %s: expected %s, got a JSON %s", ute.Field, jsonKind(ute.Type), ute.Value)
		}
		if errors.As(err, &ute) {
			return nil, fmt.Errorf("alert webhook body: expected Alertmanager's webhook JSON (version 4): an object, got a JSON %s", ute.Value)
		}
		return nil, fmt.Errorf("alert webhook body: expected Alertmanager's webhook JSON (version 4): %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("alert webhook body: expected one JSON object, found more after it")
	}
	if m.Version != "4" {
		return nil, fmt.Errorf("alert webhook body: version: expected \"4\" (Alertmanager's webhook payload), got %q", m.Version)
	}
	if m.Alerts == nil {
		return nil, errors.New("alert webhook body: alerts: expected an array of alerts, found none")
	}
	for i, a := range *m.Alerts {
		switch {
		case a.Status != "firing" && a.Status != "resolved":
			return nil, fmt.Errorf("alert webhook body: alerts[%d].status: expected firing or resolved, got %q", i, a.Status)
		case a.Labels["alertname"] == "":
			// Alertmanager always sets it; passflow records and dedupes by it.
			return nil, fmt.Errorf("alert webhook body: alerts[%d].labels: expected an alertname label", i)
		}
	}
	return *m.Alerts, nil
}

// jsonKind names what JSON a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Bool:
		return "true or false"
	}
	return "a number"
}

// router finds the targets an alert is about, from the tuners' memos,
// cached for a moment so a storm of alerts lists the tuners once.
type router struct {
	c   client.Client
	ttl time.Duration

	mu      sync.Mutex
	tuners  []operator.TunerInfo
	fetched time.Time
}

// routerTTL is how long the alert router trusts its list of targets.
const routerTTL = 2 * time.Second

func (r *router) list(ctx context.Context, fresh bool) ([]operator.TunerInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !fresh && time.Since(r.fetched) < r.ttl {
		return r.tuners, nil
	}
	t, err := operator.Tuners(ctx, r.c)
	if err != nil {
		return nil, err
	}
	r.tuners, r.fetched = t, time.Now()
	return t, nil
}

// targets returns the registered targets an alert selects: the one its
// passflow_target label names, or those that list its alertname in
// triggers.alerts.
func (r *router) targets(ctx context.Context, a webhookAlert) ([]string, error) {
	match := func(ts []operator.TunerInfo) []string {
		var out []string
		for _, t := range ts {
			if name := a.Labels[TargetLabel]; name != "" {
				if t.Name == name {
					out = append(out, name)
				}
			} else if slices.Contains(t.Alerts, a.Labels["alertname"]) {
				out = append(out, t.Name)
			}
		}
		return out
	}
	ts, err := r.list(ctx, false)
	if err != nil {
		return nil, err
	}
	if out := match(ts); len(out) > 0 {
		return out, nil
	}
	// A target registered a moment ago may not be in the cached list yet.
	if ts, err = r.list(ctx, true); err != nil {
		return nil, err
	}
	return match(ts), nil
}

// alerts takes Alertmanager's webhook: each firing alert asks the targets it
// selects for a pass (coalesced within each target's cooldown, delivered to a
// running pass's canary); resolved alerts are recorded and ignored. The reply
// comes at once: the passes run on their own.
func (s *server) alerts(w http.ResponseWriter, r *http.Request) {
	if !contentType(w, r, "application/json") {
		s.alertCount("invalid", 1)
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		s.alertCount("invalid", 1)
		return
	}
	alerts, err := parseWebhook(body)
	if err != nil {
		s.alertCount("invalid", 1)
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	reply := AlertsReply{Requested: []AlertResult{}, Coalesced: []AlertResult{}, Delivered: []AlertResult{}, Ignored: []AlertResult{}}
	ignore := func(res AlertResult) { reply.Ignored = append(reply.Ignored, res) }
	for _, a := range alerts {
		name := a.Labels["alertname"]
		if a.Status != "firing" {
			ignore(AlertResult{Alert: name, Target: a.Labels[TargetLabel], Reason: "resolved: recorded, requests nothing"})
			continue
		}
		targets, err := s.router.targets(r.Context(), a)
		if err != nil {
			writeJSONError(w, http.StatusBadGateway, reply, err)
			return
		}
		if len(targets) == 0 {
			why := fmt.Sprintf("no registered target lists %s in triggers.alerts", name)
			if t := a.Labels[TargetLabel]; t != "" {
				why = fmt.Sprintf("no registered target %s (label %s)", t, TargetLabel)
			}
			ignore(AlertResult{Alert: name, Reason: why})
			continue
		}
		for _, t := range targets {
			res := AlertResult{Alert: name, Target: t}
			rep, err := operator.Request(r.Context(), s.c, t, workflows.PassRequest{
				Trigger: workflows.TriggerAlert, RequestedBy: "alertmanager", Reason: a.Annotations["summary"],
				Alert: &workflows.Alert{Name: name, Fingerprint: a.Fingerprint, StartsAt: a.StartsAt,
					Labels: a.Labels, Summary: a.Annotations["summary"]},
			})
			switch {
			case errors.Is(err, operator.ErrNotRegistered), errors.Is(err, operator.ErrRefused):
				res.Reason = err.Error()
				ignore(res)
				continue
			case err != nil:
				writeJSONError(w, http.StatusBadGateway, reply, err)
				return
			}
			res.PassID, res.Reason = rep.PassID, rep.Reason
			switch rep.Status {
			case workflows.ReplyStarted, workflows.ReplyQueued:
				reply.Requested = append(reply.Requested, res)
			case workflows.ReplyCoalesced:
				reply.Coalesced = append(reply.Coalesced, res)
			case workflows.ReplyDelivered:
				reply.Delivered = append(reply.Delivered, res)
			default:
				ignore(res)
			}
		}
	}
	s.alertCount("requested", len(reply.Requested))
	s.alertCount("coalesced", len(reply.Coalesced))
	s.alertCount("delivered", len(reply.Delivered))
	s.alertCount("ignored", len(reply.Ignored))
	writeJSON(w, http.StatusOK, reply)
}

func (s *server) alertCount(result string, n int) {
	if s.alertsTotal != nil && n > 0 {
		s.alertsTotal.WithLabelValues(result).Add(float64(n))
	}
}

// writeJSONError answers with what was done before the error, so a caller
// (Alertmanager retries a 5xx) sees it.
func writeJSONError(w http.ResponseWriter, code int, done AlertsReply, err error) {
	writeJSON(w, code, struct {
		Error string `json:"error"`
		AlertsReply
	}{err.Error(), done})
}
