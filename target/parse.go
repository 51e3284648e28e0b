package target

import (
	"bytes"
	"cmp"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a target file.
type Problem struct {
	// Field is the path of the offending field, e.g. "canary.stages[2]" or
	// "telemetry.queries.latency_p95_ms"; empty for the file as a whole.
	Field string
	// Msg says what was expected and what was found.
	Msg string
	// Line is the line of the field in the file, 0 when unknown.
	Line int
}

// Error is every problem found in one target file.
type Error struct {
	File     string
	Problems []Problem
}

// Error formats one problem a line, as FILE:LINE: FIELD: MSG; the line is
// left out when unknown, the field when the problem is about the whole file.
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if e.File != "" {
			b.WriteString(e.File)
			if p.Line > 0 {
				b.WriteString(":" + strconv.Itoa(p.Line))
			}
			b.WriteString(": ")
		} else if p.Line > 0 {
			b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
		}
		if p.Field != "" {
			b.WriteString(p.Field + ": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// Load reads and parses the target file at path; see Parse.
func Load(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("target: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes one target from data, strictly, fills its defaults and
// validates it (see Validate). file names the source in errors. On failure
// the error is an *Error holding every problem found, each with the field's
// path and, when known, its line; the returned Spec is then the zero Spec.
// A Spec that Parse returns without error is valid.
//
// Strict means: the file holds exactly one YAML document, that document is a
// mapping, every key is a field of the target (at any depth) and appears once,
// and every value has the field's type.
func Parse(file string, data []byte) (Spec, error) {
	spec, probs := parse(data)
	if len(probs) > 0 {
		return Spec{}, &Error{File: file, Problems: probs}
	}
	return spec, nil
}

// parse does Parse's work: check the tree against the Go types, decode,
// then validate, and place each problem on its line.
func parse(data []byte) (Spec, []Problem) {
	root, probs := readDocument(data)
	if root == nil {
		return Spec{}, probs
	}

	// The walker finds every problem of decoding, node by node, each on
	// its node's line and with its field's path, and removes the nodes it
	// reports, so that what is left decodes.
	w := &walker{}
	w.walk(root, reflect.TypeFor[Spec](), "")
	probs = w.probs

	var spec Spec
	var err error
	if len(probs) == 0 {
		// The tree is clean: decode the bytes themselves, strictly, so
		// that the Spec comes from yaml's own strict mode.
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		err = dec.Decode(&spec)
	} else {
		err = root.Decode(&spec)
	}
	if err != nil {
		// The decoder refused what the walker let through; the Spec is
		// unfit to validate.
		probs = append(probs, unforeseen(err)...)
	} else {
		// A value that failed to decode reads as zero; hide the checks
		// that would only echo it.
		for _, p := range Validate(&spec) {
			if !hidden(p.Field, w.rejected) {
				p.Line = lineOf(root, p.Field)
				probs = append(probs, p)
			}
		}
	}
	slices.SortStableFunc(probs, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	return spec, probs
}

// unforeseen turns an error of the decoder that the walker did not foresee
// into problems, one per message, shown as yaml wrote them and never read.
// It is a safety net: the walker decodes every value with the decoder
// itself, so that it is reached only through a construct the walker does
// not follow.
func unforeseen(err error) []Problem {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []Problem{{Msg: "cannot decode the target: " + err.Error()}}
	}
	probs := make([]Problem, len(te.Errors))
	for i, msg := range te.Errors {
		probs[i] = Problem{Msg: "cannot decode the target: " + msg}
	}
	return probs
}

// targetDoc names what a target file holds, for ReadDocument's messages.
const targetDoc = "a target (a mapping with name, params, objective, telemetry and actuator)"

// readDocument reads a target file's single YAML document.
func readDocument(data []byte) (*yaml.Node, []Problem) {
	root, p := ReadDocument(data, targetDoc)
	if p != nil {
		return nil, []Problem{*p}
	}
	return root, nil
}

// ReadDocument reads the single YAML document of data and returns its
// top-level mapping, or nil with the problem that prevents decoding: a
// syntax error on its line, an empty file, a second document (a trailing
// "---" alone is harmless), aliases that would expand past
// MaxExpandedNodes (CheckAliases), or a top level that is no mapping. what
// names the expected content in the messages ("a target (…)"). Target
// files and scenario files are both read with it.
func ReadDocument(data []byte, what string) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Problem{Msg: "empty file; expected " + what}
		}
		p := syntaxProblem(err)
		return nil, &p
	}
	for {
		var extra yaml.Node
		err := dec.Decode(&extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p := syntaxProblem(err)
			return nil, &p
		}
		if len(extra.Content) == 1 && extra.Content[0].ShortTag() == "!!null" && extra.Content[0].Value == "" {
			continue
		}
		return nil, &Problem{Line: extra.Line, Msg: "a second YAML document; expected one per file"}
	}
	if line, err := CheckAliases(&doc); err != nil {
		return nil, &Problem{Line: line, Msg: err.Error()}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	for root.Kind == yaml.AliasNode && root.Alias != nil {
		root = root.Alias
	}
	switch {
	case root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null":
		return nil, &Problem{Msg: "empty document; expected " + what}
	case root.Kind != yaml.MappingNode:
		return nil, &Problem{Line: root.Line, Msg: "expected a mapping at the top level, got " + kindOf(root)}
	}
	return root, nil
}

// syntaxLineRE matches the text of yaml's syntax errors that name a line.
var syntaxLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxProblem turns a YAML syntax error such as "yaml: line 4: did not
// find expected key" into a problem on that line.
//
// It is the one place that reads yaml's error text, because yaml.v3 has no
// typed syntax error: its scanner and parser fail with plain strings that
// hold the line, and leave no node to take a position from. yaml counts
// lines from 0 and adds 1 for its scanner's errors only, so a parser
// error's line is one short; the text does not say which of the two
// failed, and the parser's messages are told apart by how they start.
func syntaxProblem(err error) Problem {
	msg := err.Error()
	m := syntaxLineRE.FindStringSubmatch(msg)
	if m == nil {
		return Problem{Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	parserErrors := []string{
		"did not find expected key", "did not find expected node content",
		"did not find expected '-' indicator", "did not find expected ',' or",
		"did not find expected <document start>", "found duplicate %",
		"found incompatible YAML document", "found undefined tag handle",
	}
	for _, p := range parserErrors {
		if strings.HasPrefix(m[2], p) {
			line++
			break
		}
	}
	return Problem{Line: line, Msg: "invalid YAML: " + m[2]}
}

// walker checks a YAML tree against the Go type it decodes into, node by
// node, as yaml's strict decoding would, and reports each problem on its
// node's line with its field's path: a key that is no field, a key
// repeated, a value of the wrong kind, a value its type refuses. Each value
// is decoded on its own into a fresh value of its field's type (node.Decode),
// so that the walker and the decoder agree on what is valid; the decoder's
// messages are never read. The walker removes each node it reports (a
// rejected value becomes null), so that the rest of the tree decodes, and
// all of a file's problems are found in one pass.
type walker struct {
	probs []Problem
	// rejected lists the paths of the values removed for failing to
	// decode: they read as zero.
	rejected []string
}

type obsoleteUnmarshaler interface {
	UnmarshalYAML(unmarshal func(any) error) error
}

var (
	unmarshalerType         = reflect.TypeFor[yaml.Unmarshaler]()
	obsoleteUnmarshalerType = reflect.TypeFor[obsoleteUnmarshaler]()
	textUnmarshalerType     = reflect.TypeFor[encoding.TextUnmarshaler]()
	timeType                = reflect.TypeFor[time.Time]()
)

// expected names what a value of a few types must be, for "expected ...,
// got ..." messages, in the walker's own words rather than those of the
// types' unmarshalers (model.Duration says only "not a valid duration
// string").
var expected = map[reflect.Type]string{
	reflect.TypeFor[Duration](): "a duration such as 30s, 5m, 24h or 30d",
	timeType:                    "an RFC 3339 time such as 2026-12-20T00:00:00Z",
}

// customDecoded reports whether values of t decode themselves.
func customDecoded(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(unmarshalerType) || p.Implements(obsoleteUnmarshalerType) || p.Implements(textUnmarshalerType)
}

// readsOwnFields reports whether t, a type that decodes itself, is a struct
// whose fields carry yaml tags: its unmarshaler is taken to read the
// mapping of those fields (as the "type plain T" idiom does), so that the
// walker checks the keys and values of that mapping as for any struct
// before the unmarshaler checks the whole.
func readsOwnFields(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for f := range t.Fields() {
		if _, ok := f.Tag.Lookup("yaml"); ok && f.IsExported() {
			return true
		}
	}
	return false
}

func (w *walker) add(n *yaml.Node, path, format string, args ...any) {
	w.probs = append(w.probs, Problem{Field: path, Msg: fmt.Sprintf(format, args...), Line: n.Line})
}

// reject reports the value n at path with msg and makes it null, so that
// the tree decodes without it.
func (w *walker) reject(n *yaml.Node, path, msg string) {
	w.probs = append(w.probs, Problem{Field: path, Msg: msg, Line: n.Line})
	w.drop(n, path)
}

// drop makes the value n at path null, reporting nothing.
func (w *walker) drop(n *yaml.Node, path string) {
	w.rejected = append(w.rejected, path)
	*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
}

// mismatch says that n is not a value of type t.
func mismatch(n *yaml.Node, t reflect.Type) string {
	return fmt.Sprintf("expected %s, got %s", describe(t), valueOf(n))
}

// walk checks the value n, at path, against the Go type t.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.ShortTag() == "!!null" {
		return // the zero value, for every type
	}
	if t == timeType {
		// yaml also reads a date alone, or a time without an offset, as
		// UTC; a freeze that starts an hour off is worse than an error.
		if _, err := time.Parse(time.RFC3339, n.Value); n.Kind != yaml.ScalarNode || err != nil {
			w.reject(n, path, mismatch(n, t))
		}
		return
	}
	if customDecoded(t) {
		w.custom(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.reject(n, path, mismatch(n, t))
			return
		}
		w.fields(n, t, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.reject(n, path, mismatch(n, t))
			return
		}
		w.mapping(n, path, func(key *yaml.Node, v *yaml.Node) bool {
			if key.Kind != yaml.ScalarNode || key.Decode(reflect.New(t.Key()).Interface()) != nil {
				w.add(key, path, "expected %s as a key, got %s", describe(t.Key()), valueOf(key))
				return false
			}
			w.walk(v, t.Elem(), join(path, key.Value))
			return true
		})
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			w.reject(n, path, mismatch(n, t))
			return
		}
		if t.Kind() == reflect.Array && len(n.Content) != t.Len() {
			w.reject(n, path, fmt.Sprintf("expected a list of %d, got %d", t.Len(), len(n.Content)))
			return
		}
		for i, item := range n.Content {
			w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		// yaml would truncate a number with a fraction: 1.5 reads as 1.
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(reflect.New(t).Interface()) != nil {
			w.reject(n, path, mismatch(n, t))
		}
	case reflect.Bool, reflect.Float32, reflect.Float64, reflect.String:
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			w.reject(n, path, mismatch(n, t))
		}
	}
}

// custom checks the value n of t, a type that decodes itself: the keys and
// values of its mapping first when it reads its own fields, then the whole
// with its unmarshaler. A value the unmarshaler refuses is reported with
// the unmarshaler's own error as the message, unless the walker has words
// of its own for t (expected) or the refusal is yaml's (a *yaml.TypeError:
// the node is not of the kind the unmarshaler reads); it is not reported
// again when a problem inside it was.
func (w *walker) custom(n *yaml.Node, t reflect.Type, path string) {
	before := len(w.probs)
	if n.Kind == yaml.MappingNode && readsOwnFields(t) {
		w.fields(n, t, path)
	}
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return
	}
	if len(w.probs) > before {
		w.drop(n, path) // its parts are reported
		return
	}
	var te *yaml.TypeError
	if _, ok := expected[t]; ok || errors.As(err, &te) {
		w.reject(n, path, mismatch(n, t))
		return
	}
	w.reject(n, path, err.Error())
}

// fields checks the mapping n against the fields of struct type t.
func (w *walker) fields(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	w.mapping(n, path, func(key *yaml.Node, v *yaml.Node) bool {
		if key.Kind != yaml.ScalarNode {
			w.add(key, path, "expected a field name as a key, got %s", kindOf(key))
			return false
		}
		f, ok := fields.byName[key.Value]
		switch {
		case ok:
			w.walk(v, f.Type, join(path, key.Value))
		case fields.rest != nil:
			w.walk(v, fields.rest, join(path, key.Value))
		default:
			w.add(key, path, "unknown field %q; expected one of %s", key.Value, strings.Join(fields.names, ", "))
			return false
		}
		return true
	})
}

// mapping visits each key of the mapping n once, following merge keys
// ("<<: *defaults"), reporting and removing repeated keys, merges of what
// is no mapping, and the pairs that visit rejects.
func (w *walker) mapping(n *yaml.Node, path string, visit func(key, value *yaml.Node) bool) {
	keep := n.Content[:0:0]
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, v := n.Content[i], n.Content[i+1]
		if key.Kind == yaml.ScalarNode {
			if line, dup := first[key.Value]; dup {
				w.add(key, join(path, key.Value), "repeated key; it is already set on line %d", line)
				continue
			}
			first[key.Value] = key.Line
		}
		if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
			if w.merge(v, path, visit) {
				keep = append(keep, key, v)
			}
			continue
		}
		if visit(key, v) {
			keep = append(keep, key, v)
		}
	}
	n.Content = keep
}

