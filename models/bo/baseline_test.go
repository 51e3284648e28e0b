package bo

import (
	"errors"
	"strings"
	"testing"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/models/validatetest"
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

// TestProblemAndRegionValidation runs the shared cases of the constraint
// and trust-region validators through both proposers' constructors.
func TestProblemAndRegionValidation(t *testing.T) {
	space := models.Space{{Name: "x", Type: models.Float, Min: 0, Max: 1}}
	inc := models.Config{"x": models.Num(0.5)}
	ctors := map[string]func(models.Problem, *models.TrustRegion) error{
		"optimizer": func(p models.Problem, r *models.TrustRegion) error {
			_, err := New(p, Options{Region: r})
			return err
		},
		"random search": func(p models.Problem, r *models.TrustRegion) error {
			_, err := NewRandomSearch(p, 1, r)
			return err
		},
	}
	for name, ctor := range ctors {
		for _, tt := range validatetest.Constraints {
			t.Run(name+"/"+tt.Name, func(t *testing.T) {
				err := ctor(models.Problem{Space: space, Constraints: tt.Constraints}, nil)
				if err == nil || !strings.HasPrefix(err.Error(), "bo: ") || !strings.Contains(err.Error(), tt.Field+": ") || !strings.Contains(err.Error(), tt.Want) {
					t.Errorf("got %v, want a bo: error at %s mentioning %q", err, tt.Field, tt.Want)
				}
			})
		}
		for _, tt := range validatetest.Regions {
			t.Run(name+"/"+tt.Name, func(t *testing.T) {
				err := ctor(models.Problem{Space: space}, &models.TrustRegion{Incumbent: inc, MaxStep: tt.MaxStep, Delta: tt.Delta})
				if err == nil || !strings.Contains(err.Error(), tt.Field+": ") || !strings.Contains(err.Error(), tt.Want) {
					t.Errorf("got %v, want an error at %s mentioning %q", err, tt.Field, tt.Want)
				}
			})
		}
		if err := ctor(models.Problem{Space: space, Constraints: validatetest.ValidConstraints},
			&models.TrustRegion{Incumbent: inc, MaxStep: 0.25, Delta: 0.05}); err != nil {
			t.Errorf("%s: valid problem and region: %v", name, err)
		}
	}
}
