package bo

import (
	"errors"
	"github.com/passflow/passflow/models"
	"testing"
)

func TestRandomSearchStaysInTheTrustRegion(t *testing.T) {
	s := baselineSpace()
	region := &models.TrustRegion{Incumbent: s.Current(), MaxStep: 0.1}
	rs, err := NewRandomSearch(models.Problem{Space: s, Goal: models.Minimize}, 7, region)
	if err != nil {
		t.Fatal(err)
	}
	sugs, err := rs.Ask(200)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{s.Current().String(): true}
	for _, sg := range sugs {
		step, cat, err := s.Step(region.Incumbent, sg.Config)
		if err != nil || step > region.MaxStep+1e-12 || cat != 0 {
			t.Fatalf("%s: step %v, %d switches (%v): outside the region", sg.Config, step, cat, err)
		}
		if seen[sg.Config.String()] {
			t.Fatalf("%s proposed twice (or is the incumbent)", sg.Config)
		}
		seen[sg.Config.String()] = true
	}
	// A region narrower than one step of an integer knob holds its next
	// values either way, and once both are tried, nothing.
	tiny := models.Space{{Name: "n", Type: models.Int, Min: 1, Max: 100, Current: current(models.Num(50))}}
	rs, _ = NewRandomSearch(models.Problem{Space: tiny}, 1, &models.TrustRegion{Incumbent: tiny.Current(), MaxStep: 0.001})
	sugs, err = rs.Ask(2)
	if err != nil || len(sugs) != 2 || sugs[0].Config["n"].Float()+sugs[1].Config["n"].Float() != 100 {
		t.Errorf("a region narrower than one step of n offers %v (%v), want n=49 and n=51", sugs, err)
	}
	if _, err := rs.Ask(1); !errors.Is(err, models.ErrNoSafeCandidate) {
		t.Errorf("exhausted region: error %v, want ErrNoSafeCandidate", err)
	}
}

func current(v models.Value) *models.Value { return &v }

// baselineSpace has one knob of each kind.
func baselineSpace() models.Space {
	return models.Space{
		{Name: "threads", Type: models.Int, Min: 4, Max: 256, Log: true, Current: current(models.Num(32))},
		{Name: "ttl", Type: models.Float, Min: 0, Max: 10, Current: current(models.Num(5))},
		{Name: "gc", Type: models.Categorical, Choices: []string{"a", "b", "c"}, Current: current(models.Str("b"))},
	}
}
