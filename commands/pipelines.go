package commands

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/riverqueue/river"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/jobs"
	"github.com/gathering/gathering/livefeed"
	"github.com/gathering/gathering/pipeline"
)

// PipelineNodeAttempt is the job of one attempt of one node of a run. It is inserted in the
// transaction that makes the node ready (or records the failure it retries), so whatever the
// log says must happen next is always queued, and a job that dies mid-attempt is run again.
type PipelineNodeAttempt struct {
	RunID      string `json:"run_id"`
	PipelineID string `json:"pipeline_id"`
	Node       string `json:"node"`
	Attempt    int    `json:"attempt"`
}

func (PipelineNodeAttempt) Kind() string { return "pipeline_node_attempt" }

// Deadlines a PipelineRunDeadline job enforces.
const (
	DeadlineTimeout     = "timeout"
	DeadlineForceCancel = "force_cancel"
)

// PipelineRunDeadline is the job that ends a run at its deadline: the run's timeout, or the end
// of a cancellation's grace period. It is scheduled for that moment when the run starts or the
// cancellation is asked for, so deadlines hold across crashes without a polling sweeper.
type PipelineRunDeadline struct {
	RunID      string `json:"run_id"`
	PipelineID string `json:"pipeline_id"`
	Deadline   string `json:"deadline"`
}

func (PipelineRunDeadline) Kind() string { return "pipeline_run_deadline" }

type CreatePipeline struct {
	Envelope
	PipelineID string              `json:"pipeline_id"`
	Spec       domain.PipelineSpec `json:"spec"`
}

type UpdatePipeline struct {
	Envelope
	PipelineID string              `json:"pipeline_id"`
	Spec       domain.PipelineSpec `json:"spec"`
}

type DeletePipeline struct {
	Envelope
	PipelineID string `json:"pipeline_id"`
}

type StartPipelineRun struct {
	Envelope
	RunID      string          `json:"run_id"`
	PipelineID string          `json:"pipeline_id"`
	Input      json.RawMessage `json:"input"`
}

type CancelPipelineRun struct {
	Envelope
	RunID      string `json:"run_id"`
	PipelineID string `json:"pipeline_id"`
	Reason     string `json:"reason"`
}

// StartPipelineNode records the start of a node attempt (the executor sends it).
type StartPipelineNode struct {
	Envelope
	RunID      string `json:"run_id"`
	PipelineID string `json:"pipeline_id"`
	Node       string `json:"node"`
	Attempt    int    `json:"attempt"`
}

type CompletePipelineNode struct {
	Envelope
	RunID      string          `json:"run_id"`
	PipelineID string          `json:"pipeline_id"`
	Node       string          `json:"node"`
	Attempt    int             `json:"attempt"`
	Output     json.RawMessage `json:"output"`
	DurationMS int64           `json:"duration_ms"`
	TakenEdges map[string]bool `json:"taken_edges"`
}

type FailPipelineNode struct {
	Envelope
	RunID      string `json:"run_id"`
	PipelineID string `json:"pipeline_id"`
	Node       string `json:"node"`
	Attempt    int    `json:"attempt"`
	Error      string `json:"error"`
	Retryable  bool   `json:"retryable"`
	BackoffMS  int64  `json:"backoff_ms"`
}

// EndPipelineRun ends a run at a deadline (DeadlineTimeout or DeadlineForceCancel).
type EndPipelineRun struct {
	Envelope
	RunID      string `json:"run_id"`
	PipelineID string `json:"pipeline_id"`
	Deadline   string `json:"deadline"`
}

// Pipelines holds the pipeline and run use cases.
type Pipelines struct {
	repo *Repository
	jobs jobs.Inserter
	// Now is the clock of run starts, cancellations and deadlines; tests set it before sending.
	Now func() time.Time
}

// RegisterPipelines adds the pipeline command handlers to the bus.
func RegisterPipelines(b *Bus, repo *Repository, inserter jobs.Inserter) *Pipelines {
	p := &Pipelines{repo: repo, jobs: inserter, Now: time.Now}
	handle(b, "pipelines.create", p.Create)
	handle(b, "pipelines.update", p.Update)
	handle(b, "pipelines.delete", p.Delete)
	handle(b, "pipelines.start_run", p.StartRun)
	handle(b, "pipelines.cancel_run", p.CancelRun)
	handle(b, "pipelines.start_node", p.StartNode)
	handle(b, "pipelines.complete_node", p.CompleteNode)
	handle(b, "pipelines.fail_node", p.FailNode)
	handle(b, "pipelines.end_run", p.EndRun)
	return p
}

