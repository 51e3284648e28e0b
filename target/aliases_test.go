package target

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// bomb is a target whose params hold an alias bomb of `levels` levels,
// each a list of ten aliases to the one before, the last one a knob's
// current value: 10^levels nodes once expanded, in a field the parser reads.
func bomb(levels int) string {
	var b strings.Builder
	b.WriteString("name: svc\nx: [&a0 [a, b, c, d, e, f, g, h, i, j]")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, ", &a%d [", i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]")
	}
	fmt.Fprintf(&b, "]\nparams:\n  - {name: p, type: int, min: 1, max: 8, current: *a%d}\n", levels)
	return b.String()
}

// TestAliasBombRefusedCheaply: a document whose aliases expand past
// MaxExpandedNodes is refused on the line that crosses it, before anything
// expands them, in a few milliseconds; a few honest aliases are fine.
func TestAliasBombRefusedCheaply(t *testing.T) {
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(bomb(9))) // 10^10 nodes
	if err == nil || !strings.Contains(err.Error(), "alias") || !strings.Contains(err.Error(), "bomb.yaml:") {
		t.Fatalf("alias bomb: %v, want an error naming the file and the aliases", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing the bomb took %s", d)
	}
	small := `
name: svc
params:
  - &p {name: threads, type: int, min: 1, max: 64, current: 8}
objective: {metric: cost, goal: minimize}
telemetry: {simulator: {}}
actuator: {simulator: {}}
`
	if _, err := Parse("small.yaml", []byte(small)); err != nil && strings.Contains(err.Error(), "alias") {
		t.Errorf("a target with one anchor was refused for its aliases: %v", err)
	}
	// A cycle expands without end.
	if line, err := CheckAliases(mustNode(t, "a: &x [1, *x]")); err == nil || line == 0 {
		t.Errorf("a recursive alias: line %d, %v; want it refused with its line", line, err)
	}
}

func mustNode(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	return &n
}
