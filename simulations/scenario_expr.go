package simulations

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// The variables a scenario's metric expression sees besides its knobs.
const (
	// VarLoad is the traffic multiplier at the instant (see ScenarioLoad).
	VarLoad = "load"
	// VarHour is the hour of the day in UTC, in [0, 24), with its fraction.
	VarHour = "hour"
	// VarDay is the whole number of days since the scenario's first day
	// (0 on the day of schedule.start, UTC).
	VarDay = "day"
	// VarDrift is drift.per_day × day: a slow move of the optimum that
	// expressions may use.
	VarDrift = "drift"
	// VarRamp is how fast the load changes, in load per hour: the
	// derivative of load at the instant (positive in the morning ramp).
	VarRamp = "ramp"
)

// timeVars are the variables after the knobs, in frame order.
var timeVars = []string{VarLoad, VarHour, VarDay, VarDrift, VarRamp}

// exprFunc is a math helper a metric expression may call.
type exprFunc struct {
	name  string
	arity int
	f1    func(float64) float64
	f2    func(float64, float64) float64
	f3    func(float64, float64, float64) float64
	doc   string
}

// exprFuncs are the helpers on top of expr's built-ins (abs, min, max,
// ceil, floor, round).
var exprFuncs = []exprFunc{
	{name: "exp", arity: 1, f1: math.Exp, doc: "e^x"},
	{name: "log", arity: 1, f1: math.Log, doc: "natural logarithm"},
	{name: "log2", arity: 1, f1: math.Log2, doc: "base-2 logarithm"},
	{name: "log10", arity: 1, f1: math.Log10, doc: "base-10 logarithm"},
	{name: "sqrt", arity: 1, f1: math.Sqrt, doc: "square root"},
	{name: "tanh", arity: 1, f1: math.Tanh, doc: "hyperbolic tangent"},
	{name: "sigmoid", arity: 1, f1: sigmoid, doc: "1/(1+e^-x), a smooth step"},
	{name: "softplus", arity: 1, f1: softplus, doc: "log(1+e^x), a smooth max(0, x)"},
	{name: "pow", arity: 2, f2: math.Pow, doc: "x^y"},
	{name: "clamp", arity: 3, f3: func(x, lo, hi float64) float64 { return math.Min(hi, math.Max(lo, x)) }, doc: "x limited to [lo, hi]"},
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func softplus(x float64) float64 {
	if x > 30 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

// exprBuiltins are expr's own functions that the fast evaluator knows.
var exprBuiltins = map[string]bool{"abs": true, "min": true, "max": true, "ceil": true, "floor": true, "round": true, "int": true, "float": true}

// exprKeywords are expr's reserved words, which cannot name a knob.
var exprKeywords = []string{"let", "if", "else", "in", "not", "and", "or", "true", "false", "nil", "matches", "contains", "startsWith", "endsWith"}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkVarName returns what is wrong with name as a variable of an
// expression, "" if nothing.
func checkVarName(name string) string {
	switch {
	case !identRE.MatchString(name):
		return "expected a name usable in expressions: letters, digits and '_', not starting with a digit"
	case slices.Contains(timeVars, name):
		return fmt.Sprintf("%q is a variable every expression already has (%s)", name, strings.Join(timeVars, ", "))
	case slices.Contains(exprKeywords, name):
		return fmt.Sprintf("%q is a keyword of the expression language", name)
	case slices.ContainsFunc(exprFuncs, func(f exprFunc) bool { return f.name == name }) || slices.Contains(builtin.Names, name):
		return fmt.Sprintf("%q is a function of the expression language", name)
	}
	return ""
}

// exprEnv is the layout of the variables of a scenario's expressions: the
// numeric knobs, then the time variables, in one []float64; the
// categorical knobs, as strings, in another.
type exprEnv struct {
	num   []string // numeric variables, in frame order
	str   []string // string variables (categorical knobs), in frame order
	index map[string]envSlot
}

type envSlot struct {
	str bool
	i   int
}

// newExprEnv lays out the numeric knobs numeric, the categorical knobs
// categorical, the time variables and the scenario's vars, in this order.
func newExprEnv(numeric, categorical, vars []string) *exprEnv {
	e := &exprEnv{index: map[string]envSlot{}}
	for _, group := range [][]string{numeric, timeVars, vars} {
		for _, n := range group {
			e.index[n] = envSlot{i: len(e.num)}
			e.num = append(e.num, n)
		}
	}
	for _, n := range categorical {
		e.index[n] = envSlot{str: true, i: len(e.str)}
		e.str = append(e.str, n)
	}
	return e
}

// upTo returns the environment that sees only the first n numeric
// variables (and every string one), at the same slots: what the var at
// slot n may use.
func (e *exprEnv) upTo(n int) *exprEnv {
	p := &exprEnv{num: e.num[:n:n], str: e.str, index: map[string]envSlot{}}
	for name, s := range e.index {
		if s.str || s.i < n {
			p.index[name] = s
		}
	}
	return p
}

// names returns every variable name, sorted.
func (e *exprEnv) names() []string {
	out := append(slices.Clone(e.num), e.str...)
	sort.Strings(out)
	return out
}

// typeEnv is the environment expr type-checks against: each variable with a
// value of its type.
func (e *exprEnv) typeEnv() map[string]any {
	m := make(map[string]any, len(e.index))
	for _, n := range e.num {
		m[n] = 0.0
	}
	for _, n := range e.str {
		m[n] = ""
	}
	return m
}

// frame holds one evaluation's variables and the scratch space of its let
// bindings. A frame is used by one goroutine at a time.
type frame struct {
	num  []float64
	str  []string
	lets []float64
}

// newFrame returns a frame for env with room for lets bindings.
func (e *exprEnv) newFrame(lets int) *frame {
	return &frame{num: make([]float64, len(e.num)), str: make([]string, len(e.str)), lets: make([]float64, lets)}
}

// expression is one compiled metric expression: type-checked by expr
// against the scenario's variables and, when it uses only arithmetic,
// comparisons, conditionals, let bindings and the math helpers (as every
// built-in scenario does), also translated into Go closures that evaluate
// it without allocating. Both compute the same numbers (a test checks it);
// an expression the closures do not cover runs on expr's VM.
type expression struct {
	src     string
	env     *exprEnv
	program *vm.Program
	fast    func(*frame) float64 // nil: run program on expr's VM
	lets    int                  // let slots fast needs
}

// exprError is an expression that does not compile, at a position of its
// source (line counted from 1, column from 0).
type exprError struct {
	Line, Column int
	Msg          string
}

func (e *exprError) Error() string { return e.Msg }

// compileExpression compiles src against env.
func compileExpression(src string, env *exprEnv) (*expression, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &exprError{Line: 1, Msg: "expected an expression"}
	}
	// Name an undefined variable ourselves, with what is defined: expr's
	// own message does not list the choices.
	if tree, err := parser.Parse(src); err == nil {
		if e := undefinedVariable(src, tree.Node, env); e != nil {
			return nil, e
		}
	}
	opts := []expr.Option{expr.Env(env.typeEnv())}
	for _, f := range exprFuncs {
		opts = append(opts, exprFunction(f))
	}
	program, err := expr.Compile(src, opts...)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return nil, &exprError{Line: max(1, fe.Line), Column: fe.Column, Msg: fe.Message}
		}
		return nil, &exprError{Line: 1, Msg: err.Error()}
	}
	switch k := program.Node().Type().Kind(); k {
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Interface:
	default:
		line, col := position(src, program.Node().Location().From)
		return nil, &exprError{Line: line, Column: col, Msg: fmt.Sprintf("expected a number, got a %s", kindName(k))}
	}
	e := &expression{src: src, env: env, program: program}
	c := &closureCompiler{env: env, scope: map[string]letSlot{}}
	if n, err := c.compile(program.Node()); err == nil && n.kind == kindNum {
		e.fast, e.lets = n.num, c.lets
	}
	return e, nil
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "condition (true or false)"
	case reflect.String:
		return "string"
	}
	return k.String()
}

