package report

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The figures' sizes in pixels. A panel is wide enough for a few dozen
// passes to stay apart; the legend has its own column so that it never
// hides data.
const (
	dpi                  = 96
	figureWidth          = 960
	legendWidth          = 210
	objectiveHeight      = 540
	guardrailPanelHeight = 360
	canaryHeight         = 760
)

// minBandSeeds is the fewest seeds a pass needs for an interquartile band:
// the quartiles of one or two values say nothing the values do not.
const minBandSeeds = 3

// maxPlottable bounds the magnitude of a value a figure draws: gonum/plot's
// tick placement loops forever on an axis whose range overflows float64,
// and no metric comes near it.
const maxPlottable = 1e300

// plottable reports whether a figure can draw v.
func plottable(v float64) bool { return finite(v) && math.Abs(v) <= maxPlottable }

// Colours. The policies keep theirs in every figure; red is kept for
// limits and breaches.
var (
	policyColors = map[string]color.Color{
		"gp":     color.NRGBA{0x1f, 0x77, 0xb4, 0xff},
		"random": color.NRGBA{0xff, 0x7f, 0x0e, 0xff},
		"hold":   color.NRGBA{0x7f, 0x7f, 0x7f, 0xff},
	}
	otherColors = []color.Color{
		color.NRGBA{0x2c, 0xa0, 0x2c, 0xff},
		color.NRGBA{0x94, 0x67, 0xbd, 0xff},
		color.NRGBA{0x8c, 0x56, 0x4b, 0xff},
		color.NRGBA{0xe3, 0x77, 0xc2, 0xff},
		color.NRGBA{0x17, 0xbe, 0xcf, 0xff},
		color.NRGBA{0xbc, 0xbd, 0x22, 0xff},
	}
	red     = color.NRGBA{0xd6, 0x27, 0x28, 0xff}
	black   = color.NRGBA{0, 0, 0, 0xff}
	gridCol = color.NRGBA{0xdd, 0xdd, 0xdd, 0xff}
	grey    = color.NRGBA{0xbb, 0xbb, 0xbb, 0xff}
	white   = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	dashes  = []vg.Length{vg.Points(6), vg.Points(4)}
)

// palette assigns each policy of a scenario its colour: the known
// policies theirs, the others the next free one in order.
func palette(sc *scenarioGroup) map[string]color.Color {
	out := map[string]color.Color{}
	next := 0
	for _, pg := range sc.policies {
		if c, ok := policyColors[string(pg.policy)]; ok {
			out[string(pg.policy)] = c
			continue
		}
		out[string(pg.policy)] = otherColors[next%len(otherColors)]
		next++
	}
	return out
}

// translucent returns c with the alpha of an interquartile band.
func translucent(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 0x40}
}

// panel is one plot and its legend, drawn side by side.
type panel struct {
	plot   *plot.Plot
	legend plot.Legend
}

func newPanel(title, xLabel, yLabel string) *panel {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridCol, gridCol
	p.Add(g)
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	return &panel{plot: p, legend: l}
}

// writePNG draws panels stacked top to bottom, each panelHeight pixels
// high, into the PNG file path.
func writePNG(path string, panelHeight int, panels []*panel) (err error) {
	if len(panels) == 0 {
		return fmt.Errorf("report: %s: no panel to draw", path)
	}
	w := vg.Length(figureWidth) * vg.Inch / dpi
	h := vg.Length(panelHeight*len(panels)) * vg.Inch / dpi
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))
	dc := draw.New(img)
	lw := vg.Length(legendWidth) * vg.Inch / dpi
	ph := h / vg.Length(len(panels))
	pad := vg.Points(6)
	for i, p := range panels {
		top := h - vg.Length(i)*ph
		c := draw.Crop(dc, 0, 0, top-ph-dc.Min.Y, top-dc.Max.Y)
		widen(&p.plot.X)
		widen(&p.plot.Y)
		p.plot.Draw(draw.Crop(c, pad, -lw, pad, -pad))
		p.legend.Draw(draw.Crop(c, w-lw+pad, -pad, pad, -4*pad))
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: create %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("report: close %s: %w", path, cerr)
		}
	}()
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	return nil
}

// flatSpan is the relative span below which an axis counts as flat.
const flatSpan = 1e-12

