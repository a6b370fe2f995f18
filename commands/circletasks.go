package commands

import (
	"context"
	"database/sql"
	"errors"

	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

type CreateCircleTask struct {
	Envelope
	TaskID string                `json:"task_id"`
	Spec   domain.CircleTaskSpec `json:"spec"`
}

// CircleTaskAction is one step on an existing task of a circle; CircleID must be the task's
// circle (a task is addressed through its circle).
type CircleTaskAction struct {
	Envelope
	CircleID string `json:"circle_id"`
	TaskID   string `json:"task_id"`
	// Action is route, claim, refuse, submit, review, cancel, claim_file or release_file.
	Action   string                `json:"action"`
	AgentID  string                `json:"agent_id,omitempty"`
	Text     string                `json:"text,omitempty"` // the result, the comments or the reason
	Decision domain.ReviewDecision `json:"decision,omitempty"`
	Path     string                `json:"path,omitempty"`
}

// CircleTasks holds the circle task use cases.
type CircleTasks struct {
	repo *Repository
	q    *dbq.Queries
}

// RegisterCircleTasks adds the circle task handlers to the bus.
func RegisterCircleTasks(b *Bus, repo *Repository) *CircleTasks {
	t := &CircleTasks{repo: repo, q: dbq.New()}
	handle(b, "circle_tasks.create", t.Create)
	handle(b, "circle_tasks.act", t.Act)
	return t
}

func newCircleTask() *domain.CircleTask { return &domain.CircleTask{} }

func circleTaskChange(taskID, circleID, agentID string, env Envelope) change {
	// The circle's id (and the agent's) in the metadata put every step on the circle's feed
	// and the agent's.
	ctx := map[string]string{"circle_id": circleID}
	for k, v := range env.Context {
		ctx[k] = v
	}
	if agentID != "" {
		ctx["agent_id"] = agentID
	}
	env.Context = ctx
	return change{streamID: domain.CircleTaskStreamID(taskID), streamType: domain.StreamTypeCircleTask, env: env}
}

// LoadCircle rebuilds a circle from its stream.
func (r *Repository) LoadCircle(ctx context.Context, id string) (*domain.Circle, error) {
	c, _, err := loadAggregate(ctx, r, domain.CircleStreamID(id), newCircle)
	return c, err
}

// LoadCircleTask rebuilds a circle task and returns its events (its history).
func (r *Repository) LoadCircleTask(ctx context.Context, id string) (*domain.CircleTask, []eventlog.Event, error) {
	return loadAggregate(ctx, r, domain.CircleTaskStreamID(id), newCircleTask)
}

// ranking scores the circle's members for a task. Membership comes from the circle's stream;
// workloads and records from the read model, which may trail by a few milliseconds: routing is
// a best effort that a person can override, never a correctness rule.
func (t *CircleTasks) ranking(ctx context.Context, circle *domain.Circle, required []string) ([]domain.RouteScore, error) {
	stats, err := t.stats(ctx, circle)
	if err != nil {
		return nil, err
	}
	cands := make([]domain.Candidate, 0, len(circle.Members))
	for _, m := range circle.Members {
		s := stats[m.AgentID]
		cands = append(cands, domain.Candidate{AgentID: m.AgentID, Role: m.Role, Competencies: m.Competencies,
			Workload: int(s.Workload), Approved: int(s.Approved), Reviewed: int(s.Reviewed)})
	}
	return domain.RankCandidates(required, cands), nil
}

func (t *CircleTasks) stats(ctx context.Context, circle *domain.Circle) (map[string]dbq.AgentTaskStatsRow, error) {
	ids := make([]uuid.UUID, 0, len(circle.Members))
	for id := range circle.Members {
		if u, err := uuid.Parse(id); err == nil {
			ids = append(ids, u)
		}
	}
	rows, err := t.q.AgentTaskStats(ctx, t.repo.db, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]dbq.AgentTaskStatsRow, len(rows))
	for _, r := range rows {
		out[r.AgentID.String()] = r
	}
	return out, nil
}

