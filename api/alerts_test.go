package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// postAlerts sends body to the webhook through the API's real handler. The
// handler has no Temporal client: only requests refused before any call on
// one may go through it.
func postAlerts(t *testing.T, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/v1/alerts", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	New(nil, nil, Options{Auth: allRoles}).ServeHTTP(rec, req)
	return rec
}

// TestAlertsWebhookRefusesBadPayloads: a payload that is not Alertmanager's
// webhook (version 4) gets a 400 naming what was wrong, one over the size
// limit a 413; none of them reaches Temporal.
func TestAlertsWebhookRefusesBadPayloads(t *testing.T) {
	const firing = `{"status": "firing", "labels": {"alertname": "HighLatency"}}`
	tests := []struct {
		name string
		body string
		code int
		want []string // each in the error message
	}{
		{"empty body", ``, http.StatusBadRequest,
			[]string{"alert webhook body", "webhook JSON (version 4)", "EOF"}},
		{"not JSON", `alerts: [HighLatency]`, http.StatusBadRequest,
			[]string{"alert webhook body", "webhook JSON (version 4)", "invalid character"}},
		{"truncated JSON", `{"version": "4", "alerts": [` + firing, http.StatusBadRequest,
			[]string{"alert webhook body", "webhook JSON (version 4)"}},
		{"trailing garbage", `{"version": "4", "alerts": []} garbage`, http.StatusBadRequest,
			[]string{"alert webhook body", "expected one JSON object, found more after it"}},
		{"a closing brace too many", `{"version": "4", "alerts": []}}`, http.StatusBadRequest,
			[]string{"expected one JSON object, found more after it"}},
		{"two objects", `{"version": "4", "alerts": []} {"version": "4", "alerts": []}`, http.StatusBadRequest,
			[]string{"expected one JSON object, found more after it"}},
		{"a JSON array", `[` + firing + `]`, http.StatusBadRequest,
			[]string{"alert webhook body", "webhook JSON (version 4)", "array"}},
		{"version 3", `{"version": "3", "alerts": [` + firing + `]}`, http.StatusBadRequest,
			[]string{"version", `expected "4"`, `got "3"`}},
		{"no version", `{"alerts": [` + firing + `]}`, http.StatusBadRequest,
			[]string{"version", `expected "4"`, `got ""`}},
		{"version a number", `{"version": 4, "alerts": [` + firing + `]}`, http.StatusBadRequest,
			[]string{"alert webhook body", "version", "number"}},
		{"missing alerts array", `{"version": "4", "status": "firing"}`, http.StatusBadRequest,
			[]string{"alerts: expected an array of alerts, found none"}},
		{"alerts null", `{"version": "4", "alerts": null}`, http.StatusBadRequest,
			[]string{"alerts: expected an array of alerts, found none"}},
		{"alerts not an array", `{"version": "4", "alerts": ` + firing + `}`, http.StatusBadRequest,
			[]string{"alert webhook body", "alerts", "object"}},
		{"alert status pending", `{"version": "4", "alerts": [{"status": "pending", "labels": {"alertname": "HighLatency"}}]}`,
			http.StatusBadRequest, []string{"alerts[0].status", "expected firing or resolved", `got "pending"`}},
		{"alert without status", `{"version": "4", "alerts": [{"labels": {"alertname": "HighLatency"}}]}`,
			http.StatusBadRequest, []string{"alerts[0].status", `got ""`}},
		{"alert without labels", `{"version": "4", "alerts": [{"status": "firing"}]}`, http.StatusBadRequest,
			[]string{"alerts[0].labels", "expected an alertname label"}},
		{"alert with a target label and no alertname", `{"version": "4", "alerts": [{"status": "firing", "labels": {"passflow_target": "x"}}]}`,
			http.StatusBadRequest, []string{"alerts[0].labels", "expected an alertname label"}},
		{"second alert without alertname or target", `{"version": "4", "alerts": [` + firing +
			`, {"status": "firing", "labels": {"severity": "page"}}]}`, http.StatusBadRequest,
			[]string{"alerts[1].labels", "expected an alertname label"}},
		{"alert null", `{"version": "4", "alerts": [null]}`, http.StatusBadRequest,
			[]string{"alerts[0].status"}},
		{"startsAt not a time", `{"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": "A"}, "startsAt": "yesterday"}]}`,
			http.StatusBadRequest, []string{"alert webhook body", "yesterday"}},
		{"1 MiB + 1 byte", padded(`{"version": "4", "alerts": []}`, maxBody+1),
			http.StatusRequestEntityTooLarge, []string{"request body", "larger than 1048576 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := postAlerts(t, tt.body)
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("reply %s: %v, want {\"error\": …}", rec.Body, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(e.Error, w) {
					t.Errorf("error %q: want it to contain %q", e.Error, w)
				}
			}
		})
	}
}

// padded is body followed by spaces up to n bytes: valid JSON of any size.
func padded(body string, n int) string {
	return body + strings.Repeat(" ", n-len(body))
}

