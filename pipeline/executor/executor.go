// Package executor runs pipeline runs: River workers take one node attempt each, outside any
// transaction, and record its outcome as events through the command bus; the command that
// records an outcome also queues what becomes ready next (commands.Pipelines.runChange). So a
// run is the log plus the jobs that log asks for: a crash loses nothing (the jobs are rows
// inserted with the events) and repeats nothing (a completed node is never started again).
//
// Cancellation is cooperative: a node attempt in progress watches its run's stream and stops
// when a cancellation (or the run's end) is recorded, then records the attempt as failed. A
// deadline job forces the end after the grace period, or at the run's timeout.
package executor

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/chat"
	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/pipeline"
	"github.com/gathering/gathering/sql/dbq"
)

// Executor holds what node attempts need. Its NodeWorker and DeadlineWorker are registered
// with River.
type Executor struct {
	Repo *commands.Repository
	Bus  *commands.Bus
	DB   *sql.DB
	// Models answers agent nodes; HTTP performs http_request actions (guarded against private
	// addresses unless configured otherwise).
	Models chat.Models
	HTTP   *http.Client
	// Breakers are this instance's circuit breakers, one per pipeline node.
	Breakers *pipeline.Breakers
	Log      zerolog.Logger
	// Now and Rand are the clock and the jitter source; tests replace them.
	Now  func() time.Time
	Rand func() float64
	// WatchEvery is how often an attempt in progress checks its run for a cancellation.
	WatchEvery time.Duration
	// MaxSleep is the longest wait a delay node spends inside its job; a longer one snoozes
	// the job and frees the worker.
	MaxSleep time.Duration
}

func (x *Executor) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

// Workers registers the executor's workers.
func (x *Executor) Workers(w *river.Workers) {
	river.AddWorker(w, &NodeWorker{x: x})
	river.AddWorker(w, &DeadlineWorker{x: x})
}

// NodeWorker runs PipelineNodeAttempt jobs.
type NodeWorker struct {
	river.WorkerDefaults[commands.PipelineNodeAttempt]
	x *Executor
}

// NewNodeWorker returns the worker of node attempts (tests call Work directly).
func (x *Executor) NewNodeWorker() *NodeWorker { return &NodeWorker{x: x} }

// Timeout: the run's own deadline bounds an attempt (see Work), not River's default minute.
func (*NodeWorker) Timeout(*river.Job[commands.PipelineNodeAttempt]) time.Duration {
	return time.Duration(domain.MaxPipelineTimeoutSec)*time.Second + time.Hour
}

// errRunStopped is the cause of an attempt's context when its run is cancelled or has ended.
var errRunStopped = errors.New("the run was cancelled")

// errRunTimedOut is the cause when the run's deadline passes during the attempt.
var errRunTimedOut = errors.New("the run timed out")

