package scheduler_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/scheduler"
)

func utc(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
}

func ptr(t time.Time) *time.Time { return &t }

func cronSpec(expr, zone string) domain.ScheduleSpec {
	return domain.ScheduleSpec{Type: domain.ScheduleCron, Cron: expr, TimeZone: zone}
}

// dueTimes lists the due times of one spec in (after, until] and checks what every list must
// be: strictly increasing, in UTC, and each one what Next returns from the previous one.
func dueTimes(t *testing.T, s domain.ScheduleSpec, after, until time.Time) []time.Time {
	t.Helper()
	got := scheduler.DueTimes(s, after, until, 1000)
	prev := after
	for _, d := range got {
		if !d.After(prev) {
			t.Fatalf("%s after %s: not strictly increasing: %v", s.Cron, after, got)
		}
		if d.Location() != time.UTC {
			t.Fatalf("%s: due time %s is not in UTC", s.Cron, d)
		}
		if next := (scheduler.Timer{}).Next(s, prev); !next.Equal(d) {
			t.Fatalf("%s: Next(%s) = %s, DueTimes says %s", s.Cron, prev, next, d)
		}
		prev = d
	}
	return got
}

func assertTimes(t *testing.T, what string, got []time.Time, want ...time.Time) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
	for i := range got {
		if !got[i].Equal(want[i]) {
			t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
		}
	}
}

func TestCronInUTC(t *testing.T) {
	var timer scheduler.Timer
	weekdays := cronSpec("0 9 * * 1-5", "")
	// 2027-01-01 is a Friday.
	if got := timer.Next(weekdays, utc(2027, 1, 1, 8, 0)); !got.Equal(utc(2027, 1, 1, 9, 0)) {
		t.Fatalf("Friday 08:00: %s", got)
	}
	if got := timer.Next(weekdays, utc(2027, 1, 1, 9, 0)); !got.Equal(utc(2027, 1, 4, 9, 0)) {
		t.Fatalf("strictly after Friday 09:00 comes Monday: %s", got)
	}
	if got := timer.Next(weekdays, utc(2027, 1, 1, 8, 59).Add(59*time.Second+999*time.Millisecond)); !got.Equal(utc(2027, 1, 1, 9, 0)) {
		t.Fatalf("a fraction of a second before: %s", got)
	}
	if got := timer.Next(cronSpec("0 9 * * 1-5", "UTC"), utc(2027, 1, 1, 8, 0)); !got.Equal(utc(2027, 1, 1, 9, 0)) {
		t.Fatalf("UTC named: %s", got)
	}
	if got := timer.Next(cronSpec("@daily", ""), utc(2027, 1, 1, 8, 0)); !got.Equal(utc(2027, 1, 2, 0, 0)) {
		t.Fatalf("@daily: %s", got)
	}
	if got := timer.Next(cronSpec("0 0 29 2 *", ""), utc(2027, 1, 1, 0, 0)); !got.Equal(utc(2028, 2, 29, 0, 0)) {
		t.Fatalf("leap day: %s", got)
	}
	// after in another zone is the same instant.
	paris, _ := time.LoadLocation("Europe/Paris")
	if got := timer.Next(weekdays, time.Date(2027, 1, 1, 9, 0, 0, 0, paris)); !got.Equal(utc(2027, 1, 1, 9, 0)) || got.Location() != time.UTC {
		t.Fatalf("after given in Paris: %s", got)
	}
	assertTimes(t, "every 15 minutes", dueTimes(t, cronSpec("*/15 * * * *", ""), utc(2027, 1, 1, 10, 0), utc(2027, 1, 1, 11, 0)),
		utc(2027, 1, 1, 10, 15), utc(2027, 1, 1, 10, 30), utc(2027, 1, 1, 10, 45), utc(2027, 1, 1, 11, 0))
}

