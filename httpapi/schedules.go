package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/projections"
	"github.com/gathering/gathering/scheduler"
)

// scheduleInput is the body of POST /schedules and PUT /schedules/{id} (the whole spec). Times
// are read as text so that a malformed one is reported at its field.
type scheduleInput struct {
	Name          string          `json:"name"`
	Description   string          `json:"description"`
	Type          string          `json:"type"`
	Cron          string          `json:"cron"`
	TimeZone      string          `json:"time_zone"`
	IntervalSec   int             `json:"interval_sec"`
	RunAt         *string         `json:"run_at"`
	EventType     string          `json:"event_type"`
	StartAt       *string         `json:"start_at"`
	EndAt         *string         `json:"end_at"`
	MaxExecutions int             `json:"max_executions"`
	Action        string          `json:"action"`
	ActionConfig  json.RawMessage `json:"action_config"`
	MaxRetries    int             `json:"max_retries"`
	RetryDelaySec int             `json:"retry_delay_sec"`
	TimeoutSec    int             `json:"timeout_sec"`
	MissedPolicy  string          `json:"missed_policy"`
}

func (in scheduleInput) spec() (domain.ScheduleSpec, error) {
	var v domain.Validation
	parse := func(field string, raw *string) *time.Time {
		if raw == nil {
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, *raw)
		if err != nil {
			v.Add(field, "must be an RFC 3339 time such as 2027-01-31T09:00:00Z (got %q)", *raw)
			return nil
		}
		return &t
	}
	s := domain.ScheduleSpec{Name: in.Name, Description: in.Description, Type: in.Type, Cron: in.Cron, TimeZone: in.TimeZone,
		IntervalSec: in.IntervalSec, RunAt: parse("run_at", in.RunAt), EventType: in.EventType, StartAt: parse("start_at", in.StartAt),
		EndAt: parse("end_at", in.EndAt), MaxExecutions: in.MaxExecutions, Action: in.Action, ActionConfig: in.ActionConfig,
		MaxRetries: in.MaxRetries, RetryDelaySec: in.RetryDelaySec, TimeoutSec: in.TimeoutSec, MissedPolicy: in.MissedPolicy}
	return s, v.Err()
}

// checkSchedule validates the spec as the command will, plus that the agent or pipeline its
// action names belongs to the schedule's owner (its runs act with the owner's rights, whoever
// set the schedule up), and returns every problem at once.
func (s *Server) checkSchedule(c *fiber.Ctx, in scheduleInput, owner string) (domain.ScheduleSpec, error) {
	spec, perr := in.spec()
	var fields []domain.FieldError
	var de *domain.Error
	if errors.As(perr, &de) {
		fields = append(fields, de.Fields...)
	}
	norm := domain.NormalizeScheduleSpec(spec)
	if err := domain.ValidateScheduleSpec(norm, scheduler.Timer{}, scheduler.CheckAction); errors.As(err, &de) {
		fields = append(fields, de.Fields...)
	}
	var ref struct {
		AgentID    string `json:"agent_id"`
		PipelineID string `json:"pipeline_id"`
	}
	if json.Unmarshal(norm.ActionConfig, &ref) == nil {
		if norm.Action == domain.ActionRunTask && uuid.Validate(ref.AgentID) == nil {
			if a, err := s.deps.Agents.Get(c.UserContext(), ref.AgentID); err != nil || a.CreatedBy != owner {
				fields = append(fields, domain.FieldError{Field: "action_config.agent_id", Message: "the schedule's owner has no agent with this id"})
			}
		}
		if norm.Action == domain.ActionExecutePipeline && uuid.Validate(ref.PipelineID) == nil {
			if p, err := s.deps.Pipelines.Get(c.UserContext(), ref.PipelineID); err != nil || p.Owner != owner {
				fields = append(fields, domain.FieldError{Field: "action_config.pipeline_id", Message: "the schedule's owner has no pipeline with this id"})
			}
		}
	}
	if len(fields) > 0 {
		sort.SliceStable(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
		msg := "the schedule is not valid"
		return spec, &domain.Error{Code: domain.CodeInvalid, Message: msg, Fields: fields}
	}
	return spec, nil
}

func (s *Server) visibleSchedule(c *fiber.Ctx) (projections.ScheduleView, error) {
	v, err := s.deps.Schedules.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return v, err
	}
	if p, _ := principal(c); !p.Actor().IsAdmin() && v.Owner != p.UserID {
		return v, domain.Errorf(domain.CodeForbidden, "this schedule is not yours")
	}
	return v, nil
}

func (s *Server) createSchedule(c *fiber.Ctx) error {
	var in scheduleInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	spec, err := s.checkSchedule(c, in, p.UserID)
	if err != nil {
		return err
	}
	env := envelope(c)
	if err := withIdempotency(c, &env); err != nil {
		return err
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.CreateSchedule{Envelope: env, ScheduleID: uuid.NewString(), Spec: spec})
	if err != nil {
		return err
	}
	if res.Replayed {
		return s.replayResponse(c, env.IdempotencyKey, res)
	}
	return s.respondWithSchedule(c, env, res, http.StatusCreated)
}