// Work runs one attempt. A job that is stale (the node moved on, the run ended) does nothing;
// a job that died mid-attempt and is run again redoes the same attempt, which StartNode
// accepts; a completed node is never run again.
func (w *NodeWorker) Work(ctx context.Context, job *river.Job[commands.PipelineNodeAttempt]) error {
	x, a := w.x, job.Args
	run, _, err := x.Repo.LoadPipelineRun(ctx, a.RunID)
	if err != nil {
		return err
	}
	st := run.Nodes[a.Node]
	if run.Version == 0 || run.Finished() || st == nil {
		return nil
	}
	switch {
	case st.Status == domain.PipelineNodeStatusRunning && st.Attempt == a.Attempt:
		// Resumed after a crash: the attempt was started and never finished.
	case (st.Status == domain.PipelineNodeStatusPending || st.Status == domain.PipelineNodeStatusRetrying) && st.Attempt+1 == a.Attempt:
	default:
		return nil // stale: this attempt is over or another one was queued
	}
	node, _ := run.Node(a.Node)
	env := commands.NewEnvelope(domain.System, run.ID)
	if run.Status == domain.PipelineRunStatusCancelling {
		if st.Status == domain.PipelineNodeStatusRunning {
			return w.fail(ctx, env, a, "cancelled before it finished", false, 0)
		}
		return nil
	}
	if _, err := x.Bus.Send(ctx, &commands.StartPipelineNode{Envelope: env, RunID: a.RunID, PipelineID: run.PipelineID,
		Node: a.Node, Attempt: a.Attempt}); err != nil {
		if domain.ErrorCode(err) == domain.CodeConflict {
			return nil // cancelled or ended meanwhile, or the attempt moved on
		}
		return err
	}
	if run, _, err = x.Repo.LoadPipelineRun(ctx, a.RunID); err != nil {
		return err
	}
	st = run.Nodes[a.Node]
	if run.Finished() || st.Status != domain.PipelineNodeStatusRunning || st.Attempt != a.Attempt {
		return nil
	}

	started := x.now()
	attemptCtx, stop := w.watch(ctx, run)
	defer stop()
	output, err := w.attempt(attemptCtx, run, node, st)
	elapsed := x.now().Sub(started)
	if err != nil {
		// An attempt that finished is recorded even if its run is being cancelled; one that was
		// stopped says why.
		var snooze *river.JobSnoozeError
		switch cause := context.Cause(attemptCtx); {
		case errors.As(err, &snooze):
			return err
		case ctx.Err() != nil:
			// The job itself was stopped (shutdown, lost lease): record nothing, the job is
			// run again and redoes this attempt.
			return ctx.Err()
		case errors.Is(cause, errRunTimedOut):
			_, err := x.Bus.Send(ctx, &commands.EndPipelineRun{Envelope: env, RunID: a.RunID, PipelineID: run.PipelineID,
				Deadline: commands.DeadlineTimeout})
			return ignoreConflict(err)
		case errors.Is(cause, errRunStopped):
			return w.fail(ctx, env, a, "cancelled: "+w.cancelDetail(ctx, a.RunID), false, 0)
		}
		retryable := pipeline.Retryable(err)
		var backoff time.Duration
		if retryable {
			backoff = pipeline.NewBackoff(node.Retry, x.Rand).Delay(a.Attempt)
			var open *pipeline.OpenError
			if errors.As(err, &open) && open.RetryAfter > backoff {
				backoff = open.RetryAfter // no point trying before the breaker lets a call through
			}
		}
		return w.fail(ctx, env, a, err.Error(), retryable, backoff)
	}
	in, err := pipeline.DecodeValue(st.Input)
	if err != nil {
		return w.fail(ctx, env, a, "input: "+err.Error(), false, 0)
	}
	out, err := pipeline.DecodeValue(output)
	if err != nil {
		return w.fail(ctx, env, a, "output: "+err.Error(), false, 0)
	}
	taken, err := pipeline.TakenEdges(node, run.OutgoingEdges(a.Node), in, out)
	if err != nil {
		return w.fail(ctx, env, a, err.Error(), false, 0)
	}
	_, err = x.Bus.Send(ctx, &commands.CompletePipelineNode{Envelope: env, RunID: a.RunID, PipelineID: run.PipelineID, Node: a.Node,
		Attempt: a.Attempt, Output: output, DurationMS: elapsed.Milliseconds(), TakenEdges: taken})
	if domain.ErrorCode(err) == domain.CodeInvalid {
		// The outcome itself is refused (an output over the size limit): doing the work again
		// would give the same, so the node fails for good and says why.
		return w.fail(ctx, env, a, "the output was refused: "+domain.ErrorMessage(err), false, 0)
	}
	return ignoreConflict(err)
}

func (w *NodeWorker) fail(ctx context.Context, env commands.Envelope, a commands.PipelineNodeAttempt, msg string, retryable bool, backoff time.Duration) error {
	_, err := w.x.Bus.Send(ctx, &commands.FailPipelineNode{Envelope: env, RunID: a.RunID, PipelineID: a.PipelineID, Node: a.Node,
		Attempt: a.Attempt, Error: msg, Retryable: retryable, BackoffMS: backoff.Milliseconds()})
	return ignoreConflict(err)
}

// ignoreConflict: an outcome refused because the run ended or moved on is not the job's error.
func ignoreConflict(err error) error {
	if domain.ErrorCode(err) == domain.CodeConflict {
		return nil
	}
	return err
}

// cancelDetail is the reason given for the cancellation that stopped an attempt.
func (w *NodeWorker) cancelDetail(ctx context.Context, runID string) string {
	if run, _, err := w.x.Repo.LoadPipelineRun(ctx, runID); err == nil && run.CancelReason != "" {
		return run.CancelReason
	}
	return "the run was stopped"
}

