package target

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	// Workers may run where the system has no time zone database; the
	// embedded copy is used only then.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// The code in this file is called from workflow code, so it is pure: it
// reads no wall clock, draws no randomness and keeps no state between
// calls. The same arguments give the same answer on every worker that has
// the same time zone rules.

const (
	// MaxFreezeDuration is the longest a recurring freeze window may last.
	// A weekly window longer than a week never ends; a longer one-off
	// freeze is written as a fixed window (from and to).
	MaxFreezeDuration = Duration(7 * 24 * time.Hour)

	// freezeHorizon is how far ahead Freeze.Next looks: a year, and a day
	// for a leap year, finds every yearly window.
	freezeHorizon = 366 * 24 * time.Hour

	// maxFreezeChain bounds how many times Freeze.At extends a freeze by a
	// window that overlaps or touches its end, so that windows that never
	// leave a gap (say hourly, each lasting two hours) still give an answer.
	maxFreezeChain = 1000
)

// At reports whether t is inside a freeze. When it is, until is when the
// freeze ends, including every window that overlaps or touches it, chained
// (after 1000 links, until is where the chain was left: the target is
// still frozen there), and why names the windows of the chain in the order
// they joined it, separated by "; ": each as its name with the cron
// expression or interval in parentheses, e.g. "weekend (0 18 * * 5 for
// 62h, Europe/Berlin)" or "year-end release freeze (2026-12-20T00:00:00Z to
// 2027-01-04T00:00:00Z)", or as the expression or interval alone when it
// has no name. until is in t's location.
//
// A nil Freeze is no freeze. Windows that Validate rejects are ignored.
func (f *Freeze) At(t time.Time) (frozen bool, until time.Time, why string) {
	if f == nil {
		return false, time.Time{}, ""
	}
	ws := f.compile()
	end, involved := chain(ws, t)
	if len(involved) == 0 {
		return false, time.Time{}, ""
	}
	return true, end.In(t.Location()), describeWindows(ws, involved)
}

// Next returns the next freeze that starts after t, for display: its start,
// its end and why as At reports them from its start. When t is inside a
// freeze, that is the first freeze after the current one (as At chains it)
// ends. ok is false when no freeze starts within 366 days after t. The
// times are in t's location.
func (f *Freeze) Next(t time.Time) (start, end time.Time, why string, ok bool) {
	if f == nil {
		return time.Time{}, time.Time{}, "", false
	}
	ws := f.compile()
	from := t
	if e, involved := chain(ws, t); len(involved) > 0 {
		from = e
	}
	limit := t.Add(freezeHorizon)
	for _, w := range ws {
		s, found := w.nextStart(from)
		if found && !s.After(limit) && (start.IsZero() || s.Before(start)) {
			start = s
		}
	}
	if start.IsZero() {
		return time.Time{}, time.Time{}, "", false
	}
	end, involved := chain(ws, start)
	if len(involved) == 0 {
		return time.Time{}, time.Time{}, "", false // cannot happen: a window starts at start
	}
	loc := t.Location()
	return start.In(loc), end.In(loc), describeWindows(ws, involved), true
}

// NextRun returns the schedule's next fire time strictly after after,
// ignoring jitter, in after's location; ok is false when there is no
// schedule (or it never fires, or it is not one Validate accepts). It
// understands what Validate accepts: a 5-field cron expression and the
// macros @hourly, @daily, @midnight, @weekly, @monthly, @yearly and
// @annually, read in the triggers' time zone, and "@every D", which fires
// at the multiples of D since the Unix epoch, as Temporal schedules place
// intervals.
func (t Triggers) NextRun(after time.Time) (time.Time, bool) {
	spec := strings.TrimSpace(t.Schedule)
	if spec == "" {
		return time.Time{}, false
	}
	if macro, arg, _ := strings.Cut(spec, " "); macro == "@every" {
		d, err := time.ParseDuration(strings.TrimSpace(arg))
		if err != nil || d <= 0 {
			return time.Time{}, false
		}
		return nextMultiple(after, d), true
	}
	sched, err := parseCron(spec)
	if err != nil {
		return time.Time{}, false
	}
	next := sched.Next(after.In(t.Location()))
	if next.IsZero() {
		return time.Time{}, false
	}
	return next.In(after.Location()), true
}

