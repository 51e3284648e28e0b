package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/api"
	"github.com/passflow/passflow/simulations"
	"github.com/passflow/passflow/workers"
)

// runtime is a started worker and HTTP API.
type runtime struct {
	worker worker.Worker
	http   *http.Server
	ln     net.Listener
}

// listen binds the HTTP API's address first, so that a taken port is
// reported before anything else starts.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &portError{what: "HTTP API", addr: addr, flag: "--http", err: err}
	}
	return ln, nil
}

// startRuntime starts the worker (activities backed by stateDir), unless
// noWorker, and the HTTP API on ln behind auth; /metrics serves reg (see
// metricsRegistry), with the passes in flight added.
func startRuntime(c client.Client, reg *prometheus.Registry, stateDir string, ln net.Listener, auth APIConfig, wopts workers.Options, noWorker bool) (*runtime, error) {
	webConfig, apiOpts, err := auth.load()
	if err != nil {
		return nil, err
	}
	reg.MustRegister(newPassCollector(c))
	acts := &activities.Activities{
		Connector: simulations.NewConnector(simulations.Options{StateDir: filepath.Join(stateDir, "sim")}, NewRealServices()),
		Schedules: activities.TemporalSchedules{Client: c},
		Metrics:   activities.NewMetrics(reg),
	}
	var w worker.Worker
	if !noWorker {
		w = workers.New(c, acts, wopts)
		if err := w.Start(); err != nil {
			return nil, fmt.Errorf("start the worker: %w", err)
		}
	}
	srv := &http.Server{Handler: api.New(c, reg, apiOpts),
		// A slow client holds a connection for a bounded time: the headers
		// in 10 s, the whole request in 30 s, the answer in 60 s, and an idle
		// keep-alive for 2 minutes.
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	// exporter-toolkit checks TLS, client certificates and basic-auth
	// passwords (re-reading the file, so edits apply without a restart)
	// before api's handler reads the identity.
	path := string(webConfig)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() {
		if err := web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &path}, logger); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Printf("passflow: HTTP API stopped: %v\n", err)
		}
	}()
	return &runtime{worker: w, http: srv, ln: ln}, nil
}

func (r *runtime) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.http.Shutdown(ctx)
	if r.worker != nil {
		r.worker.Stop()
	}
}

// portError is a port that could not be bound, with the flag that moves it.
type portError struct {
	what, addr, flag string
	err              error
}

func (e *portError) Error() string {
	return fmt.Sprintf("%s: cannot listen on %s: %v (choose another address with %s)", e.what, e.addr, e.err, e.flag)
}

func (e *portError) Unwrap() error { return e.err }