func newPipeline() *domain.Pipeline { return &domain.Pipeline{} }

func newPipelineRun() *domain.PipelineRun { return &domain.PipelineRun{} }

func pipelineChange(id string, env Envelope) change {
	return change{streamID: domain.PipelineStreamID(id), streamType: domain.StreamTypePipeline, env: env}
}

func (p *Pipelines) Create(ctx context.Context, cmd *CreatePipeline) (Result, error) {
	return execute(ctx, p.repo, pipelineChange(cmd.PipelineID, cmd.Envelope), newPipeline, func(agg *domain.Pipeline) ([]domain.Event, error) {
		return agg.Create(cmd.actor(), cmd.PipelineID, cmd.Spec, pipeline.CheckConfig, pipeline.CheckCondition)
	})
}

func (p *Pipelines) Update(ctx context.Context, cmd *UpdatePipeline) (Result, error) {
	return execute(ctx, p.repo, pipelineChange(cmd.PipelineID, cmd.Envelope), newPipeline, func(agg *domain.Pipeline) ([]domain.Event, error) {
		return agg.Update(cmd.actor(), cmd.Spec, pipeline.CheckConfig, pipeline.CheckCondition)
	})
}

func (p *Pipelines) Delete(ctx context.Context, cmd *DeletePipeline) (Result, error) {
	return execute(ctx, p.repo, pipelineChange(cmd.PipelineID, cmd.Envelope), newPipeline, func(agg *domain.Pipeline) ([]domain.Event, error) {
		return agg.Delete(cmd.actor())
	})
}

// StartRun snapshots the pipeline's current version into a new run and queues its first nodes
// and its timeout in the same transaction.
func (p *Pipelines) StartRun(ctx context.Context, cmd *StartPipelineRun) (Result, error) {
	def, _, err := p.repo.LoadPipeline(ctx, cmd.PipelineID)
	if err != nil {
		return Result{}, err
	}
	return p.runChange(ctx, cmd.Envelope, cmd.RunID, cmd.PipelineID, func(run *domain.PipelineRun, now time.Time) ([]domain.Event, error) {
		return run.Start(cmd.actor(), cmd.RunID, def, cmd.Input, now)
	})
}

func (p *Pipelines) CancelRun(ctx context.Context, cmd *CancelPipelineRun) (Result, error) {
	return p.runChange(ctx, cmd.Envelope, cmd.RunID, cmd.PipelineID, func(run *domain.PipelineRun, now time.Time) ([]domain.Event, error) {
		if run.Version > 0 && run.PipelineID != cmd.PipelineID {
			return nil, domain.Errorf(domain.CodeNotFound, "run not found")
		}
		return run.RequestCancel(cmd.actor(), cmd.Reason, now)
	})
}

func (p *Pipelines) StartNode(ctx context.Context, cmd *StartPipelineNode) (Result, error) {
	return p.runChange(ctx, cmd.Envelope, cmd.RunID, cmd.PipelineID, func(run *domain.PipelineRun, now time.Time) ([]domain.Event, error) {
		return run.StartNode(cmd.Node, cmd.Attempt, now)
	})
}

func (p *Pipelines) CompleteNode(ctx context.Context, cmd *CompletePipelineNode) (Result, error) {
	return p.runChange(ctx, cmd.Envelope, cmd.RunID, cmd.PipelineID, func(run *domain.PipelineRun, _ time.Time) ([]domain.Event, error) {
		return run.CompleteNode(cmd.Node, cmd.Attempt, cmd.Output, cmd.DurationMS, cmd.TakenEdges)
	})
}

func (p *Pipelines) FailNode(ctx context.Context, cmd *FailPipelineNode) (Result, error) {
	return p.runChange(ctx, cmd.Envelope, cmd.RunID, cmd.PipelineID, func(run *domain.PipelineRun, _ time.Time) ([]domain.Event, error) {
		return run.FailNode(cmd.Node, cmd.Attempt, cmd.Error, cmd.Retryable, cmd.BackoffMS)
	})
}

