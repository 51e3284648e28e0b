package simulations

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	yaml "go.yaml.in/yaml/v3"

	"github.com/passflow/passflow/target"
)

// decoder decodes a YAML tree strictly into Go values: every key must be
// a field (by its yaml tag) and appear once, every value must have the
// field's type. It reports each problem with the field's path and the
// node's line, and records the line of every field it visits, so that
// later checks can place their problems too. It reads node kinds, tags and
// values only, never the decoder's error messages.
type decoder struct {
	probs   []target.Problem
	lines   map[string]int        // field path → line of its key or list item
	scalars map[string]*yaml.Node // field path → the string scalar decoded there
}

func newDecoder() *decoder {
	return &decoder{lines: map[string]int{}, scalars: map[string]*yaml.Node{}}
}

// add records a problem at the line of path (or of its closest ancestor).
func (d *decoder) add(path, format string, args ...any) {
	d.probs = append(d.probs, target.Problem{Field: path, Msg: fmt.Sprintf(format, args...), Line: d.line(path)})
}

// addAt records a problem at node n.
func (d *decoder) addAt(n *yaml.Node, path, format string, args ...any) {
	d.probs = append(d.probs, target.Problem{Field: path, Msg: fmt.Sprintf(format, args...), Line: n.Line})
}

// line returns the line of path, or of its closest recorded ancestor; 0
// when none is known.
func (d *decoder) line(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := d.lines[p]; ok {
			return l
		}
	}
	return 0
}

// parentPath drops the last element of a path: "a.b[2]" → "a.b", "a.b" → "a".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
	nodeType     = reflect.TypeFor[yaml.Node]()
	varsType     = reflect.TypeFor[scenarioVars]()
)

// scenarioVars are a scenario's vars in the order written: a mapping of
// names to expressions.
type scenarioVars []struct{ name, expr string }

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// decode decodes n into v (a settable value) at path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = deref(n)
	t := v.Type()
	if t == nodeType {
		v.Set(reflect.ValueOf(*n))
		return
	}
	if isNull(n) {
		return // absent: the zero value
	}
	switch {
	case t == varsType:
		d.vars(n, v, path)
		return
	case t == durationType:
		dur, ok := parseDuration(n)
		if !ok {
			d.addAt(n, path, "expected a duration such as 30s, 10m or 24h, got %s", shown(n))
			return
		}
		v.SetInt(int64(dur))
		return
	case t == timeType:
		ts, err := time.Parse(time.RFC3339, n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.addAt(n, path, "expected an RFC 3339 time such as 2026-01-05T13:00:00Z, got %s", shown(n))
			return
		}
		v.Set(reflect.ValueOf(ts))
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.addAt(n, path, "expected a mapping, got %s", shown(n))
			return
		}
		m := reflect.MakeMap(t)
		d.pairs(n, path, func(key, value *yaml.Node) {
			p := joinPath(path, key.Value)
			d.lines[p] = key.Line
			elem := reflect.New(t.Elem()).Elem()
			d.decode(value, elem, p)
			m.SetMapIndex(reflect.ValueOf(key.Value), elem)
		})
		v.Set(m)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.addAt(n, path, "expected a list, got %s", shown(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = item.Line
			d.decode(item, s.Index(i), p)
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.addAt(n, path, "expected a string, got %s", shown(n))
			return
		}
		v.SetString(n.Value)
		d.scalars[path] = n
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.addAt(n, path, "expected true or false, got %s", shown(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.addAt(n, path, "expected an integer, got %s", shown(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&f) != nil {
			d.addAt(n, path, "expected a number, got %s", shown(n))
			return
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			d.addAt(n, path, "expected a finite number, got %s", shown(n))
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("simulations: decode: unsupported type %s", t))
	}
}

// vars decodes the mapping n of names to expressions, in order.
func (d *decoder) vars(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addAt(n, path, "expected a mapping of names to expressions, got %s", shown(n))
		return
	}
	var out scenarioVars
	d.pairs(n, path, func(key, value *yaml.Node) {
		p := joinPath(path, key.Value)
		d.lines[p] = key.Line
		var expr string
		d.decode(value, reflect.ValueOf(&expr).Elem(), p)
		out = append(out, struct{ name, expr string }{key.Value, expr})
	})
	v.Set(reflect.ValueOf(out))
}

// parseDuration reads a duration written as in Prometheus ("30s", "10m",
// "1h30m", "7d") or as in Go ("1.5h").
func parseDuration(n *yaml.Node) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return 0, false
	}
	if d, err := model.ParseDuration(n.Value); err == nil {
		return time.Duration(d), true
	}
	d, err := time.ParseDuration(n.Value)
	return d, err == nil && d >= 0
}

// structure decodes the mapping n into the struct v.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addAt(n, path, "expected a mapping, got %s", shown(n))
		return
	}
	fields, names := yamlFieldsOf(v.Type())
	d.pairs(n, path, func(key, value *yaml.Node) {
		i, ok := fields[key.Value]
		if !ok {
			d.addAt(key, joinPath(path, key.Value), "unknown field; expected one of %s", strings.Join(names, ", "))
			return
		}
		p := joinPath(path, key.Value)
		d.lines[p] = key.Line
		d.decode(value, v.Field(i), p)
	})
}

// pairs visits each key of the mapping n once, merged mappings ("<<:
// *defaults") included, a key written in n overriding a merged one; it
// reports repeated and non-string keys.
func (d *decoder) pairs(n *yaml.Node, path string, visit func(key, value *yaml.Node)) {
	type pair struct{ key, value *yaml.Node }
	var own, merged []pair
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := deref(n.Content[i]), n.Content[i+1]
		if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
			value = deref(value)
			sources := []*yaml.Node{value}
			if value.Kind == yaml.SequenceNode {
				sources = value.Content
			}
			for _, src := range sources {
				src = deref(src)
				if src.Kind != yaml.MappingNode {
					d.addAt(src, path, "expected a mapping to merge (<<), got %s", shown(src))
					continue
				}
				d.pairs(src, path, func(k, v *yaml.Node) { merged = append(merged, pair{k, v}) })
			}
			continue
		}
		if key.Kind != yaml.ScalarNode || key.ShortTag() == "!!null" {
			d.addAt(key, path, "expected a name as key, got %s", shown(key))
			continue
		}
		if line, dup := first[key.Value]; dup {
			d.addAt(key, joinPath(path, key.Value), "repeated key; it is already set on line %d", line)
			continue
		}
		first[key.Value] = key.Line
		own = append(own, pair{key, value})
	}
	for _, p := range merged {
		if _, overridden := first[p.key.Value]; !overridden {
			first[p.key.Value] = p.key.Line
			visit(p.key, p.value)
		}
	}
	for _, p := range own {
		visit(p.key, p.value)
	}
}

// yamlFieldsOf maps the yaml keys of struct type t to field indices, and
// lists the keys in field order.
func yamlFieldsOf(t reflect.Type) (map[string]int, []string) {
	byName := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		byName[name] = i
		names = append(names, name)
	}
	return byName, names
}

// shown shows a node the way a user wrote it: a scalar quoted, else its kind.
func shown(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "nothing"
}

// sortProblems orders problems by line, keeping the order of those on one line.
func sortProblems(probs []target.Problem) {
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
}
