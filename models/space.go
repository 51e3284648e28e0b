package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ParamType is the kind of a tunable parameter.
type ParamType string

// The parameter kinds a space may hold.
const (
	Float       ParamType = "float"
	Int         ParamType = "int"
	Categorical ParamType = "categorical"
)

// Value is the value of one parameter: a number for float and int parameters,
// a choice's name for categorical ones. Its JSON and YAML forms are a plain
// number or a plain string.
type Value struct {
	num   float64
	str   string
	isStr bool
}

// Num returns a numeric Value.
func Num(f float64) Value { return Value{num: f} }

// Str returns a categorical Value.
func Str(s string) Value { return Value{str: s, isStr: true} }

// IsStr reports whether v is a categorical value.
func (v Value) IsStr() bool { return v.isStr }

// Float returns v's number (0 for a categorical value).
func (v Value) Float() float64 { return v.num }

// String returns v's choice name, or its number to six significant digits.
func (v Value) String() string {
	if v.isStr {
		return v.str
	}
	return strconv.FormatFloat(v.num, 'g', 6, 64)
}

// MarshalJSON writes v as a JSON number or string.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.isStr {
		return json.Marshal(v.str)
	}
	if math.IsNaN(v.num) || math.IsInf(v.num, 0) {
		return nil, fmt.Errorf("models: value %v is not a finite number", v.num)
	}
	return json.Marshal(v.num)
}

// UnmarshalJSON reads a JSON number or string.
func (v *Value) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = Str(s)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("expected a number or a string, got %s", b)
	}
	*v = Num(f)
	return nil
}

// UnmarshalYAML reads a YAML scalar: a number, or else a string.
func (v *Value) UnmarshalYAML(unmarshal func(any) error) error {
	var raw any
	if err := unmarshal(&raw); err != nil {
		return err
	}
	switch x := raw.(type) {
	case int:
		*v = Num(float64(x))
	case int64:
		*v = Num(float64(x))
	case uint64:
		*v = Num(float64(x))
	case float64:
		*v = Num(x)
	case string:
		*v = Str(x)
	case bool:
		*v = Str(strconv.FormatBool(x))
	default:
		return &ValueError{yamlKind(raw)}
	}
	return nil
}

// ValueError reports a YAML value that is no parameter value: neither a
// number nor a string.
type ValueError struct{ got string }

func (e *ValueError) Error() string { return "expected a number or a string, got " + e.got }

// yamlKind names what a YAML value decoded into an any is: "a list", "a
// mapping", or else the value itself.
func yamlKind(raw any) string {
	switch raw.(type) {
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "a mapping"
	}
	return fmt.Sprint(raw)
}

// Config assigns a value to every parameter of a space, by parameter name.
type Config map[string]Value

// String formats c as "a=1 b=x" in a stable (sorted) order.
func (c Config) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", k, c[k])
	}
	return b.String()
}