// exprFunction declares f to expr, typed so that the checker checks calls.
func exprFunction(f exprFunc) expr.Option {
	switch f.arity {
	case 1:
		return expr.Function(f.name, func(p ...any) (any, error) { return f.f1(p[0].(float64)), nil }, new(func(float64) float64))
	case 2:
		return expr.Function(f.name, func(p ...any) (any, error) { return f.f2(p[0].(float64), p[1].(float64)), nil }, new(func(float64, float64) float64))
	default:
		return expr.Function(f.name, func(p ...any) (any, error) {
			return f.f3(p[0].(float64), p[1].(float64), p[2].(float64)), nil
		}, new(func(float64, float64, float64) float64))
	}
}

// undefinedVariable returns an error for the first identifier of tree that
// is neither a variable of env nor bound by a let, nil if there is none.
func undefinedVariable(src string, tree ast.Node, env *exprEnv) *exprError {
	v := &identVisitor{callees: map[ast.Node]bool{}, lets: map[string]bool{}}
	ast.Walk(&tree, v)
	for _, id := range v.idents {
		name := id.Value
		if v.callees[id] || v.lets[name] || name == "$env" {
			continue
		}
		if _, ok := env.index[name]; ok {
			continue
		}
		line, col := position(src, id.Location().From)
		return &exprError{Line: line, Column: col,
			Msg: fmt.Sprintf("undefined variable %q; expected one of %s", name, strings.Join(env.names(), ", "))}
	}
	return nil
}

