package telemetry

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/passflow/passflow/activities"
	"github.com/passflow/passflow/target"
)

// ErrTypeInvalidQuery is the type of the non-retryable Temporal application
// error of a query that cannot succeed as written: Prometheus refused it
// (HTTP 4xx), or the target has no query for the metric, or its template
// does not render.
const ErrTypeInvalidQuery = "InvalidQuery"

// The retries of NewPrometheus: three attempts, 200ms then 400ms apart.
// Short, because the activity that reads has a timeout of its own, and
// Temporal retries the activity on the error that the last attempt returns.
const (
	DefaultAttempts = 3
	DefaultBackoff  = 200 * time.Millisecond
)

// The bounds of a read's step (see Samples).
const (
	// maxPoints is the most points Prometheus returns for one series of a
	// range query: it refuses a query that would return more. A long
	// window is read with a step coarse enough to stay within it.
	maxPoints = 11000
	// samplesPerLook is the new samples each judge look should bring: the
	// step is at most check_every over this many (when the scrape interval
	// allows), so the sequential checks grow their evidence at every look
	// rather than every few looks.
	samplesPerLook = 10
)

// Retry says how a query that failed for a passing reason (HTTP 5xx, 408 or
// 429, a timeout, a connection error) is tried again within one Samples
// call.
type Retry struct {
	// Attempts is how many times a query is tried in all; below 1 counts
	// as 1.
	Attempts int
	// Backoff is the wait before the second attempt; each later wait is
	// twice the one before.
	Backoff time.Duration
}

// Prometheus reads a target's metrics from a Prometheus server's HTTP API,
// with the target's query of each metric (target.Telemetry.Queries). It is
// an activities.TelemetrySource, safe for concurrent use.
type Prometheus struct {
	// Retry says how failed queries are retried; NewPrometheus sets
	// DefaultAttempts and DefaultBackoff. Change it only before the first
	// Samples call.
	Retry Retry

	api     v1.API
	queries map[string]string // metric → PromQL template
	scrape  time.Duration     // the server's scrape interval
	every   time.Duration     // canary.check_every: the interval of the judge's looks
	timeout time.Duration     // of each attempt
}

var (
	_ activities.TelemetrySource = (*Prometheus)(nil)
	_ activities.EventCounter    = (*Prometheus)(nil)
)

// NewPrometheus returns the telemetry source of spec's prometheus block:
// a client of the server at its URL, through the round tripper its
// http_config builds (authentication, TLS, proxy, headers; the credentials
// files are read on each request), plain HTTP(S) without one. spec is
// expected valid (target.Validate); a scrape interval or a timeout that is
// not set takes target's default.
func NewPrometheus(spec target.Spec) (*Prometheus, error) {
	pc := spec.Telemetry.Prometheus
	if pc == nil {
		return nil, fmt.Errorf("telemetry: target %s: expected prometheus telemetry", spec.Name)
	}
	rt := api.DefaultRoundTripper
	if pc.HTTPConfig != nil {
		var err error
		rt, err = config.NewRoundTripperFromConfig(*pc.HTTPConfig, "passflow")
		if err != nil {
			return nil, fmt.Errorf("telemetry: target %s: telemetry.prometheus.http_config: %w", spec.Name, err)
		}
	}
	client, err := api.NewClient(api.Config{Address: pc.URL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("telemetry: target %s: telemetry.prometheus.url: %w", spec.Name, err)
	}
	return &Prometheus{
		Retry:   Retry{Attempts: DefaultAttempts, Backoff: DefaultBackoff},
		api:     v1.NewAPI(statusClient{client}),
		queries: maps.Clone(spec.Telemetry.Queries),
		scrape:  positive(pc.ScrapeInterval, target.DefaultPrometheusScrapeInterval),
		every:   positive(spec.Canary.CheckEvery, target.DefaultCheckEvery),
		timeout: positive(pc.Timeout, target.DefaultPrometheusTimeout),
	}, nil
}

// positive returns d, or def when d is not > 0.
func positive(d, def target.Duration) time.Duration {
	if d <= 0 {
		return time.Duration(def)
	}
	return time.Duration(d)
}

// Samples returns q.Metric's samples of q.Cohort over [q.From, q.To), oldest
// first, one per step (see below); an empty slice when there is no data.
//
// It renders the metric's query with {{.Cohort}} = q.Cohort and {{.Window}}
// = the step, and runs it as a range query evaluated at From+step,
// From+2·step, … up to To. The step is the largest of twice the scrape
// interval, the target's check_every over 10, and (To−From)/11,000,
// rounded up to whole seconds:
//   - with {{.Window}} as the range of a rate(), the point at t reads the
//     scrapes in (t−step, t]: the windows of two points never overlap, so
//     no scrape counts twice and the samples are as independent as the
//     data allows (the judge treats them as separate observations), and
//     the first window starts at From, so none reads from before it;
//   - twice the scrape interval puts two scrapes or more in each window,
//     the least a rate needs;
//   - check_every/10 gives each look of a verification wait about ten new
//     samples: finer buys the judge little (neighbouring points of a
//     rate share the service's load), coarser would let looks pass with
//     no new evidence. A stage's reads all start at the stage's start, so
//     the points of one look are the points of the look before, and more;
//   - (To−From)/11,000 keeps a long window within the points Prometheus
//     returns for one query;
//   - whole seconds, because Prometheus keeps a range's scrapes to the
//     millisecond and PromQL durations read best so.
//
// A window shorter than one step holds no sample: the result is empty and
// Prometheus is not asked.
//
// No data is not zero: no series gives an empty slice, and NaN and ±Inf
// points (no data: a rate over no scrapes, a ratio of zero requests) are
// dropped. More than one series is an error: the query must aggregate,
// e.g. with sum(). Warnings from Prometheus are logged (in an activity),
// not errors.
//
// Each attempt is bounded by the target's timeout (sent to Prometheus too);
// an attempt that fails with HTTP 5xx, 408 or 429, a timeout or a
// connection error is retried as p.Retry says, and when none is left the
// last error is returned, a plain error. A query Prometheus refuses (any
// other HTTP 4xx: a bad query, bad credentials, a wrong URL) is not retried:
// the error is a non-retryable Temporal application error of type
// ErrTypeInvalidQuery naming the metric and the rendered query. So is a
// metric without a query, or one whose template does not render. When ctx
// ends, Samples returns at once with ctx's error.
func (p *Prometheus) Samples(ctx context.Context, q activities.Query) ([]float64, error) {
	tmpl, ok := p.queries[q.Metric]
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("telemetry: read %s: no query for metric %q in telemetry.queries", q.Metric, q.Metric), ErrTypeInvalidQuery, nil)
	}
	window := q.To.Sub(q.From)
	if window < 0 {
		return nil, fmt.Errorf("telemetry: read %s: window ends at %s, before its start %s",
			q.Metric, q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	}
	st := step(p.scrape, p.every, window)
	if window < st {
		return []float64{}, nil
	}
	query, err := target.RenderQuery(q.Metric, tmpl, target.QueryVars{Cohort: q.Cohort, Window: model.Duration(st).String()})
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("telemetry: read %s: render telemetry.queries.%s: %v", q.Metric, q.Metric, err), ErrTypeInvalidQuery, nil)
	}
	val, err := p.queryRange(ctx, q.Metric, query, v1.Range{Start: q.From.Add(st), End: q.To, Step: st})
	if err != nil {
		return nil, err
	}
	return samples(q.Metric, query, val)
}