// TestAlertsWebhookTakesOneMiB: the size limit is inclusive.
func TestAlertsWebhookTakesOneMiB(t *testing.T) {
	if rec := postAlerts(t, padded(`{"version": "4", "alerts": []}`, maxBody)); rec.Code != http.StatusOK {
		t.Errorf("a body of exactly %d bytes: status %d, want 200: %s", maxBody, rec.Code, rec.Body)
	}
}

// TestAlertsWebhookIgnoresResolved: resolved alerts request nothing (and so
// need no Temporal client); the reply lists them as ignored, with every list
// present.
func TestAlertsWebhookIgnoresResolved(t *testing.T) {
	rec := postAlerts(t, `{"version": "4", "status": "resolved", "alerts": [
		{"status": "resolved", "labels": {"alertname": "HighLatency", "passflow_target": "checkout"}},
		{"status": "resolved", "labels": {"alertname": "ErrorBudgetBurn"}}]}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", rec.Code, rec.Body)
	}
	var got map[string][]AlertResult
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	why := "resolved: recorded, requests nothing"
	want := map[string][]AlertResult{
		"requested": {}, "coalesced": {}, "delivered": {},
		"ignored": {
			{Alert: "HighLatency", Target: "checkout", Reason: why},
			{Alert: "ErrorBudgetBurn", Reason: why},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reply %+v, want %+v", got, want)
	}
}

// alertmanagerPayload is a webhook body as Alertmanager 0.25 sends it (the
// shape documented at
// https://prometheus.io/docs/alerting/latest/configuration/#webhook_config),
// with a firing alert routed by label and a resolved one by alertname.
const alertmanagerPayload = `{
  "receiver": "passflow",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {
        "alertname": "HighLatency",
        "passflow_target": "checkout-api",
        "instance": "checkout-7f9c:8080",
        "severity": "page"
      },
      "annotations": {
        "summary": "p95 latency above 250ms",
        "runbook_url": "https://runbooks.example.com/high-latency"
      },
      "startsAt": "2026-03-04T10:15:30.123456789Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus:9090/graph?g0.expr=latency_p95_ms+%3E+250&g0.tab=1",
      "fingerprint": "c4a3b5e1f2d60789"
    },
    {
      "status": "resolved",
      "labels": {"alertname": "ErrorBudgetBurn", "severity": "ticket"},
      "annotations": {},
      "startsAt": "2026-03-04T09:00:00Z",
      "endsAt": "2026-03-04T10:00:00+01:00",
      "generatorURL": "http://prometheus:9090/graph?g0.expr=error_budget_burn+%3E+2",
      "fingerprint": "0f1e2d3c4b5a6978"
    }
  ],
  "groupLabels": {"alertname": "HighLatency"},
  "commonLabels": {"severity": "page"},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager:9093",
  "version": "4",
  "groupKey": "{}/{severity=~\"page|ticket\"}:{alertname=\"HighLatency\"}",
  "truncatedAlerts": 0
}`

func TestParseWebhookAlertmanagerPayload(t *testing.T) {
	got, err := parseWebhook([]byte(alertmanagerPayload))
	if err != nil {
		t.Fatal(err)
	}
	want := []webhookAlert{
		{
			Status: "firing",
			Labels: map[string]string{"alertname": "HighLatency", "passflow_target": "checkout-api",
				"instance": "checkout-7f9c:8080", "severity": "page"},
			Annotations: map[string]string{"summary": "p95 latency above 250ms",
				"runbook_url": "https://runbooks.example.com/high-latency"},
			StartsAt:     time.Date(2026, 3, 4, 10, 15, 30, 123456789, time.UTC),
			GeneratorURL: "http://prometheus:9090/graph?g0.expr=latency_p95_ms+%3E+250&g0.tab=1",
			Fingerprint:  "c4a3b5e1f2d60789",
		},
		{
			Status:       "resolved",
			Labels:       map[string]string{"alertname": "ErrorBudgetBurn", "severity": "ticket"},
			Annotations:  map[string]string{},
			StartsAt:     time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC),
			EndsAt:       time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC),
			GeneratorURL: "http://prometheus:9090/graph?g0.expr=error_budget_burn+%3E+2",
			Fingerprint:  "0f1e2d3c4b5a6978",
		},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d alerts, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		// Times compare as instants: the payload's zones are its own.
		if !g.StartsAt.Equal(w.StartsAt) || !g.EndsAt.Equal(w.EndsAt) {
			t.Errorf("alert %d: startsAt %s, endsAt %s; want %s, %s", i, g.StartsAt, g.EndsAt, w.StartsAt, w.EndsAt)
		}
		g.StartsAt, g.EndsAt, w.StartsAt, w.EndsAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("alert %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if !got[0].EndsAt.IsZero() {
		t.Errorf("firing alert's endsAt %s, want the zero time Alertmanager sends", got[0].EndsAt)
	}
}

// TestParseWebhookEmptyAlerts: an empty array is a valid payload (nothing
// to do), unlike a missing one.
func TestParseWebhookEmptyAlerts(t *testing.T) {
	got, err := parseWebhook([]byte(`{"version": "4", "alerts": []}`))
	if err != nil || len(got) != 0 {
		t.Errorf("parseWebhook: %+v, %v; want no alerts and no error", got, err)
	}
}