// position returns the line (from 1) and column (from 0) of the rune at
// offset from of src.
func position(src string, from int) (line, col int) {
	line = 1
	for i, r := range []rune(src) {
		if i == from {
			break
		}
		if r == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
	}
	return line, col
}

// identVisitor collects the identifiers of a tree, the callees of its calls
// and the names its lets bind.
type identVisitor struct {
	idents  []*ast.IdentifierNode
	callees map[ast.Node]bool
	lets    map[string]bool
}

func (v *identVisitor) Visit(n *ast.Node) {
	switch n := (*n).(type) {
	case *ast.IdentifierNode:
		v.idents = append(v.idents, n)
	case *ast.CallNode:
		v.callees[n.Callee] = true
	case *ast.VariableDeclaratorNode:
		v.lets[n.Name] = true
	}
}

// eval evaluates e with the variables of f.
func (e *expression) eval(f *frame) (float64, error) {
	if e.fast != nil {
		return e.fast(f), nil
	}
	env := make(map[string]any, len(f.num)+len(f.str))
	for i, n := range e.env.num {
		env[n] = f.num[i]
	}
	for i, n := range e.env.str {
		env[n] = f.str[i]
	}
	out, err := expr.Run(e.program, env)
	if err != nil {
		return math.NaN(), err
	}
	return toFloat(out)
}

// toFloat converts an expression's result to a number.
func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case uint:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	}
	return math.NaN(), fmt.Errorf("expected a number, got %T", v)
}

// The kinds of value the closures compute.
type valueKind int

const (
	kindNum valueKind = iota + 1
	kindBool
	kindStr
)

// cexpr is a compiled node: a closure of its kind, and whether it is a
// constant (depends on no variable).
type cexpr struct {
	kind  valueKind
	num   func(*frame) float64
	cond  func(*frame) bool
	str   func(*frame) string
	konst bool
}

func numConst(x float64) cexpr {
	return cexpr{kind: kindNum, konst: true, num: func(*frame) float64 { return x }}
}

func boolConst(b bool) cexpr {
	return cexpr{kind: kindBool, konst: true, cond: func(*frame) bool { return b }}
}

func strConst(s string) cexpr {
	return cexpr{kind: kindStr, konst: true, str: func(*frame) string { return s }}
}

