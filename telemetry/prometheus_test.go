package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/config"
	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/target"
	"github.com/passflow/passflow/telemetry"
)

// t0 is the start of the windows read, a whole Unix second.
var t0 = time.Unix(1700000000, 0).UTC()

const errorRateQuery = `sum(rate(http_errors_total{cohort="{{.Cohort}}"}[{{.Window}}])) / sum(rate(http_requests_total{cohort="{{.Cohort}}"}[{{.Window}}]))`

// reply is one answer of the fake Prometheus.
type reply struct {
	status int
	body   string
	delay  time.Duration // before answering, unless the request ends first
}

// request is what the fake Prometheus received.
type request struct {
	query, start, end, step, timeout, time string
	header                                 http.Header
}

// fakePrometheus fakes Prometheus's /api/v1/query_range: it answers the
// n-th request with replies[n], the last reply once they run out, and
// records every request.
type fakePrometheus struct {
	*httptest.Server
	replies []reply

	mu       sync.Mutex
	requests []request
}

func newFake(t *testing.T, replies ...reply) *fakePrometheus {
	t.Helper()
	f := &fakePrometheus{replies: replies}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakePrometheus) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query_range" && r.URL.Path != "/api/v1/query" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, request{query: r.Form.Get("query"), start: r.Form.Get("start"), end: r.Form.Get("end"),
		step: r.Form.Get("step"), timeout: r.Form.Get("timeout"), time: r.Form.Get("time"), header: r.Header.Clone()})
	rep := f.replies[min(n, len(f.replies)-1)]
	f.mu.Unlock()
	if rep.delay > 0 {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(rep.delay):
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	fmt.Fprint(w, rep.body)
}

func (f *fakePrometheus) received() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

// matrix is a successful query_range answer holding series, each the JSON
// of one series.
func matrix(series ...string) reply {
	return reply{status: http.StatusOK, body: `{"status":"success","data":{"resultType":"matrix","result":[` + strings.Join(series, ",") + `]}}`}
}

// series is the JSON of one series labelled labels (JSON too), with
// values at t0+step, t0+2·step, ...
func series(labels string, step time.Duration, values ...string) string {
	pts := make([]string, len(values))
	for i, v := range values {
		pts[i] = fmt.Sprintf(`[%d,%q]`, t0.Add(time.Duration(i+1)*step).Unix(), v)
	}
	return `{"metric":` + labels + `,"values":[` + strings.Join(pts, ",") + `]}`
}

// apiError is an error answer as Prometheus writes it.
func apiError(status int, errorType, msg string) reply {
	return reply{status: status, body: fmt.Sprintf(`{"status":"error","errorType":%q,"error":%q}`, errorType, msg)}
}

// spec is a target reading error_rate from the Prometheus at url.
func spec(url string) target.Spec {
	return target.Spec{
		Name: "checkout",
		Telemetry: target.Telemetry{
			Prometheus: &target.Prometheus{URL: url, ScrapeInterval: target.Duration(15 * time.Second), Timeout: target.Duration(2 * time.Second)},
			Queries:    map[string]string{"error_rate": errorRateQuery},
		},
	}
}

// source returns the telemetry of s, with retries 1ms then 2ms apart.
func source(t *testing.T, s target.Spec) *telemetry.Prometheus {
	t.Helper()
	p, err := telemetry.NewPrometheus(s)
	if err != nil {
		t.Fatalf("NewPrometheus: %v", err)
	}
	p.Retry = telemetry.Retry{Attempts: 3, Backoff: time.Millisecond}
	return p
}

