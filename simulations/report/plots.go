package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/passflow/passflow/models"
	"github.com/passflow/passflow/simulations/campaign"
)

// figures names the PNG files of a scenario, relative to the report's
// directory; Guardrails is empty when the scenario has no guardrail.
type figures struct {
	Objective, Guardrails, Canary string
	// Representative is the campaign the canary figure's top panel shows.
	Representative *campaign.Result
}

// drawScenario writes sc's figures into dir.
func drawScenario(dir string, sc *scenarioGroup) (figures, error) {
	colors := palette(sc)
	f := figures{Objective: sc.name + "-objective.png", Canary: sc.name + "-canary.png"}
	if err := objectiveFigure(filepath.Join(dir, f.Objective), sc, colors); err != nil {
		return f, err
	}
	if len(sc.limits) > 0 {
		f.Guardrails = sc.name + "-guardrails.png"
		if err := guardrailFigure(filepath.Join(dir, f.Guardrails), sc, colors); err != nil {
			return f, err
		}
	}
	rep, err := canaryFigure(filepath.Join(dir, f.Canary), sc, colors)
	f.Representative = rep
	return f, err
}

// longest returns the number of passes of sc's longest campaign.
func (sc *scenarioGroup) longest() int {
	n := 0
	for _, pg := range sc.policies {
		for _, r := range pg.results {
			n = max(n, len(r.Passes))
		}
	}
	return n
}

// collect gathers a quantity of pg's campaigns at each pass position x
// from first to the longest campaign's last pass: value returns the
// quantity of a campaign at x, false when the campaign lacks it. Values
// that are NaN or ±Inf are left out and noted.
func collect(sc *scenarioGroup, pg *policyGroup, first int, what string, value func(r *campaign.Result, x int) (float64, bool)) perPass {
	var pp perPass
	for x, n := first, sc.longest(); x <= n; x++ {
		pp.x = append(pp.x, float64(x))
		pp.values = append(pp.values, nil)
	}
	for i := range pg.results {
		r := &pg.results[i]
		var bad, missing []int
		for x := first; x <= len(r.Passes); x++ {
			v, ok := value(r, x)
			switch {
			case !ok:
				missing = append(missing, x)
			case !plottable(v):
				bad = append(bad, x)
			default:
				pp.values[x-first] = append(pp.values[x-first], v)
			}
		}
		noteLeftOut(sc, r, what, bad, missing)
	}
	return pp
}

// noteLeftOut notes the passes of r at which a plotted quantity was not
// plottable (bad) or absent (missing).
func noteLeftOut(sc *scenarioGroup, r *campaign.Result, what string, bad, missing []int) {
	if len(bad) > 0 {
		sc.notef("%s seed %d: the %s is NaN, infinite or beyond ±1e300 at %s; left out of the plot.", r.Policy, r.Seed, what, passList(bad))
	}
	if len(missing) > 0 {
		sc.notef("%s seed %d: no %s at %s; left out of the plot.", r.Policy, r.Seed, what, passList(missing))
	}
}

// maxListed is how many pass numbers a note lists before it counts the rest.
const maxListed = 5

