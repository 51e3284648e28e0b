package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passflow/passflow/webhook"
)

// TestServe runs the service on a real listener with its load generator,
// reconfigures it through a signed POST /config as passflow would, reads
// /work and /metrics over HTTP, then shuts it down.
func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	o := options{rate: 50, baseline: testBaseline, seed: 1}
	go func() { done <- serve(ctx, ln, o, testSecret, slog.New(slog.NewTextHandler(&logs, nil))) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("serve did not shut down")
		}
		if strings.Contains(logs.String(), string(testSecret)) {
			t.Errorf("the secret is in the logs:\n%s", logs.String())
		}
	}()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(key, body string, secret []byte) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/config", strings.NewReader(body))
		now := time.Now()
		req.Header.Set(webhook.HeaderIdempotency, key)
		req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		req.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, now, []byte(body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	if code, body := get("/work?key=12"); code != http.StatusOK || !strings.Contains(body, `"cohort":"baseline"`) {
		t.Fatalf("GET /work: %d %s", code, body)
	}
	if code, body := get("/work?key=nope"); code != http.StatusBadRequest || !strings.Contains(body, `"field":"key"`) {
		t.Fatalf("GET /work?key=nope: %d %s", code, body)
	}
	if code := post("k1", change(webhook.ActionApply, 100, cfgA), []byte("guess")); code != http.StatusUnauthorized {
		t.Fatalf("a change signed with another secret: %d, want 401", code)
	}
	if code := post("k1", change(webhook.ActionApply, 100, cfgA), testSecret); code != http.StatusOK {
		t.Fatalf("apply: %d, want 200", code)
	}
	var out Outcome
	if code, body := get("/work"); code != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || out.Cohort != cohortCanary {
		t.Fatalf("GET /work with the canary at 100%%: %d %s", code, body)
	}
	code, metrics := get("/metrics")
	for _, want := range []string{
		`demo_config_info{cache_ttl_s="600",cohort="canary",gc_mode="low-latency",worker_threads="8"} 1`,
		`demo_canary_percent 100`,
		`demo_requests_total{code="200",cohort="canary"}`,
		`demo_request_duration_seconds_bucket{cohort="baseline",le="0.25"}`,
		`demo_cost_units_total{cohort="baseline"}`,
		`demo_cache_stale_hits_total{cohort="canary"}`,
		`go_goroutines`,
	} {
		if code != http.StatusOK || !strings.Contains(metrics, want) {
			t.Errorf("/metrics: no %s", want)
		}
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the error's start; "" for none
	}{
		{nil, ""},
		{[]string{"--rate", "0", "--regression", "0.5", "--worker-threads", "4", "--cache-ttl", "3600", "--gc-mode", "low-latency", "--seed", "9"}, ""},
		{[]string{"--worker-threads", "0"}, "--worker-threads: expected 1 to 1024"},
		{[]string{"--cache-ttl", "0"}, "--cache-ttl: expected a number of seconds above 0"},
		{[]string{"--gc-mode", "fast"}, `--gc-mode: expected "throughput" or "low-latency"`},
		{[]string{"--rate", "-1"}, "--rate: expected"},
		{[]string{"--regression", "-1"}, "--regression: expected"},
		{[]string{"--secret-env", ""}, "--secret-env: expected"},
		{[]string{"extra"}, "expected no arguments"},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		if (err == nil) != (tc.want == "") || err != nil && !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestRunRefusesAnEmptySecret(t *testing.T) {
	t.Setenv("DEMO_SERVICE_TEST_SECRET", "")
	var stderr bytes.Buffer
	if code := run([]string{"--secret-env", "DEMO_SERVICE_TEST_SECRET", "--listen", "127.0.0.1:0"}, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "DEMO_SERVICE_TEST_SECRET is empty") || !strings.Contains(stderr.String(), "--insecure") {
		t.Fatalf("exit %d, %q: want a refusal naming the variable and --insecure", code, stderr.String())
	}
}

// syncBuffer is a bytes.Buffer that many goroutines may write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