// Europe/Paris moves from CET (UTC+1) to CEST (UTC+2) at 02:00 on 2027-03-28, and back at
// 03:00 on 2027-10-31.
func TestCronKeepsTheWallClockAcrossDaylightSaving(t *testing.T) {
	nine := cronSpec("0 9 * * *", "Europe/Paris")
	assertTimes(t, "09:00 Paris around spring-forward",
		dueTimes(t, nine, utc(2027, 3, 26, 12, 0), utc(2027, 3, 29, 12, 0)),
		utc(2027, 3, 27, 8, 0), utc(2027, 3, 28, 7, 0), utc(2027, 3, 29, 7, 0))
	assertTimes(t, "09:00 Paris around fall-back",
		dueTimes(t, nine, utc(2027, 10, 29, 12, 0), utc(2027, 11, 1, 12, 0)),
		utc(2027, 10, 30, 7, 0), utc(2027, 10, 31, 8, 0), utc(2027, 11, 1, 8, 0))

	// New York: EST (UTC-5) to EDT (UTC-4) on 2027-03-14, back on 2027-11-07.
	ny := cronSpec("0 9 * * *", "America/New_York")
	assertTimes(t, "09:00 New York around spring-forward",
		dueTimes(t, ny, utc(2027, 3, 13, 0, 0), utc(2027, 3, 15, 23, 0)),
		utc(2027, 3, 13, 14, 0), utc(2027, 3, 14, 13, 0), utc(2027, 3, 15, 13, 0))
	assertTimes(t, "09:00 New York around fall-back",
		dueTimes(t, ny, utc(2027, 11, 6, 0, 0), utc(2027, 11, 8, 23, 0)),
		utc(2027, 11, 6, 13, 0), utc(2027, 11, 7, 14, 0), utc(2027, 11, 8, 14, 0))
}

// 02:30 does not exist in Paris on 2027-03-28 (02:00 CET jumps to 03:00 CEST): robfig/cron steps
// the hour over it, so a job at 02:30 does not run that day at all, rather than running at
// 03:30 or twice the next day.
func TestCronSkipsAWallTimeThatDoesNotExist(t *testing.T) {
	got := dueTimes(t, cronSpec("30 2 * * *", "Europe/Paris"), utc(2027, 3, 26, 12, 0), utc(2027, 3, 30, 12, 0))
	assertTimes(t, "02:30 Paris around spring-forward", got,
		utc(2027, 3, 27, 1, 30), utc(2027, 3, 29, 0, 30), utc(2027, 3, 30, 0, 30))

	// The same in New York, where 02:30 is skipped on 2027-03-14.
	got = dueTimes(t, cronSpec("30 2 * * *", "America/New_York"), utc(2027, 3, 13, 0, 0), utc(2027, 3, 15, 23, 0))
	assertTimes(t, "02:30 New York around spring-forward", got, utc(2027, 3, 13, 7, 30), utc(2027, 3, 15, 6, 30))

	// An hourly job simply has one hour fewer.
	got = dueTimes(t, cronSpec("0 * * * *", "Europe/Paris"), utc(2027, 3, 27, 23, 30), utc(2027, 3, 28, 2, 30))
	assertTimes(t, "hourly Paris around spring-forward", got,
		utc(2027, 3, 28, 0, 0), utc(2027, 3, 28, 1, 0), utc(2027, 3, 28, 2, 0))
}

// 02:30 happens twice in Paris on 2027-10-31 (03:00 CEST goes back to 02:00 CET). robfig/cron
// alone would fire at both; a job at a set hour runs once, at the first.
func TestCronRunsARepeatedWallTimeOnce(t *testing.T) {
	got := dueTimes(t, cronSpec("30 2 * * *", "Europe/Paris"), utc(2027, 10, 29, 12, 0), utc(2027, 11, 1, 12, 0))
	assertTimes(t, "02:30 Paris around fall-back", got,
		utc(2027, 10, 30, 0, 30), utc(2027, 10, 31, 0, 30), utc(2027, 11, 1, 1, 30))

	// Asking from inside the repeated hour, after the first 02:30 ran, goes to the next day.
	if got := (scheduler.Timer{}).Next(cronSpec("30 2 * * *", "Europe/Paris"), utc(2027, 10, 31, 0, 30)); !got.Equal(utc(2027, 11, 1, 1, 30)) {
		t.Fatalf("after the first 02:30: %s", got)
	}

	// Every 20 minutes within the 02:00 hour: the three of the first pass only.
	got = dueTimes(t, cronSpec("*/20 2 * * *", "Europe/Paris"), utc(2027, 10, 30, 12, 0), utc(2027, 10, 31, 12, 0))
	assertTimes(t, "*/20 2 Paris on fall-back day", got, utc(2027, 10, 31, 0, 0), utc(2027, 10, 31, 0, 20), utc(2027, 10, 31, 0, 40))

	// New York repeats 01:00-02:00 on 2027-11-07.
	got = dueTimes(t, cronSpec("30 1 * * *", "America/New_York"), utc(2027, 11, 6, 0, 0), utc(2027, 11, 8, 12, 0))
	assertTimes(t, "01:30 New York around fall-back", got, utc(2027, 11, 6, 5, 30), utc(2027, 11, 7, 5, 30), utc(2027, 11, 8, 6, 30))

	// With "*" as the hour each pass is an hour of its own, and both run.
	got = dueTimes(t, cronSpec("0 * * * *", "Europe/Paris"), utc(2027, 10, 30, 23, 30), utc(2027, 10, 31, 2, 30))
	assertTimes(t, "hourly Paris around fall-back", got,
		utc(2027, 10, 31, 0, 0), utc(2027, 10, 31, 1, 0), utc(2027, 10, 31, 2, 0))
}

