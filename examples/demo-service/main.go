package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// options are the command line's.
type options struct {
	listen     string
	rate       float64
	regression float64
	secretEnv  string
	insecure   bool
	baseline   Config
	seed       uint64
}

// parseFlags reads the command line into options and checks each.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := pflag.NewFlagSet("demo-service", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9100", "address to serve /work (the traffic), /metrics and /config on")
	fs.Float64Var(&o.rate, "rate", 50, "requests a second the built-in load generator offers (0: none)")
	fs.Float64Var(&o.regression, "regression", 0, "a fault to inject: the canary's waits are stretched by the factor 1+R")
	fs.StringVar(&o.secretEnv, "secret-env", "DEMO_SERVICE_SECRET", "environment variable holding the HMAC secret that signs /config requests")
	fs.BoolVar(&o.insecure, "insecure", false, "accept unsigned /config requests when the secret's variable is empty")
	fs.IntVar(&o.baseline.WorkerThreads, "worker-threads", 32, "the baseline's worker_threads at start (1 to 1024)")
	fs.Float64Var(&o.baseline.CacheTTL, "cache-ttl", 60, "the baseline's cache_ttl_s at start (seconds, above 0)")
	fs.StringVar(&o.baseline.GCMode, "gc-mode", gcThroughput, "the baseline's gc_mode at start (throughput or low-latency)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the traffic, the waits and the backend's update schedule")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: demo-service [flags]\n\nA service for passflow to tune: traffic in two cohorts, Prometheus metrics, and a signed /config webhook.\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("expected no arguments, got %q", fs.Args())
	}
	switch {
	case !(o.rate >= 0) || math.IsInf(o.rate, 0):
		return o, fmt.Errorf("--rate: expected requests a second, 0 or more, got %g", o.rate)
	case !(o.regression > -1) || math.IsInf(o.regression, 0):
		return o, fmt.Errorf("--regression: expected a factor above -1 (0: none), got %g", o.regression)
	case o.secretEnv == "":
		return o, errors.New("--secret-env: expected an environment variable name")
	}
	if err := o.baseline.Validate(); err != nil {
		flag := map[string]string{"config." + knobThreads: "--worker-threads", "config." + knobTTL: "--cache-ttl", "config." + knobGCMode: "--gc-mode"}
		if fe, ok := errors.AsType[*FieldError](err); ok {
			return o, fmt.Errorf("%s: %s", flag[fe.Field], fe.Msg)
		}
		return o, err
	}
	return o, nil
}

func run(args []string, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo-service: %v\n", err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	secret := os.Getenv(o.secretEnv)
	switch {
	case secret == "" && !o.insecure:
		fmt.Fprintf(stderr, "demo-service: the environment variable %s is empty: set it to the secret of the target's webhook actuator (actuator.webhook.secret_env), or pass --insecure to accept unsigned /config requests\n", o.secretEnv)
		return exitUsage
	case secret == "":
		log.Warn("INSECURE: /config accepts unsigned requests: anyone who can reach it can reconfigure the service", "secret_env", o.secretEnv)
	case o.insecure:
		log.Info("--insecure has no effect: the secret is set, so /config takes only signed requests", "secret_env", o.secretEnv)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		log.Error("demo-service cannot listen", "error", err)
		return exitFail
	}
	if err := serve(ctx, ln, o, []byte(secret), log); err != nil {
		log.Error("demo-service failed", "error", err)
		return exitFail
	}
	return exitOK
}

// serve runs the service on ln until ctx is done, then shuts down
// gracefully: the load generator stops, the HTTP server finishes the
// requests it has, and the generator's requests in flight finish. It
// closes ln.
func serve(ctx context.Context, ln net.Listener, o options, secret []byte, log *slog.Logger) error {
	reg := newRegistry()
	svc, err := NewService(Options{Baseline: o.baseline, Regression: o.regression, Seed: o.seed, Registerer: reg})
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           newMux(svc, newController(svc, secret, log), reg, o.seed),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	log.Info("serving", "addr", ln.Addr().String(), "rate", o.rate, "regression", o.regression, "baseline", o.baseline.String(), "seed", o.seed)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bg, inflight sync.WaitGroup
	bg.Go(func() { svc.Run(runCtx) })
	if o.rate > 0 {
		bg.Go(func() { generate(runCtx, svc, o.rate, o.seed, &inflight) })
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err = <-served:
		cancel()
	case <-ctx.Done():
		log.Info("shutting down")
		cancel()
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer scancel()
		if err = srv.Shutdown(sctx); err != nil {
			err = fmt.Errorf("shutdown: %w", err)
		}
	}
	bg.Wait()
	inflight.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// newMux routes the endpoints.
func newMux(svc *Service, ctl *controller, reg *prometheus.Registry, seed uint64) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("/config", ctl)
	mux.Handle("GET /work", newWork(svc, seed))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "demo-service: GET /work[?key=N] serves the traffic, GET /metrics the metrics, GET and POST /config (signed) the configuration.\n")
	})
	return mux
}

// work serves the traffic over HTTP: GET /work?key=N asks for key N
// (0 ≤ N < 20000); without a key, one is drawn from the traffic's Zipf law.
type work struct {
	svc  *Service
	mu   sync.Mutex
	keys *rand.Zipf
}

func newWork(svc *Service, seed uint64) *work {
	return &work{svc: svc, keys: rand.NewZipf(rand.New(rand.NewPCG(seed, 0x3e6)), zipfS, 1, numKeys-1)}
}

func (h *work) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var key int
	if q := r.URL.Query().Get("key"); q != "" {
		k, err := strconv.Atoi(q)
		if err != nil || k < 0 || k >= numKeys {
			writeJSON(w, http.StatusBadRequest, errorReply{Error: fmt.Sprintf("key: expected an integer from 0 to %d, got %q", numKeys-1, q), Field: "key"})
			return
		}
		key = k
	} else {
		h.mu.Lock()
		key = int(h.keys.Uint64())
		h.mu.Unlock()
	}
	out := h.svc.Handle(r.Context(), key)
	if out.Code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, out.Code, out)
}
