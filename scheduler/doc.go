// Package scheduler will run cron, interval, one-off and event-triggered schedules exactly once
// per due time across instances (issue 8). It is empty in this build: nothing schedules work
// yet. Its design is fixed by the core it will sit on: a schedule is an event-sourced aggregate,
// a due run is claimed through a unique (schedule, due time) row plus an advisory lock, the
// action runs as a leased job outside any transaction, and its outcome is appended as events.
package scheduler