// step is the step of a range query over window: the largest of twice the
// scrape interval, every/samplesPerLook and window/maxPoints, rounded up to
// whole seconds (see Samples for why).
func step(scrape, every, window time.Duration) time.Duration {
	s := max(2*scrape, every/samplesPerLook, window/maxPoints, time.Second)
	if r := s.Truncate(time.Second); r < s {
		return r + time.Second
	}
	return s
}

// queryRange runs query over r, retrying as p.Retry says.
func (p *Prometheus) queryRange(ctx context.Context, metric, query string, r v1.Range) (model.Value, error) {
	return p.query(ctx, metric, query, func(ctx context.Context) (model.Value, v1.Warnings, error) {
		return p.api.QueryRange(ctx, query, r, v1.WithTimeout(p.timeout))
	})
}

// query runs one query (run), retrying as p.Retry says.
func (p *Prometheus) query(ctx context.Context, metric, query string, run func(context.Context) (model.Value, v1.Warnings, error)) (model.Value, error) {
	attempts := max(p.Retry.Attempts, 1)
	wait := p.Retry.Backoff
	var err error
	for i := range attempts {
		if i > 0 {
			if cerr := sleep(ctx, wait); cerr != nil {
				return nil, fmt.Errorf("telemetry: read %s: query %q: %w while waiting to retry after: %v", metric, query, cerr, err)
			}
			wait *= 2
		}
		var val model.Value
		var status int
		val, status, err = p.try(ctx, metric, query, run)
		switch {
		case err == nil:
			return val, nil
		case ctx.Err() != nil:
			// The caller gave up (the activity was canceled or timed out).
			return nil, fmt.Errorf("telemetry: read %s: query %q: %w", metric, query, err)
		case refused(status):
			return nil, temporal.NewNonRetryableApplicationError(refusal(metric, query, status, err), ErrTypeInvalidQuery, nil)
		}
	}
	return nil, fmt.Errorf("telemetry: read %s: query %q failed %d times, the last: %w", metric, query, attempts, err)
}

// try runs the query once, within p.timeout, and returns the result and
// the HTTP status of the last response (0 without one).
func (p *Prometheus) try(ctx context.Context, metric, query string, run func(context.Context) (model.Value, v1.Warnings, error)) (model.Value, int, error) {
	actx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var status int
	val, warnings, err := run(context.WithValue(actx, statusKey{}, &status))
	if len(warnings) > 0 && activity.IsActivity(ctx) {
		activity.GetLogger(ctx).Warn("Prometheus warned about a query", "metric", metric, "query", query, "warnings", warnings)
	}
	var apiErr *v1.Error
	switch {
	case err == nil:
	case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("no answer within the timeout of %s: %w", model.Duration(p.timeout), err)
	case errors.As(err, &apiErr) && apiErr.Detail != "":
		// The body of an answer that is not Prometheus's own error, which
		// the error's text leaves out: a proxy's message, or Prometheus's
		// error with a status the client does not expect (503 timeout).
		err = fmt.Errorf("%w: %s", err, excerpt(apiErr.Detail))
	}
	return val, status, err
}

