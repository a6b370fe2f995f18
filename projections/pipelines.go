package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/sql/dbq"
)

// Pipelines is the projection behind /pipelines and their runs: the definitions, each run and
// each node of a run with the history of its attempts.
type Pipelines struct {
	q      *dbq.Queries
	events *domain.Registry
}

// NewPipelines returns the pipelines projection.
func NewPipelines(events *domain.Registry) *Pipelines {
	return &Pipelines{q: dbq.New(), events: events}
}

func (*Pipelines) Name() string { return "pipelines" }
func (*Pipelines) Tables() []string {
	return []string{"pipelines", "pipeline_runs", "pipeline_node_runs"}
}

// An attempt's outcome in a node's history. "interrupted" has no domain status: it is the read
// model's word for a node (and its attempt) still running when its run was cancelled by force
// or timed out.
const (
	pipelineNodeInterrupted = "interrupted"
	attemptRunning          = "running"
	attemptCompleted        = "completed"
	attemptFailed           = "failed"
)

func (p *Pipelines) Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	switch e.StreamType {
	case domain.StreamTypePipeline:
		return p.applyPipeline(ctx, q, e)
	case domain.StreamTypePipelineRun:
		return p.applyRun(ctx, q, e)
	}
	return nil
}

func (p *Pipelines) applyPipeline(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	id, err := uuid.Parse(strings.TrimPrefix(e.StreamID, domain.StreamTypePipeline+"-"))
	if err != nil {
		return err
	}
	ev, err := p.events.Decode(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	switch ev := ev.(type) {
	case *domain.PipelineCreated:
		spec, err := json.Marshal(ev.Spec)
		if err != nil {
			return err
		}
		return p.q.InsertPipeline(ctx, q, dbq.InsertPipelineParams{ID: id, Owner: ev.Owner, Name: ev.Spec.Name,
			Description: ev.Spec.Description, Spec: spec, SpecVersion: int32(ev.SpecVersion), NodeCount: int32(len(ev.Spec.Nodes)),
			EdgeCount: int32(len(ev.Spec.Edges)), Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	case *domain.PipelineUpdated:
		spec, err := json.Marshal(ev.Spec)
		if err != nil {
			return err
		}
		return p.q.UpdatePipelineSpec(ctx, q, dbq.UpdatePipelineSpecParams{ID: id, Name: ev.Spec.Name,
			Description: ev.Spec.Description, Spec: spec, SpecVersion: int32(ev.SpecVersion), NodeCount: int32(len(ev.Spec.Nodes)),
			EdgeCount: int32(len(ev.Spec.Edges)), Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	case *domain.PipelineDeleted:
		return p.q.DeletePipeline(ctx, q, dbq.DeletePipelineParams{ID: id, Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
	}
	return nil
}

func (p *Pipelines) applyRun(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	id, err := uuid.Parse(strings.TrimPrefix(e.StreamID, domain.StreamTypePipelineRun+"-"))
	if err != nil {
		return err
	}
	ev, err := p.events.Decode(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return err
	}
	if started, ok := ev.(*domain.PipelineRunStarted); ok {
		return p.startRun(ctx, q, id, started, e)
	}
	run, err := p.q.GetPipelineRun(ctx, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // every run stream starts with pipeline_run.started; nothing to update
	}
	if err != nil {
		return err
	}
	// The run's version guards its nodes too: they change only in the same event as the run.
	if run.Version >= e.Version {
		return nil // redelivered
	}
	at := e.OccurredAt.UTC()
	end := func(status domain.PipelineRunStatus) {
		run.Status = string(status)
		run.EndedAt = sql.NullTime{Time: at, Valid: true}
		run.DurationMs = sql.NullInt64{Int64: millisBetween(run.StartedAt, at), Valid: true}
	}
	switch ev := ev.(type) {
	case *domain.PipelineNodeStarted:
		started := ev.At.UTC()
		if started.IsZero() {
			started = at // recorded before the event carried the start's time
		}
		err = p.changeNode(ctx, q, id, ev.Node, func(n *dbq.PipelineNodeRun, h *attemptHistory) {
			n.Status, n.Attempts, n.Input = string(domain.PipelineNodeStatusRunning), int32(ev.Attempt), jsonOrNull(ev.Input)
			if !n.StartedAt.Valid {
				n.StartedAt = sql.NullTime{Time: started, Valid: true}
			}
			h.started(PipelineNodeAttemptView{Attempt: ev.Attempt, StartedAt: started, Outcome: attemptRunning})
		})
	case *domain.PipelineNodeCompleted:
		err = p.changeNode(ctx, q, id, ev.Node, func(n *dbq.PipelineNodeRun, h *attemptHistory) {
			n.Status, n.Output, n.Error = string(domain.PipelineNodeStatusCompleted), jsonOrNull(ev.Output), ""
			settleNode(n, at)
			if a := h.attempt(ev.Attempt); a != nil {
				// The executor measured the attempt; its own figure beats two clocks' difference.
				d := ev.DurationMS
				a.Outcome, a.EndedAt, a.DurationMS = attemptCompleted, &at, &d
			}
		})
	case *domain.PipelineNodeFailed:
		err = p.changeNode(ctx, q, id, ev.Node, func(n *dbq.PipelineNodeRun, h *attemptHistory) {
			n.Error = ev.Error
			if ev.WillRetry {
				n.Status = string(domain.PipelineNodeStatusRetrying)
			} else {
				n.Status = string(domain.PipelineNodeStatusFailed)
				settleNode(n, at)
			}
			if a := h.attempt(ev.Attempt); a != nil {
				a.end(attemptFailed, at)
				a.Error, a.Retryable, a.WillRetry, a.BackoffMS = ev.Error, ev.Retryable, ev.WillRetry, ev.BackoffMS
			}
		})
	case *domain.PipelineNodeSkipped:
		err = p.changeNode(ctx, q, id, ev.Node, func(n *dbq.PipelineNodeRun, _ *attemptHistory) {
			n.Status, n.SkipReason = string(domain.PipelineNodeStatusSkipped), ev.Reason
			settleNode(n, at)
		})
	case *domain.PipelineRunCancelRequested:
		run.Status, run.CancelReason = string(domain.PipelineRunStatusCancelling), ev.Reason
	case *domain.PipelineRunCompleted:
		end(domain.PipelineRunStatusCompleted)
		outputs := ev.Outputs
		if outputs == nil {
			outputs = map[string]json.RawMessage{}
		}
		if run.Outputs, err = json.Marshal(outputs); err != nil {
			return err
		}
	case *domain.PipelineRunFailed:
		end(domain.PipelineRunStatusFailed)
		run.Error, run.FailedNode = ev.Error, ev.Node
	case *domain.PipelineRunCancelled:
		end(domain.PipelineRunStatusCancelled)
		run.CancelForced = ev.Forced
		err = p.interrupt(ctx, q, id, ev.Interrupted, at)
	case *domain.PipelineRunTimedOut:
		end(domain.PipelineRunStatusTimedOut)
		run.Error = fmt.Sprintf("timed out after %d seconds", ev.TimeoutSec)
		err = p.interrupt(ctx, q, id, ev.Interrupted, at)
	}
	if err != nil {
		return err
	}
	return p.q.UpdatePipelineRun(ctx, q, dbq.UpdatePipelineRunParams{ID: id, Status: run.Status, Outputs: run.Outputs,
		Error: run.Error, FailedNode: run.FailedNode, CancelReason: run.CancelReason, CancelForced: run.CancelForced,
		EndedAt: run.EndedAt, DurationMs: run.DurationMs, Version: e.Version, At: e.OccurredAt, LastPosition: e.Position})
}

func (p *Pipelines) startRun(ctx context.Context, q dbq.DBTX, id uuid.UUID, ev *domain.PipelineRunStarted, e eventlog.Event) error {
	pipelineID, err := uuid.Parse(ev.PipelineID)
	if err != nil {
		return err
	}
	input := ev.Input
	if len(input) == 0 {
		input = json.RawMessage("{}") // what the domain takes an empty input for
	}
	if err := p.q.InsertPipelineRun(ctx, q, dbq.InsertPipelineRunParams{ID: id, PipelineID: pipelineID,
		PipelineVersion: int32(ev.PipelineVersion), Owner: ev.Owner, StartedBy: ev.StartedBy, Input: input,
		TimeoutSec: int32(ev.TimeoutSec), StartedAt: ev.StartedAt, Version: e.Version, At: e.OccurredAt, LastPosition: e.Position}); err != nil {
		return err
	}
	ids, types := make([]string, len(ev.Spec.Nodes)), make([]string, len(ev.Spec.Nodes))
	for i, n := range ev.Spec.Nodes {
		ids[i], types[i] = n.ID, n.Type
	}
	return p.q.InsertPipelineNodeRuns(ctx, q, dbq.InsertPipelineNodeRunsParams{RunID: id, NodeIds: ids, NodeTypes: types})
}

// changeNode reads one node of a run, lets change edit it and its attempt history, and writes it
// back, all in the subscriber's transaction. History entries are edited in Go rather than in
// SQL so that their times keep the exact encoding the read side parses.
func (p *Pipelines) changeNode(ctx context.Context, q dbq.DBTX, runID uuid.UUID, node string, change func(*dbq.PipelineNodeRun, *attemptHistory)) error {
	n, err := p.q.GetPipelineNodeRun(ctx, q, dbq.GetPipelineNodeRunParams{RunID: runID, NodeID: node})
	if errors.Is(err, sql.ErrNoRows) {
		return nil // not a node of the run's spec; the domain never records one
	}
	if err != nil {
		return err
	}
	var h attemptHistory
	if err := json.Unmarshal(n.History, &h); err != nil {
		return fmt.Errorf("history of node %s: %w", node, err)
	}
	change(&n, &h)
	if h == nil {
		h = attemptHistory{}
	}
	if n.History, err = json.Marshal(h); err != nil {
		return err
	}
	return p.q.UpdatePipelineNodeRun(ctx, q, dbq.UpdatePipelineNodeRunParams{RunID: runID, NodeID: node, Status: n.Status,
		Attempts: n.Attempts, Input: n.Input, Output: n.Output, Error: n.Error, SkipReason: n.SkipReason,
		StartedAt: n.StartedAt, EndedAt: n.EndedAt, DurationMs: n.DurationMs, History: n.History})
}

// interrupt ends the attempts a forced cancellation or a timeout abandoned.
func (p *Pipelines) interrupt(ctx context.Context, q dbq.DBTX, runID uuid.UUID, nodes []string, at time.Time) error {
	for _, node := range nodes {
		err := p.changeNode(ctx, q, runID, node, func(n *dbq.PipelineNodeRun, h *attemptHistory) {
			n.Status = pipelineNodeInterrupted
			settleNode(n, at)
			if a := h.attempt(int(n.Attempts)); a != nil && a.Outcome == attemptRunning {
				a.end(pipelineNodeInterrupted, at)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// settleNode records when a node stopped for good; its duration counts from its first attempt,
// so it includes the retries and their backoffs. A skipped node never started and has none.
func settleNode(n *dbq.PipelineNodeRun, at time.Time) {
	n.EndedAt = sql.NullTime{Time: at, Valid: true}
	if n.StartedAt.Valid {
		n.DurationMs = sql.NullInt64{Int64: millisBetween(n.StartedAt.Time, at), Valid: true}
	}
}

// millisBetween rounds, because an attempt's start keeps the nanoseconds of its event while the
// log records times to the microsecond; and it is never negative, because a start comes from the
// executor's clock and an end from the log's, which may disagree by a little.
func millisBetween(from, to time.Time) int64 {
	return max(0, to.Sub(from).Round(time.Millisecond).Milliseconds())
}

// jsonOrNull stores an absent JSON value as null (see 00011_pipelines.sql).
func jsonOrNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// attemptHistory is a node's history column: one entry per attempt started, in the form the
// API shows, so the read side decodes it as it is.
type attemptHistory []PipelineNodeAttemptView

func (h attemptHistory) attempt(n int) *PipelineNodeAttemptView {
	for i := range h {
		if h[i].Attempt == n {
			return &h[i]
		}
	}
	return nil
}

// started records an attempt's start; a start recorded again stays one attempt.
func (h *attemptHistory) started(a PipelineNodeAttemptView) {
	if old := h.attempt(a.Attempt); old != nil {
		*old = a
		return
	}
	*h = append(*h, a)
}

func (a *PipelineNodeAttemptView) end(outcome string, at time.Time) {
	d := millisBetween(a.StartedAt, at)
	a.Outcome, a.EndedAt, a.DurationMS = outcome, &at, &d
}

func (p *Pipelines) Checksum(ctx context.Context, q dbq.DBTX) (Checksum, error) {
	r, err := p.q.PipelinesChecksum(ctx, q)
	if err != nil {
		return Checksum{}, err
	}
	return Checksum{Rows: r.RowCount, Sum: r.Checksum}, nil
}

// PipelineView is a pipeline as the API shows it.
type PipelineView struct {
	ID          string              `json:"id"`
	Owner       string              `json:"owner"`
	Name        string              `json:"name"`
	Description string              `json:"description"`
	Spec        domain.PipelineSpec `json:"spec"`
	SpecVersion int                 `json:"spec_version"`
	NodeCount   int                 `json:"node_count"`
	EdgeCount   int                 `json:"edge_count"`
	Version     int64               `json:"version"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

// PipelineRunView is a run as the API shows it; Nodes only when one run is asked for.
type PipelineRunView struct {
	ID              string          `json:"id"`
	PipelineID      string          `json:"pipeline_id"`
	PipelineVersion int             `json:"pipeline_version"`
	Owner           string          `json:"owner"`
	StartedBy       string          `json:"started_by"`
	Status          string          `json:"status"`
	Input           json.RawMessage `json:"input"`
	// Outputs are those of the completed sink nodes, once the run completed.
	Outputs      json.RawMessage       `json:"outputs,omitempty"`
	Error        string                `json:"error,omitempty"`
	FailedNode   string                `json:"failed_node,omitempty"`
	CancelReason string                `json:"cancel_reason,omitempty"`
	CancelForced bool                  `json:"cancel_forced"`
	TimeoutSec   int                   `json:"timeout_sec"`
	StartedAt    time.Time             `json:"started_at"`
	EndedAt      *time.Time            `json:"ended_at,omitempty"`
	DurationMS   *int64                `json:"duration_ms,omitempty"`
	Version      int64                 `json:"version"`
	Nodes        []PipelineNodeRunView `json:"nodes,omitempty"`
}

// PipelineNodeRunView is one node of a run.
type PipelineNodeRunView struct {
	Node     string `json:"node"`
	Type     string `json:"type"`
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	Retries  int    `json:"retries"`
	// Input is that of the latest attempt, once one started; Output is set once completed.
	Input      json.RawMessage           `json:"input,omitempty"`
	Output     json.RawMessage           `json:"output,omitempty"`
	Error      string                    `json:"error,omitempty"`
	SkipReason string                    `json:"skip_reason,omitempty"`
	StartedAt  *time.Time                `json:"started_at,omitempty"`
	EndedAt    *time.Time                `json:"ended_at,omitempty"`
	DurationMS *int64                    `json:"duration_ms,omitempty"`
	History    []PipelineNodeAttemptView `json:"history"`
}

// PipelineNodeAttemptView is one attempt of a node. It is also the stored form of an entry of
// pipeline_node_runs.history: times are UTC, so their RFC 3339 text is the same on every replay.
type PipelineNodeAttemptView struct {
	Attempt   int        `json:"attempt"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	// Outcome is running, completed, failed or interrupted.
	Outcome    string `json:"outcome"`
	Error      string `json:"error,omitempty"`
	Retryable  bool   `json:"retryable,omitempty"`
	WillRetry  bool   `json:"will_retry,omitempty"`
	BackoffMS  int64  `json:"backoff_ms,omitempty"`
	DurationMS *int64 `json:"duration_ms,omitempty"`
}

// PipelineFilter selects pipelines; an empty Owner lists everyone's.
type PipelineFilter struct {
	Owner string
	After string // the id of the last pipeline of the previous page
	Limit int
}

// PipelineRunFilter selects runs; empty fields do not filter.
type PipelineRunFilter struct {
	PipelineID string
	Status     string
	Before     string // the id of the last run of the previous page
	Limit      int
}

// PipelineQueries reads the pipelines read model.
type PipelineQueries struct {
	db *sql.DB
	q  *dbq.Queries
}

// NewPipelineQueries returns pipeline queries on db.
func NewPipelineQueries(db *sql.DB) *PipelineQueries { return &PipelineQueries{db: db, q: dbq.New()} }

const (
	defaultPipelinePage = 50
	maxPipelinePage     = 200
)

// pageCursor parses the id a page continues from; "" starts at the beginning.
func pageCursor(field, id string) (uuid.NullUUID, error) {
	if id == "" {
		return uuid.NullUUID{}, nil
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid.NullUUID{}, &domain.Error{Code: domain.CodeInvalid, Message: field + " is not an id",
			Fields: []domain.FieldError{{Field: field, Message: "must be the id of the last item of the previous page"}}}
	}
	return uuid.NullUUID{UUID: u, Valid: true}, nil
}

func pipelineView(r dbq.Pipeline) (PipelineView, error) {
	v := PipelineView{ID: r.ID.String(), Owner: r.Owner, Name: r.Name, Description: r.Description, SpecVersion: int(r.SpecVersion),
		NodeCount: int(r.NodeCount), EdgeCount: int(r.EdgeCount), Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	return v, json.Unmarshal(r.Spec, &v.Spec)
}

// Get returns one pipeline; a deleted one is not found.
func (p *PipelineQueries) Get(ctx context.Context, id string) (PipelineView, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return PipelineView{}, domain.Errorf(domain.CodeNotFound, "pipeline not found")
	}
	r, err := p.q.GetPipeline(ctx, p.db, u)
	if errors.Is(err, sql.ErrNoRows) {
		return PipelineView{}, domain.Errorf(domain.CodeNotFound, "pipeline not found")
	}
	if err != nil {
		return PipelineView{}, err
	}
	return pipelineView(r)
}

// List returns the pipelines that are not deleted, by name then id, one page at a time.
func (p *PipelineQueries) List(ctx context.Context, f PipelineFilter) ([]PipelineView, error) {
	after, err := pageCursor("after", f.After)
	if err != nil {
		return nil, err
	}
	rows, err := p.q.ListPipelines(ctx, p.db, dbq.ListPipelinesParams{Owner: nullString(f.Owner), AfterID: after,
		MaxRows: pageSize(f.Limit, defaultPipelinePage, maxPipelinePage)})
	if err != nil {
		return nil, err
	}
	out := make([]PipelineView, 0, len(rows))
	for _, r := range rows {
		v, err := pipelineView(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func pipelineRunView(r dbq.PipelineRun) PipelineRunView {
	v := PipelineRunView{ID: r.ID.String(), PipelineID: r.PipelineID.String(), PipelineVersion: int(r.PipelineVersion), Owner: r.Owner,
		StartedBy: r.StartedBy, Status: r.Status, Input: r.Input, Error: r.Error, FailedNode: r.FailedNode,
		CancelReason: r.CancelReason, CancelForced: r.CancelForced, TimeoutSec: int(r.TimeoutSec), StartedAt: r.StartedAt.UTC(),
		EndedAt: nullTimePtr(r.EndedAt), DurationMS: nullInt64Ptr(r.DurationMs), Version: r.Version}
	if r.Status == string(domain.PipelineRunStatusCompleted) {
		v.Outputs = r.Outputs
	}
	return v
}

func pipelineNodeRunView(r dbq.PipelineNodeRun) (PipelineNodeRunView, error) {
	v := PipelineNodeRunView{Node: r.NodeID, Type: r.NodeType, Status: r.Status, Attempts: int(r.Attempts),
		Retries: max(int(r.Attempts)-1, 0), Error: r.Error, SkipReason: r.SkipReason, StartedAt: nullTimePtr(r.StartedAt),
		EndedAt: nullTimePtr(r.EndedAt), DurationMS: nullInt64Ptr(r.DurationMs), History: []PipelineNodeAttemptView{}}
	if r.Attempts > 0 {
		v.Input = r.Input
	}
	if r.Status == string(domain.PipelineNodeStatusCompleted) {
		v.Output = r.Output
	}
	return v, json.Unmarshal(r.History, &v.History)
}

func nullTimePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func nullInt64Ptr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

// Run returns one run with its nodes in the order of its spec.
func (p *PipelineQueries) Run(ctx context.Context, runID string) (PipelineRunView, error) {
	u, err := uuid.Parse(runID)
	if err != nil {
		return PipelineRunView{}, domain.Errorf(domain.CodeNotFound, "run not found")
	}
	r, err := p.q.GetPipelineRun(ctx, p.db, u)
	if errors.Is(err, sql.ErrNoRows) {
		return PipelineRunView{}, domain.Errorf(domain.CodeNotFound, "run not found")
	}
	if err != nil {
		return PipelineRunView{}, err
	}
	v := pipelineRunView(r)
	nodes, err := p.q.ListPipelineNodeRuns(ctx, p.db, u)
	if err != nil {
		return v, err
	}
	v.Nodes = make([]PipelineNodeRunView, 0, len(nodes))
	for _, n := range nodes {
		nv, err := pipelineNodeRunView(n)
		if err != nil {
			return v, err
		}
		v.Nodes = append(v.Nodes, nv)
	}
	return v, nil
}

// Runs returns runs newest first, one page at a time, without their nodes.
func (p *PipelineQueries) Runs(ctx context.Context, f PipelineRunFilter) ([]PipelineRunView, error) {
	var pipeline uuid.NullUUID
	if f.PipelineID != "" {
		u, err := uuid.Parse(f.PipelineID)
		if err != nil {
			return []PipelineRunView{}, nil // no pipeline has that id, so it has no runs
		}
		pipeline = uuid.NullUUID{UUID: u, Valid: true}
	}
	before, err := pageCursor("before", f.Before)
	if err != nil {
		return nil, err
	}
	rows, err := p.q.ListPipelineRuns(ctx, p.db, dbq.ListPipelineRunsParams{PipelineID: pipeline, Status: nullString(f.Status),
		BeforeID: before, MaxRows: pageSize(f.Limit, defaultPipelinePage, maxPipelinePage)})
	if err != nil {
		return nil, err
	}
	out := make([]PipelineRunView, 0, len(rows))
	for _, r := range rows {
		out = append(out, pipelineRunView(r))
	}
	return out, nil
}