func (t *CircleTasks) reviewer(ctx context.Context, circle *domain.Circle, author string) (string, error) {
	stats, err := t.stats(ctx, circle)
	if err != nil {
		return "", err
	}
	loads := make([]domain.ReviewLoad, 0, len(circle.Members))
	for _, m := range circle.Members {
		loads = append(loads, domain.ReviewLoad{AgentID: m.AgentID, Role: m.Role, Pending: int(stats[m.AgentID].PendingReviews)})
	}
	return domain.PickReviewer(author, loads), nil
}

// runningCircle loads the circle a task belongs to; new work needs it running.
func (t *CircleTasks) runningCircle(ctx context.Context, id string) (*domain.Circle, error) {
	circle, err := t.repo.LoadCircle(ctx, id)
	if err != nil {
		return nil, err
	}
	if circle.Version == 0 {
		return nil, &domain.Error{Code: domain.CodeInvalid, Message: "circle: no such circle",
			Fields: []domain.FieldError{{Field: "circle", Message: "no such circle"}}}
	}
	if circle.Status != domain.CircleStatusRunning {
		return nil, domain.Errorf(domain.CodeConflict, "the circle is %s; start it first", circle.Status)
	}
	return circle, nil
}

func (t *CircleTasks) Create(ctx context.Context, cmd *CreateCircleTask) (Result, error) {
	circle, err := t.runningCircle(ctx, cmd.Spec.CircleID)
	if err != nil {
		return Result{}, err
	}
	return execute(ctx, t.repo, circleTaskChange(cmd.TaskID, cmd.Spec.CircleID, "", cmd.Envelope), newCircleTask,
		func(agg *domain.CircleTask) ([]domain.Event, error) {
			// A dry run validates the input and normalizes the competencies routing matches on.
			dry, err := (&domain.CircleTask{}).Create(cmd.actor(), cmd.TaskID, cmd.Spec, nil)
			if err != nil {
				return nil, err
			}
			ranking, err := t.ranking(ctx, circle, dry[0].(*domain.CircleTaskCreated).Spec.RequiredCompetencies)
			if err != nil {
				return nil, err
			}
			return agg.Create(cmd.actor(), cmd.TaskID, cmd.Spec, ranking)
		})
}

var errFileTaken = errors.New("file taken")

// Act applies one step to a task.
func (t *CircleTasks) Act(ctx context.Context, cmd *CircleTaskAction) (Result, error) {
	if cmd.Action == "claim_file" || cmd.Action == "release_file" {
		p, err := domain.CleanTaskPath(cmd.Path)
		if err != nil {
			return Result{}, err
		}
		cmd.Path = p
	}
	ch := circleTaskChange(cmd.TaskID, cmd.CircleID, cmd.AgentID, cmd.Envelope)
	var holder dbq.CircleFileHolderRow
	ch.alsoInTx = func(ctx context.Context, tx *sql.Tx, appended []eventlog.Event) error {
		return t.trackFiles(ctx, tx, cmd, appended, &holder)
	}
	res, err := execute(ctx, t.repo, ch, newCircleTask, func(agg *domain.CircleTask) ([]domain.Event, error) {
		if agg.Version == 0 || agg.Spec.CircleID != cmd.CircleID {
			return nil, domain.Errorf(domain.CodeNotFound, "task %s not found in this circle", cmd.TaskID)
		}
		return t.decide(ctx, cmd, agg)
	})
	if !errors.Is(err, errFileTaken) {
		return res, err
	}
	// Someone else holds the path: record the conflict on this task, then refuse the claim.
	ch.alsoInTx = nil
	res, err = execute(ctx, t.repo, ch, newCircleTask, func(agg *domain.CircleTask) ([]domain.Event, error) {
		return agg.FileConflict(cmd.AgentID, cmd.Path, holder.TaskID.String(), holder.AgentID.String())
	})
	if err != nil {
		return res, err
	}
	// The result goes back with the error, so the caller can wait for the recorded conflict.
	msg := "is being worked on by agent " + holder.AgentID.String() + " for task " + holder.TaskID.String()
	return res, &domain.Error{Code: domain.CodeConflict, Message: "path: " + cmd.Path + " " + msg,
		Fields: []domain.FieldError{{Field: "path", Message: msg}}}
}