func (p *Pipelines) EndRun(ctx context.Context, cmd *EndPipelineRun) (Result, error) {
	return p.runChange(ctx, cmd.Envelope, cmd.RunID, cmd.PipelineID, func(run *domain.PipelineRun, now time.Time) ([]domain.Event, error) {
		switch cmd.Deadline {
		case DeadlineTimeout:
			return run.TimeOut(now)
		case DeadlineForceCancel:
			return run.ForceCancel(now)
		}
		return nil, domain.Errorf(domain.CodeInvalid, "unknown deadline %q", cmd.Deadline)
	})
}

// runChange appends a decision about a run together with everything that follows from it
// without anyone acting (Advance: skips, the run's end), and queues, in the same transaction,
// the jobs the new facts call for: one per node that became ready, one per retry after its
// backoff, the timeout of a new run and the forced end of a cancellation.
func (p *Pipelines) runChange(ctx context.Context, env Envelope, runID, pipelineID string,
	decide func(*domain.PipelineRun, time.Time) ([]domain.Event, error)) (Result, error) {
	if pipelineID != "" {
		ctxMeta := map[string]string{livefeed.MetadataPipeline: pipelineID}
		for k, v := range env.Context {
			ctxMeta[k] = v
		}
		env.Context = ctxMeta
	}
	var queued []river.InsertManyParams
	ch := change{streamID: domain.PipelineRunStreamID(runID), streamType: domain.StreamTypePipelineRun, env: env}
	ch.alsoInTx = func(ctx context.Context, tx *sql.Tx, _ []eventlog.Event) error {
		for _, j := range queued {
			if _, err := p.jobs.InsertTx(ctx, tx, j.Args, j.InsertOpts); err != nil {
				return err
			}
		}
		return nil
	}
	return execute(ctx, p.repo, ch, newPipelineRun, func(run *domain.PipelineRun) ([]domain.Event, error) {
		queued = nil
		now := p.Now()
		wasReady := map[string]bool{}
		for _, id := range run.Ready() {
			wasReady[id] = true
		}
		wasCancelling := run.Status == domain.PipelineRunStatusCancelling
		events, err := decide(run, now)
		if err != nil || len(events) == 0 {
			return events, err
		}
		for _, e := range events {
			run.Apply(e)
		}
		follow := run.Advance()
		for _, e := range follow {
			run.Apply(e)
		}
		events = append(events, follow...)

		pid := run.PipelineID
		nodeJob := func(node string, attempt int, at time.Time) {
			opts := &river.InsertOpts{MaxAttempts: 25}
			if at.After(now) {
				opts.ScheduledAt = at
			}
			queued = append(queued, river.InsertManyParams{Args: PipelineNodeAttempt{RunID: runID, PipelineID: pid, Node: node, Attempt: attempt}, InsertOpts: opts})
		}
		for _, id := range run.Ready() {
			if !wasReady[id] {
				nodeJob(id, run.Nodes[id].Attempt+1, now)
			}
		}
		for _, e := range events {
			switch ev := e.(type) {
			case *domain.PipelineNodeFailed:
				if ev.WillRetry {
					nodeJob(ev.Node, ev.Attempt+1, now.Add(time.Duration(ev.BackoffMS)*time.Millisecond))
				}
			case *domain.PipelineRunStarted:
				queued = append(queued, river.InsertManyParams{Args: PipelineRunDeadline{RunID: runID, PipelineID: pid, Deadline: DeadlineTimeout},
					InsertOpts: &river.InsertOpts{MaxAttempts: 25, ScheduledAt: run.Deadline()}})
			}
		}
		if !wasCancelling && run.Status == domain.PipelineRunStatusCancelling {
			queued = append(queued, river.InsertManyParams{Args: PipelineRunDeadline{RunID: runID, PipelineID: pid, Deadline: DeadlineForceCancel},
				InsertOpts: &river.InsertOpts{MaxAttempts: 25, ScheduledAt: run.CancelDeadline()}})
		}
		return events, nil
	})
}

// LoadPipeline rebuilds a pipeline's definition and returns its events.
func (r *Repository) LoadPipeline(ctx context.Context, id string) (*domain.Pipeline, []eventlog.Event, error) {
	return loadAggregate(ctx, r, domain.PipelineStreamID(id), newPipeline)
}

// LoadPipelineRun rebuilds a run and returns its events.
func (r *Repository) LoadPipelineRun(ctx context.Context, id string) (*domain.PipelineRun, []eventlog.Event, error) {
	return loadAggregate(ctx, r, domain.PipelineRunStreamID(id), newPipelineRun)
}