// fold evaluates a constant node once.
func fold(c cexpr) cexpr {
	if !c.konst {
		return c
	}
	switch c.kind {
	case kindNum:
		return numConst(c.num(nil))
	case kindBool:
		return boolConst(c.cond(nil))
	}
	return strConst(c.str(nil))
}

// letSlot is a let binding's place in a frame's lets, and its kind.
type letSlot struct {
	i    int
	kind valueKind
}

// closureCompiler translates a type-checked expr tree into closures. It
// covers numbers, booleans and string comparisons; anything else makes it
// give up (errUnsupported), and the expression runs on expr's VM.
type closureCompiler struct {
	env   *exprEnv
	scope map[string]letSlot
	lets  int
}

var errUnsupported = errors.New("not covered by the fast evaluator")

func (c *closureCompiler) compile(n ast.Node) (cexpr, error) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return numConst(float64(n.Value)), nil
	case *ast.FloatNode:
		return numConst(n.Value), nil
	case *ast.BoolNode:
		return boolConst(n.Value), nil
	case *ast.StringNode:
		return strConst(n.Value), nil
	case *ast.ConstantNode:
		switch v := n.Value.(type) {
		case int:
			return numConst(float64(v)), nil
		case int64:
			return numConst(float64(v)), nil
		case float64:
			return numConst(v), nil
		case bool:
			return boolConst(v), nil
		case string:
			return strConst(v), nil
		}
		return cexpr{}, errUnsupported
	case *ast.IdentifierNode:
		return c.identifier(n.Value)
	case *ast.UnaryNode:
		return c.unary(n)
	case *ast.BinaryNode:
		return c.binary(n)
	case *ast.ConditionalNode:
		return c.conditional(n)
	case *ast.VariableDeclaratorNode:
		return c.let(n)
	case *ast.SequenceNode:
		if len(n.Nodes) == 0 {
			return cexpr{}, errUnsupported
		}
		// Expressions have no side effects: only the last one counts.
		return c.compile(n.Nodes[len(n.Nodes)-1])
	case *ast.CallNode:
		return c.call(n)
	case *ast.BuiltinNode:
		return c.builtin(n)
	}
	return cexpr{}, errUnsupported
}

func (c *closureCompiler) identifier(name string) (cexpr, error) {
	if s, ok := c.scope[name]; ok {
		i := s.i
		if s.kind == kindBool {
			return cexpr{kind: kindBool, cond: func(f *frame) bool { return f.lets[i] != 0 }}, nil
		}
		return cexpr{kind: kindNum, num: func(f *frame) float64 { return f.lets[i] }}, nil
	}
	s, ok := c.env.index[name]
	if !ok {
		return cexpr{}, errUnsupported
	}
	i := s.i
	if s.str {
		return cexpr{kind: kindStr, str: func(f *frame) string { return f.str[i] }}, nil
	}
	return cexpr{kind: kindNum, num: func(f *frame) float64 { return f.num[i] }}, nil
}

func (c *closureCompiler) unary(n *ast.UnaryNode) (cexpr, error) {
	x, err := c.compile(n.Node)
	if err != nil {
		return cexpr{}, err
	}
	switch {
	case n.Operator == "-" && x.kind == kindNum:
		f := x.num
		return fold(cexpr{kind: kindNum, konst: x.konst, num: func(fr *frame) float64 { return -f(fr) }}), nil
	case n.Operator == "+" && x.kind == kindNum:
		return x, nil
	case (n.Operator == "!" || n.Operator == "not") && x.kind == kindBool:
		f := x.cond
		return fold(cexpr{kind: kindBool, konst: x.konst, cond: func(fr *frame) bool { return !f(fr) }}), nil
	}
	return cexpr{}, errUnsupported
}

