package simulations

import (
	"errors"
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/passflow/passflow/target"
)

// target parses the scenario's target block with target.Parse, so that
// every rule of a target file applies, after filling what a scenario
// implies: the name (the scenario's), the simulator telemetry naming the
// scenario as its model, with DefaultScenarioScrape, and the simulator
// actuator. registered reports that the scenario's model is known to
// package target; when it is not, the problems that would only echo that
// are left out. target.Parse reads the block re-encoded on its own; each
// problem it finds is placed back on the line of the scenario file where
// the offending node is written, and its field prefixed with "target.".
// ok reports a valid target.
func (d *decoder) target(file string, block *yaml.Node, name string, registered bool) (target.Spec, bool) {
	keyLine := d.lines["target"]
	if keyLine == 0 {
		d.add("target", "expected the target: the body of a target file (params, objective, constraints, canary, risk)")
		return target.Spec{}, false
	}
	if block.Kind != yaml.MappingNode {
		d.add("target", "expected a mapping: the body of a target file, got %s", shown(block))
		return target.Spec{}, false
	}
	d.recordLines(block, "target")
	t := resolveCopy(block, 0)
	if t == nil {
		d.add("target", "expected a target without recursive aliases")
		return target.Spec{}, false
	}
	insertedName := value(t, "name") == nil
	if insertedName {
		appendPair(t, "name", scalar(name))
	}
	d.simulatorBlocks(t, name)

	text, err := yaml.Marshal(t)
	if err != nil {
		d.add("target", "cannot re-encode the target: %v", err)
		return target.Spec{}, false
	}
	var re yaml.Node
	if err := yaml.Unmarshal(text, &re); err != nil || len(re.Content) != 1 {
		d.add("target", "cannot re-read the target: %v", err)
		return target.Spec{}, false
	}
	lines := map[int]int{}
	mapLines(t, re.Content[0], lines, keyLine)

	spec, err := target.Parse(file, text)
	if err == nil {
		return spec, true
	}
	var te *target.Error
	if !errors.As(err, &te) {
		d.add("target", "%v", err)
		return target.Spec{}, false
	}
	for _, p := range te.Problems {
		metricField := p.Field == "objective.metric" || strings.HasPrefix(p.Field, "constraints[") && strings.HasSuffix(p.Field, "].metric")
		if !registered && (p.Field == "telemetry.simulator.model" || metricField) {
			// The scenario's name or its metrics are wrong, and said so;
			// the target cannot be checked against them.
			continue
		}
		if insertedName && p.Field == "name" {
			continue // the scenario's name is wrong, and said so
		}
		line, ok := lines[p.Line]
		if !ok || p.Line == 0 {
			line = keyLine
		}
		field := "target"
		if p.Field != "" {
			field += "." + p.Field
		}
		d.probs = append(d.probs, target.Problem{Field: field, Line: line, Msg: p.Msg})
	}
	return target.Spec{}, false
}

// simulatorBlocks fills the scenario's simulator telemetry and actuator
// in the target t, and checks a simulator block the file gives: it may set
// the scrape interval, and name the scenario as its model; the noise, the
// regression and the seed are the scenario's (metrics.*.noise,
// faults.regression) and the campaign's.
func (d *decoder) simulatorBlocks(t *yaml.Node, name string) {
	tel := value(t, "telemetry")
	if tel == nil {
		appendPair(t, "telemetry", defaultTelemetry(name))
	} else if tel.Kind == yaml.MappingNode {
		sim := value(tel, "simulator")
		switch {
		case sim == nil:
			d.addAt(tel, "target.telemetry", "expected the scenario's simulator, {simulator: {scrape: 15s}}, or no telemetry block")
			*tel = *defaultTelemetry(name) // said once: the target is checked as if it were left out
		case sim.Kind == yaml.MappingNode:
			kept := sim.Content[:0:0]
			for i := 0; i+1 < len(sim.Content); i += 2 {
				k, v := sim.Content[i], sim.Content[i+1]
				switch k.Value {
				case "model":
					if v.Value != name {
						d.addAt(k, "target.telemetry.simulator.model", "expected %q, the scenario's name, or nothing, got %s", name, shown(v))
						v = scalar(name)
					}
				case "scrape":
				case "noise", "regression", "seed":
					d.addAt(k, "target.telemetry.simulator."+k.Value,
						"set by the scenario, not here: the noise per metric (metrics.<name>.noise), a regression under faults.regression, the seed by the campaign")
					continue
				}
				kept = append(kept, k, v)
			}
			sim.Content = kept
			if value(sim, "model") == nil {
				appendPair(sim, "model", scalar(name))
			}
			if value(sim, "scrape") == nil {
				appendPair(sim, "scrape", scalar(DefaultScenarioScrape.String()))
			}
		}
	}
	if value(t, "actuator") == nil {
		appendPair(t, "actuator", mapping("simulator", &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}))
	}
}

// recordLines records the line of every field under n, at path, so that
// problems found later in the target's fields are placed on their lines.
func (d *decoder) recordLines(n *yaml.Node, path string) {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				continue
			}
			p := joinPath(path, k.Value)
			if _, ok := d.lines[p]; !ok {
				d.lines[p] = k.Line
			}
			d.recordLines(n.Content[i+1], p)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = item.Line
			d.recordLines(item, p)
		}
	}
}

// defaultTelemetry is the telemetry block of the scenario name.
func defaultTelemetry(name string) *yaml.Node {
	return mapping("simulator", mapping("model", scalar(name), "scrape", scalar(DefaultScenarioScrape.String())))
}

// resolveCopy returns a deep copy of n with every alias replaced by a copy
// of what it names, or nil when aliases nest deeper than maxAliasDepth.
func resolveCopy(n *yaml.Node, depth int) *yaml.Node {
	const maxAliasDepth = 32
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		if depth++; depth > maxAliasDepth {
			return nil
		}
		n = n.Alias
	}
	c := *n
	c.Anchor = ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		if c.Content[i] = resolveCopy(child, depth); c.Content[i] == nil {
			return nil
		}
	}
	return &c
}

// mapLines maps the line of each node of re, the re-read copy of orig, to
// the line of orig's node; nodes added to orig (line 0) map to fallback.
func mapLines(orig, re *yaml.Node, lines map[int]int, fallback int) {
	line := orig.Line
	if line == 0 {
		line = fallback
	}
	if _, ok := lines[re.Line]; !ok {
		lines[re.Line] = line
	}
	if orig.Kind != re.Kind || len(orig.Content) != len(re.Content) {
		return
	}
	for i := range orig.Content {
		mapLines(orig.Content[i], re.Content[i], lines, line)
	}
}

// value returns the value of key in the mapping m, nil if absent.
func value(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func appendPair(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, scalar(key), v)
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// mapping returns a flow mapping of alternating keys and values.
func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
	for i := 0; i+1 < len(kv); i += 2 {
		appendPair(m, kv[i].(string), kv[i+1].(*yaml.Node))
	}
	return m
}