// read reads error_rate of the canary over [t0, t0+window).
func read(p *telemetry.Prometheus, window time.Duration) ([]float64, error) {
	return p.Samples(context.Background(), activities.Query{Metric: "error_rate", Cohort: activities.CohortCanary, From: t0, To: t0.Add(window)})
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func TestNewPrometheus(t *testing.T) {
	if _, err := telemetry.NewPrometheus(target.Spec{Name: "checkout", Telemetry: target.Telemetry{Simulator: &target.Simulator{}}}); err == nil ||
		!strings.Contains(err.Error(), "checkout: expected prometheus telemetry") {
		t.Errorf("NewPrometheus of simulator telemetry = %v, want an error", err)
	}
	s := spec("http://127.0.0.1:9090")
	s.Telemetry.Prometheus.HTTPConfig = &config.HTTPClientConfig{TLSConfig: config.TLSConfig{CAFile: filepath.Join(t.TempDir(), "missing.pem")}}
	if _, err := telemetry.NewPrometheus(s); err == nil || !strings.Contains(err.Error(), "telemetry.prometheus.http_config") {
		t.Errorf("NewPrometheus with a missing CA file = %v, want an error naming http_config", err)
	}
}

func TestSamplesQuery(t *testing.T) {
	tests := []struct {
		name                  string
		scrape, every, window time.Duration
		step, range_          string // step in seconds as sent, {{.Window}}
	}{
		{"twice the scrape interval", 15 * time.Second, time.Minute, 10 * time.Minute, "30", "30s"},
		{"ten samples a look", time.Second, time.Minute, 10 * time.Minute, "6", "6s"},
		{"ten a look, rounded up", time.Second, 25 * time.Second, 10 * time.Minute, "3", "3s"}, // 2.5s
		{"a long check_every", 15 * time.Second, 10 * time.Minute, 6 * time.Hour, "60", "1m"},
		{"a long window", time.Second, 10 * time.Second, 24 * time.Hour, "8", "8s"}, // 7.85s: 11,000 points
		{"a slow scrape", time.Minute, time.Minute, time.Hour, "120", "2m"},
		{"a window of one step", 15 * time.Second, time.Minute, 30 * time.Second, "30", "30s"}, // one sample
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := strconv.Atoi(tt.step)
			step := time.Duration(st) * time.Second
			f := newFake(t, matrix(series(`{}`, step, "0.5", "1.5", "2.5")))
			s := spec(f.URL)
			s.Telemetry.Prometheus.ScrapeInterval = target.Duration(tt.scrape)
			s.Canary.CheckEvery = target.Duration(tt.every)
			got, err := read(source(t, s), tt.window)
			if err != nil {
				t.Fatalf("Samples: %v", err)
			}
			if want := []float64{0.5, 1.5, 2.5}; !reflect.DeepEqual(got, want) {
				t.Errorf("Samples = %v, want %v", got, want)
			}
			reqs := f.received()
			if len(reqs) != 1 {
				t.Fatalf("Prometheus got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			wantQuery := strings.NewReplacer("{{.Cohort}}", "canary", "{{.Window}}", tt.range_).Replace(errorRateQuery)
			want := request{query: wantQuery, start: unix(t0.Add(step)), end: unix(t0.Add(tt.window)), step: tt.step, timeout: "2s"}
			r.header = nil
			if !reflect.DeepEqual(r, want) {
				t.Errorf("Prometheus got\n%+v\nwant\n%+v", r, want)
			}
		})
	}
}

func TestSamplesNoData(t *testing.T) {
	step := 30 * time.Second
	tests := []struct {
		name  string
		reply reply
		want  []float64
	}{
		{"no series", matrix(), []float64{}},
		{"NaN and Inf dropped", matrix(series(`{}`, step, "1", "NaN", "+Inf", "2", "-Inf", "0")), []float64{1, 2, 0}},
		{"only NaN", matrix(series(`{}`, step, "NaN", "NaN")), []float64{}},
		{"no points", matrix(series(`{}`, step)), []float64{}},
		{"warnings are no errors", reply{status: http.StatusOK,
			body: `{"status":"success","warnings":["partial response: store unavailable"],"data":{"resultType":"matrix","result":[` + series(`{}`, step, "3") + `]}}`},
			[]float64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.reply)
			got, err := read(source(t, spec(f.URL)), 10*time.Minute)
			if err != nil {
				t.Fatalf("Samples: %v", err)
			}
			if got == nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Samples = %#v, want %#v", got, tt.want)
			}
		})
	}

	t.Run("window shorter than a step", func(t *testing.T) {
		f := newFake(t, matrix(series(`{}`, step, "1")))
		got, err := read(source(t, spec(f.URL)), 29*time.Second)
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("Samples = %#v, %v, want an empty slice", got, err)
		}
		if n := len(f.received()); n != 0 {
			t.Errorf("Prometheus got %d requests, want none", n)
		}
	})
}

