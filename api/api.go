// Package api is passflow's HTTP API: health, Prometheus metrics, targets
// (register, list, show, pause, resume, delete, request a pass, history),
// Alertmanager's webhook, and the operator's calls on passes (status,
// cancel, approve), each behind a role of package access.
//
// Invariants: a request without an identity gets 401 and one without the
// route's role 403, before any handler reads it; every request body is read with a size limit and parsed
// strictly; a bad request gets a 4xx with a message naming what was wrong
// and changes nothing; passes start only through their target's tuner; a
// browser's cross-origin request that could change something is refused
// (403) before any handler runs; a handler's panic is a 500 with a JSON
// error, never a dropped connection.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/passflow/passflow/access"
	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// maxBody bounds every request body.
const maxBody = 1 << 20

// Auth names a request's caller and says what it may do. Identify returns
// "" for a request without an identity.
type Auth struct {
	Identify func(*http.Request) string
	Policy   interface {
		Allows(id string, role access.Role) bool
	}
}

// Options configure the API.
type Options struct {
	// Auth decides who may call each route.
	Auth Auth
	// Commands are the executables (absolute paths) a target registered
	// through the API may name as its command actuator's argv[0]. A target
	// file applied on the server's side (passflow dev --targets, passflow
	// targets apply) is not bound by it.
	Commands []string
	// FileDirs are the directories under which a target registered through
	// the API may have its file actuator write.
	FileDirs []string
}

// New returns the API's handler. c talks to Temporal; reg serves /metrics
// and gets the API's own counters. The handler expects to run behind
// exporter-toolkit's (as app serves it), which checks basic-auth passwords
// and client certificates first.
func New(c client.Client, reg *prometheus.Registry, opts Options) http.Handler {
	s := &server{c: c, router: &router{c: c, ttl: routerTTL}, auth: opts.Auth, opts: opts}
	if reg != nil {
		s.alertsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "passflow_alerts_total",
			Help: "Alerts taken by the webhook, by result (requested, coalesced, delivered, ignored, invalid).",
		}, []string{"result"})
		reg.MustRegister(s.alertsTotal)
	}
	mux := http.NewServeMux()
	route := func(pattern string, role access.Role, h http.HandlerFunc) { mux.Handle(pattern, s.allow(role, h)) }
	route("GET /healthz", "", s.healthz)
	if reg != nil {
		route("GET /metrics", access.Viewer, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP)
	}
	route("GET /v1/targets", access.Viewer, s.listTargets)
	route("PUT /v1/targets/{name}", access.Operator, s.putTarget)
	route("GET /v1/targets/{name}", access.Viewer, s.showTarget)
	route("DELETE /v1/targets/{name}", access.Operator, s.deleteTarget)
	route("POST /v1/targets/{name}/pause", access.Operator, s.pauseTarget(true))
	route("POST /v1/targets/{name}/resume", access.Operator, s.pauseTarget(false))
	route("POST /v1/targets/{name}/passes", access.Operator, s.requestPass)
	route("GET /v1/targets/{name}/history", access.Viewer, s.history)
	route("GET /v1/targets/{name}/audit", access.Viewer, s.audit)
	route("POST /v1/alerts", access.Trigger, s.alerts)
	route("GET /v1/approvals", access.Viewer, s.approvals)
	// Pass IDs hold slashes (pass/<target>/<n>): the rest of the path is
	// the ID, with /cancel or /approval at its end for those calls.
	route("GET /v1/passes/{id...}", access.Viewer, s.status)
	mux.HandleFunc("POST /v1/passes/{id...}", s.passAction)
	// A web page an operator has open must not start, cancel or approve a
	// pass on their machine: cross-origin POST, PUT and DELETE from a
	// browser are refused (Sec-Fetch-Site, else Origin against Host). The
	// CLI, curl and Alertmanager send neither header and pass.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "%s %s: a cross-origin request from a browser; expected one from the same origin", r.Method, r.URL.Path)
	}))
	return recoverPanics(csrf.Handler(mux))
}

// identityKey keys the caller's identity in a request's context.
type identityKey struct{}

// identity is the authenticated caller of a request that allow let through.
func identity(r *http.Request) string {
	id, _ := r.Context().Value(identityKey{}).(string)
	return id
}

// allow runs h for a caller that holds role ("" for any identity): 401
// without an identity, 403 without the role. Neither names a credential.
func (s *server) allow(role access.Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := ""
		if s.auth.Identify != nil {
			id = s.auth.Identify(r)
		}
		switch {
		case id == "":
			w.Header().Set("WWW-Authenticate", `Basic realm="passflow"`)
			writeError(w, http.StatusUnauthorized, "%s %s: expected credentials (basic auth or a client certificate)", r.Method, r.URL.Path)
			return
		case role != "" && (s.auth.Policy == nil || !s.auth.Policy.Allows(id, role)):
			writeError(w, http.StatusForbidden, "%s %s: %s does not hold the %s role", r.Method, r.URL.Path, id, role)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

// recoverPanics answers a handler's panic with a 500 and a JSON error: the
// client learns the request failed, and the server goes on.
func recoverPanics(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				writeError(w, http.StatusInternalServerError, "%s %s: internal error", r.Method, r.URL.Path)
			}
		}()
		h.ServeHTTP(w, r)
	})
}