func (c *closureCompiler) binary(n *ast.BinaryNode) (cexpr, error) {
	if n.Operator == "in" {
		return c.in(n)
	}
	l, err := c.compile(n.Left)
	if err != nil {
		return cexpr{}, err
	}
	r, err := c.compile(n.Right)
	if err != nil {
		return cexpr{}, err
	}
	konst := l.konst && r.konst
	num := func(op func(a, b float64) float64) (cexpr, error) {
		if l.kind != kindNum || r.kind != kindNum {
			return cexpr{}, errUnsupported
		}
		a, b := l.num, r.num
		return fold(cexpr{kind: kindNum, konst: konst, num: func(f *frame) float64 { return op(a(f), b(f)) }}), nil
	}
	cmp := func(op func(a, b float64) bool) (cexpr, error) {
		if l.kind != kindNum || r.kind != kindNum {
			return cexpr{}, errUnsupported
		}
		a, b := l.num, r.num
		return fold(cexpr{kind: kindBool, konst: konst, cond: func(f *frame) bool { return op(a(f), b(f)) }}), nil
	}
	switch n.Operator {
	case "+", "-", "*", "/":
		if l.kind != kindNum || r.kind != kindNum {
			return cexpr{}, errUnsupported
		}
		return fold(cexpr{kind: kindNum, konst: konst, num: arith(n.Operator, l, r)}), nil
	case "%":
		return num(math.Mod)
	case "**", "^":
		return num(math.Pow)
	case "<":
		return cmp(func(a, b float64) bool { return a < b })
	case ">":
		return cmp(func(a, b float64) bool { return a > b })
	case "<=":
		return cmp(func(a, b float64) bool { return a <= b })
	case ">=":
		return cmp(func(a, b float64) bool { return a >= b })
	case "==", "!=":
		eq, err := equal(l, r)
		if err != nil {
			return cexpr{}, err
		}
		if n.Operator == "!=" {
			return fold(cexpr{kind: kindBool, konst: konst, cond: func(f *frame) bool { return !eq(f) }}), nil
		}
		return fold(cexpr{kind: kindBool, konst: konst, cond: eq}), nil
	case "and", "&&", "or", "||":
		if l.kind != kindBool || r.kind != kindBool {
			return cexpr{}, errUnsupported
		}
		a, b := l.cond, r.cond
		if n.Operator == "and" || n.Operator == "&&" {
			return fold(cexpr{kind: kindBool, konst: konst, cond: func(f *frame) bool { return a(f) && b(f) }}), nil
		}
		return fold(cexpr{kind: kindBool, konst: konst, cond: func(f *frame) bool { return a(f) || b(f) }}), nil
	}
	return cexpr{}, errUnsupported
}

// arith returns the closure of l op r for + − × ÷, without a call for a
// constant operand: the hot path of every scenario's expressions.
func arith(op string, l, r cexpr) func(*frame) float64 {
	a, b := l.num, r.num
	switch {
	case r.konst:
		y := b(nil)
		switch op {
		case "+":
			return func(f *frame) float64 { return a(f) + y }
		case "-":
			return func(f *frame) float64 { return a(f) - y }
		case "*":
			return func(f *frame) float64 { return a(f) * y }
		default:
			return func(f *frame) float64 { return a(f) / y }
		}
	case l.konst:
		x := a(nil)
		switch op {
		case "+":
			return func(f *frame) float64 { return x + b(f) }
		case "-":
			return func(f *frame) float64 { return x - b(f) }
		case "*":
			return func(f *frame) float64 { return x * b(f) }
		default:
			return func(f *frame) float64 { return x / b(f) }
		}
	}
	switch op {
	case "+":
		return func(f *frame) float64 { return a(f) + b(f) }
	case "-":
		return func(f *frame) float64 { return a(f) - b(f) }
	case "*":
		return func(f *frame) float64 { return a(f) * b(f) }
	default:
		return func(f *frame) float64 { return a(f) / b(f) }
	}
}