// Clone returns a copy of c.
func (c Config) Clone() Config {
	out := make(Config, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

// Equal reports whether c and d hold the same values.
func (c Config) Equal(d Config) bool {
	if len(c) != len(d) {
		return false
	}
	for k, v := range c {
		if w, ok := d[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Param is one tunable knob.
type Param struct {
	Name string    `yaml:"name" json:"name"`
	Type ParamType `yaml:"type" json:"type"`
	// Min and Max bound float and int parameters (inclusive).
	Min float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max float64 `yaml:"max,omitempty" json:"max,omitempty"`
	// Log searches a numeric parameter on a logarithmic scale; it needs Min > 0.
	Log bool `yaml:"log,omitempty" json:"log,omitempty"`
	// Choices are a categorical parameter's values.
	Choices []string `yaml:"choices,omitempty" json:"choices,omitempty"`
	// Current is the value the service runs now, the incumbent.
	Current *Value `yaml:"current,omitempty" json:"current,omitempty"`
}

// Space is an ordered set of parameters.
type Space []Param

// FieldError is a validation error about one field of a space.
type FieldError struct {
	Field string // e.g. "params[1].max"
	Msg   string
}

// Error formats e as "field: message".
func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate returns every problem with the space, each naming its field
// relative to prefix (e.g. "params"). A nil result means the space is usable.
func (s Space) Validate(prefix string) []FieldError {
	var errs []FieldError
	add := listErrors(prefix, &errs)
	if len(s) == 0 {
		return []FieldError{{Field: prefix, Msg: "expected at least one parameter"}}
	}
	seen := map[string]int{}
	for i, p := range s {
		if p.Name == "" {
			add(i, "name", "expected a non-empty name")
		} else if j, dup := seen[p.Name]; dup {
			add(i, "name", "duplicate parameter %q (also %s[%d])", p.Name, prefix, j)
		} else {
			seen[p.Name] = i
		}
		switch p.Type {
		case Float, Int:
			if math.IsNaN(p.Min) || math.IsInf(p.Min, 0) || math.IsNaN(p.Max) || math.IsInf(p.Max, 0) {
				add(i, "min", "expected finite min and max")
				continue
			}
			if p.Min >= p.Max {
				add(i, "max", "expected max > min, got min %v and max %v", p.Min, p.Max)
			}
			if p.Log && p.Min <= 0 {
				add(i, "min", "log scale needs min > 0, got %v", p.Min)
			}
			if p.Type == Int && (p.Min != math.Trunc(p.Min) || p.Max != math.Trunc(p.Max)) {
				add(i, "min", "int parameter needs integer bounds, got [%v, %v]", p.Min, p.Max)
			}
			if len(p.Choices) > 0 {
				add(i, "choices", "choices are only for categorical parameters")
			}
			if p.Current != nil {
				c := *p.Current
				switch {
				case c.IsStr():
					add(i, "current", "expected a number, got %q", c.String())
				case c.Float() < p.Min || c.Float() > p.Max:
					add(i, "current", "expected a value in [%v, %v], got %v", p.Min, p.Max, c.Float())
				case p.Type == Int && c.Float() != math.Trunc(c.Float()):
					add(i, "current", "expected an integer, got %v", c.Float())
				}
			}
		case Categorical:
			if len(p.Choices) < 2 {
				add(i, "choices", "expected at least two choices")
			}
			dup := map[string]bool{}
			for _, c := range p.Choices {
				if dup[c] {
					add(i, "choices", "duplicate choice %q", c)
				}
				dup[c] = true
			}
			if p.Min != 0 || p.Max != 0 || p.Log {
				add(i, "type", "min, max and log are not for categorical parameters")
			}
			if p.Current != nil && !slices.Contains(p.Choices, p.Current.String()) {
				add(i, "current", "expected one of %v, got %q", p.Choices, p.Current.String())
			}
		case "":
			add(i, "type", "expected a type: float, int or categorical")
		default:
			add(i, "type", "unknown type %q: expected float, int or categorical", p.Type)
		}
	}
	return errs
}

// Current returns the incumbent configuration from each parameter's Current
// value; a parameter without one takes its range's midpoint (in its scale) or
// its first choice.
func (s Space) Current() Config {
	c := make(Config, len(s))
	for _, p := range s {
		if p.Current != nil {
			c[p.Name] = *p.Current
			continue
		}
		c[p.Name] = p.FromUnit(0.5)
	}
	return c
}

// ToUnit maps a value of p to [0, 1]: linear or logarithmic for numbers, the
// choice's index over (len(choices)-1) for categorical parameters.
func (p Param) ToUnit(v Value) (float64, error) {
	switch p.Type {
	case Categorical:
		i := slices.Index(p.Choices, v.String())
		if i < 0 {
			return 0, fmt.Errorf("models: parameter %s: %q is not one of %v", p.Name, v.String(), p.Choices)
		}
		if len(p.Choices) == 1 {
			return 0, nil
		}
		return float64(i) / float64(len(p.Choices)-1), nil
	default:
		if v.IsStr() {
			return 0, fmt.Errorf("models: parameter %s: expected a number, got %q", p.Name, v.String())
		}
		x := v.Float()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, fmt.Errorf("models: parameter %s: value %v is not finite", p.Name, x)
		}
		var u float64
		if p.Log {
			if x <= 0 {
				return 0, fmt.Errorf("models: parameter %s: log-scale value must be > 0, got %v", p.Name, x)
			}
			u = (math.Log(x) - math.Log(p.Min)) / (math.Log(p.Max) - math.Log(p.Min))
		} else {
			u = (x - p.Min) / (p.Max - p.Min)
		}
		return min(1, max(0, u)), nil
	}
}

// FromUnit maps u in [0, 1] back to a value of p: rounded to the nearest
// integer for int parameters, the nearest choice for categorical ones.
func (p Param) FromUnit(u float64) Value {
	u = min(1, max(0, u))
	switch p.Type {
	case Categorical:
		if len(p.Choices) == 0 {
			return Str("")
		}
		i := int(math.Round(u * float64(len(p.Choices)-1)))
		return Str(p.Choices[i])
	default:
		var x float64
		if p.Log {
			x = math.Exp(math.Log(p.Min) + u*(math.Log(p.Max)-math.Log(p.Min)))
		} else {
			x = p.Min + u*(p.Max-p.Min)
		}
		if p.Type == Int {
			x = math.Round(x)
		}
		return Num(min(p.Max, max(p.Min, x)))
	}
}

// ToUnit maps a configuration to the unit cube, one coordinate per parameter
// in space order.
func (s Space) ToUnit(c Config) ([]float64, error) {
	u := make([]float64, len(s))
	for i, p := range s {
		v, ok := c[p.Name]
		if !ok {
			return nil, fmt.Errorf("models: configuration has no value for parameter %s", p.Name)
		}
		x, err := p.ToUnit(v)
		if err != nil {
			return nil, err
		}
		u[i] = x
	}
	return u, nil
}

// FromUnit maps a point of the unit cube back to a configuration.
func (s Space) FromUnit(u []float64) Config {
	c := make(Config, len(s))
	for i, p := range s {
		c[p.Name] = p.FromUnit(u[i])
	}
	return c
}

// Reach returns how far, on its unit scale, p may move down and up from
// the unit value u inside a trust region of radius maxStep: maxStep either
// way, except that an integer parameter may always move to its next value
// when that lies further (one instance more, one thread less): a region
// narrower than one step of an integer knob would freeze the knob for
// good. Neither reaches past the range.
func (p Param) Reach(u, maxStep float64) (down, up float64) {
	down, up = maxStep, maxStep
	if p.Type == Int {
		v := p.FromUnit(u).Float()
		if v > p.Min {
			if w, err := p.ToUnit(Num(v - 1)); err == nil {
				down = max(down, u-w)
			}
		}
		if v < p.Max {
			if w, err := p.ToUnit(Num(v + 1)); err == nil {
				up = max(up, w-u)
			}
		}
	}
	return min(down, max(u, 0)), min(up, max(1-u, 0))
}

// StepWithin measures how far b is from a against a trust region of radius
// maxStep (> 0): each numeric parameter's move as a share of its Reach in
// that direction, the largest share times maxStep, and how many categorical
// parameters changed. A move inside maxStep measures as Step does; the
// one-value move of an integer knob whose next value lies past maxStep
// measures exactly maxStep: at the region's edge, as large a step as a pass
// may take. The trust region of a live pass bounds StepWithin.
func (s Space) StepWithin(a, b Config, maxStep float64) (numeric float64, categorical int, err error) {
	if !(maxStep > 0) {
		return s.Step(a, b)
	}
	return s.moves(a, b, func(p Param, ua, ub float64) float64 {
		down, up := p.Reach(ua, maxStep)
		reach := up
		if ub < ua {
			reach = down
		}
		if ub == ua {
			return 0
		}
		return math.Abs(ub-ua) / math.Max(reach, 1e-300) * maxStep
	})
}

// Step measures how far b is from a: the largest move of any numeric
// parameter as a share of its (scaled) range, and how many categorical
// parameters changed (StepWithin adds a trust region's allowance for
// integer knobs).
func (s Space) Step(a, b Config) (numeric float64, categorical int, err error) {
	return s.moves(a, b, func(_ Param, ua, ub float64) float64 { return math.Abs(ua - ub) })
}

// moves returns the largest size of a numeric parameter's move from a to b
// (size, from the unit-scale values) and how many categorical parameters
// changed.
func (s Space) moves(a, b Config, size func(p Param, ua, ub float64) float64) (numeric float64, categorical int, err error) {
	for _, p := range s {
		if p.Type == Categorical {
			if a[p.Name] != b[p.Name] {
				categorical++
			}
			continue
		}
		ua, err := p.ToUnit(a[p.Name])
		if err != nil {
			return 0, 0, err
		}
		ub, err := p.ToUnit(b[p.Name])
		if err != nil {
			return 0, 0, err
		}
		numeric = max(numeric, size(p, ua, ub))
	}
	return numeric, categorical, nil
}

// CheckConfig returns an error unless c holds exactly one valid value for
// every parameter of s.
func (s Space) CheckConfig(c Config) error {
	var errs []error
	for _, p := range s {
		v, ok := c[p.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("missing parameter %s", p.Name))
			continue
		}
		switch p.Type {
		case Categorical:
			if !slices.Contains(p.Choices, v.String()) || !v.IsStr() {
				errs = append(errs, fmt.Errorf("parameter %s: expected one of %v, got %s", p.Name, p.Choices, v))
			}
		default:
			x := v.Float()
			switch {
			case v.IsStr():
				errs = append(errs, fmt.Errorf("parameter %s: expected a number, got %q", p.Name, v.String()))
			case math.IsNaN(x) || x < p.Min || x > p.Max:
				errs = append(errs, fmt.Errorf("parameter %s: expected a value in [%v, %v], got %v", p.Name, p.Min, p.Max, x))
			case p.Type == Int && x != math.Trunc(x):
				errs = append(errs, fmt.Errorf("parameter %s: expected an integer, got %v", p.Name, x))
			}
		}
	}
	for name := range c {
		if !slices.ContainsFunc(s, func(p Param) bool { return p.Name == name }) {
			errs = append(errs, fmt.Errorf("unknown parameter %s", name))
		}
	}
	return errors.Join(errs...)
}