type server struct {
	auth        Auth
	opts        Options
	c           client.Client
	router      *router
	alertsTotal *prometheus.CounterVec
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		http.Error(w, "temporal: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// actuatorAllowed refuses, from a request body, a command actuator (or a
// file actuator's program run after each write) whose program is not on
// the server's allow-list, and a file actuator that would write outside the
// allowed directories: either would let an API caller run or overwrite
// anything the worker can.
func (s *server) actuatorAllowed(a target.Actuator) error {
	var argv []string
	field := "actuator.command.argv[0]"
	switch {
	case a.Command != nil:
		argv = a.Command.Argv
	case a.File != nil:
		argv, field = a.File.Argv, "actuator.file.argv[0]"
	}
	if len(argv) > 0 && !slices.Contains(s.opts.Commands, argv[0]) {
		allowed := "none is"
		if len(s.opts.Commands) > 0 {
			allowed = "allowed: " + strings.Join(s.opts.Commands, ", ")
		}
		return fmt.Errorf("%s: %q is not on the server's allow-list of commands (%s; --actuator.allow-command); "+
			"a target file applied on the server's side is not bound by it", field, argv[0], allowed)
	}
	if f := a.File; f != nil {
		clean := filepath.Clean(f.Path)
		if !slices.ContainsFunc(s.opts.FileDirs, func(dir string) bool {
			rel, err := filepath.Rel(filepath.Clean(dir), clean)
			return err == nil && filepath.IsAbs(clean) && rel != ".." && !strings.HasPrefix(rel, "../")
		}) {
			allowed := "none is"
			if len(s.opts.FileDirs) > 0 {
				allowed = "allowed: " + strings.Join(s.opts.FileDirs, ", ")
			}
			return fmt.Errorf("actuator.file.path: %q is not under a directory the server allows for targets sent to the API (%s; --actuator.allow-dir)", f.Path, allowed)
		}
	}
	return nil
}

// contentType answers 415 unless the request's body is one of the media
// types.
func contentType(w http.ResponseWriter, r *http.Request, types ...string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && slices.Contains(types, mt) {
		return true
	}
	writeError(w, http.StatusUnsupportedMediaType, "%s %s: Content-Type: expected %s, got %q",
		r.Method, r.URL.Path, strings.Join(types, " or "), r.Header.Get("Content-Type"))
	return false
}

// readBody reads the body up to maxBody; past it the answer is 413.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "request body: larger than %d bytes", maxBody)
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "request body: %v", err)
		return nil, false
	}
	return body, true
}

