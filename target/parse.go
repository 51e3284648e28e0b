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

// parse does Parse's work: decode, then validate, then place each problem on
// its line.
func parse(data []byte) (Spec, []Problem) {
	root, probs := readDocument(data)
	if root == nil {
		return Spec{}, probs
	}

	// Walk the tree against the Go types first: it catches what the decoder
	// would either report without a path (unknown and repeated keys) or not
	// survive at all (a custom unmarshaler's error aborts yaml's decoding,
	// losing every later problem and the line), and removes those nodes so
	// the decoder can report the remaining type errors.
	w := &walker{}
	w.walk(root, reflect.TypeFor[Spec](), "")
	decodeProbs := w.probs

	var spec Spec
	var err error
	if len(decodeProbs) == 0 {
		// The tree is clean: decode the bytes themselves, strictly, so
		// that the Spec comes from yaml's own strict mode.
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		err = dec.Decode(&spec)
	} else {
		err = root.Decode(&spec)
	}
	typeProbs, aborted := w.decodeError(err)
	probs = append(decodeProbs, typeProbs...)

	if !aborted {
		// A value that failed to decode reads as zero; hide the checks
		// that would only echo it.
		decoded := probs
		for _, p := range Validate(&spec) {
			if !hidden(p.Field, decoded) {
				p.Line = lineOf(root, p.Field)
				probs = append(probs, p)
			}
		}
	}
	slices.SortStableFunc(probs, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	return spec, probs
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

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxProblem turns a YAML syntax error such as "yaml: line 4: did not find
// expected key" into a problem on that line.
func syntaxProblem(err error) Problem {
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if isParserError(m[2]) {
			line++
		}
		return Problem{Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return Problem{Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// parserErrors start the messages of yaml's parser, as opposed to its
// scanner.
var parserErrors = []string{
	"did not find expected key", "did not find expected node content",
	"did not find expected '-' indicator", "did not find expected ',' or",
	"did not find expected <document start>", "found duplicate %",
	"found incompatible YAML document", "found undefined tag handle",
}

// isParserError reports whether msg comes from yaml's parser, whose line
// numbers (unlike its scanner's) count from 0.
func isParserError(msg string) bool {
	for _, p := range parserErrors {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// walker checks a YAML tree against the Go type it decodes into.
type walker struct {
	probs []Problem
	// seen lists, in document order, every value node visited with the
	// field path and Go type it decodes into: the decoder's type errors
	// carry only a line, and are matched back to a field here.
	seen []seenNode
}

type seenNode struct {
	node *yaml.Node
	path string
	typ  reflect.Type
	used bool
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

// customDecoded reports whether values of t decode themselves.
func customDecoded(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(unmarshalerType) || p.Implements(obsoleteUnmarshalerType) || p.Implements(textUnmarshalerType)
}

func (w *walker) add(n *yaml.Node, path, format string, args ...any) {
	w.probs = append(w.probs, Problem{Field: path, Msg: fmt.Sprintf(format, args...), Line: n.Line})
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	w.seen = append(w.seen, seenNode{node: n, path: path, typ: t})
	if n.ShortTag() == "!!null" {
		return
	}
	if t == timeType {
		// yaml also reads a date alone, or a time without an offset, as
		// UTC; a freeze that starts an hour off is worse than an error.
		if _, err := time.Parse(time.RFC3339, n.Value); n.Kind != yaml.ScalarNode || err != nil {
			w.add(n, path, "expected %s, got %s", describe(t), valueOf(n))
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
		return
	}
	if customDecoded(t) {
		// Try the value alone: its error would abort the whole decode.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			w.add(n, path, "expected %s, got %s%s", describe(t), valueOf(n), detail(t, err))
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports it
		}
		fields := yamlFields(t)
		w.mapping(n, path, func(key *yaml.Node, v *yaml.Node) bool {
			f, ok := fields.byName[key.Value]
			if !ok {
				w.add(key, path, "unknown field %q; expected one of %s", key.Value, strings.Join(fields.names, ", "))
				return false
			}
			w.walk(v, f.Type, join(path, key.Value))
			return true
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		w.mapping(n, path, func(key *yaml.Node, v *yaml.Node) bool {
			w.walk(v, t.Elem(), join(path, key.Value))
			return true
		})
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, item := range n.Content {
			w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// mapping visits each key of the mapping n once, reporting and removing
// repeated keys and the pairs that visit rejects.
func (w *walker) mapping(n *yaml.Node, path string, visit func(key, value *yaml.Node) bool) {
	keep := n.Content[:0:0]
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, v := n.Content[i], n.Content[i+1]
		if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
			// "<<: *defaults" merges the keys of one or more mappings.
			for v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			merged := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				merged = v.Content
			}
			for _, m := range merged {
				for m.Kind == yaml.AliasNode && m.Alias != nil {
					m = m.Alias
				}
				if m.Kind == yaml.MappingNode {
					w.mapping(m, path, visit)
				}
			}
			keep = append(keep, key, n.Content[i+1])
			continue
		}
		if key.Kind != yaml.ScalarNode {
			keep = append(keep, key, v) // the decoder reports odd keys
			continue
		}
		if line, dup := first[key.Value]; dup {
			w.add(key, join(path, key.Value), "repeated key; it is already set on line %d", line)
			continue
		}
		first[key.Value] = key.Line
		if visit(key, v) {
			keep = append(keep, key, v)
		}
	}
	n.Content = keep
}

type structFields struct {
	byName map[string]reflect.StructField
	names  []string
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
			inner := yamlFields(f.Type)
			for _, n := range inner.names {
				fs.byName[n] = inner.byName[n]
				fs.names = append(fs.names, n)
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

var unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.+) not found in type .+$`)

var typeErrorRE = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")

// decodeError turns the decoder's error into problems, finding the field of
// each type error from its line and value. aborted reports an error that
// stopped the decoding half-way, leaving the Spec unfit to validate.
func (w *walker) decodeError(err error) (probs []Problem, aborted bool) {
	if err == nil {
		return nil, false
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []Problem{syntaxProblem(err)}, true
	}
	for _, msg := range te.Errors {
		if m := unknownFieldRE.FindStringSubmatch(msg); m != nil {
			// Only reachable through constructs the walker does not follow.
			line, _ := strconv.Atoi(m[1])
			probs = append(probs, Problem{Line: line, Msg: fmt.Sprintf("unknown field %q", m[2])})
			continue
		}
		m := typeErrorRE.FindStringSubmatch(msg)
		if m == nil {
			p := syntaxProblem(errors.New(msg))
			p.Msg = strings.TrimPrefix(p.Msg, "invalid YAML: ")
			probs = append(probs, p)
			continue
		}
		line, _ := strconv.Atoi(m[1])
		tag, val := m[2], strings.TrimSuffix(m[3], "...")
		if s := w.find(line, tag, val); s != nil {
			probs = append(probs, Problem{Field: s.path, Line: line, Msg: fmt.Sprintf("expected %s, got %s", describe(s.typ), valueOf(s.node))})
			continue
		}
		probs = append(probs, Problem{Line: line, Msg: fmt.Sprintf("cannot read %s as %s", valueOf(&yaml.Node{Tag: tag, Value: val, Kind: kindForTag(tag)}), m[4])})
	}
	return probs, false
}

// find returns the first node not yet matched on line whose tag is tag and
// whose value starts with prefix.
func (w *walker) find(line int, tag, prefix string) *seenNode {
	for i := range w.seen {
		s := &w.seen[i]
		if !s.used && s.node.Line == line && s.node.ShortTag() == tag && strings.HasPrefix(s.node.Value, prefix) {
			s.used = true
			return s
		}
	}
	return nil
}

func kindForTag(tag string) yaml.Kind {
	switch tag {
	case "!!map":
		return yaml.MappingNode
	case "!!seq":
		return yaml.SequenceNode
	}
	return yaml.ScalarNode
}

// describe names what a value of type t is, for "expected ..." messages.
func describe(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[Duration]():
		return "a duration such as 30s, 5m, 24h or 30d"
	case timeType:
		return "an RFC 3339 time such as 2026-12-20T00:00:00Z"
	}
	if customDecoded(t) {
		if t.PkgPath() == "github.com/passflow/passflow/models" && t.Name() == "Value" {
			return "a number or a string"
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

// detail adds a custom unmarshaler's own words when describe has none.
func detail(t reflect.Type, err error) string {
	if strings.HasPrefix(describe(t), "a "+t.String()) {
		return " (" + err.Error() + ")"
	}
	return ""
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
// decoding problem: a value that failed to decode reads as zero, so checks
// on it or its siblings would only add noise.
func hidden(field string, decodeProbs []Problem) bool {
	for _, d := range decodeProbs {
		if d.Field == "" || strings.HasPrefix(d.Msg, "unknown field") {
			continue
		}
		scope := d.Field
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
