// Package scheduler is the pure part of schedules: the time arithmetic of due times (timer.go)
// and the JSON Schemas of the actions a schedule runs (actions.go). Nothing here touches the
// database or the network, so every rule is tested on its own and replayed the same way by
// every instance.
//
// A schedule is an event-sourced aggregate (domain.Schedule, stream schedule-<id>) and each of
// its executions a run (domain.ScheduleRun, stream schedule_run-<id>). The domain decides, with
// what this package hands it:
//
//   - domain.ValidateScheduleSpec(spec, Timer{}, CheckAction) checks a whole schedule and lists
//     every problem: the cron expression and time zone (Timer.Check), and the action's config
//     (CheckAction, reported under action_config.<path>).
//   - Timer.Next gives the next due time, which the domain records in its events (a fire names
//     the due time it runs and the one after), so readers never recompute it and instances
//     cannot disagree about it. A time-based fire must name exactly the recorded due time, and
//     its fire key is claimed once, so each due time runs once however many instances race.
//   - DueTimes lists the due times of a window: upcoming runs for a calendar, or the ones that
//     passed while no instance ran, which the missed-run policy then runs or records missed.
//
// Due times, and why they are computed this way:
//
//   - cron expressions have five fields or a descriptor (@hourly, @daily, @weekly, @monthly,
//     @yearly) and are read on the wall clock of the schedule's time zone (UTC when none), so
//     "0 9 * * *" in Europe/Paris stays at nine in the morning across daylight saving changes.
//     A wall time skipped when clocks go forward does not run that day; one repeated when they
//     go back runs once, unless the hour field is "*" (then each pass is an hour of its own).
//   - interval schedules run on a grid anchored on their start date, else on the Unix epoch:
//     every instance computes the same grid, and a late run does not delay the next ones.
//   - once schedules run at their time, and are done after it; event schedules have no due
//     times, they fire when an event of their type is appended to the log.
//   - the start and end dates bound all of them.
//
// Package scheduler/engine is what acts on these decisions: it ticks, claims due fires,
// runs the actions as River jobs and appends their outcomes.
package scheduler