// putTarget registers or updates a target from a target file (YAML body).
func (s *server) putTarget(w http.ResponseWriter, r *http.Request) {
	if !contentType(w, r, "application/yaml", "application/x-yaml", "text/yaml", "application/json") {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	spec, err := target.Parse("request body", body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if spec.Name != name {
		writeError(w, http.StatusBadRequest, "request body: name: expected %q, the target in the path, got %q", name, spec.Name)
		return
	}
	if err := s.actuatorAllowed(spec.Actuator); err != nil {
		writeError(w, http.StatusForbidden, "request body: %v", err)
		return
	}
	res, err := operator.Apply(r.Context(), s.c, spec, "HTTP PUT "+r.URL.Path, identity(r))
	if err != nil {
		writeOpError(w, err)
		return
	}
	code := http.StatusOK
	if res.Result == workflows.Created {
		code = http.StatusCreated
	}
	writeJSON(w, code, res)
}

func (s *server) listTargets(w http.ResponseWriter, r *http.Request) {
	rows, err := operator.Targets(r.Context(), s.c)
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

// showTarget returns the tuner's state; the observation history only with
// ?history=1 (it may hold hundreds).
func (s *server) showTarget(w http.ResponseWriter, r *http.Request) {
	state := operator.TargetState
	if r.URL.Query().Get("history") == "1" {
		state = operator.TargetStateWithHistory
	}
	st, err := state(r.Context(), s.c, r.PathValue("name"))
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *server) deleteTarget(w http.ResponseWriter, r *http.Request) {
	res, err := operator.Delete(r.Context(), s.c, r.PathValue("name"), identity(r), r.URL.Query().Get("reason"))
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, res)
}

func (s *server) pauseTarget(paused bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		res, err := operator.Pause(r.Context(), s.c, r.PathValue("name"), paused, identity(r), r.URL.Query().Get("reason"))
		if err != nil {
			writeOpError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// requestPass asks the target's tuner for a pass, as the caller (?reason=
// is optional); the reply names the pass that will serve the request.
func (s *server) requestPass(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rep, err := operator.Request(r.Context(), s.c, r.PathValue("name"), workflows.PassRequest{
		Trigger: workflows.TriggerOperator, RequestedBy: identity(r), Reason: q.Get("reason"),
	})
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, rep)
}

func (s *server) history(w http.ResponseWriter, r *http.Request) {
	recs, err := operator.History(r.Context(), s.c, r.PathValue("name"))
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, recs)
}

// audit returns a target's audit trail, oldest first: a JSON array, or
// JSON Lines with ?format=jsonl (an export).
func (s *server) audit(w http.ResponseWriter, r *http.Request) {
	entries, err := operator.Audit(r.Context(), s.c, r.PathValue("name"))
	if err != nil {
		writeOpError(w, err)
		return
	}
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		writeJSON(w, http.StatusOK, entries)
	case "jsonl":
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		for _, e := range entries {
			_ = enc.Encode(e)
		}
	default:
		writeError(w, http.StatusBadRequest, "format: expected json or jsonl, got %q", f)
	}
}

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	st, err := operator.Status(r.Context(), s.c, r.PathValue("id"))
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// passAction serves POST /v1/passes/{id}/cancel (operator) and
// /v1/passes/{id}/approval (approver).
func (s *server) passAction(w http.ResponseWriter, r *http.Request) {
	rest := r.PathValue("id")
	if id, ok := strings.CutSuffix(rest, "/cancel"); ok {
		s.allow(access.Operator, func(w http.ResponseWriter, r *http.Request) { s.cancel(w, r, id) }).ServeHTTP(w, r)
		return
	}
	if id, ok := strings.CutSuffix(rest, "/approval"); ok {
		s.allow(access.Approver, func(w http.ResponseWriter, r *http.Request) { s.approval(w, r, id) }).ServeHTTP(w, r)
		return
	}
	s.allow(access.Viewer, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "POST %s: expected /v1/passes/ID/cancel or /v1/passes/ID/approval", r.URL.Path)
	}).ServeHTTP(w, r)
}

func (s *server) cancel(w http.ResponseWriter, r *http.Request, id string) {
	if err := operator.Cancel(r.Context(), s.c, id); err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": "cancel requested"})
}

// approvalBody is an answer as the API takes it: approved required, reason
// optional. The approver is the caller's identity; a body that names one is
// refused rather than ignored.
type approvalBody struct {
	Approved *bool   `json:"approved"`
	Reason   string  `json:"reason"`
	Approver *string `json:"approver"`
}

// approval answers a pass's approval request as the caller: the pass's
// validator refuses an answer it cannot take (409 not waiting or answered
// already, 403 not one of the target's approvers).
func (s *server) approval(w http.ResponseWriter, r *http.Request, id string) {
	const expected = "approval body: expected {\"approved\": BOOL, \"reason\": TEXT}"
	if !contentType(w, r, "application/json") {
		return
	}
	var b approvalBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, "%s: %v", expected, err)
		return
	}
	switch {
	case dec.More() || dec.Decode(&struct{}{}) != io.EOF:
		writeError(w, http.StatusBadRequest, "%s: found more after the object", expected)
		return
	case b.Approver != nil:
		writeError(w, http.StatusBadRequest, "approval body: approver: the approver is the caller's identity (%s); remove the field", identity(r))
		return
	case b.Approved == nil:
		writeError(w, http.StatusBadRequest, "approval body: approved: expected true or false, found none")
		return
	case len(b.Reason) > workflows.MaxApprovalReason:
		writeError(w, http.StatusBadRequest, "approval body: reason: expected at most %d bytes, got %d", workflows.MaxApprovalReason, len(b.Reason))
		return
	}
	a := workflows.Approval{Approver: identity(r), Approved: *b.Approved, Reason: b.Reason}
	reply, err := operator.Decide(r.Context(), s.c, id, a)
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Answer{ID: id, Approver: a.Approver, Decision: reply.Decision, Approvals: reply.Approvals, Quorum: reply.Quorum})
}

// approvals lists the passes waiting for an approval.
func (s *server) approvals(w http.ResponseWriter, r *http.Request) {
	rows, err := operator.Approvals(r.Context(), s.c)
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

func writeOpError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, operator.ErrNotFound), errors.Is(err, operator.ErrNotRegistered):
		writeError(w, http.StatusNotFound, "%v", err)
	case errors.Is(err, operator.ErrForbidden):
		writeError(w, http.StatusForbidden, "%v", err)
	case errors.Is(err, operator.ErrRefused):
		writeError(w, http.StatusConflict, "%v", err)
	case errors.Is(err, operator.ErrInvalid):
		writeError(w, http.StatusBadRequest, "%v", err)
	default:
		writeError(w, http.StatusBadGateway, "%v", err)
	}
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
