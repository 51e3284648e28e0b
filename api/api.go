// Package api is passflow's HTTP API: health, Prometheus metrics, and the
// operator's calls on passes (start, status, cancel, approve).
//
// Invariants: every request body is read with a size limit and parsed
// strictly; a bad request gets a 4xx with a message naming what was wrong
// and changes nothing.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/passflow/passflow/operator"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/workflows"
)

const maxBody = 1 << 20

// New returns the API's handler. c talks to Temporal; gatherer serves /metrics.
func New(c client.Client, gatherer prometheus.Gatherer) http.Handler {
	s := &server{c: c}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /v1/passes", s.start)
	mux.HandleFunc("GET /v1/passes/{id}", s.status)
	mux.HandleFunc("POST /v1/passes/{id}/cancel", s.cancel)
	mux.HandleFunc("POST /v1/passes/{id}/approval", s.approval)
	return mux
}

type server struct{ c client.Client }

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		http.Error(w, "temporal: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// start takes a target file (YAML) as the body; ?trigger= and ?by= are optional.
func (s *server) start(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "request body: %v", err)
		return
	}
	spec, err := target.Parse("request body", body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	trigger := r.URL.Query().Get("trigger")
	if trigger == "" {
		trigger = "api"
	}
	id, err := operator.Start(r.Context(), s.c, spec, trigger, r.URL.Query().Get("by"))
	if errors.Is(err, operator.ErrBusy) {
		writeError(w, http.StatusConflict, "%v", err)
		return
	}
	if err != nil {
		writeError(w, http.StatusBadGateway, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id, "target": spec.Name})
}

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	st, err := operator.Status(r.Context(), s.c, r.PathValue("id"))
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *server) cancel(w http.ResponseWriter, r *http.Request) {
	if err := operator.Cancel(r.Context(), s.c, r.PathValue("id")); err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": r.PathValue("id"), "status": "cancel requested"})
}

func (s *server) approval(w http.ResponseWriter, r *http.Request) {
	var a workflows.Approval
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		writeError(w, http.StatusBadRequest, "approval body: expected {\"approver\": NAME, \"approved\": BOOL, \"reason\": TEXT}: %v", err)
		return
	}
	if a.Approver == "" {
		writeError(w, http.StatusBadRequest, "approval body: approver: expected a name")
		return
	}
	if err := operator.Decide(r.Context(), s.c, r.PathValue("id"), a); err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": r.PathValue("id"), "status": "sent"})
}

func writeOpError(w http.ResponseWriter, err error) {
	if errors.Is(err, operator.ErrNotFound) {
		writeError(w, http.StatusNotFound, "%v", err)
		return
	}
	writeError(w, http.StatusBadGateway, "%v", err)
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
