package models

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Percent is a relative change, 0.05 for 5%. In YAML and JSON it is written
// as a number (0.05) or a string with a percent sign ("5%", "+5%").
type Percent float64

// ParsePercent reads "5%", "+5%", "-2.5%", "0.05" or "+0.05".
func ParsePercent(s string) (Percent, error) {
	t := strings.TrimSpace(s)
	scale := 1.0
	if rest, ok := strings.CutSuffix(t, "%"); ok {
		t, scale = strings.TrimSpace(rest), 0.01
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, &PercentError{fmt.Sprintf("%q", s)}
	}
	return Percent(f * scale), nil
}

// String formats p as "+5%".
func (p Percent) String() string {
	return strconv.FormatFloat(100*float64(p), 'f', -1, 64) + "%"
}

// UnmarshalYAML reads a number or a percent string.
func (p *Percent) UnmarshalYAML(unmarshal func(any) error) error {
	var raw any
	if err := unmarshal(&raw); err != nil {
		return err
	}
	switch x := raw.(type) {
	case int:
		*p = Percent(x)
	case float64:
		*p = Percent(x)
	case string:
		v, err := ParsePercent(x)
		if err != nil {
			return err
		}
		*p = v
	default:
		return &PercentError{yamlKind(raw)}
	}
	return nil
}

// PercentError reports a value that is not a relative effect.
type PercentError struct{ got string }

func (e *PercentError) Error() string {
	return "expected a relative effect like 5%, +5% or 0.05, got " + e.got
}

// UnmarshalJSON reads a number or a percent string.
func (p *Percent) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := ParsePercent(s)
		if err != nil {
			return err
		}
		*p = v
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return &PercentError{string(b)}
	}
	*p = Percent(f)
	return nil
}
