package scheduler

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	// Embedded so zone names resolve the same on a minimal container image without
	// /usr/share/zoneinfo as on a developer machine: a schedule valid on one must fire on both.
	_ "time/tzdata"

	"github.com/gathering/gathering/domain"
	"github.com/robfig/cron/v3"
)

// Timer is the scheduler's time arithmetic; it is the domain's ScheduleTimer.
type Timer struct{}

var _ domain.ScheduleTimer = Timer{}

// Seconds are not offered: a schedule's runs are jobs, and a due time every second would flood
// the queue. @every is not offered either: its grid starts whenever the process parsed it, so
// instances would disagree; interval schedules anchor theirs.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

var cronFieldNames = [5]string{"minute", "hour", "day-of-month", "month", "day-of-week"}

// Check reports what is wrong with the spec's timing: field "cron" for the expression,
// "time_zone" for the zone.
func (Timer) Check(s domain.ScheduleSpec) []domain.FieldError {
	var out []domain.FieldError
	if _, err := loadZone(s.TimeZone); err != nil {
		out = append(out, domain.FieldError{Field: "time_zone", Message: err.Error()})
	}
	if s.Type == domain.ScheduleCron {
		if _, err := parseCron(s.Cron); err != nil {
			out = append(out, domain.FieldError{Field: "cron", Message: err.Error()})
		}
	}
	return out
}

// Next returns the first due time strictly after after, in UTC, or the zero time when there is
// none: a once schedule already past, a time past EndAt, an event schedule, or a spec that does
// not pass Check.
func (Timer) Next(s domain.ScheduleSpec, after time.Time) time.Time {
	next, ok := stepper(s)
	if !ok {
		return time.Time{}
	}
	return next(after)
}

// DueTimes lists the due times in (after, until], oldest first, at most max of them: the
// runs a calendar shows in a window, or the ones missed while no instance ran.
func DueTimes(s domain.ScheduleSpec, after, until time.Time, max int) []time.Time {
	next, ok := stepper(s)
	if !ok || max <= 0 {
		return nil
	}
	var out []time.Time
	for t := next(after); !t.IsZero() && !t.After(until) && len(out) < max; t = next(t) {
		out = append(out, t)
	}
	return out
}

// stepper returns the spec's "next due time after" function, with the start and end dates
// applied, so a list of due times parses the spec once.
func stepper(s domain.ScheduleSpec) (func(after time.Time) time.Time, bool) {
	var next func(time.Time) time.Time
	switch s.Type {
	case domain.ScheduleCron:
		loc, err := loadZone(s.TimeZone)
		if err != nil {
			return nil, false
		}
		sched, err := parseCron(s.Cron)
		if err != nil {
			return nil, false
		}
		next = func(after time.Time) time.Time { return nextCron(sched, loc, after) }
	case domain.ScheduleInterval:
		if s.IntervalSec <= 0 {
			return nil, false
		}
		anchor := time.Unix(0, 0).UTC()
		if s.StartAt != nil {
			anchor = s.StartAt.UTC()
		}
		next = func(after time.Time) time.Time {
			return nextOnGrid(anchor, time.Duration(s.IntervalSec)*time.Second, after)
		}
	case domain.ScheduleOnce:
		if s.RunAt == nil {
			return nil, false
		}
		runAt := s.RunAt.UTC()
		next = func(after time.Time) time.Time {
			if runAt.After(after) {
				return runAt
			}
			return time.Time{}
		}
	default:
		return nil, false
	}
	return func(after time.Time) time.Time {
		if s.StartAt != nil && after.Before(s.StartAt.Add(-time.Nanosecond)) {
			after = s.StartAt.Add(-time.Nanosecond)
		}
		t := next(after)
		if t.IsZero() || (s.EndAt != nil && t.After(*s.EndAt)) {
			return time.Time{}
		}
		return t.UTC()
	}, true
}

// nextOnGrid returns the smallest anchor + k*every strictly after after: every instance
// computes the same grid, and a late fire does not push the following ones later.
func nextOnGrid(anchor time.Time, every time.Duration, after time.Time) time.Time {
	if after.Before(anchor) {
		return anchor
	}
	elapsed := after.Sub(anchor)
	if elapsed > time.Duration(1<<63-1)-every {
		return time.Time{} // centuries away: a Duration cannot reach the next point
	}
	return anchor.Add((elapsed/every + 1) * every)
}

// nextCron evaluates the expression on the wall clock of loc. When clocks go back, the wall
// times of the hour before the change come round again; a job at a set hour ("30 2 * * *")
// runs at the first of the two and not again, as cron does. A job whose hour field is "*" runs
// in both passes, since each of them is an hour of its own.
//
// When clocks go forward, wall times that do not exist are skipped: robfig/cron steps the hour
// over them, so "30 2 * * *" does not run on that day at all.
func nextCron(sched cron.Schedule, loc *time.Location, after time.Time) time.Time {
	spec, _ := sched.(*cron.SpecSchedule)
	everyHour := spec != nil && spec.Hour&(1<<63) != 0 // robfig's star bit: the field was "*"
	t := after.In(loc)
	// A repeated stretch is at most a few hours long, so few turns are ever needed.
	for range 1000 {
		t = sched.Next(t)
		if t.IsZero() {
			return t
		}
		end, repeated := repeatedWallTime(t)
		if !repeated || everyHour {
			return t
		}
		t = end.Add(-time.Nanosecond)
	}
	return time.Time{}
}

