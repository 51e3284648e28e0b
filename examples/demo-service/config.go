package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
)

// The knobs, as named in the demo target (examples/targets/demo.yaml).
const (
	knobThreads = "worker_threads"
	knobTTL     = "cache_ttl_s"
	knobGCMode  = "gc_mode"
)

// The gc_mode choices.
const (
	gcThroughput = "throughput"
	gcLowLatency = "low-latency"
)

// The limits /config accepts: wider than the target's search ranges (4..256
// threads, 1..3600 s), so that an operator can also set values the optimizer
// never proposes.
const (
	minThreads = 1
	maxThreads = 1024
)

// Config is what one cohort runs.
type Config struct {
	WorkerThreads int     // the worker pool's size: requests beyond it queue
	CacheTTL      float64 // seconds a cached entry is served before it is fetched again
	GCMode        string  // gcThroughput or gcLowLatency
}

// Map returns c in the wire form of webhook.Change.Config and webhook.State.
func (c Config) Map() map[string]any {
	return map[string]any{knobThreads: c.WorkerThreads, knobTTL: c.CacheTTL, knobGCMode: c.GCMode}
}

// mapOf is c's Map, nil for no configuration (no canary).
func mapOf(c *Config) map[string]any {
	if c == nil {
		return nil
	}
	return c.Map()
}

// String formats c as the knobs' labels do: "worker_threads=32 cache_ttl_s=60 gc_mode=throughput".
func (c Config) String() string {
	return fmt.Sprintf("%s=%d %s=%s %s=%s", knobThreads, c.WorkerThreads, knobTTL, formatTTL(c.CacheTTL), knobGCMode, c.GCMode)
}

// formatTTL is a TTL's label value and log form: the shortest decimal.
func formatTTL(s float64) string { return strconv.FormatFloat(s, 'g', -1, 64) }

// FieldError is a refused change; Field names what is wrong
// ("config.worker_threads", "percent", "action").
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// With returns c with the knobs of m set, each checked: an unknown knob, a
// wrong type or a value out of range is a *FieldError naming the field.
// Knobs m leaves out keep c's values. Knobs are checked in a fixed order, so
// the same bad change always gets the same answer.
func (c Config) With(m map[string]any) (Config, error) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		field := "config." + k
		switch k {
		case knobThreads:
			n, ok := asInt(v)
			if !ok {
				return c, fieldErr(field, "expected an integer, got %s", describe(v))
			}
			if n < minThreads || n > maxThreads {
				return c, fieldErr(field, "expected %d to %d, got %d", minThreads, maxThreads, n)
			}
			c.WorkerThreads = int(n)
		case knobTTL:
			f, ok := v.(float64)
			if !ok {
				return c, fieldErr(field, "expected a number of seconds, got %s", describe(v))
			}
			if !(f > 0) || math.IsInf(f, 0) {
				return c, fieldErr(field, "expected a number of seconds above 0, got %g", f)
			}
			c.CacheTTL = f
		case knobGCMode:
			s, ok := v.(string)
			if !ok {
				return c, fieldErr(field, "expected %q or %q, got %s", gcThroughput, gcLowLatency, describe(v))
			}
			if s != gcThroughput && s != gcLowLatency {
				return c, fieldErr(field, "expected %q or %q, got %q", gcThroughput, gcLowLatency, s)
			}
			c.GCMode = s
		default:
			return c, fieldErr(field, "unknown knob: expected %s, %s or %s", knobThreads, knobTTL, knobGCMode)
		}
	}
	return c, nil
}

// Validate checks a whole configuration, as the flags give it.
func (c Config) Validate() error {
	_, err := Config{}.With(c.Map())
	return err
}

// asInt accepts what encoding/json makes of an integer (a float64 with no
// fraction) and Go integers (a Config's own Map).
func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, false
		}
		return int64(n), true
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

// describe names a JSON value's type, and the value when it is short.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return fmt.Sprintf("the string %q", x)
	case float64:
		return fmt.Sprintf("%g", x)
	case bool:
		return fmt.Sprintf("%t", x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