func (s *Server) updateSchedule(c *fiber.Ctx) error {
	var in scheduleInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	current, err := s.visibleSchedule(c)
	if err != nil {
		return err
	}
	spec, err := s.checkSchedule(c, in, current.Owner)
	if err != nil {
		return err
	}
	env := envelope(c)
	if err := withIfMatch(c, &env); err != nil {
		return err
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.UpdateSchedule{Envelope: env, ScheduleID: c.Params("id"), Spec: spec})
	if err != nil {
		return err
	}
	return s.respondWithSchedule(c, env, res, http.StatusOK)
}

// scheduleAction pauses, resumes or deletes a schedule.
func (s *Server) scheduleAction(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if _, err := s.visibleSchedule(c); err != nil {
			return err
		}
		env := envelope(c)
		if err := withIfMatch(c, &env); err != nil {
			return err
		}
		res, err := s.deps.Bus.Send(c.UserContext(), &commands.ScheduleAction{Envelope: env, ScheduleID: c.Params("id"), Action: action})
		if err != nil {
			return err
		}
		if action == "delete" {
			if err := s.waitFor(c, "schedules", res); err != nil {
				return err
			}
			return c.SendStatus(http.StatusNoContent)
		}
		if res.Appended == 0 {
			res.StreamID = domain.ScheduleStreamID(c.Params("id"))
		}
		return s.respondWithSchedule(c, env, res, http.StatusOK)
	}
}

func (s *Server) getSchedule(c *fiber.Ctx) error {
	v, err := s.visibleSchedule(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(v.Version))
	return c.JSON(v)
}

var scheduleStatuses = map[string]bool{"active": true, "paused": true, "done": true}

func (s *Server) listSchedules(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 50, 1, 200)
	if err != nil {
		return err
	}
	f := projections.ScheduleFilter{Status: c.Query("status"), After: c.Query("cursor"), Limit: limit + 1}
	if f.Status != "" && !scheduleStatuses[f.Status] {
		return invalid("status", "must be active, paused or done")
	}
	if f.After != "" && uuid.Validate(f.After) != nil {
		return invalid("cursor", "is not a cursor returned by this API")
	}
	if p, _ := principal(c); !p.Actor().IsAdmin() {
		f.Owner = p.UserID
	} else {
		f.Owner = c.Query("owner")
	}
	items, err := s.deps.Schedules.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(keysetPage(items, limit, func(v projections.ScheduleView) string { return v.ID }))
}

// triggerSchedule runs the schedule now (a manual fire); its due times are left alone.
func (s *Server) triggerSchedule(c *fiber.Ctx) error {
	v, err := s.visibleSchedule(c)
	if err != nil {
		return err
	}
	env := envelope(c)
	if err := withIdempotency(c, &env); err != nil {
		return err
	}
	runID := uuid.NewString()
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.FireSchedule{Envelope: env, ScheduleID: v.ID, RunID: runID,
		Trigger: domain.TriggerManual, FireKey: "manual:" + runID, DueAt: time.Now().UTC()})
	if err != nil {
		return err
	}
	if res.Replayed {
		return s.replayResponse(c, env.IdempotencyKey, res)
	}
	if err := s.waitFor(c, "schedules", res); err != nil {
		return err
	}
	run, err := s.deps.Schedules.Run(c.UserContext(), runID)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/schedules/"+v.ID+"/runs/"+runID)
	return s.respondJSON(c, env, run, run.Version, http.StatusAccepted)
}

// timeWindow reads ?from= and ?to= (RFC 3339); the defaults are now and 30 days after from.
func timeWindow(c *fiber.Ctx, defFrom time.Time, defSpan time.Duration) (time.Time, time.Time, error) {
	from, to := defFrom, time.Time{}
	if raw := c.Query("from"); raw != "" {
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return from, to, invalid("from", "must be an RFC 3339 time")
		}
		from = t
	}
	to = from.Add(defSpan)
	if raw := c.Query("to"); raw != "" {
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return from, to, invalid("to", "must be an RFC 3339 time")
		}
		to = t
	}
	if !to.After(from) {
		return from, to, invalid("to", "must be after from")
	}
	if to.Sub(from) > 366*24*time.Hour {
		return from, to, invalid("to", "the window is at most 366 days")
	}
	return from.UTC(), to.UTC(), nil
}

var scheduleRunStatuses = map[string]bool{"pending": true, "running": true, "retrying": true, "succeeded": true, "failed": true}