// repeatedWallTime reports whether t's wall clock reading was already shown before the clocks
// last went back, and when that repeated stretch ends.
func repeatedWallTime(t time.Time) (end time.Time, repeated bool) {
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return time.Time{}, false
	}
	_, before := start.Add(-time.Nanosecond).Zone()
	_, now := t.Zone()
	back := time.Duration(before-now) * time.Second
	if back <= 0 {
		return time.Time{}, false
	}
	end = start.Add(back)
	return end, t.Before(end)
}

func loadZone(name string) (*time.Location, error) {
	// "Local" is accepted by time.LoadLocation but is the server's zone: a schedule would
	// fire at different times on differently configured instances.
	if name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q; use an IANA name such as \"UTC\", \"Europe/Paris\" or \"America/New_York\"", name)
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q; use an IANA name such as \"UTC\", \"Europe/Paris\" or \"America/New_York\"", name)
	}
	zones.Store(name, loc)
	return loc, nil
}

// zones keeps the zones loaded: time.LoadLocation reads and parses the zone's file on every
// call, and the ticker asks for due times every few seconds.
var zones sync.Map

var descriptors = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// parseCron parses a five-field expression or a descriptor, and words robfig/cron's errors
// for the person who typed the expression: which field, and what is wrong with it.
func parseCron(expr string) (cron.Schedule, error) {
	expr = strings.TrimSpace(expr)
	upper := strings.ToUpper(expr)
	switch {
	case expr == "":
		return nil, fmt.Errorf("is required (for example \"0 9 * * 1-5\")")
	case strings.HasPrefix(upper, "TZ=") || strings.HasPrefix(upper, "CRON_TZ="):
		return nil, fmt.Errorf("must not name a time zone; set time_zone instead")
	case expr == "@every" || strings.HasPrefix(expr, "@every "):
		return nil, fmt.Errorf("@every is not supported; use an interval schedule (type \"interval\" with interval_sec)")
	case strings.HasPrefix(expr, "@"):
		for _, d := range descriptors {
			if expr == d {
				return cronParser.Parse(expr)
			}
		}
		return nil, fmt.Errorf("unknown descriptor %q; use five fields or one of %s", expr, strings.Join(descriptors, ", "))
	}
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		msg := fmt.Sprintf("must have 5 fields (minute hour day-of-month month day-of-week), found %d", len(fields))
		if len(fields) == 6 {
			msg += "; a seconds field is not supported"
		}
		return nil, fmt.Errorf("%s", msg)
	}
	// robfig/cron does not say which field it choked on; parsing each one alone, with the others
	// left open, does.
	for i, f := range fields {
		alone := []string{"*", "*", "*", "*", "*"}
		alone[i] = f
		if _, err := cronParser.Parse(strings.Join(alone, " ")); err != nil {
			return nil, fmt.Errorf("%s field %q: %s", cronFieldNames[i], f, cronFieldMessage(err.Error(), i))
		}
	}
	sched, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%s", cronFieldMessage(err.Error(), -1))
	}
	// A date that never comes (31 February) would leave the schedule never due; the leap day
	// of 2004 is within robfig/cron's five-year search from this reference.
	if sched.Next(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("never matches a date (the day of the month does not exist in the months named)")
	}
	return sched, nil
}

var (
	reNotNumber   = regexp.MustCompile(`^failed to parse int from (\S*): `)
	reBelowMin    = regexp.MustCompile(`^beginning of range \((\d+)\) below minimum \((\d+)\)`)
	reAboveMax    = regexp.MustCompile(`^end of range \((\d+)\) above maximum \((\d+)\)`)
	reBackwards   = regexp.MustCompile(`^beginning of range \((\d+)\) beyond end of range \((\d+)\)`)
	reZeroStep    = regexp.MustCompile(`^step of range should be a positive number`)
	reTooMany     = regexp.MustCompile(`^too many (hyphens|slashes)`)
	reTrailingArg = regexp.MustCompile(`: [^:]*$`)
)

// cronFieldMessage rewrites one robfig/cron parse error; field is the index of the field it
// concerns (-1: unknown).
func cronFieldMessage(msg string, field int) string {
	if m := reNotNumber.FindStringSubmatch(msg); m != nil {
		switch field {
		case 3:
			return fmt.Sprintf("%q is not a number (1-12) or a month name such as JAN", m[1])
		case 4:
			return fmt.Sprintf("%q is not a number (0-6, Sunday is 0) or a day name such as MON", m[1])
		}
		return fmt.Sprintf("%q is not a number", m[1])
	}
	if m := reBelowMin.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s is below the minimum %s", m[1], m[2])
	}
	if m := reAboveMax.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s is above the maximum %s", m[1], m[2])
	}
	if m := reBackwards.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("the range starts after it ends (%s > %s)", m[1], m[2])
	}
	if reZeroStep.MatchString(msg) {
		return "the step after / must be a positive number"
	}
	if m := reTooMany.FindStringSubmatch(msg); m != nil {
		return "has too many " + m[1]
	}
	return reTrailingArg.ReplaceAllString(msg, "")
}
