package campaign

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/passflow/passflow/simulations"
)

// Scenarios is where the simulate command finds its worlds: built-in ones
// by name, others in scenario files.
type Scenarios interface {
	// Names returns the built-in scenarios' names, the worlds of
	// `--scenario all`.
	Names() []string
	// Builtin returns the built-in scenario name.
	Builtin(name string) (simulations.World, error)
	// Load reads a scenario file.
	Load(path string) (simulations.World, error)
}

// DefaultScenarios returns the built-in scenarios of package simulations
// (simulations.BuiltinScenarios), reading scenario files with
// simulations.LoadScenario. The demo world (DemoWorld) is known by its name
// too, unless a built-in scenario takes it, but is not one of "all".
func DefaultScenarios() Scenarios { return scenarioLibrary{} }

// scenarioLibrary is DefaultScenarios.
type scenarioLibrary struct{}

func (scenarioLibrary) Names() []string { return simulations.BuiltinScenarios() }

func (l scenarioLibrary) Builtin(name string) (simulations.World, error) {
	names := l.Names()
	switch {
	case name == DemoName && !slices.Contains(names, name):
		return DemoWorld()
	case !slices.Contains(names, name):
		return nil, fmt.Errorf("unknown scenario %q: expected one of %s, %s, all, or a scenario file",
			name, strings.Join(names, ", "), DemoName)
	}
	s, err := simulations.BuiltinScenario(name)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (scenarioLibrary) Load(path string) (simulations.World, error) {
	s, err := simulations.LoadScenario(path)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// resolve returns the worlds that --scenario args name: "all", built-in
// names, or files (an argument with a path separator or a .yaml/.yml
// extension, or that exists, is a file).
func resolve(lib Scenarios, args []string) ([]simulations.World, error) {
	var worlds []simulations.World
	var names []string
	var dup error
	add := func(w simulations.World) {
		if slices.Contains(names, w.Name()) {
			dup = fmt.Errorf("scenario %s is named twice (by a built-in name, all, or a file whose name: is the same); name each once", w.Name())
			return
		}
		worlds, names = append(worlds, w), append(names, w.Name())
	}
	for _, a := range args {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
			return nil, fmt.Errorf("expected a scenario name, a file or all, got an empty name")
		case a == "all":
			for _, n := range lib.Names() {
				w, err := lib.Builtin(n)
				if err != nil {
					return nil, fmt.Errorf("scenario %s: %w", n, err)
				}
				add(w)
			}
		case isFile(a):
			w, err := lib.Load(a)
			if err != nil {
				return nil, err
			}
			add(w)
		default:
			w, err := lib.Builtin(a)
			if err != nil {
				return nil, err
			}
			add(w)
		}
	}
	if dup != nil {
		return nil, dup
	}
	return worlds, nil
}

// isFile reports whether arg names a file rather than a built-in scenario.
func isFile(arg string) bool {
	if strings.ContainsRune(arg, os.PathSeparator) || strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") {
		return true
	}
	fi, err := os.Stat(arg)
	return err == nil && fi.Mode().IsRegular()
}