// merge visits the keys of the value v of a merge key: a mapping or a list
// of mappings, each possibly an alias. It reports false, and visits
// nothing, when v is neither.
func (w *walker) merge(v *yaml.Node, path string, visit func(key, value *yaml.Node) bool) bool {
	for v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	merged := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		merged = v.Content
	}
	for i, m := range merged {
		for m.Kind == yaml.AliasNode && m.Alias != nil {
			m = m.Alias
		}
		if m.Kind != yaml.MappingNode {
			w.add(merged[i], join(path, "<<"), "expected a mapping or a list of mappings to merge, got %s", valueOf(m))
			return false
		}
	}
	for _, m := range merged {
		for m.Kind == yaml.AliasNode && m.Alias != nil {
			m = m.Alias
		}
		w.mapping(m, path, visit)
	}
	return true
}

// structFields are the YAML keys of a struct type.
type structFields struct {
	byName map[string]reflect.StructField
	names  []string
	// rest is the value type of an inline map, which takes every key that
	// is no field; nil without one.
	rest reflect.Type
}

// yamlFields lists the YAML keys of struct type t.
func yamlFields(t reflect.Type) structFields {
	fs := structFields{byName: map[string]reflect.StructField{}}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Map {
				fs.rest = ft.Elem()
				continue
			}
			inner := yamlFields(ft)
			for _, n := range inner.names {
				fs.byName[n] = inner.byName[n]
				fs.names = append(fs.names, n)
			}
			if inner.rest != nil {
				fs.rest = inner.rest
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fs.byName[name] = f
		fs.names = append(fs.names, name)
	}
	return fs
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names what a value of type t is, for "expected ..." messages.
func describe(t reflect.Type) string {
	if s, ok := expected[t]; ok {
		return s
	}
	if customDecoded(t) {
		if readsOwnFields(t) {
			return "a mapping"
		}
		return "a " + t.String()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// valueOf shows a node the way a user wrote it: a scalar quoted, else its kind.
func valueOf(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return kindOf(n)
}

func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "nothing"
}

// hidden reports whether a validation problem at field follows from a
// value that failed to decode: such a value reads as zero, so checks on it
// or its siblings would only add noise. rejected holds the paths of those
// values.
func hidden(field string, rejected []string) bool {
	for _, r := range rejected {
		scope := r
		if i := strings.LastIndexAny(scope, ".["); i > 0 {
			scope = scope[:i]
		}
		if field == scope || strings.HasPrefix(field, scope+".") || strings.HasPrefix(field, scope+"[") {
			return true
		}
	}
	return false
}

// lineOf returns the line of the field at path in the tree under root: the
// line of its key, of its list item, or, for a field that is absent (a
// required field left out, a default), of its closest present ancestor. It
// returns 0 for a top-level field that is absent.
func lineOf(root *yaml.Node, path string) int {
	n, line := root, 0
	for path != "" {
		var key string
		index := -1
		if path[0] == '[' {
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return line
			}
			i, err := strconv.Atoi(path[1:end])
			if err != nil {
				return line
			}
			index, path = i, path[end+1:]
		} else {
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			key, path = path[:end], path[end:]
		}
		path = strings.TrimPrefix(path, ".")
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		var next *yaml.Node
		switch {
		case index >= 0 && n.Kind == yaml.SequenceNode && index < len(n.Content):
			next = n.Content[index]
			line = next.Line
		case index < 0 && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					next = n.Content[i+1]
					line = n.Content[i].Line
					break
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}