// Count evaluates the counting query tmpl (a Go template with {{.Window}},
// e.g. sum(increase(http_requests_total{code=~"5.."}[{{.Window}}]))) over the
// window ending at at, as one instant query: the error budget's bad and
// total events. ok is false when the query finds no series or its value is
// NaN or ±Inf (no data); several series are an error naming name.
func (p *Prometheus) Count(ctx context.Context, name, tmpl string, window time.Duration, at time.Time) (v float64, ok bool, err error) {
	query, err := target.RenderQuery(name, tmpl, target.QueryVars{Cohort: activities.CohortBaseline, Window: model.Duration(window).String()})
	if err != nil {
		return 0, false, temporal.NewNonRetryableApplicationError(fmt.Sprintf("telemetry: %s: %v", name, err), ErrTypeInvalidQuery, nil)
	}
	val, err := p.query(ctx, name, query, func(ctx context.Context) (model.Value, v1.Warnings, error) {
		return p.api.Query(ctx, query, at, v1.WithTimeout(p.timeout))
	})
	if err != nil {
		return 0, false, err
	}
	vec, isVec := val.(model.Vector)
	switch {
	case !isVec:
		return 0, false, fmt.Errorf("telemetry: %s: query %q: expected an instant vector, got a %s", name, query, val.Type())
	case len(vec) == 0:
		return 0, false, nil
	case len(vec) > 1:
		return 0, false, fmt.Errorf("telemetry: %s: query %q returned %d series, expected one: aggregate it, e.g. with sum(…)", name, query, len(vec))
	}
	f := float64(vec[0].Value)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, nil
	}
	return f, true, nil
}

// maxExcerpt bounds how much of a response body an error quotes.
const maxExcerpt = 200

// excerpt returns body on one line, cut to about maxExcerpt bytes.
func excerpt(body string) string {
	s := strings.Join(strings.Fields(body), " ")
	if len(s) > maxExcerpt {
		s = strings.ToValidUTF8(s[:maxExcerpt], "") + "…"
	}
	return s
}

// refused reports whether an HTTP status says the query cannot succeed as
// sent: a 4xx other than 408 (Request Timeout) and 429 (Too Many
// Requests), which pass.
func refused(status int) bool {
	return status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}

// refusal is the message of a query Prometheus refused with status.
func refusal(metric, query string, status int, err error) string {
	fix := "fix telemetry.queries." + metric
	if status != http.StatusBadRequest && status != http.StatusUnprocessableEntity {
		// Not Prometheus's answer to a bad query: 401, 403, 404...
		fix = "check telemetry.prometheus (url and http_config)"
	}
	return fmt.Sprintf("telemetry: read %s: Prometheus refused query %q with HTTP %d %s: %v; %s",
		metric, query, status, http.StatusText(status), err, fix)
}

// samples returns the points of the one series of val, without NaN and
// ±Inf; none when val has no series.
func samples(metric, query string, val model.Value) ([]float64, error) {
	m, ok := val.(model.Matrix)
	if !ok {
		got := "nothing"
		if val != nil {
			got = "a " + val.Type().String()
		}
		return nil, fmt.Errorf("telemetry: read %s: query %q returned %s, expected a matrix", metric, query, got)
	}
	switch len(m) {
	case 0:
		return []float64{}, nil
	case 1:
	default:
		more := ""
		if len(m) > 2 {
			more = ", …"
		}
		return nil, fmt.Errorf("telemetry: read %s: query %q returned %d series (%s, %s%s), expected one: aggregate it, e.g. with sum(…) or max(…)",
			metric, query, len(m), m[0].Metric, m[1].Metric, more)
	}
	s := m[0]
	if len(s.Values) == 0 && len(s.Histograms) > 0 {
		return nil, fmt.Errorf("telemetry: read %s: query %q returned native histograms, expected numbers: reduce them, e.g. with histogram_quantile(…)", metric, query)
	}
	out := make([]float64, 0, len(s.Values))
	for _, pt := range s.Values {
		if x := float64(pt.Value); !math.IsNaN(x) && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out, nil
}

// sleep waits for d, or until ctx ends, when it returns ctx's error.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// statusKey keys, in a request's context, where statusClient puts the
// HTTP status of the response.
type statusKey struct{}

// statusClient is an api.Client that records the HTTP status of each
// response where the request's context says (statusKey): the v1 client's
// errors do not carry it, and it decides what is retried.
type statusClient struct{ api.Client }

// Do sends req and records the response's status.
func (c statusClient) Do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	resp, body, err := c.Client.Do(ctx, req)
	if status, ok := ctx.Value(statusKey{}).(*int); ok && resp != nil {
		*status = resp.StatusCode
	}
	return resp, body, err
}
