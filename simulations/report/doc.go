// Package report turns the results of `passflow simulate` campaigns into a
// report a person reads: report.md, summary.json and PNG figures drawn
// with gonum.org/v1/plot.
//
// What the package decides:
//
//   - Results are grouped by scenario (sorted by name) and policy (gp,
//     random, hold, then any other by name), each group's campaigns sorted
//     by seed. Each scenario × policy is one Row: every Summary field
//     aggregated over seeds as median, min, max and sum; the report shows
//     "median (min–max)", and sums for the counts of rare bad events
//     (SLO-violating and worse promotions, false rollbacks, violating
//     stages).
//   - A seed that never came within 5% of the optimum counts as +Inf, so
//     the median of passes-to-within-5% is "never" when at least half the
//     seeds never did.
//   - Medians are the mean of the two middle values for an even count;
//     interquartile bands use linear interpolation between order
//     statistics (R's default) and are drawn only where at least three
//     seeds have a value.
//   - Pass x of a figure is the x-th entry of Result.Passes, x = 0 the
//     starting configuration; campaigns of different lengths are
//     aggregated over the seeds that reached each pass.
//   - The canary figure details one representative campaign: the gp
//     campaign with the median final gap (or, without gp, the first
//     policy that ran a canary).
//
// What the package guarantees:
//
//   - The same results, in any order, give byte-identical report.md and
//     summary.json: nothing in them depends on map order, the clock or
//     the machine (wall_s is the input's own figure).
//   - NaN and ±Inf values never reach a figure or a median: they are left
//     out, counted (Stat.NonFinite, a † in the table) and listed in the
//     scenario's notes. Figures also leave out values beyond ±1e300, whose
//     axis range would overflow. No input panics; what cannot be reported
//     (no results, an unsafe scenario name, duplicate campaigns,
//     conflicting goals) is an error that names it.
//   - File names are the scenario's name, which must be lowercase letters,
//     digits and '-', plus a fixed suffix; Write touches no other file.
package report