// widen gives an axis with no data [0, 1], and one whose data are (nearly)
// all equal a span of 10% of their magnitude either side: gonum/plot's own
// remedy (one unit either side) does nothing beyond 2^53 and then panics.
func widen(a *plot.Axis) {
	if !finite(a.Min) || !finite(a.Max) || a.Min > a.Max {
		a.Min, a.Max = 0, 1
		return
	}
	mag := max(math.Abs(a.Min), math.Abs(a.Max))
	if a.Max-a.Min > flatSpan*mag {
		return
	}
	pad := 0.1 * mag
	if pad == 0 {
		pad = 1
	}
	a.Min, a.Max = a.Min-pad, a.Max+pad
}

// perPass holds one policy's finite values of a quantity at each pass
// position x over its seeds.
type perPass struct {
	x      []float64
	values [][]float64
}

// quartiles returns the lower quartile, the median and the upper quartile
// of the values at position i; n is how many there are.
func (pp perPass) quartiles(i int) (q1, med, q3 float64, n int) {
	vs := append([]float64(nil), pp.values[i]...)
	if len(vs) == 0 {
		return math.NaN(), math.NaN(), math.NaN(), 0
	}
	sort.Float64s(vs)
	return quantile(vs, 0.25), quantile(vs, 0.5), quantile(vs, 0.75), len(vs)
}

// runs returns the maximal runs [from, to) of consecutive positions whose
// value count is at least min.
func (pp perPass) runs(min int) [][2]int {
	var out [][2]int
	start := -1
	for i := 0; i <= len(pp.x); i++ {
		ok := i < len(pp.x) && len(pp.values[i]) >= min
		switch {
		case ok && start < 0:
			start = i
		case !ok && start >= 0:
			out = append(out, [2]int{start, i})
			start = -1
		}
	}
	return out
}

// addMedianBand adds to p the median of pp as a line in col, and its
// interquartile band where at least minBandSeeds seeds have a value. It
// returns the median's line for the legend, nil when pp holds no value.
func addMedianBand(p *plot.Plot, pp perPass, col color.Color, style []vg.Length, band bool) (plot.Thumbnailer, error) {
	var thumb plot.Thumbnailer
	if band {
		for _, r := range pp.runs(minBandSeeds) {
			if r[1]-r[0] < 2 {
				continue
			}
			var ring plotter.XYs
			for i := r[0]; i < r[1]; i++ {
				_, _, q3, _ := pp.quartiles(i)
				ring = append(ring, plotter.XY{X: pp.x[i], Y: q3})
			}
			for i := r[1] - 1; i >= r[0]; i-- {
				q1, _, _, _ := pp.quartiles(i)
				ring = append(ring, plotter.XY{X: pp.x[i], Y: q1})
			}
			poly, err := plotter.NewPolygon(ring)
			if err != nil {
				return nil, err
			}
			poly.Color = translucent(col)
			poly.LineStyle.Width = 0
			p.Add(poly)
		}
	}
	for _, r := range pp.runs(1) {
		var xys plotter.XYs
		for i := r[0]; i < r[1]; i++ {
			_, med, _, _ := pp.quartiles(i)
			xys = append(xys, plotter.XY{X: pp.x[i], Y: med})
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		line.Color = col
		line.Width = vg.Points(2)
		line.Dashes = style
		p.Add(line)
		if len(xys) == 1 {
			dot, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, err
			}
			dot.Color = col
			dot.Shape = draw.CircleGlyph{}
			p.Add(dot)
		}
		if thumb == nil {
			thumb = line
		}
	}
	return thumb, nil
}

// hline returns a horizontal line at y from x0 to x1.
func hline(y, x0, x1 float64, col color.Color) (*plotter.Line, error) {
	l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: y}, {X: x1, Y: y}})
	if err != nil {
		return nil, err
	}
	l.Color = col
	l.Width = vg.Points(1.5)
	l.Dashes = dashes
	return l, nil
}

// passTicks marks whole pass numbers, at most about ten of them labelled.
type passTicks struct{}

// Ticks implements plot.Ticker.
func (passTicks) Ticks(min, max float64) []plot.Tick {
	lo, hi := math.Ceil(min), math.Floor(max)
	if !(hi >= lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000} {
		step = s
		if (hi-lo)/s <= 10 {
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return ticks
}
