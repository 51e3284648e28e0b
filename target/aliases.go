package target

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// MaxExpandedNodes bounds a YAML document's size once its aliases are
// expanded. A target has a few hundred nodes; a few nested aliases can stand
// for billions (an alias bomb), which a decoder would build, at gigabytes of
// memory, before it refused them.
const MaxExpandedNodes = 100_000

// CheckAliases returns an error, and the line where the bound is crossed,
// when n would hold more than MaxExpandedNodes nodes with its aliases
// expanded (or an alias refers to a node that contains it). It reads n once,
// each anchored node's size counted once, so its own cost is the document's
// size, however large the expansion.
func CheckAliases(n *yaml.Node) (line int, err error) {
	c := aliasCounter{size: map[*yaml.Node]int{}}
	if c.count(n) > MaxExpandedNodes {
		return c.line, fmt.Errorf("aliases expand the document past %d nodes; expected no alias bombs", MaxExpandedNodes)
	}
	return 0, nil
}

// aliasCounter counts a tree's nodes with its aliases expanded. size holds
// each node's count once known, and −1 while it is being counted (an alias
// to it from inside is a cycle); line is where the bound was crossed.
type aliasCounter struct {
	size map[*yaml.Node]int
	line int
}

func (c *aliasCounter) count(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	if s, ok := c.size[n]; ok {
		if s < 0 { // a cycle: infinite
			c.line = n.Line
			return MaxExpandedNodes + 1
		}
		return s
	}
	c.size[n] = -1
	total := 1
	if n.Kind == yaml.AliasNode {
		total += c.count(n.Alias)
	}
	for _, k := range n.Content {
		total += c.count(k)
		if total > MaxExpandedNodes {
			break
		}
	}
	if total > MaxExpandedNodes && c.line == 0 {
		c.line = n.Line
	}
	total = min(total, MaxExpandedNodes+1)
	c.size[n] = total
	return total
}