func (s *Server) listScheduleRuns(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	v, err := s.visibleSchedule(c)
	if err != nil {
		return err
	}
	f := projections.ScheduleRunFilter{ScheduleID: v.ID, Status: c.Query("status"), Before: c.Query("cursor"), Limit: limit + 1}
	if f.Status != "" && !scheduleRunStatuses[f.Status] {
		return invalid("status", "must be pending, running, retrying, succeeded or failed")
	}
	if f.Before != "" && uuid.Validate(f.Before) != nil {
		return invalid("cursor", "is not a cursor returned by this API")
	}
	if c.Query("from") != "" || c.Query("to") != "" {
		from, to, err := timeWindow(c, time.Now().Add(-30*24*time.Hour), 30*24*time.Hour)
		if err != nil {
			return err
		}
		f.From, f.To = &from, &to
	}
	items, err := s.deps.Schedules.Runs(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(keysetPage(items, limit, func(v projections.ScheduleRunView) string { return v.ID }))
}

func (s *Server) getScheduleRun(c *fiber.Ctx) error {
	v, err := s.visibleSchedule(c)
	if err != nil {
		return err
	}
	run, err := s.deps.Schedules.Run(c.UserContext(), c.Params("run"))
	if err != nil {
		return err
	}
	if run.ScheduleID != v.ID {
		return domain.Errorf(domain.CodeNotFound, "run not found")
	}
	c.Set(fiber.HeaderETag, etag(run.Version))
	return c.JSON(run)
}

// upcoming is one future due time of a schedule, for calendars.
type upcoming struct {
	ScheduleID string    `json:"schedule_id"`
	Name       string    `json:"name"`
	Action     string    `json:"action"`
	DueAt      time.Time `json:"due_at"`
}

// upcomingOf lists a schedule's due times in the window, computed from its spec and where it
// stands (nothing for a paused, done or event schedule).
func upcomingOf(v projections.ScheduleView, from, to time.Time, max int) []upcoming {
	out := []upcoming{}
	if v.Status != string(domain.ScheduleStatusActive) || v.NextDueAt == nil {
		return out
	}
	after := from.Add(-time.Nanosecond)
	if v.NextDueAt.After(after) {
		after = v.NextDueAt.Add(-time.Nanosecond)
	}
	for _, d := range scheduler.DueTimes(v.Spec, after, to, max) {
		out = append(out, upcoming{ScheduleID: v.ID, Name: v.Name, Action: v.Action, DueAt: d})
	}
	return out
}

func (s *Server) scheduleUpcoming(c *fiber.Ctx) error {
	v, err := s.visibleSchedule(c)
	if err != nil {
		return err
	}
	from, to, err := timeWindow(c, time.Now(), 30*24*time.Hour)
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"from": from, "to": to, "items": upcomingOf(v, from, to, limit)})
}

// scheduleCalendar gives, for the caller's schedules, the runs due in the window that already
// happened and the due times still to come: what a calendar view shows.
func (s *Server) scheduleCalendar(c *fiber.Ctx) error {
	now := time.Now()
	from, to, err := timeWindow(c, now.Add(-7*24*time.Hour), 37*24*time.Hour)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	owner := ""
	if !p.Actor().IsAdmin() {
		owner = p.UserID
	}
	schedules, err := s.deps.Schedules.List(c.UserContext(), projections.ScheduleFilter{Owner: owner, Limit: 200})
	if err != nil {
		return err
	}
	ups := []upcoming{}
	for _, v := range schedules {
		start := from
		if start.Before(now) {
			start = now
		}
		if to.After(start) {
			ups = append(ups, upcomingOf(v, start, to, 500)...)
		}
	}
	sort.Slice(ups, func(i, j int) bool { return ups[i].DueAt.Before(ups[j].DueAt) })
	if len(ups) > 2000 {
		ups = ups[:2000]
	}
	runs, err := s.deps.Schedules.Runs(c.UserContext(), projections.ScheduleRunFilter{Owner: owner, From: &from, To: &to, Limit: 500})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"from": from, "to": to, "upcoming": ups, "runs": runs})
}

// respondWithSchedule answers a write with the schedule as the read model shows it once it has
// applied the write.
func (s *Server) respondWithSchedule(c *fiber.Ctx, env commands.Envelope, res commands.Result, status int) error {
	if res.Appended > 0 {
		if err := s.waitFor(c, "schedules", res); err != nil {
			return err
		}
	}
	id := res.StreamID[len("schedule-"):]
	v, err := s.deps.Schedules.Get(c.UserContext(), id)
	if err != nil {
		return err
	}
	if status == http.StatusCreated {
		c.Set(fiber.HeaderLocation, "/schedules/"+id)
	}
	return s.respondJSON(c, env, v, v.Version, status)
}

// scheduleFeed streams a schedule's fires and its runs' progress.
func (s *Server) scheduleFeed() fiber.Handler {
	ws := websocket.New(func(conn *websocket.Conn) {
		s.serveFeed(conn, []string{"schedules:" + conn.Params("id")}, nil)
	}, wsConfig)
	return func(c *fiber.Ctx) error {
		if _, err := s.visibleSchedule(c); err != nil {
			return err
		}
		return ws(c)
	}
}