func TestIntervalRunsOnAFixedGrid(t *testing.T) {
	var timer scheduler.Timer
	every := domain.ScheduleSpec{Type: domain.ScheduleInterval, IntervalSec: 3600}
	a := timer.Next(every, utc(2027, 5, 1, 10, 17))
	b := timer.Next(every, utc(2027, 5, 1, 10, 59))
	if !a.Equal(utc(2027, 5, 1, 11, 0)) || !b.Equal(a) {
		t.Fatalf("anchored on the epoch, two instances agree on the hour: %s %s", a, b)
	}
	if got := timer.Next(every, utc(2027, 5, 1, 11, 0)); !got.Equal(utc(2027, 5, 1, 12, 0)) {
		t.Fatalf("strictly after a grid point: %s", got)
	}
	// A late fire does not push the grid: the next due time after a due time fired at 11:40
	// is still 12:00.
	if got := timer.Next(every, utc(2027, 5, 1, 11, 40)); !got.Equal(utc(2027, 5, 1, 12, 0)) {
		t.Fatalf("late: %s", got)
	}

	start := time.Date(2027, 5, 1, 10, 7, 30, 0, time.UTC)
	anchored := domain.ScheduleSpec{Type: domain.ScheduleInterval, IntervalSec: 600, StartAt: &start}
	if got := timer.Next(anchored, utc(2027, 4, 1, 0, 0)); !got.Equal(start) {
		t.Fatalf("before the start: the start itself: %s", got)
	}
	if got := timer.Next(anchored, start.Add(-time.Nanosecond)); !got.Equal(start) {
		t.Fatalf("just before the start: %s", got)
	}
	if got := timer.Next(anchored, start); !got.Equal(start.Add(10 * time.Minute)) {
		t.Fatalf("after the start: %s", got)
	}
	x := timer.Next(anchored, utc(2027, 5, 3, 8, 0))
	y := timer.Next(anchored, utc(2027, 5, 3, 8, 4))
	if !x.Equal(time.Date(2027, 5, 3, 8, 7, 30, 0, time.UTC)) || !y.Equal(x) {
		t.Fatalf("anchored on the start: %s %s", x, y)
	}
	// Not across daylight saving: an interval is elapsed time.
	got := scheduler.DueTimes(domain.ScheduleSpec{Type: domain.ScheduleInterval, IntervalSec: 86400}, utc(2027, 3, 27, 12, 0), utc(2027, 3, 30, 12, 0), 10)
	assertTimes(t, "daily interval", got, utc(2027, 3, 28, 0, 0), utc(2027, 3, 29, 0, 0), utc(2027, 3, 30, 0, 0))

	if got := timer.Next(domain.ScheduleSpec{Type: domain.ScheduleInterval}, utc(2027, 1, 1, 0, 0)); !got.IsZero() {
		t.Fatalf("no interval: %s", got)
	}
}