// nonRetryable returns err's Temporal application error if it is a
// non-retryable one, else nil.
func nonRetryable(err error) *temporal.ApplicationError {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.NonRetryable() {
		return app
	}
	return nil
}

func TestSamplesErrors(t *testing.T) {
	step := 30 * time.Second
	rendered := strings.NewReplacer("{{.Cohort}}", "canary", "{{.Window}}", "30s").Replace(errorRateQuery)
	tests := []struct {
		name         string
		replies      []reply
		nonRetryable bool
		requests     int
		want         []string
	}{
		{"two series", []reply{matrix(series(`{"pod":"a"}`, step, "1"), series(`{"pod":"b"}`, step, "2"))}, false, 1,
			[]string{"read error_rate", fmt.Sprintf("%q", rendered), `returned 2 series ({pod="a"}, {pod="b"})`, "aggregate it, e.g. with sum("}},
		{"bad query", []reply{apiError(http.StatusBadRequest, "bad_data", `1:5: parse error: unexpected "}"`)}, true, 1,
			[]string{"read error_rate", fmt.Sprintf("%q", rendered), "HTTP 400 Bad Request", "parse error", "fix telemetry.queries.error_rate"}},
		{"execution error", []reply{apiError(http.StatusUnprocessableEntity, "execution", "vector cannot contain metrics with the same labelset")}, true, 1,
			[]string{"read error_rate", fmt.Sprintf("%q", rendered), "HTTP 422", "fix telemetry.queries.error_rate"}},
		{"unauthorized", []reply{{status: http.StatusUnauthorized, body: "Unauthorized\n"}}, true, 1,
			[]string{"read error_rate", "HTTP 401 Unauthorized", "check telemetry.prometheus (url and http_config)"}},
		{"server errors", []reply{apiError(http.StatusServiceUnavailable, "unavailable", "starting up")}, false, 3,
			[]string{"read error_rate", fmt.Sprintf("%q", rendered), "failed 3 times", "starting up"}},
		{"timeouts", []reply{{status: http.StatusOK, delay: time.Second}}, false, 3,
			[]string{"failed 3 times", "no answer within the timeout of 50ms"}},
		{"too many requests", []reply{{status: http.StatusTooManyRequests, body: "slow down"}}, false, 3,
			[]string{"failed 3 times", "429"}},
		{"matrix expected", []reply{{status: http.StatusOK, body: `{"status":"success","data":{"resultType":"vector","result":[]}}`}}, false, 1,
			[]string{"read error_rate", "returned a vector, expected a matrix"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.replies...)
			s := spec(f.URL)
			s.Telemetry.Prometheus.Timeout = target.Duration(50 * time.Millisecond)
			got, err := read(source(t, s), 10*time.Minute)
			if err == nil {
				t.Fatalf("Samples = %v, want an error", got)
			}
			if app := nonRetryable(err); (app != nil) != tt.nonRetryable {
				t.Errorf("non-retryable = %v, want %v: %v", app != nil, tt.nonRetryable, err)
			} else if app != nil && app.Type() != telemetry.ErrTypeInvalidQuery {
				t.Errorf("application error type = %q, want %q", app.Type(), telemetry.ErrTypeInvalidQuery)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %s:\n%v", w, err)
				}
			}
			if n := len(f.received()); n != tt.requests {
				t.Errorf("Prometheus got %d requests, want %d", n, tt.requests)
			}
		})
	}
}

