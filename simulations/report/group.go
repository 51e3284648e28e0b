package report

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations/campaign"
)

// maxScenarioName bounds a scenario's name, which becomes part of file
// names: far below any file system's limit, far above any real name.
const maxScenarioName = 100

// scenarioGroup is one scenario's campaigns, grouped by policy.
type scenarioGroup struct {
	name      string
	goal      models.Goal
	objective string
	// limits are the guardrail metrics of the scenario's results in order
	// of first appearance; maxima and minima the distinct finite limits
	// each metric had (normally at most one of each).
	limits   []string
	maxima   map[string][]float64
	minima   map[string][]float64
	policies []*policyGroup
	// notes are what the report must tell about the data: values left out,
	// campaigns of different lengths.
	notes []string
}

// policyGroup is one scenario × policy: its campaigns sorted by seed.
type policyGroup struct {
	policy  campaign.Policy
	results []campaign.Result
}

// policyRank orders the policies: passflow first, then the baselines,
// then any other policy by name.
func policyRank(p campaign.Policy) int {
	switch p {
	case campaign.PolicyGP:
		return 0
	case campaign.PolicyRandom:
		return 1
	case campaign.PolicyHold:
		return 2
	}
	return 3
}

func comparePolicies(a, b campaign.Policy) int {
	if c := cmp.Compare(policyRank(a), policyRank(b)); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// validScenarioName reports whether name is safe in a file name and a
// markdown anchor: lowercase letters, digits and '-', not starting with '-'.
func validScenarioName(name string) bool {
	if name == "" || len(name) > maxScenarioName || name[0] == '-' {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// groupResults checks results and groups them by scenario (sorted by
// name) and policy (passflow, the baselines, the rest by name), each
// group's results sorted by seed. It does not modify results.
func groupResults(results []campaign.Result) ([]*scenarioGroup, error) {
	if len(results) == 0 {
		return nil, errors.New("report: no results: need at least one campaign.Result")
	}
	type key struct {
		scenario string
		policy   campaign.Policy
		seed     uint64
	}
	seen := make(map[key]int, len(results))
	byName := map[string]*scenarioGroup{}
	for i, r := range results {
		if !validScenarioName(r.Scenario) {
			return nil, fmt.Errorf("report: result %d: scenario %q: want 1 to %d lowercase letters, digits and '-', not starting with '-'", i, r.Scenario, maxScenarioName)
		}
		if r.Policy == "" {
			return nil, fmt.Errorf("report: result %d (scenario %s, seed %d): policy is empty", i, r.Scenario, r.Seed)
		}
		k := key{r.Scenario, r.Policy, r.Seed}
		if j, dup := seen[k]; dup {
			return nil, fmt.Errorf("report: results %d and %d are both scenario %s, policy %s, seed %d", j, i, r.Scenario, r.Policy, r.Seed)
		}
		seen[k] = i
		sc := byName[r.Scenario]
		if sc == nil {
			sc = &scenarioGroup{name: r.Scenario, goal: r.Goal, objective: r.Objective,
				maxima: map[string][]float64{}, minima: map[string][]float64{}}
			byName[r.Scenario] = sc
		}
		if r.Goal != sc.goal {
			return nil, fmt.Errorf("report: result %d (scenario %s, policy %s, seed %d): goal %q, but another result of the scenario has %q", i, r.Scenario, r.Policy, r.Seed, r.Goal, sc.goal)
		}
		if r.Objective != sc.objective {
			return nil, fmt.Errorf("report: result %d (scenario %s, policy %s, seed %d): objective %q, but another result of the scenario has %q", i, r.Scenario, r.Policy, r.Seed, r.Objective, sc.objective)
		}
		var pg *policyGroup
		for _, p := range sc.policies {
			if p.policy == r.Policy {
				pg = p
			}
		}
		if pg == nil {
			pg = &policyGroup{policy: r.Policy}
			sc.policies = append(sc.policies, pg)
		}
		pg.results = append(pg.results, r)
	}
	scenarios := make([]*scenarioGroup, 0, len(byName))
	for _, sc := range byName {
		slices.SortFunc(sc.policies, func(a, b *policyGroup) int { return comparePolicies(a.policy, b.policy) })
		for _, pg := range sc.policies {
			slices.SortFunc(pg.results, func(a, b campaign.Result) int { return cmp.Compare(a.Seed, b.Seed) })
		}
		sc.collectLimits()
		scenarios = append(scenarios, sc)
	}
	slices.SortFunc(scenarios, func(a, b *scenarioGroup) int { return cmp.Compare(a.name, b.name) })
	return scenarios, nil
}

// collectLimits gathers the guardrails of the scenario's results, walked
// in their sorted order so that the outcome does not depend on the order
// Write was given them in.
func (sc *scenarioGroup) collectLimits() {
	for _, pg := range sc.policies {
		for _, r := range pg.results {
			for _, c := range r.Limits {
				if !slices.Contains(sc.limits, c.Metric) {
					sc.limits = append(sc.limits, c.Metric)
				}
				sc.addLimit(sc.maxima, pg.policy, r.Seed, c.Metric, "max", c.Max)
				sc.addLimit(sc.minima, pg.policy, r.Seed, c.Metric, "min", c.Min)
			}
		}
	}
	for _, m := range sc.limits {
		slices.Sort(sc.maxima[m])
		slices.Sort(sc.minima[m])
	}
}

// addLimit records a limit of metric in limits unless it is nil, already
// there or not finite (which it notes).
func (sc *scenarioGroup) addLimit(limits map[string][]float64, p campaign.Policy, seed uint64, metric, kind string, v *float64) {
	switch {
	case v == nil || slices.Contains(limits[metric], *v):
	case !plottable(*v):
		sc.notef("%s seed %d: the %s limit of `%s` is %v, left out of the plots.", p, seed, kind, metric, *v)
	default:
		limits[metric] = append(limits[metric], *v)
	}
}

// notef adds a note to the scenario's section of the report.
func (sc *scenarioGroup) notef(format string, args ...any) {
	sc.notes = append(sc.notes, fmt.Sprintf(format, args...))
}

// seeds returns the group's seeds in order.
func (pg *policyGroup) seeds() []uint64 {
	out := make([]uint64, len(pg.results))
	for i, r := range pg.results {
		out[i] = r.Seed
	}
	return out
}

// inspect notes what about sc's data the reader must know before reading
// its table: values left out, summaries that disagree with their passes,
// campaigns of different lengths.
func (sc *scenarioGroup) inspect() {
	switch sc.goal {
	case models.Minimize, models.Maximize, "":
	default:
		sc.notef("The goal %q is neither minimize nor maximize; the figures label lower as better.", sc.goal)
	}
	lo, hi := -1, 0
	for _, pg := range sc.policies {
		for _, r := range pg.results {
			n := len(r.Passes)
			if lo < 0 || n < lo {
				lo = n
			}
			hi = max(hi, n)
			if r.Summary.Passes != n {
				sc.notef("%s seed %d: the summary counts %d passes, the result holds %d.", pg.policy, r.Seed, r.Summary.Passes, n)
			}
			for _, f := range []struct {
				name string
				v    float64
			}{
				{"initial_gap", r.InitialGap},
				{"final_gap", r.Summary.FinalGap},
				{"rollbacks_after_5", r.Summary.RollbacksAfter5},
				{"worst_breach", r.Summary.WorstBreach},
				{"wall_s", r.Summary.WallS},
			} {
				if !finite(f.v) {
					sc.notef("%s seed %d: %s is %v; left out of the table.", pg.policy, r.Seed, f.name, f.v)
				}
			}
		}
	}
	if lo != hi {
		sc.notef("The campaigns have %d to %d passes; at each pass the figures use the seeds that reached it.", lo, hi)
	}
}