// equal returns the closure of l == r for two values of one kind.
func equal(l, r cexpr) (func(*frame) bool, error) {
	switch {
	case l.kind != r.kind:
		return nil, errUnsupported
	case l.kind == kindNum:
		a, b := l.num, r.num
		return func(f *frame) bool { return a(f) == b(f) }, nil
	case l.kind == kindBool:
		a, b := l.cond, r.cond
		return func(f *frame) bool { return a(f) == b(f) }, nil
	}
	a, b := l.str, r.str
	return func(f *frame) bool { return a(f) == b(f) }, nil
}

// in compiles `x in [constants]`, which expr's optimizer may have turned
// into a set.
func (c *closureCompiler) in(n *ast.BinaryNode) (cexpr, error) {
	l, err := c.compile(n.Left)
	if err != nil {
		return cexpr{}, err
	}
	var strs []string
	var nums []float64
	switch r := n.Right.(type) {
	case *ast.ConstantNode:
		switch set := r.Value.(type) {
		case map[string]struct{}:
			for s := range set {
				strs = append(strs, s)
			}
		case map[int]struct{}:
			for i := range set {
				nums = append(nums, float64(i))
			}
		case []any:
			for _, item := range set {
				switch x := item.(type) {
				case string:
					strs = append(strs, x)
				case float64:
					nums = append(nums, x)
				case int:
					nums = append(nums, float64(x))
				case int64:
					nums = append(nums, float64(x))
				default:
					return cexpr{}, errUnsupported
				}
			}
		default:
			return cexpr{}, errUnsupported
		}
	case *ast.ArrayNode:
		for _, item := range r.Nodes {
			v, err := c.compile(item)
			if err != nil || !v.konst {
				return cexpr{}, errUnsupported
			}
			switch v.kind {
			case kindStr:
				strs = append(strs, v.str(nil))
			case kindNum:
				nums = append(nums, v.num(nil))
			default:
				return cexpr{}, errUnsupported
			}
		}
	default:
		return cexpr{}, errUnsupported
	}
	switch {
	case l.kind == kindStr && len(nums) == 0:
		x := l.str
		return fold(cexpr{kind: kindBool, konst: l.konst, cond: func(f *frame) bool { return slices.Contains(strs, x(f)) }}), nil
	case l.kind == kindNum && len(strs) == 0:
		x := l.num
		return fold(cexpr{kind: kindBool, konst: l.konst, cond: func(f *frame) bool { return slices.Contains(nums, x(f)) }}), nil
	}
	return cexpr{}, errUnsupported
}

func (c *closureCompiler) conditional(n *ast.ConditionalNode) (cexpr, error) {
	cond, err := c.compile(n.Cond)
	if err != nil {
		return cexpr{}, err
	}
	a, err := c.compile(n.Exp1)
	if err != nil {
		return cexpr{}, err
	}
	b, err := c.compile(n.Exp2)
	if err != nil {
		return cexpr{}, err
	}
	if cond.kind != kindBool || a.kind != b.kind {
		return cexpr{}, errUnsupported
	}
	p := cond.cond
	konst := cond.konst && a.konst && b.konst
	switch a.kind {
	case kindNum:
		x, y := a.num, b.num
		return fold(cexpr{kind: kindNum, konst: konst, num: func(f *frame) float64 {
			if p(f) {
				return x(f)
			}
			return y(f)
		}}), nil
	case kindBool:
		x, y := a.cond, b.cond
		return fold(cexpr{kind: kindBool, konst: konst, cond: func(f *frame) bool {
			if p(f) {
				return x(f)
			}
			return y(f)
		}}), nil
	}
	x, y := a.str, b.str
	return fold(cexpr{kind: kindStr, konst: konst, str: func(f *frame) string {
		if p(f) {
			return x(f)
		}
		return y(f)
	}}), nil
}

