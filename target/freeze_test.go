package target

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// utc parses an RFC 3339 time, for the tables below.
func utc(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

const (
	weekendWhy = "weekend (0 18 * * 5 for 62h, Europe/Berlin)"
	yearEndWhy = "year-end release freeze (2026-12-20T00:00:00Z to 2027-01-04T00:00:00Z)"
)

// exampleFreeze is the freeze of examples/targets/checkout-api.yaml: a
// weekend freeze from Friday 18:00 Berlin time for 62 hours and a fixed
// year-end release freeze.
func exampleFreeze(t *testing.T) *Freeze {
	t.Helper()
	s, err := Load("../examples/targets/checkout-api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s.Triggers.Freeze
}

func TestExampleTriggers(t *testing.T) {
	s, err := Load("../examples/targets/checkout-api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Triggers{
		Schedule: "0 2 * * *",
		Timezone: "Europe/Berlin",
		Jitter:   Duration(10 * time.Minute),
		Alerts:   []string{"CheckoutLatencyHigh"},
		Cooldown: Duration(30 * time.Minute),
		Freeze: &Freeze{
			OnRequest: FreezeWait,
			OnCanary:  FreezeHold,
			Windows: []FreezeWindow{
				{Name: "weekend", Cron: "0 18 * * 5", Duration: Duration(62 * time.Hour), Timezone: "Europe/Berlin"},
				{Name: "year-end release freeze", From: utc(t, "2026-12-20T00:00:00Z"), To: utc(t, "2027-01-04T00:00:00Z")},
			},
		},
	}
	if !reflect.DeepEqual(s.Triggers, want) {
		t.Errorf("triggers =\n%+v\nwant\n%+v", s.Triggers, want)
	}
	for i, w := range s.Triggers.Freeze.Windows {
		if got := w.String(); got != []string{weekendWhy, yearEndWhy}[i] {
			t.Errorf("windows[%d].String() = %q", i, got)
		}
	}

	// Triggers travel in workflow inputs as JSON.
	data, err := json.Marshal(s.Triggers)
	if err != nil {
		t.Fatal(err)
	}
	var back Triggers
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, want) {
		t.Errorf("JSON round trip =\n%+v\nwant\n%+v\n%s", back, want, data)
	}
}

func TestFreezeAt(t *testing.T) {
	// Daylight saving time in Berlin: from 2026-03-29T01:00Z (CET, +1,
	// becomes CEST, +2) to 2026-10-25T01:00Z. Fridays 18:00 Berlin time are
	// 17:00Z in winter and 16:00Z in summer; 62 hours are 62 hours whatever
	// the wall clock does.
	example := exampleFreeze(t)
	daily := FreezeWindow{Name: "daily", Cron: "0 10 * * *", Duration: Duration(4 * time.Hour)}
	chained := &Freeze{Windows: []FreezeWindow{
		{Name: "maintenance", From: utc(t, "2026-06-01T00:00:00Z"), To: utc(t, "2026-06-01T12:00:00Z")},
		daily, // 10:00 to 14:00 UTC: overlaps maintenance
		{Name: "handover", From: utc(t, "2026-06-01T14:00:00Z"), To: utc(t, "2026-06-01T15:00:00Z")}, // touches daily
	}}
	const (
		maintenanceWhy = "maintenance (2026-06-01T00:00:00Z to 2026-06-01T12:00:00Z)"
		dailyWhy       = "daily (0 10 * * * for 4h, UTC)"
		handoverWhy    = "handover (2026-06-01T14:00:00Z to 2026-06-01T15:00:00Z)"
	)
	yearEnd := &Freeze{Windows: example.Windows[1:]}
	unnamed := &Freeze{Windows: []FreezeWindow{
		{Cron: "30 1 * * 1-5", Duration: Duration(90 * time.Minute), Timezone: "America/New_York"},
		{From: utc(t, "2026-07-01T00:00:00+02:00"), To: utc(t, "2026-07-02T00:00:00+02:00")},
	}}

	tests := []struct {
		name   string
		f      *Freeze
		at     string
		frozen bool
		until  string
		why    string
	}{
		{"nil freeze", nil, "2026-03-28T12:00:00Z", false, "", ""},
		{"no windows", &Freeze{}, "2026-03-28T12:00:00Z", false, "", ""},

		{"weekday before the weekend", example, "2026-03-25T12:00:00Z", false, "", ""},
		{"a second before the weekend", example, "2026-03-27T16:59:59Z", false, "", ""},
		{"weekend start is inside", example, "2026-03-27T17:00:00Z", true, "2026-03-30T07:00:00Z", weekendWhy},
		{"weekend, after the clocks went forward", example, "2026-03-29T12:00:00Z", true, "2026-03-30T07:00:00Z", weekendWhy},
		{"a second before the weekend ends (Monday 08:59:59 CEST)", example, "2026-03-30T06:59:59Z", true, "2026-03-30T07:00:00Z", weekendWhy},
		{"weekend end is outside", example, "2026-03-30T07:00:00Z", false, "", ""},
		{"summer Friday 17:59:59 CEST", example, "2026-04-03T15:59:59Z", false, "", ""},
		{"summer Friday 18:00 CEST", example, "2026-04-03T16:00:00Z", true, "2026-04-06T06:00:00Z", weekendWhy},
		{"weekend as the clocks go back", example, "2026-10-25T00:30:00Z", true, "2026-10-26T06:00:00Z", weekendWhy},
		{"Monday 07:30 CET: over, though 08:00 by the wall clock", example, "2026-10-26T06:30:00Z", false, "", ""},
		{"winter Friday 17:30 CET", example, "2026-10-30T16:30:00Z", false, "", ""},
		{"winter Friday 18:00 CET", example, "2026-10-30T17:00:00Z", true, "2026-11-02T07:00:00Z", weekendWhy},

		{"a second before a fixed window", yearEnd, "2026-12-19T23:59:59Z", false, "", ""},
		{"fixed window start is inside", yearEnd, "2026-12-20T00:00:00Z", true, "2027-01-04T00:00:00Z", yearEndWhy},
		{"a second before a fixed window ends", yearEnd, "2027-01-03T23:59:59Z", true, "2027-01-04T00:00:00Z", yearEndWhy},
		{"fixed window end is outside", yearEnd, "2027-01-04T00:00:00Z", false, "", ""},

		{"weekend chained to the fixed window, then to the next weekend", example, "2026-12-19T23:59:59Z", true, "2027-01-04T07:00:00Z", weekendWhy + "; " + yearEndWhy},
		{"fixed window on a Tuesday, chained to the weekend at its end", example, "2026-12-22T12:00:00Z", true, "2027-01-04T07:00:00Z", yearEndWhy + "; " + weekendWhy},
		{"fixed window and weekend at once", example, "2026-12-26T12:00:00Z", true, "2027-01-04T07:00:00Z", weekendWhy + "; " + yearEndWhy},
		{"fixed window over, weekend not", example, "2027-01-04T00:00:00Z", true, "2027-01-04T07:00:00Z", weekendWhy},
		{"after both", example, "2027-01-04T07:00:00Z", false, "", ""},

		{"chain: maintenance, daily, handover", chained, "2026-06-01T01:00:00Z", true, "2026-06-01T15:00:00Z", maintenanceWhy + "; " + dailyWhy + "; " + handoverWhy},
		{"chain: overlap, from inside both", chained, "2026-06-01T11:00:00Z", true, "2026-06-01T15:00:00Z", maintenanceWhy + "; " + dailyWhy + "; " + handoverWhy},
		{"chain: touching window", chained, "2026-06-01T14:00:00Z", true, "2026-06-01T15:00:00Z", handoverWhy},
		{"chain: after", chained, "2026-06-01T15:00:00Z", false, "", ""},
		{"chain: the daily window alone the next day", chained, "2026-06-02T13:59:00Z", true, "2026-06-02T14:00:00Z", dailyWhy},

		{"unnamed recurring window (01:30 EDT on a Monday)", unnamed, "2026-06-01T05:30:00Z", true, "2026-06-01T07:00:00Z", "30 1 * * 1-5 for 90m, America/New_York"},
		{"unnamed recurring window, not on a Sunday", unnamed, "2026-06-07T05:30:00Z", false, "", ""},
		{"unnamed fixed window, with an offset", unnamed, "2026-06-30T22:00:00Z", true, "2026-07-01T22:00:00Z", "2026-07-01T00:00:00+02:00 to 2026-07-02T00:00:00+02:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frozen, until, why := tt.f.At(utc(t, tt.at))
			if frozen != tt.frozen || why != tt.why {
				t.Fatalf("At(%s) = %v, %v, %q; want %v, %s, %q", tt.at, frozen, until, why, tt.frozen, tt.until, tt.why)
			}
			if !tt.frozen {
				if !until.IsZero() {
					t.Errorf("until = %v, want zero", until)
				}
				return
			}
			if want := utc(t, tt.until); !until.Equal(want) {
				t.Errorf("until = %v, want %v", until.UTC(), want)
			}
		})
	}
}