func (t *CircleTasks) decide(ctx context.Context, cmd *CircleTaskAction, agg *domain.CircleTask) ([]domain.Event, error) {
	actor := cmd.actor()
	switch cmd.Action {
	case "route", "refuse":
		circle, err := t.runningCircle(ctx, cmd.CircleID)
		if err != nil {
			return nil, err
		}
		ranking, err := t.ranking(ctx, circle, agg.Spec.RequiredCompetencies)
		if err != nil {
			return nil, err
		}
		if cmd.Action == "route" {
			return agg.Route(actor, cmd.AgentID, ranking)
		}
		return agg.Refuse(actor, cmd.AgentID, cmd.Text, ranking)
	case "claim":
		return agg.Claim(actor, cmd.AgentID)
	case "submit":
		reviewer := ""
		if agg.Spec.RequiresReview {
			circle, err := t.repo.LoadCircle(ctx, cmd.CircleID)
			if err != nil {
				return nil, err
			}
			if reviewer, err = t.reviewer(ctx, circle, cmd.AgentID); err != nil {
				return nil, err
			}
		}
		return agg.Submit(actor, cmd.AgentID, cmd.Text, reviewer)
	case "review":
		return agg.Review(actor, cmd.AgentID, cmd.Decision, cmd.Text)
	case "cancel":
		return agg.Cancel(actor, cmd.Text)
	case "claim_file":
		return agg.ClaimFile(actor, cmd.AgentID, cmd.Path)
	case "release_file":
		return agg.ReleaseFile(actor, cmd.Path)
	}
	return nil, domain.Errorf(domain.CodeInvalid, "unknown task action %q", cmd.Action)
}

// trackFiles keeps circle_file_claims in step with the appended file events, inside the
// appending transaction: a claim of a path another task holds rolls the append back.
func (t *CircleTasks) trackFiles(ctx context.Context, tx *sql.Tx, cmd *CircleTaskAction, appended []eventlog.Event, holder *dbq.CircleFileHolderRow) error {
	circleID, err := uuid.Parse(cmd.CircleID)
	if err != nil {
		return err
	}
	taskID, err := uuid.Parse(cmd.TaskID)
	if err != nil {
		return err
	}
	for _, e := range appended {
		switch e.Type {
		case domain.EventCircleFileClaimed:
			var ev domain.CircleFileClaimed
			if err := jsonUnmarshal(e.Payload, &ev); err != nil {
				return err
			}
			agent, err := uuid.Parse(ev.AgentID)
			if err != nil {
				return err
			}
			n, err := t.q.ClaimCircleFile(ctx, tx, dbq.ClaimCircleFileParams{CircleID: circleID, Path: ev.Path, TaskID: taskID, AgentID: agent})
			if err != nil {
				return err
			}
			if n == 0 {
				if *holder, err = t.q.CircleFileHolder(ctx, tx, dbq.CircleFileHolderParams{CircleID: circleID, Path: ev.Path}); err != nil {
					return err
				}
				return errFileTaken
			}
		case domain.EventCircleFileReleased:
			var ev domain.CircleFileReleased
			if err := jsonUnmarshal(e.Payload, &ev); err != nil {
				return err
			}
			if err := t.q.ReleaseCircleFile(ctx, tx, dbq.ReleaseCircleFileParams{TaskID: taskID, Path: ev.Path}); err != nil {
				return err
			}
		}
	}
	return nil
}