func (c *closureCompiler) let(n *ast.VariableDeclaratorNode) (cexpr, error) {
	v, err := c.compile(n.Value)
	if err != nil {
		return cexpr{}, err
	}
	if v.kind != kindNum && v.kind != kindBool {
		return cexpr{}, errUnsupported
	}
	i := c.lets
	c.lets++
	outer, shadowed := c.scope[n.Name]
	c.scope[n.Name] = letSlot{i: i, kind: v.kind}
	body, err := c.compile(n.Expr)
	if shadowed {
		c.scope[n.Name] = outer
	} else {
		delete(c.scope, n.Name)
	}
	if err != nil {
		return cexpr{}, err
	}
	set := v.num
	if v.kind == kindBool {
		p := v.cond
		set = func(f *frame) float64 {
			if p(f) {
				return 1
			}
			return 0
		}
	}
	switch body.kind {
	case kindNum:
		g := body.num
		return cexpr{kind: kindNum, num: func(f *frame) float64 { f.lets[i] = set(f); return g(f) }}, nil
	case kindBool:
		g := body.cond
		return cexpr{kind: kindBool, cond: func(f *frame) bool { f.lets[i] = set(f); return g(f) }}, nil
	}
	g := body.str
	return cexpr{kind: kindStr, str: func(f *frame) string { f.lets[i] = set(f); return g(f) }}, nil
}

// args compiles numeric arguments.
func (c *closureCompiler) args(nodes []ast.Node) ([]func(*frame) float64, bool, error) {
	out := make([]func(*frame) float64, len(nodes))
	konst := true
	for i, a := range nodes {
		x, err := c.compile(a)
		if err != nil {
			return nil, false, err
		}
		if x.kind != kindNum {
			return nil, false, errUnsupported
		}
		out[i], konst = x.num, konst && x.konst
	}
	return out, konst, nil
}

func (c *closureCompiler) call(n *ast.CallNode) (cexpr, error) {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		return cexpr{}, errUnsupported
	}
	i := slices.IndexFunc(exprFuncs, func(f exprFunc) bool { return f.name == id.Value })
	if i < 0 || len(n.Arguments) != exprFuncs[i].arity {
		return cexpr{}, errUnsupported
	}
	fn := exprFuncs[i]
	a, konst, err := c.args(n.Arguments)
	if err != nil {
		return cexpr{}, err
	}
	var f func(*frame) float64
	switch fn.arity {
	case 1:
		g, x := fn.f1, a[0]
		f = func(fr *frame) float64 { return g(x(fr)) }
	case 2:
		g, x, y := fn.f2, a[0], a[1]
		f = func(fr *frame) float64 { return g(x(fr), y(fr)) }
	default:
		g, x, y, z := fn.f3, a[0], a[1], a[2]
		f = func(fr *frame) float64 { return g(x(fr), y(fr), z(fr)) }
	}
	return fold(cexpr{kind: kindNum, konst: konst, num: f}), nil
}

func (c *closureCompiler) builtin(n *ast.BuiltinNode) (cexpr, error) {
	if !exprBuiltins[n.Name] || len(n.Arguments) == 0 {
		return cexpr{}, errUnsupported
	}
	a, konst, err := c.args(n.Arguments)
	if err != nil {
		return cexpr{}, err
	}
	one := func(g func(float64) float64) (cexpr, error) {
		if len(a) != 1 {
			return cexpr{}, errUnsupported
		}
		x := a[0]
		return fold(cexpr{kind: kindNum, konst: konst, num: func(f *frame) float64 { return g(x(f)) }}), nil
	}
	switch n.Name {
	case "abs":
		return one(math.Abs)
	case "ceil":
		return one(math.Ceil)
	case "floor":
		return one(math.Floor)
	case "round":
		return one(math.Round)
	case "int":
		return one(math.Trunc)
	case "float":
		return one(func(x float64) float64 { return x })
	case "min", "max":
		better := func(x, best float64) bool { return x < best }
		if n.Name == "max" {
			better = func(x, best float64) bool { return x > best }
		}
		return fold(cexpr{kind: kindNum, konst: konst, num: func(f *frame) float64 {
			best := a[0](f)
			for _, g := range a[1:] {
				if x := g(f); better(x, best) {
					best = x
				}
			}
			return best
		}}), nil
	}
	return cexpr{}, errUnsupported
}