// Location returns the triggers' time zone: Timezone, or UTC when it is
// unset (or not a zone Validate accepts).
func (t Triggers) Location() *time.Location {
	loc, err := loadLocation(t.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// loadLocation loads an IANA time zone; "" is UTC. "Local" is refused: it
// means a different zone on each machine.
func loadLocation(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return nil, errors.New(`"Local" differs from machine to machine`)
	}
	return time.LoadLocation(name)
}

// nextMultiple returns the first multiple of d since the Unix epoch that
// is strictly after t, in t's location. It works in any year: Truncate
// counts from the zero time, so the epoch's offset from d's multiples is
// taken out first.
func nextMultiple(t time.Time, d time.Duration) time.Time {
	epoch := time.Unix(0, 0)
	shift := epoch.Sub(epoch.Truncate(d))
	return t.Add(-shift).Truncate(d).Add(shift + d)
}

// parseCron parses a cron expression with robfig's standard parser, after
// writing Sunday as 0 in the day-of-week field wherever it is written 7
// (cron allows both; robfig only 0). A CRON_TZ= or TZ= prefix is refused:
// the time zone is a field of its own.
func parseCron(spec string) (cron.Schedule, error) {
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		return nil, errCronTZ
	}
	if fields := strings.Fields(spec); len(fields) == 5 {
		fields[4] = sundayAsZero(fields[4])
		spec = strings.Join(fields, " ")
	}
	return cron.ParseStandard(spec)
}

var (
	errCronTZ     = errors.New("a CRON_TZ= or TZ= prefix is not allowed; set the timezone field instead")
	errCronFields = errors.New("not five fields")
)

// parseWindowCron parses a freeze window's cron expression, which must
// have exactly five fields (no macros).
func parseWindowCron(spec string) (cron.Schedule, error) {
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		return nil, errCronTZ
	}
	if strings.HasPrefix(spec, "@") || len(strings.Fields(spec)) != 5 {
		return nil, errCronFields
	}
	return parseCron(spec)
}

// recurring reports whether w has a field of a recurring window.
func (w FreezeWindow) recurring() bool { return w.Cron != "" || w.Duration != 0 }

// fixed reports whether w has a field of a fixed window.
func (w FreezeWindow) fixed() bool { return !w.From.IsZero() || !w.To.IsZero() }

// sundayAsZero rewrites a numeric day-of-week field that uses 7 for Sunday
// as the list of the days it means, with 0 for Sunday ("5-7" becomes
// "0,5,6"). A field without a 7, or one it cannot read, is returned as it
// is.
func sundayAsZero(field string) string {
	var days [8]bool
	seven := false
	for part := range strings.SplitSeq(field, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n <= 0 {
				return field
			}
			step = n
		}
		lo, hi := 0, 6
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = strconv.Atoi(a); err != nil {
				return field
			}
			switch {
			case isRange:
				if hi, err = strconv.Atoi(b); err != nil {
					return field
				}
			case !hasStep:
				hi = lo
			}
		}
		if lo < 0 || hi > 7 || lo > hi {
			return field
		}
		seven = seven || hi == 7
		for d := lo; d <= hi; d += step {
			days[d] = true
		}
	}
	if !seven {
		return field
	}
	days[0] = days[0] || days[7]
	var list []string
	for d := range 7 {
		if days[d] {
			list = append(list, strconv.Itoa(d))
		}
	}
	return strings.Join(list, ",")
}

// window is a FreezeWindow ready to evaluate.
type window struct {
	FreezeWindow
	sched cron.Schedule // nil for a fixed window
	loc   *time.Location
	d     time.Duration
}