// attempt does the node's work on its recorded input. Agent and action nodes go through the
// node's circuit breaker: while it is open they fail at once, without a call.
func (w *NodeWorker) attempt(ctx context.Context, run *domain.PipelineRun, node domain.PipelineNode, st *domain.PipelineNodeState) (json.RawMessage, error) {
	x := w.x
	switch node.Type {
	case domain.NodeTypeDelay:
		return w.delay(ctx, node, st)
	case domain.NodeTypeAgent, domain.NodeTypeAction:
		b := x.Breakers.Get(run.PipelineID+"/"+node.ID, node.Breaker)
		permit, err := b.Allow()
		if err != nil {
			return nil, err
		}
		var out json.RawMessage
		if node.Type == domain.NodeTypeAgent {
			out, err = x.agentTurn(ctx, run, node, st.Input)
		} else {
			out, err = x.action(ctx, run, node, st.Input)
		}
		if ctx.Err() != nil && err != nil {
			permit.Done(context.Canceled) // a stopped call says nothing about the service
		} else {
			permit.Done(err)
		}
		return out, err
	}
	in, err := pipeline.DecodeValue(st.Input)
	if err != nil {
		return nil, pipeline.Permanent(err)
	}
	out, err := pipeline.Compute(node, in)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// delay waits out the node's seconds, counted from the attempt's recorded start so that a job
// run again after a crash waits only what is left. Long waits snooze the job instead of holding
// a worker.
func (w *NodeWorker) delay(ctx context.Context, node domain.PipelineNode, st *domain.PipelineNodeState) (json.RawMessage, error) {
	var cfg struct {
		Seconds int `json:"seconds"`
	}
	if err := json.Unmarshal(node.Config, &cfg); err != nil {
		return nil, pipeline.Permanent(err)
	}
	left := st.StartedAt.Add(time.Duration(cfg.Seconds) * time.Second).Sub(w.x.now())
	maxSleep := w.x.MaxSleep
	if maxSleep <= 0 {
		maxSleep = 30 * time.Second
	}
	if left > maxSleep {
		return nil, river.JobSnooze(left)
	}
	if left > 0 {
		t := time.NewTimer(left)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	return st.Input, nil
}

// watch returns a context that ends when the run is cancelled or ends (errRunStopped) or
// reaches its deadline (errRunTimedOut). It asks the log rather than an in-process signal, so
// a cancellation made through any instance reaches the attempt wherever it runs.
func (w *NodeWorker) watch(ctx context.Context, run *domain.PipelineRun) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	deadlineCtx, cancelDeadline := context.WithDeadlineCause(ctx, run.Deadline(), errRunTimedOut)
	every := w.x.WatchEvery
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-deadlineCtx.Done():
				return
			case <-done:
				return
			case <-t.C:
				stopped, err := queries.PipelineRunStopRecorded(deadlineCtx, w.x.DB, dbq.PipelineRunStopRecordedParams{
					StreamID: domain.PipelineRunStreamID(run.ID), AfterVersion: run.Version, EventTypes: stopEventTypes})
				if err == nil && stopped {
					cancel(errRunStopped)
					return
				}
			}
		}
	}()
	return deadlineCtx, func() {
		close(done)
		cancelDeadline()
		cancel(nil)
	}
}

// stopEventTypes end an attempt in progress.
var stopEventTypes = []string{domain.EventPipelineRunCancelRequested, domain.EventPipelineRunCancelled,
	domain.EventPipelineRunTimedOut, domain.EventPipelineRunFailed, domain.EventPipelineRunCompleted}

var queries = dbq.New()

// DeadlineWorker runs PipelineRunDeadline jobs.
type DeadlineWorker struct {
	river.WorkerDefaults[commands.PipelineRunDeadline]
	x *Executor
}

// NewDeadlineWorker returns the worker of run deadlines (tests call Work directly).
func (x *Executor) NewDeadlineWorker() *DeadlineWorker { return &DeadlineWorker{x: x} }

// Work ends the run if it is still going at its deadline. A job that runs early (clocks of
// instances differ) snoozes until the deadline.
func (w *DeadlineWorker) Work(ctx context.Context, job *river.Job[commands.PipelineRunDeadline]) error {
	x, a := w.x, job.Args
	run, _, err := x.Repo.LoadPipelineRun(ctx, a.RunID)
	if err != nil {
		return err
	}
	if run.Version == 0 || run.Finished() {
		return nil
	}
	at := run.Deadline()
	if a.Deadline == commands.DeadlineForceCancel {
		if run.Status != domain.PipelineRunStatusCancelling {
			return nil
		}
		at = run.CancelDeadline()
	}
	if wait := at.Sub(x.now()); wait > 0 {
		return river.JobSnooze(wait)
	}
	_, err = x.Bus.Send(ctx, &commands.EndPipelineRun{Envelope: commands.NewEnvelope(domain.System, run.ID), RunID: a.RunID,
		PipelineID: run.PipelineID, Deadline: a.Deadline})
	if domain.ErrorCode(err) == domain.CodeConflict {
		// Ended meanwhile, or this instance's clock is ahead of the one that decided: look
		// again shortly rather than drop the deadline.
		if run, _, lerr := x.Repo.LoadPipelineRun(ctx, a.RunID); lerr == nil && !run.Finished() {
			return river.JobSnooze(time.Second)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("ending run %s at its %s: %w", a.RunID, a.Deadline, err)
	}
	return nil
}