func TestSamplesRetries(t *testing.T) {
	step := 30 * time.Second
	ok := matrix(series(`{}`, step, "1", "2"))
	tests := []struct {
		name    string
		replies []reply
	}{
		{"503 twice", []reply{apiError(http.StatusServiceUnavailable, "unavailable", "starting up"), {status: http.StatusServiceUnavailable, body: "no healthy upstream"}, ok}},
		{"a 500 and a 502", []reply{{status: http.StatusInternalServerError}, {status: http.StatusBadGateway}, ok}},
		{"a timeout", []reply{{status: http.StatusOK, delay: time.Second}, ok}},
		{"too many requests", []reply{{status: http.StatusTooManyRequests}, ok}},
		{"a server-side timeout", []reply{apiError(http.StatusServiceUnavailable, "timeout", "query timed out in expression evaluation"), ok}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.replies...)
			s := spec(f.URL)
			s.Telemetry.Prometheus.Timeout = target.Duration(50 * time.Millisecond)
			got, err := read(source(t, s), 10*time.Minute)
			if err != nil {
				t.Fatalf("Samples: %v", err)
			}
			if want := []float64{1, 2}; !reflect.DeepEqual(got, want) {
				t.Errorf("Samples = %v, want %v", got, want)
			}
			if n := len(f.received()); n != len(tt.replies) {
				t.Errorf("Prometheus got %d requests, want %d", n, len(tt.replies))
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		f := newFake(t, ok)
		f.Close()
		_, err := read(source(t, spec(f.URL)), 10*time.Minute)
		if err == nil || nonRetryable(err) != nil || !strings.Contains(err.Error(), "failed 3 times") {
			t.Errorf("Samples = %v, want a retryable error after 3 attempts", err)
		}
	})

	t.Run("backoff doubles", func(t *testing.T) {
		f := newFake(t, reply{status: http.StatusServiceUnavailable})
		p := source(t, spec(f.URL))
		p.Retry = telemetry.Retry{Attempts: 3, Backoff: 20 * time.Millisecond}
		start := time.Now()
		if _, err := read(p, 10*time.Minute); err == nil {
			t.Fatal("Samples: want an error")
		}
		if d := time.Since(start); d < 60*time.Millisecond {
			t.Errorf("3 attempts took %v, want at least 20ms + 40ms of backoff", d)
		}
	})

	t.Run("the caller gives up", func(t *testing.T) {
		f := newFake(t, reply{status: http.StatusServiceUnavailable})
		p := source(t, spec(f.URL))
		p.Retry = telemetry.Retry{Attempts: 3, Backoff: time.Hour}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := p.Samples(ctx, activities.Query{Metric: "error_rate", Cohort: activities.CohortBaseline, From: t0, To: t0.Add(time.Hour)})
		if !errors.Is(err, context.DeadlineExceeded) || nonRetryable(err) != nil {
			t.Errorf("Samples = %v, want the context's error", err)
		}
		if n := len(f.received()); n != 1 {
			t.Errorf("Prometheus got %d requests, want 1", n)
		}
	})
}

func TestSamplesConfigErrors(t *testing.T) {
	f := newFake(t, matrix())
	s := spec(f.URL)
	s.Telemetry.Queries["latency"] = "{{.Cohort"
	p := source(t, s)
	for metric, want := range map[string]string{
		"throughput": `no query for metric "throughput" in telemetry.queries`,
		"latency":    "render telemetry.queries.latency",
	} {
		_, err := p.Samples(context.Background(), activities.Query{Metric: metric, Cohort: "canary", From: t0, To: t0.Add(time.Hour)})
		if app := nonRetryable(err); app == nil || app.Type() != telemetry.ErrTypeInvalidQuery || !strings.Contains(err.Error(), want) {
			t.Errorf("Samples(%s) = %v, want a non-retryable %s error containing %q", metric, err, telemetry.ErrTypeInvalidQuery, want)
		}
	}
	if _, err := p.Samples(context.Background(), activities.Query{Metric: "error_rate", Cohort: "canary", From: t0, To: t0.Add(-time.Minute)}); err == nil {
		t.Error("Samples of a window that ends before it starts: want an error")
	}
	if n := len(f.received()); n != 0 {
		t.Errorf("Prometheus got %d requests, want none", n)
	}
}