func TestFreezeAtLocation(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	_, until, _ := exampleFreeze(t).At(time.Date(2026, 3, 28, 12, 0, 0, 0, berlin))
	if until.Location() != berlin || until.Format("Mon 15:04 MST") != "Mon 09:00 CEST" {
		t.Errorf("until = %v, want Monday 09:00 CEST in Europe/Berlin", until)
	}
}

func TestFreezeAtEndlessChain(t *testing.T) {
	// Hourly windows of 90 minutes never leave a gap: At follows 1000
	// links, each an hour further, and stops there.
	f := &Freeze{Windows: []FreezeWindow{{Cron: "0 * * * *", Duration: Duration(90 * time.Minute)}}}
	at := utc(t, "2026-06-01T10:30:00Z")
	frozen, until, why := f.At(at)
	if want := at.Add(maxFreezeChain * time.Hour); !frozen || !until.Equal(want) || why != "0 * * * * for 90m, UTC" {
		t.Errorf("At = %v, %v, %q; want true, %v", frozen, until, why, want)
	}
}

func TestFreezeInvalidWindowsIgnored(t *testing.T) {
	f := &Freeze{Windows: []FreezeWindow{
		{Cron: "0 0 * * *"}, // no duration
		{Cron: "CRON_TZ=UTC 0 0 * * *", Duration: Duration(time.Hour)},
		{Cron: "@daily", Duration: Duration(time.Hour)},
		{Cron: "0 0 * * *", Duration: Duration(8 * 24 * time.Hour)},
		{Cron: "0 0 * * *", Duration: Duration(time.Hour), Timezone: "Nowhere/Else"},
		{From: utc(t, "2026-06-02T00:00:00Z"), To: utc(t, "2026-06-01T00:00:00Z")},
		{Cron: "0 0 * * *", Duration: Duration(time.Hour), From: utc(t, "2026-06-01T00:00:00Z"), To: utc(t, "2026-06-02T00:00:00Z")},
	}}
	if frozen, _, why := f.At(utc(t, "2026-06-01T00:30:00Z")); frozen {
		t.Errorf("At = frozen (%s), want no freeze from invalid windows", why)
	}
	if start, _, why, ok := f.Next(utc(t, "2026-06-01T00:30:00Z")); ok {
		t.Errorf("Next = %v (%s), want none", start, why)
	}
}

