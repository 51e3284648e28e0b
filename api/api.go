// Package api is passflow's HTTP API: health, Prometheus metrics, targets
// (register, list, show, pause, resume, delete, request a pass, history),
// Alertmanager's webhook, and the operator's calls on passes (status,
// cancel, approve).
//
// Invariants: every request body is read with a size limit and parsed
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
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

// maxBody bounds every request body.
const maxBody = 1 << 20

// New returns the API's handler. c talks to Temporal; reg serves /metrics
// and gets the API's own counters.
func New(c client.Client, reg *prometheus.Registry) http.Handler {
	s := &server{c: c, router: &router{c: c, ttl: routerTTL}}
	if reg != nil {
		s.alertsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "passflow_alerts_total",
			Help: "Alerts taken by the webhook, by result (requested, coalesced, delivered, ignored, invalid).",
		}, []string{"result"})
		reg.MustRegister(s.alertsTotal)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	if reg != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /v1/targets", s.listTargets)
	mux.HandleFunc("PUT /v1/targets/{name}", s.putTarget)
	mux.HandleFunc("GET /v1/targets/{name}", s.showTarget)
	mux.HandleFunc("DELETE /v1/targets/{name}", s.deleteTarget)
	mux.HandleFunc("POST /v1/targets/{name}/pause", s.pauseTarget(true))
	mux.HandleFunc("POST /v1/targets/{name}/resume", s.pauseTarget(false))
	mux.HandleFunc("POST /v1/targets/{name}/passes", s.requestPass)
	mux.HandleFunc("GET /v1/targets/{name}/history", s.history)
	mux.HandleFunc("POST /v1/alerts", s.alerts)
	// Pass IDs hold slashes (pass/<target>/<n>): the rest of the path is
	// the ID, with /cancel or /approval at its end for those calls.
	mux.HandleFunc("GET /v1/passes/{id...}", s.status)
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
	res, err := operator.Apply(r.Context(), s.c, spec, "HTTP PUT "+r.URL.Path, r.URL.Query().Get("by"))
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
	res, err := operator.Delete(r.Context(), s.c, r.PathValue("name"), r.URL.Query().Get("by"), r.URL.Query().Get("reason"))
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, res)
}

func (s *server) pauseTarget(paused bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		res, err := operator.Pause(r.Context(), s.c, r.PathValue("name"), paused, r.URL.Query().Get("by"), r.URL.Query().Get("reason"))
		if err != nil {
			writeOpError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// requestPass asks the target's tuner for a pass (?by= and ?reason= are
// optional); the reply names the pass that will serve the request.
func (s *server) requestPass(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rep, err := operator.Request(r.Context(), s.c, r.PathValue("name"), workflows.PassRequest{
		Trigger: workflows.TriggerOperator, RequestedBy: q.Get("by"), Reason: q.Get("reason"),
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

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	st, err := operator.Status(r.Context(), s.c, r.PathValue("id"))
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// passAction serves POST /v1/passes/{id}/cancel and /v1/passes/{id}/approval.
func (s *server) passAction(w http.ResponseWriter, r *http.Request) {
	rest := r.PathValue("id")
	if id, ok := strings.CutSuffix(rest, "/cancel"); ok {
		s.cancel(w, r, id)
		return
	}
	if id, ok := strings.CutSuffix(rest, "/approval"); ok {
		s.approval(w, r, id)
		return
	}
	writeError(w, http.StatusNotFound, "POST %s: expected /v1/passes/ID/cancel or /v1/passes/ID/approval", r.URL.Path)
}

func (s *server) cancel(w http.ResponseWriter, r *http.Request, id string) {
	if err := operator.Cancel(r.Context(), s.c, id); err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": "cancel requested"})
}

// approvalBody is an approval as the API takes it: every field but reason
// required.
type approvalBody struct {
	Approver string `json:"approver"`
	Approved *bool  `json:"approved"`
	Reason   string `json:"reason"`
}

// maxApprovalText bounds an approval's approver and reason, which the pass
// keeps in its history.
const maxApprovalText = 1024

func (s *server) approval(w http.ResponseWriter, r *http.Request, id string) {
	const expected = "approval body: expected {\"approver\": NAME, \"approved\": BOOL, \"reason\": TEXT}"
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
	case strings.TrimSpace(b.Approver) == "":
		writeError(w, http.StatusBadRequest, "approval body: approver: expected a name, got %q", b.Approver)
		return
	case b.Approved == nil:
		writeError(w, http.StatusBadRequest, "approval body: approved: expected true or false, found none")
		return
	case len(b.Approver) > maxApprovalText || len(b.Reason) > maxApprovalText:
		writeError(w, http.StatusBadRequest, "approval body: approver and reason: expected at most %d bytes each", maxApprovalText)
		return
	}
	a := workflows.Approval{Approver: strings.TrimSpace(b.Approver), Approved: *b.Approved, Reason: b.Reason}
	if err := operator.Decide(r.Context(), s.c, id, a); err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": "sent"})
}

func writeOpError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, operator.ErrNotFound), errors.Is(err, operator.ErrNotRegistered):
		writeError(w, http.StatusNotFound, "%v", err)
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
