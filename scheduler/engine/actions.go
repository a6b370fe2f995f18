package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
)

// maxResponseKept bounds what a run keeps of an HTTP response: the result lives in an event.
const maxResponseKept = 16 << 10

// attemptNamespace derives the ids of what an attempt starts (a task, a pipeline run) from the
// run and the attempt, so an attempt redone after a crash finds what it started instead of
// starting it twice.
var attemptNamespace = uuid.MustParse("5c4e0a1d-2f6b-4b52-9c1e-7d3a8e6f0b21")

func attemptID(run *domain.ScheduleRun, what string) string {
	return uuid.NewSHA1(attemptNamespace, []byte(run.ID+"/"+strconv.Itoa(run.Attempt)+"/"+what)).String()
}

// dispatch performs the run's action and returns its result.
func (r *Runner) dispatch(ctx context.Context, run *domain.ScheduleRun) (json.RawMessage, error) {
	switch run.Action {
	case domain.ActionRunTask:
		return r.runTask(ctx, run)
	case domain.ActionExecutePipeline:
		return r.executePipeline(ctx, run)
	case domain.ActionSendNotification:
		return r.sendNotification(ctx, run)
	case domain.ActionCallAPI:
		return r.callAPI(ctx, run)
	}
	return nil, permanent(fmt.Errorf("unknown action %q", run.Action))
}

// owner is who a run acts for: the schedule's owner, with a member's rights.
func owner(run *domain.ScheduleRun) domain.Actor {
	return domain.Actor{ID: run.Owner, Role: domain.RoleMember}
}

// envelope is the envelope of the commands an action sends: as the owner, correlated with the
// run, and marked so that their events never fire an event schedule.
func envelope(run *domain.ScheduleRun) commands.Envelope {
	env := commands.NewEnvelope(owner(run), run.ID)
	env.Context = map[string]string{MetadataScheduleRun: run.ID}
	return env
}

// runTask starts the agent's background task toward the goal and waits for its end: the run
// succeeds when the task completes.
func (r *Runner) runTask(ctx context.Context, run *domain.ScheduleRun) (json.RawMessage, error) {
	var cfg struct {
		AgentID  string `json:"agent_id"`
		Goal     string `json:"goal"`
		MaxSteps int    `json:"max_steps"`
	}
	if err := json.Unmarshal(run.ActionConfig, &cfg); err != nil {
		return nil, permanent(err)
	}
	agent, err := r.Repo.LoadAgent(ctx, cfg.AgentID)
	if err != nil {
		return nil, err
	}
	if !agent.Exists() {
		return nil, permanent(fmt.Errorf("agent %s does not exist", cfg.AgentID))
	}
	if !agent.AccessibleBy(owner(run)) {
		return nil, permanent(fmt.Errorf("agent %s is not the schedule owner's", cfg.AgentID))
	}
	taskID := attemptID(run, "task")
	_, err = r.Bus.Send(ctx, &commands.CreateTask{Envelope: envelope(run), TaskID: taskID,
		AgentID: cfg.AgentID, Goal: cfg.Goal, MaxSteps: cfg.MaxSteps})
	if err != nil && domain.ErrorCode(err) != domain.CodeConflict {
		if domain.ErrorCode(err) == domain.CodeInvalid {
			return nil, permanent(err)
		}
		return nil, err
	}
	for {
		task, events, err := r.Repo.LoadTask(ctx, taskID)
		if err != nil {
			r.abandon(ctx, &commands.CancelTask{Envelope: envelope(run), TaskID: taskID})
			return nil, err
		}
		if task.Finished() {
			out := map[string]any{"task_id": taskID, "status": task.Status, "steps": len(task.Steps)}
			last := events[len(events)-1]
			switch task.Status {
			case domain.TaskStatusCompleted:
				var done domain.TaskCompleted
				_ = json.Unmarshal(last.Payload, &done)
				out["result"] = done.Result
				return result(out)
			case domain.TaskStatusFailed:
				var failed domain.TaskFailed
				_ = json.Unmarshal(last.Payload, &failed)
				return nil, fmt.Errorf("task %s failed (%s): %s", taskID, failed.Reason, failed.Message)
			}
			return nil, fmt.Errorf("task %s was %s", taskID, task.Status)
		}
		if err := r.pause(ctx); err != nil {
			r.abandon(ctx, &commands.CancelTask{Envelope: envelope(run), TaskID: taskID})
			return nil, err
		}
	}
}

// abandon stops what an attempt started when the attempt runs out of time, so that a retry
// does not leave it running beside the next one. A job stopped by shutdown is different: it
// is run again and goes on waiting for the same task or pipeline run, so nothing is stopped.
func (r *Runner) abandon(ctx context.Context, cmd any) {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := r.Bus.Send(cctx, cmd); err != nil && domain.ErrorCode(err) != domain.CodeConflict {
		r.Log.Warn().Err(err).Msg("could not stop what a timed-out schedule attempt started")
	}
}