func TestFreezeNext(t *testing.T) {
	example := exampleFreeze(t)
	fixed := &Freeze{Windows: []FreezeWindow{{Name: "far", From: utc(t, "2027-07-01T00:00:00Z"), To: utc(t, "2027-07-02T00:00:00Z")}}}
	tests := []struct {
		name       string
		f          *Freeze
		at         string
		ok         bool
		start, end string
		why        string
	}{
		{"nil freeze", nil, "2026-06-10T12:00:00Z", false, "", "", ""},
		{"next weekend (summer time)", example, "2026-06-10T12:00:00Z", true, "2026-06-12T16:00:00Z", "2026-06-15T06:00:00Z", weekendWhy},
		{"a second before it starts", example, "2026-06-12T15:59:59Z", true, "2026-06-12T16:00:00Z", "2026-06-15T06:00:00Z", weekendWhy},
		{"inside a weekend: the one after", example, "2026-06-12T16:00:00Z", true, "2026-06-19T16:00:00Z", "2026-06-22T06:00:00Z", weekendWhy},
		{"the weekend that runs into the year-end freeze", example, "2026-12-16T12:00:00Z", true, "2026-12-18T17:00:00Z", "2027-01-04T07:00:00Z", weekendWhy + "; " + yearEndWhy},
		{"inside the year-end freeze: the weekend after it", example, "2026-12-25T12:00:00Z", true, "2027-01-08T17:00:00Z", "2027-01-11T07:00:00Z", weekendWhy},
		{"fixed window within a year", fixed, "2026-07-01T00:00:00Z", true, "2027-07-01T00:00:00Z", "2027-07-02T00:00:00Z", "far (2027-07-01T00:00:00Z to 2027-07-02T00:00:00Z)"},
		{"fixed window beyond 366 days", fixed, "2026-06-29T23:59:59Z", false, "", "", ""},
		{"fixed window past", fixed, "2027-07-01T00:00:00Z", false, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end, why, ok := tt.f.Next(utc(t, tt.at))
			if ok != tt.ok || why != tt.why {
				t.Fatalf("Next(%s) = %v, %v, %q, %v; want %s, %s, %q, %v", tt.at, start, end, why, ok, tt.start, tt.end, tt.why, tt.ok)
			}
			if !ok {
				return
			}
			if !start.Equal(utc(t, tt.start)) || !end.Equal(utc(t, tt.end)) {
				t.Errorf("Next(%s) = %v to %v, want %s to %s", tt.at, start.UTC(), end.UTC(), tt.start, tt.end)
			}
		})
	}
}