func TestOnceAndEventSchedules(t *testing.T) {
	var timer scheduler.Timer
	at := utc(2027, 6, 1, 12, 0)
	once := domain.ScheduleSpec{Type: domain.ScheduleOnce, RunAt: &at}
	if got := timer.Next(once, utc(2027, 6, 1, 11, 0)); !got.Equal(at) {
		t.Fatalf("future: %s", got)
	}
	if got := timer.Next(once, at); !got.IsZero() {
		t.Fatalf("at its time it is no longer after: %s", got)
	}
	if got := timer.Next(once, utc(2027, 7, 1, 0, 0)); !got.IsZero() {
		t.Fatalf("past: %s", got)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	local := at.In(paris)
	if got := timer.Next(domain.ScheduleSpec{Type: domain.ScheduleOnce, RunAt: &local}, utc(2027, 1, 1, 0, 0)); !got.Equal(at) || got.Location() != time.UTC {
		t.Fatalf("returned in UTC: %s", got)
	}
	if got := timer.Next(domain.ScheduleSpec{Type: domain.ScheduleOnce}, utc(2027, 1, 1, 0, 0)); !got.IsZero() {
		t.Fatalf("no run_at: %s", got)
	}
	event := domain.ScheduleSpec{Type: domain.ScheduleEvent, EventType: "agent.created"}
	if got := timer.Next(event, utc(2027, 1, 1, 0, 0)); !got.IsZero() {
		t.Fatalf("event: %s", got)
	}
	if got := scheduler.DueTimes(event, utc(2027, 1, 1, 0, 0), utc(2028, 1, 1, 0, 0), 10); got != nil {
		t.Fatalf("event due times: %v", got)
	}
}

func TestStartAndEndDatesBoundDueTimes(t *testing.T) {
	var timer scheduler.Timer
	daily := cronSpec("0 9 * * *", "")
	daily.StartAt = ptr(utc(2027, 2, 10, 12, 0))
	daily.EndAt = ptr(utc(2027, 2, 13, 9, 0))
	if got := timer.Next(daily, utc(2027, 1, 1, 0, 0)); !got.Equal(utc(2027, 2, 11, 9, 0)) {
		t.Fatalf("never before the start: %s", got)
	}
	assertTimes(t, "between start and end", dueTimes(t, daily, utc(2027, 1, 1, 0, 0), utc(2027, 12, 31, 0, 0)),
		utc(2027, 2, 11, 9, 0), utc(2027, 2, 12, 9, 0), utc(2027, 2, 13, 9, 0))
	if got := timer.Next(daily, utc(2027, 2, 13, 9, 0)); !got.IsZero() {
		t.Fatalf("past the end: %s", got)
	}

	at := utc(2027, 6, 1, 12, 0)
	once := domain.ScheduleSpec{Type: domain.ScheduleOnce, RunAt: &at, EndAt: ptr(at.Add(-time.Minute))}
	if got := timer.Next(once, utc(2027, 1, 1, 0, 0)); !got.IsZero() {
		t.Fatalf("once after its end: %s", got)
	}
	once = domain.ScheduleSpec{Type: domain.ScheduleOnce, RunAt: &at, StartAt: ptr(at.Add(time.Minute))}
	if got := timer.Next(once, utc(2027, 1, 1, 0, 0)); !got.IsZero() {
		t.Fatalf("once before its start: %s", got)
	}
	onTheStart := domain.ScheduleSpec{Type: domain.ScheduleOnce, RunAt: &at, StartAt: &at}
	if got := timer.Next(onTheStart, utc(2027, 1, 1, 0, 0)); !got.Equal(at) {
		t.Fatalf("once on its start: %s", got)
	}
}

func TestDueTimesBoundsAndMax(t *testing.T) {
	hourly := cronSpec("0 * * * *", "")
	assertTimes(t, "(after, until]", scheduler.DueTimes(hourly, utc(2027, 1, 1, 10, 0), utc(2027, 1, 1, 13, 0), 100),
		utc(2027, 1, 1, 11, 0), utc(2027, 1, 1, 12, 0), utc(2027, 1, 1, 13, 0))
	assertTimes(t, "max", scheduler.DueTimes(hourly, utc(2027, 1, 1, 10, 0), utc(2027, 1, 2, 10, 0), 2),
		utc(2027, 1, 1, 11, 0), utc(2027, 1, 1, 12, 0))
	if got := scheduler.DueTimes(hourly, utc(2027, 1, 1, 10, 0), utc(2027, 1, 1, 10, 59), 100); len(got) != 0 {
		t.Fatalf("none in the window: %v", got)
	}
	if got := scheduler.DueTimes(hourly, utc(2027, 1, 1, 10, 0), utc(2027, 1, 2, 10, 0), 0); got != nil {
		t.Fatalf("max 0: %v", got)
	}
	if got := scheduler.DueTimes(hourly, utc(2027, 1, 1, 13, 0), utc(2027, 1, 1, 10, 0), 100); got != nil {
		t.Fatalf("until before after: %v", got)
	}
	if got := scheduler.DueTimes(cronSpec("0 * * *", ""), utc(2027, 1, 1, 10, 0), utc(2027, 1, 2, 10, 0), 100); got != nil {
		t.Fatalf("invalid cron: %v", got)
	}
}

func TestCheckReportsTimingErrorsWithTheirField(t *testing.T) {
	var timer scheduler.Timer
	for _, s := range []domain.ScheduleSpec{
		cronSpec("0 9 * * 1-5", ""), cronSpec("*/5 * * * *", "Europe/Paris"), cronSpec("@daily", "America/New_York"),
		cronSpec("0 0 1 JAN,jul MON-fri", "UTC"), cronSpec("0 0 29 2 *", ""), cronSpec("  0 9 * * *  ", ""),
		{Type: domain.ScheduleInterval, IntervalSec: 60},
	} {
		if errs := timer.Check(s); len(errs) != 0 {
			t.Errorf("%q %q: %v", s.Cron, s.TimeZone, errs)
		}
	}
	cases := []struct {
		spec  domain.ScheduleSpec
		field string
		msg   string
	}{
		{cronSpec("0 9 * *", ""), "cron", "must have 5 fields (minute hour day-of-month month day-of-week), found 4"},
		{cronSpec("0 0 9 * * *", ""), "cron", "must have 5 fields (minute hour day-of-month month day-of-week), found 6; a seconds field is not supported"},
		{cronSpec("70 9 * * *", ""), "cron", `minute field "70": 70 is above the maximum 59`},
		{cronSpec("0 x * * *", ""), "cron", `hour field "x": "x" is not a number`},
		{cronSpec("0 9 0 * *", ""), "cron", `day-of-month field "0": 0 is below the minimum 1`},
		{cronSpec("0 9 * FOO *", ""), "cron", `month field "FOO": "FOO" is not a number (1-12) or a month name such as JAN`},
		{cronSpec("0 9 * * 5-1", ""), "cron", `day-of-week field "5-1": the range starts after it ends (5 > 1)`},
		{cronSpec("*/0 9 * * *", ""), "cron", `minute field "*/0": the step after / must be a positive number`},
		{cronSpec("0 9 31 2 *", ""), "cron", "never matches a date (the day of the month does not exist in the months named)"},
		{cronSpec("@every 5m", ""), "cron", `@every is not supported; use an interval schedule (type "interval" with interval_sec)`},
		{cronSpec("@reboot", ""), "cron", `unknown descriptor "@reboot"; use five fields or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly`},
		{cronSpec("CRON_TZ=Europe/Paris 0 9 * * *", ""), "cron", "must not name a time zone; set time_zone instead"},
		{cronSpec("TZ=Europe/Paris", ""), "cron", "must not name a time zone; set time_zone instead"},
		{cronSpec("0 9 * * *", "Mars/Olympus"), "time_zone", `unknown time zone "Mars/Olympus"; use an IANA name such as "UTC", "Europe/Paris" or "America/New_York"`},
		{cronSpec("0 9 * * *", "Local"), "time_zone", `unknown time zone "Local"; use an IANA name such as "UTC", "Europe/Paris" or "America/New_York"`},
	}
	for _, c := range cases {
		want := []domain.FieldError{{Field: c.field, Message: c.msg}}
		if got := timer.Check(c.spec); !reflect.DeepEqual(got, want) {
			t.Errorf("%q %q:\n got %q\nwant %q", c.spec.Cron, c.spec.TimeZone, got, want)
		}
		if c.field == "cron" {
			if got := timer.Next(c.spec, utc(2027, 1, 1, 0, 0)); !got.IsZero() {
				t.Errorf("%q: Next of an invalid expression: %s", c.spec.Cron, got)
			}
		}
	}
	both := timer.Check(cronSpec("0 25 * * *", "Nowhere"))
	if len(both) != 2 || both[0].Field != "time_zone" || both[1].Field != "cron" || !strings.Contains(both[1].Message, "25 is above the maximum 23") {
		t.Fatalf("both at once: %q", both)
	}
}