// passList formats pass positions for a note: "pass 3", "passes 0, 4 and 7",
// "passes 1, 2, 3, 4, 5 and 12 more".
func passList(xs []int) string {
	if len(xs) == 1 {
		return "pass " + strconv.Itoa(xs[0])
	}
	var b strings.Builder
	b.WriteString("passes ")
	for i, x := range xs[:min(len(xs), maxListed)] {
		switch {
		case i == 0:
		case i == len(xs)-1:
			b.WriteString(" and ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(x))
	}
	if len(xs) > maxListed {
		fmt.Fprintf(&b, " and %d more", len(xs)-maxListed)
	}
	return b.String()
}

// setPassAxis gives p's x axis whole-pass ticks from lo to hi.
func setPassAxis(p *plot.Plot, lo, hi float64) {
	p.X.Tick.Marker = passTicks{}
	p.X.Min, p.X.Max = lo, max(hi, lo+1)
}

// objectiveFigure draws the incumbent's true objective per pass, median
// and interquartile band over seeds for each policy, against the true
// optimum.
func objectiveFigure(path string, sc *scenarioGroup, colors map[string]color.Color) error {
	n := sc.longest()
	pn := newPanel(sc.name+": true objective of the incumbent after each pass",
		"pass (0 = the starting configuration)", axisName(sc.objective, "objective")+" ("+goalWord(sc.goal)+")")
	pps := make([]perPass, len(sc.policies))
	for i, pg := range sc.policies {
		pps[i] = collect(sc, pg, 0, "true objective", func(r *campaign.Result, x int) (float64, bool) {
			if x == 0 {
				return r.Initial, true
			}
			return r.Passes[x-1].IncumbentTruth.Objective, true
		})
	}
	if err := addPolicies(pn, sc, pps, colors); err != nil {
		return fmt.Errorf("report: objective figure of %s: %w", sc.name, err)
	}
	if err := addOptimum(pn, sc, n); err != nil {
		return fmt.Errorf("report: objective figure of %s: %w", sc.name, err)
	}
	setPassAxis(pn.plot, 0, float64(n))
	return writePNG(path, objectiveHeight, []*panel{pn})
}

// addOptimum draws the true optimum: one dashed line when it is the same
// on every pass of every campaign, else its median over campaigns per pass
// (a pass's optimum stands for the start's as well).
func addOptimum(pn *panel, sc *scenarioGroup, n int) error {
	var all []float64
	var pooled []campaign.Result
	for _, pg := range sc.policies {
		pooled = append(pooled, pg.results...)
		for i := range pg.results {
			r := &pg.results[i]
			var bad []int
			for x, p := range r.Passes {
				if plottable(p.Optimum) {
					all = append(all, p.Optimum)
				} else {
					bad = append(bad, x+1)
				}
			}
			noteLeftOut(sc, r, "true optimum", bad, nil)
		}
	}
	if len(all) == 0 {
		if n > 0 {
			sc.notef("No pass has a plottable true optimum; the objective figure has no optimum line.")
		}
		return nil
	}
	lo, hi := slices.Min(all), slices.Max(all)
	if hi-lo <= 1e-9*max(1, math.Abs(lo), math.Abs(hi)) {
		l, err := hline(lo, 0, float64(n), black)
		if err != nil {
			return err
		}
		pn.plot.Add(l)
		pn.legend.Add("true optimum", l)
		return nil
	}
	pp := perPass{}
	for x := 1; x <= n; x++ {
		pp.x = append(pp.x, float64(x))
		var vs []float64
		for _, r := range pooled {
			if x <= len(r.Passes) && plottable(r.Passes[x-1].Optimum) {
				vs = append(vs, r.Passes[x-1].Optimum)
			}
		}
		pp.values = append(pp.values, vs)
	}
	if len(pp.values) > 0 && len(pp.values[0]) > 0 {
		pp.x = append([]float64{0}, pp.x...)
		pp.values = append([][]float64{pp.values[0]}, pp.values...)
	}
	thumb, err := addMedianBand(pn.plot, pp, black, dashes, false)
	if err != nil {
		return err
	}
	if thumb != nil {
		pn.legend.Add("true optimum (median)", thumb)
	}
	return nil
}

// guardrailFigure draws, one panel per guardrail, the incumbent's true
// value per pass, median and interquartile band over seeds for each
// policy, against the guardrail's limits.
func guardrailFigure(path string, sc *scenarioGroup, colors map[string]color.Color) error {
	n := sc.longest()
	var panels []*panel
	for _, m := range sc.limits {
		pn := newPanel(sc.name+": true "+m+" of the incumbent after each pass (limit dashed red)",
			"pass (0 = the starting configuration)", m)
		pps := make([]perPass, len(sc.policies))
		for i, pg := range sc.policies {
			pps[i] = prependStart(sc, pg, m, collect(sc, pg, 1, "true "+m, func(r *campaign.Result, x int) (float64, bool) {
				v, ok := r.Passes[x-1].IncumbentTruth.Guardrails[m]
				return v, ok
			}))
		}
		if err := addPolicies(pn, sc, pps, colors); err != nil {
			return fmt.Errorf("report: guardrail figure of %s, %s: %w", sc.name, m, err)
		}
		for _, lim := range []struct {
			kind   string
			values []float64
		}{{"max", sc.maxima[m]}, {"min", sc.minima[m]}} {
			for _, v := range lim.values {
				l, err := hline(v, 0, float64(n), red)
				if err != nil {
					return fmt.Errorf("report: guardrail figure of %s, %s: %w", sc.name, m, err)
				}
				pn.plot.Add(l)
				pn.legend.Add(lim.kind+" "+formatFloat(v), l)
			}
		}
		setPassAxis(pn.plot, 0, float64(n))
		panels = append(panels, pn)
	}
	return writePNG(path, guardrailPanelHeight, panels)
}

// addPolicies draws each policy's median and band, pps[i] being the
// values of sc.policies[i], and adds the policies to the legend in order.
// It draws them in reverse, so that passflow's lines lie on top of the
// baselines' where they overlap.
func addPolicies(pn *panel, sc *scenarioGroup, pps []perPass, colors map[string]color.Color) error {
	thumbs := make([]plot.Thumbnailer, len(pps))
	for i := len(pps) - 1; i >= 0; i-- {
		var err error
		if thumbs[i], err = addMedianBand(pn.plot, pps[i], colors[string(sc.policies[i].policy)], nil, true); err != nil {
			return err
		}
	}
	for i, th := range thumbs {
		if th != nil {
			pn.legend.Add(legendName(sc.policies[i]), th)
		}
	}
	return nil
}

// prependStart puts at pass 0 of pp the starting configuration's true m,
// which a campaign records as its first pass's baseline: campaigns without
// one simply have no value there.
func prependStart(sc *scenarioGroup, pg *policyGroup, m string, pp perPass) perPass {
	var start []float64
	for _, r := range pg.results {
		if len(r.Passes) == 0 || r.Passes[0].BaselineTruth == nil {
			continue
		}
		v, ok := r.Passes[0].BaselineTruth.Guardrails[m]
		switch {
		case !ok:
		case !plottable(v):
			sc.notef("%s seed %d: the starting configuration's true %s is %v; left out of the plot.", pg.policy, r.Seed, m, v)
		default:
			start = append(start, v)
		}
	}
	pp.x = append([]float64{0}, pp.x...)
	pp.values = append([][]float64{start}, pp.values...)
	return pp
}

// representative returns the campaign the canary figure details: of the
// gp policy's campaigns (or, without gp, of the first policy's that ran a
// canary stage), the one with the median final gap (the lower of the two
// middle ones for an even count, a NaN gap counting as the worst, ties
// going to the lower seed).
func representative(sc *scenarioGroup) (*policyGroup, *campaign.Result) {
	var chosen *policyGroup
	for _, pg := range sc.policies {
		if pg.policy == campaign.PolicyGP {
			chosen = pg
			break
		}
	}
	if chosen == nil {
		for _, pg := range sc.policies {
			for _, r := range pg.results {
				for _, p := range r.Passes {
					if len(p.Stages) > 0 && chosen == nil {
						chosen = pg
					}
				}
			}
		}
	}
	if chosen == nil {
		chosen = sc.policies[0]
	}
	order := make([]int, len(chosen.results))
	for i := range order {
		order[i] = i
	}
	gap := func(i int) float64 {
		if g := chosen.results[i].Summary.FinalGap; finite(g) {
			return g
		}
		return math.Inf(1)
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch ga, gb := gap(a), gap(b); {
		case ga < gb:
			return -1
		case ga > gb:
			return 1
		}
		return 0
	})
	return chosen, &chosen.results[order[(len(order)-1)/2]]
}

// canaryFigure draws canary exposure: on top, the representative
// campaign's stages per pass, stacked, each as its traffic share times its
// minutes, red when the candidate truly broke a guardrail; below, each
// policy's cumulative exposure over passes (median and interquartile band),
// with the part under truly breaching candidates dashed.
func canaryFigure(path string, sc *scenarioGroup, colors map[string]color.Color) (*campaign.Result, error) {
	n := sc.longest()
	pg, rep := representative(sc)
	for _, g := range sc.policies {
		for _, r := range g.results {
			var invalid, nanBreach []int
			for i, p := range r.Passes {
				if _, _, bad := passExposure(p); bad > 0 {
					invalid = append(invalid, i+1)
				}
				for _, s := range p.Stages {
					if math.IsNaN(s.Breach) {
						nanBreach = append(nanBreach, i+1)
						break
					}
				}
			}
			if len(invalid) > 0 {
				sc.notef("%s seed %d: a stage at %s has no usable percent or times; left out of the exposure figures.", g.policy, r.Seed, passList(invalid))
			}
			if len(nanBreach) > 0 {
				sc.notef("%s seed %d: a stage at %s has a NaN breach ratio; counted as not breached, drawn grey.", g.policy, r.Seed, passList(nanBreach))
			}
		}
	}

	top := newPanel(fmt.Sprintf("%s: canary stages per pass, %s seed %d (median final gap)", sc.name, pg.policy, rep.Seed),
		"pass", "exposure (traffic share × minutes)")
	kept, breach, unsure := 0, 0, 0
	for i, p := range rep.Passes {
		y := 0.0
		for _, s := range p.Stages {
			e, ok := stageExposure(s)
			if !ok {
				continue
			}
			col := colors[string(pg.policy)]
			switch {
			case breached(s):
				col, breach = red, breach+1
			case math.IsNaN(s.Breach):
				col, unsure = grey, unsure+1
			default:
				kept++
			}
			x := float64(i + 1)
			poly, err := plotter.NewPolygon(plotter.XYs{{X: x - 0.35, Y: y}, {X: x + 0.35, Y: y}, {X: x + 0.35, Y: y + e}, {X: x - 0.35, Y: y + e}})
			if err != nil {
				return rep, fmt.Errorf("report: canary figure of %s: %w", sc.name, err)
			}
			poly.Color = col
			poly.LineStyle.Color = white
			poly.LineStyle.Width = vg.Points(0.5)
			top.plot.Add(poly)
			y += e
		}
	}
	for _, e := range []struct {
		n    int
		col  color.Color
		name string
	}{{kept, colors[string(pg.policy)], "stage kept guardrails"}, {breach, red, "stage truly breached"}, {unsure, grey, "breach unknown"}} {
		if e.n > 0 {
			top.legend.Add(e.name, swatch{e.col})
		}
	}
	if kept+breach+unsure == 0 {
		top.plot.Title.Text += ": no canary stage"
	}
	setPassAxis(top.plot, 0.5, float64(n)+0.5)
	top.plot.Y.Min = 0
	if top.plot.Y.Max > 0 {
		top.plot.Y.Max *= 1.05
	}

	bottom := newPanel(sc.name+": cumulative canary exposure (solid) and its truly breaching part (dashed)",
		"pass", "cumulative exposure (share × minutes)")
	// cumulative[r][x] is r's exposure over its first x passes, and the
	// breaching part of it.
	type sums struct{ all, bad []float64 }
	cumulative := map[*campaign.Result]sums{}
	cum := func(breachOnly bool) func(r *campaign.Result, x int) (float64, bool) {
		return func(r *campaign.Result, x int) (float64, bool) {
			c, ok := cumulative[r]
			if !ok {
				c = sums{all: make([]float64, len(r.Passes)+1), bad: make([]float64, len(r.Passes)+1)}
				for i, p := range r.Passes {
					all, bad, _ := passExposure(p)
					c.all[i+1], c.bad[i+1] = c.all[i]+all, c.bad[i]+bad
				}
				cumulative[r] = c
			}
			if breachOnly {
				return c.bad[x], true
			}
			return c.all[x], true
		}
	}
	all := make([]perPass, len(sc.policies))
	bad := make([]perPass, len(sc.policies))
	for i, g := range sc.policies {
		all[i] = collect(sc, g, 0, "exposure", cum(false))
		bad[i] = collect(sc, g, 0, "breaching exposure", cum(true))
	}
	if err := addPolicies(bottom, sc, all, colors); err != nil {
		return rep, fmt.Errorf("report: canary figure of %s: %w", sc.name, err)
	}
	for i := len(sc.policies) - 1; i >= 0; i-- {
		if _, err := addMedianBand(bottom.plot, bad[i], colors[string(sc.policies[i].policy)], dashes, false); err != nil {
			return rep, fmt.Errorf("report: canary figure of %s: %w", sc.name, err)
		}
	}
	bottom.legend.Add("breaching part", dashedThumb{})
	setPassAxis(bottom.plot, 0, float64(n))
	bottom.plot.Y.Min = 0
	return rep, writePNG(path, canaryHeight/2, []*panel{top, bottom})
}

// swatch is a legend entry's filled square.
type swatch struct{ col color.Color }

// Thumbnail implements plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.col, c.ClipPolygonXY([]vg.Point{c.Min, {X: c.Max.X, Y: c.Min.Y}, c.Max, {X: c.Min.X, Y: c.Max.Y}}))
}

// dashedThumb is a legend entry's dashed black line, standing for every
// policy's dashed line.
type dashedThumb struct{}

// Thumbnail implements plot.Thumbnailer.
func (dashedThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(draw.LineStyle{Color: black, Width: vg.Points(2), Dashes: dashes}, c.Min.X, y, c.Max.X, y)
}

// maxLegendPolicy is the longest policy name a legend shows whole; its
// column has room for about that many characters and the seed count.
const maxLegendPolicy = 12

// legendName names a policy in a legend with its number of seeds.
func legendName(pg *policyGroup) string {
	name := []rune(string(pg.policy))
	if len(name) > maxLegendPolicy {
		name = append(name[:maxLegendPolicy-1], '…')
	}
	if len(pg.results) == 1 {
		return string(name) + " (1 seed)"
	}
	return fmt.Sprintf("%s (%d seeds)", string(name), len(pg.results))
}

// axisName returns name, or fallback when it is empty.
func axisName(name, fallback string) string {
	if name == "" {
		return fallback
	}
	return name
}

// goalWord says which way is better.
func goalWord(g models.Goal) string {
	if g == models.Maximize {
		return "maximize: higher is better"
	}
	return "minimize: lower is better"
}