func TestTriggersNextRun(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		zone     string
		after    string
		want     string // "" for none
	}{
		{"no schedule", "", "Europe/Berlin", "2026-06-10T12:00:00Z", ""},
		{"cron, summer (CEST)", "0 2 * * *", "Europe/Berlin", "2026-06-10T12:00:00Z", "2026-06-11T00:00:00Z"},
		{"cron, strictly after", "0 2 * * *", "Europe/Berlin", "2026-06-11T00:00:00Z", "2026-06-12T00:00:00Z"},
		{"cron, winter (CET)", "0 2 * * *", "Europe/Berlin", "2026-01-10T12:00:00Z", "2026-01-11T01:00:00Z"},
		{"cron, no zone is UTC", "0 2 * * *", "", "2026-06-10T12:00:00Z", "2026-06-11T02:00:00Z"},
		{"cron, Sunday as 7", "0 0 * * 7", "Europe/Berlin", "2026-06-10T12:00:00Z", "2026-06-13T22:00:00Z"},
		{"cron, Friday to Sunday as 5-7", "0 0 * * 5-7", "UTC", "2026-06-10T12:00:00Z", "2026-06-12T00:00:00Z"},
		{"cron, never", "0 0 31 2 *", "UTC", "2026-06-10T12:00:00Z", ""},
		{"@daily", "@daily", "Europe/Berlin", "2026-06-10T12:00:00Z", "2026-06-10T22:00:00Z"},
		{"@midnight", "@midnight", "America/New_York", "2026-06-10T12:00:00Z", "2026-06-11T04:00:00Z"},
		{"@hourly", "@hourly", "Asia/Kolkata", "2026-06-10T12:00:00Z", "2026-06-10T12:30:00Z"},
		{"@weekly", "@weekly", "", "2026-06-10T12:00:00Z", "2026-06-14T00:00:00Z"},
		{"@monthly", "@monthly", "Europe/Berlin", "2026-06-10T12:00:00Z", "2026-06-30T22:00:00Z"},
		{"@yearly", "@yearly", "Europe/Berlin", "2026-06-10T12:00:00Z", "2026-12-31T23:00:00Z"},
		{"@annually", "@annually", "UTC", "2026-06-10T12:00:00Z", "2027-01-01T00:00:00Z"},
		// @every counts from the Unix epoch, whatever the time zone.
		{"@every 6h", "@every 6h", "Europe/Berlin", "2026-06-10T12:00:00Z", "2026-06-10T18:00:00Z"},
		{"@every 6h, a second before a multiple", "@every 6h", "Europe/Berlin", "2026-06-10T11:59:59Z", "2026-06-10T12:00:00Z"},
		{"@every 7h", "@every 7h", "Europe/Berlin", "2026-06-10T12:00:00Z", "2026-06-10T17:00:00Z"},
		{"@every 90m", "@every 90m", "", "2026-06-10T12:01:00Z", "2026-06-10T13:30:00Z"},
		{"@every before the epoch", "@every 6h", "", "1969-12-31T20:00:00Z", "1970-01-01T00:00:00Z"},
		{"@every in 2500", "@every 7h", "", "2500-01-01T00:00:00Z", "2500-01-01T04:00:00Z"},
		{"@every without a duration", "@every", "", "2026-06-10T12:00:00Z", ""},
		{"not a schedule", "every night", "", "2026-06-10T12:00:00Z", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := Triggers{Schedule: tt.schedule, Timezone: tt.zone}
			got, ok := tr.NextRun(utc(t, tt.after))
			if tt.want == "" {
				if ok {
					t.Errorf("NextRun = %v, want none", got)
				}
				return
			}
			if !ok || !got.Equal(utc(t, tt.want)) {
				t.Errorf("NextRun(%s) = %v, %v; want %s", tt.after, got.UTC(), ok, tt.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("NextRun location = %v, want after's (UTC)", got.Location())
			}
		})
	}
	// Every schedule Validate accepts has a next run.
	for _, s := range []string{"0 2 * * *", "*/15 * * * *", "0 0-6/2 1,15 * 1-5", "0 0 * * 7", "@daily", "@hourly", "@every 6h", "@every 90m"} {
		if checkSchedule(s) != "" {
			t.Fatalf("checkSchedule(%q) rejects it", s)
		}
		if _, ok := (Triggers{Schedule: s}).NextRun(utc(t, "2026-06-10T12:00:00Z")); !ok {
			t.Errorf("NextRun(%q): no next run", s)
		}
	}
}

func TestTriggersLocation(t *testing.T) {
	for zone, want := range map[string]string{"": "UTC", "UTC": "UTC", "Europe/Berlin": "Europe/Berlin", "Local": "UTC", "Mars/Olympus": "UTC"} {
		if got := (Triggers{Timezone: zone}).Location().String(); got != want {
			t.Errorf("Location() of %q = %s, want %s", zone, got, want)
		}
	}
}

func TestSundayAsZero(t *testing.T) {
	for in, want := range map[string]string{
		"7": "0", "0,7": "0", "5-7": "0,5,6", "1-7/2": "0,1,3,5", "*/2,7": "0,2,4,6", "6/7": "6/7",
		"1-5": "1-5", "*": "*", "*/2": "*/2", "FRI": "FRI", "0-8": "0-8",
	} {
		if got := sundayAsZero(in); got != want {
			t.Errorf("sundayAsZero(%q) = %q, want %q", in, got, want)
		}
	}
}