// compile prepares the windows of f, leaving out those Validate rejects.
func (f *Freeze) compile() []window {
	ws := make([]window, 0, len(f.Windows))
	for _, fw := range f.Windows {
		w := window{FreezeWindow: fw, d: time.Duration(fw.Duration)}
		switch {
		case fw.recurring() == fw.fixed():
			continue
		case fw.recurring():
			sched, err := parseWindowCron(fw.Cron)
			loc, errLoc := loadLocation(fw.Timezone)
			if err != nil || errLoc != nil || w.d <= 0 || fw.Duration > MaxFreezeDuration {
				continue
			}
			w.sched, w.loc = sched, loc
		case fw.From.IsZero() || fw.To.IsZero() || !fw.From.Before(fw.To):
			continue
		}
		ws = append(ws, w)
	}
	return ws
}

// active returns the occurrence of w in force at t, ok false if none.
func (w window) active(t time.Time) (start, end time.Time, ok bool) {
	if w.sched == nil {
		if !t.Before(w.From) && t.Before(w.To) {
			return w.From, w.To, true
		}
		return time.Time{}, time.Time{}, false
	}
	// An occurrence starting at s is in force at t iff t-d < s <= t; the
	// latest such s ends last.
	s, found := lastFire(w.sched, t.Add(-w.d).In(w.loc), t)
	if !found || !t.Before(s.Add(w.d)) {
		return time.Time{}, time.Time{}, false
	}
	return s, s.Add(w.d), true
}

// nextStart returns the first start of an occurrence of w strictly after t.
func (w window) nextStart(t time.Time) (time.Time, bool) {
	if w.sched == nil {
		return w.From, w.From.After(t)
	}
	s := w.sched.Next(t.In(w.loc))
	return s, !s.IsZero()
}

// lastFire returns the latest fire time s of sched with lo < s <= t, ok
// false if there is none. Schedule.Next only looks forward, so it searches
// for the latest lo whose next fire is still at or before t: Next(x) <= t
// holds exactly for x before that fire. Fires are whole minutes apart, so
// narrowing to a second finds it; that takes about 20 calls of Next for a
// week, however often sched fires.
func lastFire(sched cron.Schedule, lo, t time.Time) (time.Time, bool) {
	s := sched.Next(lo)
	if s.IsZero() || s.After(t) {
		return time.Time{}, false
	}
	hi := t // sched.Next(hi) > t
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		if n := sched.Next(mid); !n.IsZero() && !n.After(t) {
			lo, s = mid, n
		} else {
			hi = mid
		}
	}
	return s, true
}

// chain returns the end of the freeze in force at t, extended by every
// window in force at its end, and the indexes of the windows involved in
// the order they joined; involved is empty when t is not frozen.
func chain(ws []window, t time.Time) (end time.Time, involved []int) {
	end = t
	for range maxFreezeChain {
		next := end
		for i, w := range ws {
			if _, e, ok := w.active(end); ok {
				if !slices.Contains(involved, i) {
					involved = append(involved, i)
				}
				if e.After(next) {
					next = e
				}
			}
		}
		if !next.After(end) {
			break
		}
		end = next
	}
	return end, involved
}

// describeWindows names the windows at the indexes involved, as At's why.
func describeWindows(ws []window, involved []int) string {
	parts := make([]string, len(involved))
	for i, k := range involved {
		parts[i] = ws[k].FreezeWindow.String()
	}
	return strings.Join(parts, "; ")
}

// String describes the window for operators: its name, if any, then its
// cron expression, duration and time zone, or its interval, e.g. "weekend
// (0 18 * * 5 for 62h, Europe/Berlin)" or "2026-12-20T00:00:00Z to
// 2027-01-04T00:00:00Z".
func (w FreezeWindow) String() string {
	var what string
	if w.recurring() {
		zone := w.Timezone
		if zone == "" {
			zone = "UTC"
		}
		what = fmt.Sprintf("%s for %s, %s", w.Cron, formatDuration(time.Duration(w.Duration)), zone)
	} else {
		what = w.From.Format(time.RFC3339) + " to " + w.To.Format(time.RFC3339)
	}
	if w.Name == "" {
		return what
	}
	return w.Name + " (" + what + ")"
}

// formatDuration writes d in its largest whole unit among days, hours,
// minutes and seconds ("7d", "62h", "90m"), else as time.Duration does.
func formatDuration(d time.Duration) string {
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d != 0 && d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.name
		}
	}
	return d.String()
}
