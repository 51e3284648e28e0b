package contract_test

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/passflow/passflow/"

// TestNoImplementationLinked keeps the contract what it promises: neither
// it, nor the workflows that use it, nor the clients, reach an activity's
// implementation through their imports (tests aside).
func TestNoImplementationLinked(t *testing.T) {
	implementations := []string{"activities", "telemetry", "actuators", "workers", "simulations", "webhook", "app"}
	for _, pkg := range []string{"contract", "workflows", "operator", "api", "cli", "models", "models/bo", "models/judge"} {
		t.Run(pkg, func(t *testing.T) {
			for dep, via := range localDeps(t, pkg) {
				for _, impl := range implementations {
					if dep == impl || strings.HasPrefix(dep, impl+"/") {
						t.Errorf("%s imports %s (through %s)", pkg, dep, via)
					}
				}
			}
		})
	}
}

// localDeps returns the module's packages that pkg imports, directly or not,
// each with the package that imports it.
func localDeps(t *testing.T, pkg string) map[string]string {
	t.Helper()
	deps := map[string]string{}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		bp, err := build.ImportDir(filepath.Join("..", filepath.FromSlash(p)), 0)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		for _, imp := range bp.Imports {
			local, ok := strings.CutPrefix(imp, module)
			if !ok || local == pkg || deps[local] != "" {
				continue
			}
			deps[local] = p
			queue = append(queue, local)
		}
	}
	return deps
}

// TestLocalDepsSeesImplementations checks the walk itself on a package that
// does link an implementation, so the test above cannot pass by reading
// nothing.
func TestLocalDepsSeesImplementations(t *testing.T) {
	deps := localDeps(t, "workers")
	if !slices.Contains(keys(deps), "activities") {
		t.Fatalf("workers' imports %v lack activities", keys(deps))
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
