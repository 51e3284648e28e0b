package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCrossOriginRequestsRefused: a browser's cross-origin request that
// could change something (a web page POSTing text/plain to start a pass) is
// refused with 403 before any handler runs; reads, and requests from the
// CLI or Alertmanager (no browser headers), are not.
func TestCrossOriginRequestsRefused(t *testing.T) {
	h := New(nil, nil) // no Temporal client: a request that reached a handler would fail otherwise
	tests := []struct {
		name, method, path string
		header             map[string]string
		code               int
	}{
		{"cross-site POST starting a pass", http.MethodPost, "/v1/targets/svc/passes",
			map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"foreign Origin, no Sec-Fetch-Site", http.MethodPost, "/v1/passes/pass/svc/1/cancel",
			map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"cross-site PUT of a target", http.MethodPut, "/v1/targets/svc",
			map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"cross-site DELETE", http.MethodDelete, "/v1/targets/svc",
			map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		// Alertmanager and the CLI send no browser headers: the webhook's own
		// validation answers (an empty body is a 400), not the CSRF check.
		{"a webhook without browser headers", http.MethodPost, "/v1/alerts", nil, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(""))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.code {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, rec.Code, rec.Body, tt.code)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] == "" {
				t.Errorf("answer %q: want a JSON error", rec.Body)
			}
			if tt.code == http.StatusForbidden && !strings.Contains(body["error"], "cross-origin") {
				t.Errorf("refusal %q: want it to say cross-origin", body["error"])
			}
		})
	}
}

// TestPanicIsAJSONError: a handler that panics (here, on the missing
// Temporal client) answers 500 with a JSON error instead of dropping the
// connection.
func TestPanicIsAJSONError(t *testing.T) {
	rec := httptest.NewRecorder()
	New(nil, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/targets", nil))
	var body map[string]string
	if rec.Code != http.StatusInternalServerError || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] == "" {
		t.Fatalf("%d %q, want 500 with a JSON error", rec.Code, rec.Body)
	}
}

// TestApprovalBodyRefused: an approval that names no approver, leaves out
// its answer, carries trailing data or oversized text is refused with a 400
// naming what was wrong, before it reaches any pass.
func TestApprovalBodyRefused(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"approved missing", `{"approver": "alice"}`, "approved: expected true or false"},
		{"blank approver", `{"approver": "  ", "approved": true}`, "approver: expected a name"},
		{"no approver", `{"approved": true}`, "approver: expected a name"},
		{"trailing garbage", `{"approver": "alice", "approved": true} garbage`, "found more after the object"},
		{"two objects", `{"approver": "alice", "approved": true}{"approver": "bob", "approved": true}`, "found more after the object"},
		{"unknown field", `{"approver": "alice", "approved": true, "quorum": 0}`, "unknown field"},
		{"approved a string", `{"approver": "alice", "approved": "yes"}`, "approval body"},
		{"reason too long", `{"approver": "alice", "approved": true, "reason": "` + strings.Repeat("x", 2000) + `"}`, "at most 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			New(nil, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/passes/pass/svc/1/approval", strings.NewReader(tt.body)))
			var body map[string]string
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusBadRequest || !strings.Contains(body["error"], tt.want) {
				t.Errorf("%s: %d %q, want 400 saying %q", tt.body, rec.Code, body["error"], tt.want)
			}
		})
	}
}
