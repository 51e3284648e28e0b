package simulations

import "testing"

// mustScenario parses the built-in scenario name.
func mustScenario(t testing.TB, name string) *Scenario {
	t.Helper()
	s, err := BuiltinScenario(name)
	if err != nil {
		t.Fatalf("BuiltinScenario(%q): %v", name, err)
	}
	return s
}
