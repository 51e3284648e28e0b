package bo

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/passflow/passflow/models"
)

// benchHistory returns n observations of Hartmann6 shaped like a late
// optimization run: half spread over the cube, half clustered around the
// global optimum at several scales (which is what strains the fit).
func benchHistory(n int, seed uint64) []models.Observation {
	tf := testFuncs[1]
	space := tf.space()
	rng := rand.New(rand.NewPCG(seed, 1))
	opt := []float64{0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573}
	obs := make([]models.Observation, n)
	for i := range obs {
		u := make([]float64, 6)
		for j := range u {
			if i%2 == 0 {
				u[j] = rng.Float64()
			} else {
				s := []float64{0.2, 0.05, 0.01}[i%3]
				u[j] = clamp(opt[j]+s*rng.NormFloat64(), 0, 1)
			}
		}
		c := space.FromUnit(u)
		obs[i] = models.Observation{Config: c, Objective: tf.f(tf.point(c))}
	}
	return obs
}

// BenchmarkSuggest measures the time per suggestion of the GP optimizer in
// 6-D (Hartmann6) with a history of obs observations, in steady state: each
// operation tells the result of the previous suggestion and asks for the
// next, as a tuning loop does (the hyperparameter fit is warm-started).
//
//	go test -run '^$' -bench Suggest ./models/
func BenchmarkSuggest(b *testing.B) {
	tf := testFuncs[1]
	for _, n := range []int{50, 100, 200, 500} {
		b.Run(fmt.Sprintf("obs=%d", n), func(b *testing.B) {
			o, err := New(tf.problem(), Options{Seed: 1, Deterministic: true})
			if err != nil {
				b.Fatal(err)
			}
			if err := o.Tell(benchHistory(n, 1)...); err != nil {
				b.Fatal(err)
			}
			s, err := o.Ask(1)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := s[0].Config
				if err := o.Tell(models.Observation{Config: c, Objective: tf.f(tf.point(c))}); err != nil {
					b.Fatal(err)
				}
				if s, err = o.Ask(1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSuggestCold measures a first suggestion from a history of obs
// observations: a fresh optimizer (as one pass of a target builds), whose
// fit starts from scratch with several restarts.
func BenchmarkSuggestCold(b *testing.B) {
	tf := testFuncs[1]
	for _, n := range []int{50, 100, 200, 500} {
		b.Run(fmt.Sprintf("obs=%d", n), func(b *testing.B) {
			hist := benchHistory(n, 1)
			for i := 0; i < b.N; i++ {
				o, err := New(tf.problem(), Options{Seed: 1, Deterministic: true})
				if err != nil {
					b.Fatal(err)
				}
				if err := o.Tell(hist...); err != nil {
					b.Fatal(err)
				}
				if _, err := o.Ask(1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