func TestSamplesHTTPConfig(t *testing.T) {
	dir := t.TempDir()
	password := filepath.Join(dir, "password")
	token := filepath.Join(dir, "token")
	for path, content := range map[string]string{password: "s3cret\n", token: "t0ken\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	orgID := &config.Headers{Headers: map[string]config.Header{"X-Scope-OrgID": {Values: []string{"team-a"}}}}
	tests := []struct {
		name   string
		config config.HTTPClientConfig
		check  func(h http.Header) string // what is wrong, "" if nothing
	}{
		{"basic auth from a file", config.HTTPClientConfig{BasicAuth: &config.BasicAuth{Username: "passflow", PasswordFile: password}, HTTPHeaders: orgID},
			func(h http.Header) string {
				r := &http.Request{Header: h}
				if u, p, ok := r.BasicAuth(); !ok || u != "passflow" || p != "s3cret" {
					return fmt.Sprintf("Authorization %q, want basic auth passflow:s3cret", h.Get("Authorization"))
				}
				if h.Get("X-Scope-OrgID") != "team-a" {
					return fmt.Sprintf("X-Scope-OrgID %q, want team-a", h.Get("X-Scope-OrgID"))
				}
				return ""
			}},
		{"bearer token from a file", config.HTTPClientConfig{Authorization: &config.Authorization{Type: "Bearer", CredentialsFile: token}},
			func(h http.Header) string {
				if got := h.Get("Authorization"); got != "Bearer t0ken" {
					return fmt.Sprintf("Authorization %q, want Bearer t0ken", got)
				}
				return ""
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, matrix(series(`{}`, 30*time.Second, "1")))
			s := spec(f.URL)
			s.Telemetry.Prometheus.HTTPConfig = &tt.config
			if _, err := read(source(t, s), 10*time.Minute); err != nil {
				t.Fatalf("Samples: %v", err)
			}
			reqs := f.received()
			if len(reqs) != 1 {
				t.Fatalf("Prometheus got %d requests, want 1", len(reqs))
			}
			if msg := tt.check(reqs[0].header); msg != "" {
				t.Error("Prometheus got " + msg)
			}
		})
	}
}

// vector is a successful instant query's answer with one sample per value.
func vector(values ...string) reply {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = fmt.Sprintf(`{"metric":{"i":"%d"},"value":[%d,%q]}`, i, t0.Unix(), v)
	}
	return reply{status: http.StatusOK, body: `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(out, ",") + `]}}`}
}

// TestCountReadsEventsOverAWindow: the error budget's counting queries are
// instant queries at the window's end with {{.Window}} its length; no
// series, NaN and ±Inf are no data; two series are an error; a 400 is a
// refusal for good.
func TestCountReadsEventsOverAWindow(t *testing.T) {
	const bad = `sum(increase(http_requests_total{code=~"5.."}[{{.Window}}]))`
	f := newFake(t, vector("42"), vector(), vector("NaN"), vector("1", "2"), apiError(http.StatusBadRequest, "bad_data", "parse error"))
	p := source(t, spec(f.URL))
	ctx := context.Background()
	v, ok, err := p.Count(ctx, "error_budget.bad", bad, 6*time.Hour, t0)
	if err != nil || !ok || v != 42 {
		t.Fatalf("count: %v %v %v, want 42", v, ok, err)
	}
	got := f.received()[0]
	if got.query != `sum(increase(http_requests_total{code=~"5.."}[6h]))` || got.time != fmt.Sprint(t0.Unix()) {
		t.Errorf("request %+v: want the 6h window rendered, at the window's end", got)
	}
	for i, what := range []string{"no series", "NaN"} {
		if _, ok, err := p.Count(ctx, "error_budget.bad", bad, time.Hour, t0); ok || err != nil {
			t.Errorf("%s (%d): ok %v, %v; want no data", what, i, ok, err)
		}
	}
	if _, _, err := p.Count(ctx, "error_budget.bad", bad, time.Hour, t0); err == nil || !strings.Contains(err.Error(), "2 series") {
		t.Errorf("two series: %v, want an error", err)
	}
	var ae *temporal.ApplicationError
	if _, _, err := p.Count(ctx, "error_budget.bad", bad, time.Hour, t0); !errors.As(err, &ae) || !ae.NonRetryable() {
		t.Errorf("400: %v, want a refusal for good", err)
	}
}