// executePipeline starts a run of the pipeline and waits for its end: the schedule run
// succeeds when the pipeline run completes.
func (r *Runner) executePipeline(ctx context.Context, run *domain.ScheduleRun) (json.RawMessage, error) {
	var cfg struct {
		PipelineID string          `json:"pipeline_id"`
		Input      json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(run.ActionConfig, &cfg); err != nil {
		return nil, permanent(err)
	}
	input := cfg.Input
	if len(input) == 0 {
		input, _ = json.Marshal(map[string]any{"schedule_id": run.ScheduleID, "schedule_run_id": run.ID, "due_at": run.DueAt, "trigger": run.Trigger})
	}
	pipelineRun := attemptID(run, "pipeline")
	_, err := r.Bus.Send(ctx, &commands.StartPipelineRun{Envelope: envelope(run), RunID: pipelineRun,
		PipelineID: cfg.PipelineID, Input: input})
	switch code := domain.ErrorCode(err); {
	case err == nil, code == domain.CodeConflict:
	case code == domain.CodeNotFound, code == domain.CodeForbidden, code == domain.CodeInvalid:
		return nil, permanent(err)
	default:
		return nil, err
	}
	for {
		pr, _, err := r.Repo.LoadPipelineRun(ctx, pipelineRun)
		if err != nil {
			r.abandon(ctx, &commands.CancelPipelineRun{Envelope: envelope(run), RunID: pipelineRun, PipelineID: cfg.PipelineID,
				Reason: fmt.Sprintf("schedule run %s attempt %d timed out", run.ID, run.Attempt)})
			return nil, err
		}
		if pr.Finished() {
			if pr.Status == domain.PipelineRunStatusCompleted {
				return result(map[string]any{"pipeline_run_id": pipelineRun, "status": pr.Status, "outputs": pr.Outputs})
			}
			msg := fmt.Sprintf("pipeline run %s %s", pipelineRun, pr.Status)
			if pr.Error != "" {
				msg += ": " + pr.Error
			}
			return nil, errors.New(msg)
		}
		if err := r.pause(ctx); err != nil {
			r.abandon(ctx, &commands.CancelPipelineRun{Envelope: envelope(run), RunID: pipelineRun, PipelineID: cfg.PipelineID,
				Reason: fmt.Sprintf("schedule run %s attempt %d timed out", run.ID, run.Attempt)})
			return nil, err
		}
	}
}

func (r *Runner) pause(ctx context.Context) error {
	every := r.PollEvery
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(every):
		return nil
	}
}

// sendNotification posts the notification to the webhook as JSON.
func (r *Runner) sendNotification(ctx context.Context, run *domain.ScheduleRun) (json.RawMessage, error) {
	var cfg struct {
		URL     string            `json:"url"`
		Message string            `json:"message"`
		Payload json.RawMessage   `json:"payload"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(run.ActionConfig, &cfg); err != nil {
		return nil, permanent(err)
	}
	body := map[string]any{"type": "schedule.notification", "schedule_id": run.ScheduleID, "run_id": run.ID,
		"due_at": run.DueAt, "trigger": run.Trigger, "attempt": run.Attempt, "message": cfg.Message}
	if len(cfg.Payload) > 0 {
		body["payload"] = cfg.Payload
	}
	raw, _ := json.Marshal(body)
	status, resp, err := r.send(ctx, http.MethodPost, cfg.URL, cfg.Headers, raw, run)
	if err != nil {
		return nil, err
	}
	if status < 200 || status > 299 {
		return nil, statusError(status, resp)
	}
	return result(map[string]any{"status": status})
}

// callAPI makes the configured request; the statuses in expect_status (2xx by default) are
// success.
func (r *Runner) callAPI(ctx context.Context, run *domain.ScheduleRun) (json.RawMessage, error) {
	var cfg struct {
		URL          string            `json:"url"`
		Method       string            `json:"method"`
		Headers      map[string]string `json:"headers"`
		Body         json.RawMessage   `json:"body"`
		ExpectStatus []int             `json:"expect_status"`
	}
	if err := json.Unmarshal(run.ActionConfig, &cfg); err != nil {
		return nil, permanent(err)
	}
	if cfg.Method == "" {
		cfg.Method = http.MethodGet
	}
	status, resp, err := r.send(ctx, cfg.Method, cfg.URL, cfg.Headers, cfg.Body, run)
	if err != nil {
		return nil, err
	}
	ok := status >= 200 && status <= 299
	if len(cfg.ExpectStatus) > 0 {
		ok = slices.Contains(cfg.ExpectStatus, status)
	}
	if !ok {
		return nil, statusError(status, resp)
	}
	out := map[string]any{"status": status}
	var decoded any
	if json.Unmarshal(resp, &decoded) == nil {
		out["body"] = decoded
	} else {
		out["body"] = strings.ToValidUTF8(string(resp), "\uFFFD")
	}
	return result(out)
}

// send makes one HTTP request and reads at most maxResponseKept bytes of the answer.
func (r *Runner) send(ctx context.Context, method, url string, headers map[string]string, body []byte, run *domain.ScheduleRun) (int, []byte, error) {
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, permanent(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if rd != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "GatheRing-scheduler/1.0")
	req.Header.Set("X-Gathering-Schedule", run.ScheduleID)
	req.Header.Set("X-Gathering-Run", run.ID)
	res, err := r.HTTP.Do(req)
	if err != nil {
		var blocked interface{ Blocked() bool }
		if errors.As(err, &blocked) && blocked.Blocked() {
			return 0, nil, permanent(err)
		}
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxResponseKept))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the response: %w", err)
	}
	return res.StatusCode, raw, nil
}

// statusError: 408, 429 and 5xx may pass; other statuses would be answered the same again.
func statusError(status int, body []byte) error {
	excerpt := strings.TrimSpace(string(body))
	if len(excerpt) > 300 {
		excerpt = excerpt[:300] + "…"
	}
	err := fmt.Errorf("HTTP %d %s: %s", status, http.StatusText(status), excerpt)
	if status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500 {
		return err
	}
	return permanent(err)
}
