package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// A pipeline run executes one version of a pipeline on an input. Its stream (pipeline_run-<id>)
// records the run and every node attempt, so a run interrupted by a crash is folded back from
// the log and goes on where it stopped: a completed node is never started again (StartNode
// refuses it), and what is ready next is derived from what the log says happened.
//
// Node semantics, all decided from recorded facts:
//
//   - A node without incoming edges is ready when the run starts; it receives the run's input.
//   - An edge is live when its source completed and the source's completed event says the edge
//     was taken (TakenEdges, computed by the executor from the edge's condition and, for
//     condition and filter nodes, their result; see package pipeline). It is dead when its
//     source was skipped, failed for good, or completed without taking it.
//   - A node is ready once every incoming edge is settled (live or dead) and at least one is
//     live. A merge node whose config says "strategy": "first" is ready as soon as one incoming
//     edge is live. Independent branches are therefore ready together and run in parallel.
//   - A node whose every incoming edge is dead is skipped (Advance records it), and the skip
//     propagates: what depends only on skipped or failed nodes is skipped in turn.
//   - A node failure is retried (FailNode decides will_retry from the node's retry policy and
//     the error's class); a terminal failure makes the node's edges dead. Other branches go on;
//     once every node is settled the run completes, or fails if any node failed.
//   - Cancellation is cooperative first: after cancel_requested no node starts, the nodes in
//     progress may still record their outcome, and the run is cancelled when none is left in
//     progress (Advance) or, after the grace period, by force (ForceCancel). A run past its
//     timeout is timed out (TimeOut).
const (
	StreamTypePipelineRun = "pipeline_run"

	EventPipelineRunStarted         = "pipeline_run.started"
	EventPipelineRunCancelRequested = "pipeline_run.cancel_requested"
	EventPipelineRunCompleted       = "pipeline_run.completed"
	EventPipelineRunFailed          = "pipeline_run.failed"
	EventPipelineRunCancelled       = "pipeline_run.cancelled"
	EventPipelineRunTimedOut        = "pipeline_run.timed_out"
	EventPipelineNodeStarted        = "pipeline_node.started"
	EventPipelineNodeCompleted      = "pipeline_node.completed"
	EventPipelineNodeFailed         = "pipeline_node.failed"
	EventPipelineNodeSkipped        = "pipeline_node.skipped"

	MaxPipelineRunInputBytes   = 1 << 20
	MaxPipelineNodeOutputBytes = 1 << 20
	MaxPipelineNodeErrorLen    = 2000
	MaxPipelineCancelReasonLen = 2000
)

// PipelineRunStreamID returns the log stream of one run.
func PipelineRunStreamID(id string) string { return "pipeline_run-" + id }

// PipelineRunStatus is where a run stands.
type PipelineRunStatus string

const (
	PipelineRunStatusRunning    PipelineRunStatus = "running"
	PipelineRunStatusCancelling PipelineRunStatus = "cancelling" // cancel requested; nodes in progress may finish
	PipelineRunStatusCompleted  PipelineRunStatus = "completed"
	PipelineRunStatusFailed     PipelineRunStatus = "failed"
	PipelineRunStatusCancelled  PipelineRunStatus = "cancelled"
	PipelineRunStatusTimedOut   PipelineRunStatus = "timed_out"
)

// PipelineNodeStatus is where one node of a run stands.
type PipelineNodeStatus string

const (
	PipelineNodeStatusPending   PipelineNodeStatus = "pending"
	PipelineNodeStatusRunning   PipelineNodeStatus = "running"  // an attempt started and has not ended
	PipelineNodeStatusRetrying  PipelineNodeStatus = "retrying" // an attempt failed; the next waits out its backoff
	PipelineNodeStatusCompleted PipelineNodeStatus = "completed"
	PipelineNodeStatusFailed    PipelineNodeStatus = "failed" // for good
	PipelineNodeStatusSkipped   PipelineNodeStatus = "skipped"
)

// Settled reports whether the node is done one way or another.
func (s PipelineNodeStatus) Settled() bool {
	return s == PipelineNodeStatusCompleted || s == PipelineNodeStatusFailed || s == PipelineNodeStatusSkipped
}

// PipelineNodeState is one node of a run as its events tell it.
type PipelineNodeState struct {
	Status PipelineNodeStatus
	// Attempt is the latest attempt started (0 before the first).
	Attempt int
	// Input and StartedAt are those of the latest attempt.
	Input      json.RawMessage
	StartedAt  time.Time
	Output     json.RawMessage
	TakenEdges map[string]bool // by target node id
	DurationMS int64
	Error      string
	Retryable  bool
	BackoffMS  int64 // before the next attempt, when Status is retrying
	SkipReason string
	// CompletedSeq orders completions within the run, from 1.
	CompletedSeq int
}

// PipelineRun is the aggregate of one run.
type PipelineRun struct {
	ID              string
	PipelineID      string
	PipelineVersion int
	Owner           string // the pipeline's owner
	StartedBy       string
	Spec            PipelineSpec // the snapshot the run executes
	Input           json.RawMessage
	TimeoutSec      int
	CancelGraceSec  int
	StartedAt       time.Time
	Status          PipelineRunStatus
	CancelReason    string
	CancelAt        time.Time // when the cancellation was requested
	Nodes           map[string]*PipelineNodeState
	Outputs         map[string]json.RawMessage
	Error           string
	// FailedNode is the first node that failed for good.
	FailedNode string
	Version    int64

	in, out   map[string][]PipelineEdge
	byID      map[string]PipelineNode
	completed int
}

// Apply folds one event into the run.
func (r *PipelineRun) Apply(e Event) {
	r.Version++
	switch ev := e.(type) {
	case *PipelineRunStarted:
		r.ID, r.PipelineID, r.PipelineVersion, r.Owner, r.StartedBy = ev.ID, ev.PipelineID, ev.PipelineVersion, ev.Owner, ev.StartedBy
		r.Spec, r.Input, r.TimeoutSec, r.CancelGraceSec, r.StartedAt = ev.Spec, ev.Input, ev.TimeoutSec, ev.CancelGraceSec, ev.StartedAt
		r.Status = PipelineRunStatusRunning
		r.Nodes = make(map[string]*PipelineNodeState, len(ev.Spec.Nodes))
		r.in, r.out, r.byID = map[string][]PipelineEdge{}, map[string][]PipelineEdge{}, map[string]PipelineNode{}
		for _, n := range ev.Spec.Nodes {
			r.Nodes[n.ID] = &PipelineNodeState{Status: PipelineNodeStatusPending}
			r.byID[n.ID] = n
		}
		for _, edge := range ev.Spec.Edges {
			r.in[edge.To] = append(r.in[edge.To], edge)
			r.out[edge.From] = append(r.out[edge.From], edge)
		}
	case *PipelineNodeStarted:
		if n := r.Nodes[ev.Node]; n != nil {
			n.Status, n.Attempt, n.BackoffMS, n.Input, n.StartedAt = PipelineNodeStatusRunning, ev.Attempt, 0, ev.Input, ev.At
		}
	case *PipelineNodeCompleted:
		if n := r.Nodes[ev.Node]; n != nil {
			r.completed++
			n.Status, n.Attempt, n.Output, n.TakenEdges, n.DurationMS = PipelineNodeStatusCompleted, ev.Attempt, ev.Output, ev.TakenEdges, ev.DurationMS
			n.Error, n.CompletedSeq = "", r.completed
		}
	case *PipelineNodeFailed:
		if n := r.Nodes[ev.Node]; n != nil {
			n.Attempt, n.Error, n.Retryable = ev.Attempt, ev.Error, ev.Retryable
			if ev.WillRetry {
				n.Status, n.BackoffMS = PipelineNodeStatusRetrying, ev.BackoffMS
			} else {
				n.Status = PipelineNodeStatusFailed
				if r.FailedNode == "" {
					r.FailedNode = ev.Node
				}
			}
		}
	case *PipelineNodeSkipped:
		if n := r.Nodes[ev.Node]; n != nil {
			n.Status, n.SkipReason = PipelineNodeStatusSkipped, ev.Reason
		}
	case *PipelineRunCancelRequested:
		r.Status, r.CancelReason, r.CancelAt = PipelineRunStatusCancelling, ev.Reason, ev.RequestedAt
		r.CancelGraceSec = ev.GraceSec
	case *PipelineRunCompleted:
		r.Status, r.Outputs = PipelineRunStatusCompleted, ev.Outputs
	case *PipelineRunFailed:
		r.Status, r.Error = PipelineRunStatusFailed, ev.Error
	case *PipelineRunCancelled:
		r.Status = PipelineRunStatusCancelled
	case *PipelineRunTimedOut:
		r.Status = PipelineRunStatusTimedOut
	}
}

// Finished reports whether the run has ended (completed, failed, cancelled or timed out).
func (r *PipelineRun) Finished() bool {
	return r.Version > 0 && r.Status != PipelineRunStatusRunning && r.Status != PipelineRunStatusCancelling
}

// Deadline is when the run times out.
func (r *PipelineRun) Deadline() time.Time {
	return r.StartedAt.Add(time.Duration(r.TimeoutSec) * time.Second)
}

// CancelDeadline is when a requested cancellation may be forced (zero when none was requested).
func (r *PipelineRun) CancelDeadline() time.Time {
	if r.CancelAt.IsZero() {
		return time.Time{}
	}
	return r.CancelAt.Add(time.Duration(r.CancelGraceSec) * time.Second)
}

// AccessibleBy reports whether actor may see and cancel the run: the pipeline's owner, whoever
// started the run, or an admin.
func (r *PipelineRun) AccessibleBy(actor Actor) bool {
	return actor.IsAdmin() || actor.ID == r.Owner || actor.ID == r.StartedBy
}

// Start decides whether a run of pipeline p may start on input (any JSON value; empty means
// {}). The run snapshots p's current spec and version and records now as its start, from which
// its deadline is counted.
func (r *PipelineRun) Start(actor Actor, id string, p *Pipeline, input json.RawMessage, now time.Time) ([]Event, error) {
	if r.Version > 0 {
		return nil, Errorf(CodeConflict, "run %s already exists", id)
	}
	if p == nil || p.Version == 0 || p.Deleted {
		return nil, Errorf(CodeNotFound, "pipeline not found")
	}
	if !p.AccessibleBy(actor) {
		return nil, Errorf(CodeForbidden, "only the pipeline's owner or an admin may run it")
	}
	if len(bytes.TrimSpace(input)) == 0 {
		input = json.RawMessage("{}")
	}
	if len(input) > MaxPipelineRunInputBytes {
		return nil, fieldErr("input", fmt.Sprintf("must be at most %d bytes (got %d)", MaxPipelineRunInputBytes, len(input)))
	}
	var b bytes.Buffer
	if err := json.Compact(&b, input); err != nil {
		return nil, fieldErr("input", "must be valid JSON")
	}
	return []Event{&PipelineRunStarted{
		ID: id, PipelineID: p.ID, PipelineVersion: p.SpecVersion, Owner: p.Owner, StartedBy: actor.ID,
		Spec: p.Spec, Input: b.Bytes(), TimeoutSec: p.Spec.TimeoutSec, CancelGraceSec: p.Spec.CancelGraceSec,
		StartedAt: now.UTC(),
	}}, nil
}

// inputState is where a node's incoming edges stand.
type inputState int

const (
	inputsWaiting inputState = iota // some incoming edge is not settled yet
	inputsReady                     // settled (or enough for a "first" merge), at least one live
	inputsDead                      // every incoming edge is dead
)

// inputs classifies id's incoming edges; extraSkipped counts as skipped nodes Advance is about
// to skip. For inputsDead it also says why.
func (r *PipelineRun) inputs(id string, extraSkipped map[string]bool) (inputState, string) {
	in := r.in[id]
	if len(in) == 0 {
		return inputsReady, ""
	}
	live, waiting := 0, 0
	var dead []string
	for _, e := range in {
		src := r.Nodes[e.From]
		switch {
		case src == nil:
			dead = append(dead, e.From+" does not exist")
		case extraSkipped[e.From] || src.Status == PipelineNodeStatusSkipped:
			dead = append(dead, e.From+" was skipped")
		case src.Status == PipelineNodeStatusFailed:
			dead = append(dead, e.From+" failed")
		case src.Status == PipelineNodeStatusCompleted:
			if src.TakenEdges[id] {
				live++
			} else {
				dead = append(dead, "the edge from "+e.From+" was not taken")
			}
		default:
			waiting++
		}
	}
	switch {
	case live > 0 && (waiting == 0 || r.mergeFirst(id)):
		return inputsReady, ""
	case waiting > 0:
		return inputsWaiting, ""
	}
	return inputsDead, "no live input: " + strings.Join(dead, "; ")
}

// mergeFirst reports whether id is a merge node with strategy "first".
func (r *PipelineRun) mergeFirst(id string) bool {
	n := r.byID[id]
	if n.Type != NodeTypeMerge {
		return false
	}
	var cfg struct {
		Strategy string `json:"strategy"`
	}
	return json.Unmarshal(n.Config, &cfg) == nil && cfg.Strategy == "first"
}

// Ready returns, in spec order, the nodes that may start now: pending (never started) nodes
// whose inputs are settled with at least one live. Nothing is ready once the run is cancelling
// or finished. A completed node is never ready again, which is what makes a resumed run skip
// the work already done.
func (r *PipelineRun) Ready() []string {
	if r.Version == 0 || r.Status != PipelineRunStatusRunning {
		return nil
	}
	var ready []string
	for _, n := range r.Spec.Nodes {
		if r.Nodes[n.ID].Status != PipelineNodeStatusPending {
			continue
		}
		if st, _ := r.inputs(n.ID, nil); st == inputsReady {
			ready = append(ready, n.ID)
		}
	}
	return ready
}

// Running returns, in spec order, the nodes with an attempt in progress.
func (r *PipelineRun) Running() []string {
	var out []string
	for _, n := range r.Spec.Nodes {
		if s := r.Nodes[n.ID]; s != nil && s.Status == PipelineNodeStatusRunning {
			out = append(out, n.ID)
		}
	}
	return out
}

// Retrying returns, in spec order, the nodes waiting out a backoff before their next attempt.
func (r *PipelineRun) Retrying() []string {
	var out []string
	for _, n := range r.Spec.Nodes {
		if s := r.Nodes[n.ID]; s != nil && s.Status == PipelineNodeStatusRetrying {
			out = append(out, n.ID)
		}
	}
	return out
}

// Advance returns what follows from the facts so far, without anyone acting: the nodes to skip
// (every incoming edge dead, propagated down chains in one go), then, once every node is
// settled, the run's end (completed with the outputs of its completed sink nodes, or failed
// naming the first node that failed for good). A cancelling run with no node in progress is
// cancelled. Nothing is returned when nothing follows; call it after every recorded outcome.
func (r *PipelineRun) Advance() []Event {
	switch {
	case r.Version == 0:
		return nil
	case r.Status == PipelineRunStatusCancelling:
		if len(r.Running()) == 0 {
			return []Event{&PipelineRunCancelled{}}
		}
		return nil
	case r.Status != PipelineRunStatusRunning:
		return nil
	}
	var events []Event
	skipped := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, n := range r.Spec.Nodes {
			if skipped[n.ID] || r.Nodes[n.ID].Status != PipelineNodeStatusPending {
				continue
			}
			if st, why := r.inputs(n.ID, skipped); st == inputsDead {
				skipped[n.ID], changed = true, true
				events = append(events, &PipelineNodeSkipped{Node: n.ID, Reason: why})
			}
		}
	}
	for _, n := range r.Spec.Nodes {
		if !skipped[n.ID] && !r.Nodes[n.ID].Status.Settled() {
			return events
		}
	}
	if r.FailedNode != "" {
		return append(events, &PipelineRunFailed{Node: r.FailedNode,
			Error: fmt.Sprintf("node %s failed: %s", r.FailedNode, r.Nodes[r.FailedNode].Error)})
	}
	outputs := map[string]json.RawMessage{}
	for _, n := range r.Spec.Nodes {
		if s := r.Nodes[n.ID]; s.Status == PipelineNodeStatusCompleted && len(r.out[n.ID]) == 0 {
			outputs[n.ID] = s.Output
		}
	}
	return append(events, &PipelineRunCompleted{Outputs: outputs})
}

// NodeInput is what node id receives: the run's input when it has no incoming edge; its
// source's output when it has one; the output of the live input that completed first for a
// merge with strategy "first"; otherwise an object of its live inputs' outputs keyed by source
// node id.
func (r *PipelineRun) NodeInput(id string) (json.RawMessage, error) {
	if r.Version == 0 {
		return nil, Errorf(CodeNotFound, "run not found")
	}
	if _, ok := r.Nodes[id]; !ok {
		return nil, Errorf(CodeNotFound, "no node %q in this run", id)
	}
	in := r.in[id]
	if len(in) == 0 {
		return r.Input, nil
	}
	var live []string
	for _, e := range in {
		if src := r.Nodes[e.From]; src != nil && src.Status == PipelineNodeStatusCompleted && src.TakenEdges[id] {
			live = append(live, e.From)
		}
	}
	if len(live) == 0 {
		return nil, Errorf(CodeConflict, "node %s has no live input yet", id)
	}
	if len(in) == 1 {
		return r.Nodes[live[0]].Output, nil
	}
	if r.mergeFirst(id) {
		first := slices.MinFunc(live, func(a, b string) int { return r.Nodes[a].CompletedSeq - r.Nodes[b].CompletedSeq })
		return r.Nodes[first].Output, nil
	}
	obj := make(map[string]json.RawMessage, len(live))
	for _, src := range live {
		obj[src] = r.Nodes[src].Output
		if len(obj[src]) == 0 {
			obj[src] = json.RawMessage("null")
		}
	}
	return json.Marshal(obj)
}

// OutgoingEdges returns the edges leaving node id, in spec order.
func (r *PipelineRun) OutgoingEdges(id string) []PipelineEdge { return slices.Clone(r.out[id]) }

// Node returns node id of the run's spec.
func (r *PipelineRun) Node(id string) (PipelineNode, bool) {
	n, ok := r.byID[id]
	return n, ok
}

// node checks that the run is open to node outcomes and returns the state of node id.
func (r *PipelineRun) node(id string) (*PipelineNodeState, error) {
	if r.Version == 0 {
		return nil, Errorf(CodeNotFound, "run not found")
	}
	if r.Finished() {
		return nil, Errorf(CodeConflict, "the run is %s", r.Status)
	}
	n, ok := r.Nodes[id]
	if !ok {
		return nil, Errorf(CodeNotFound, "no node %q in this run", id)
	}
	return n, nil
}

// StartNode records the start of attempt of node id. It refuses a node already completed,
// skipped or failed for good (so a retried job never repeats a completed node), a node whose
// inputs are not ready, and any start once the run is cancelling or finished. Attempts count
// from 1, one more after each retryable failure. Starting the attempt already in progress
// records nothing and succeeds: a job that died mid-attempt and is run again redoes that
// attempt (unless the run is cancelling: the job should then record the attempt as failed).
// The event records the node's input and now, so a run's history shows what each attempt was
// given and when it began (a delay node counts its wait from there).
func (r *PipelineRun) StartNode(id string, attempt int, now time.Time) ([]Event, error) {
	n, err := r.node(id)
	if err != nil {
		return nil, err
	}
	switch {
	case n.Status == PipelineNodeStatusCompleted:
		return nil, Errorf(CodeConflict, "node %s already completed (attempt %d)", id, n.Attempt)
	case r.Status == PipelineRunStatusCancelling:
		return nil, Errorf(CodeConflict, "the run is being cancelled")
	}
	switch n.Status {
	case PipelineNodeStatusSkipped:
		return nil, Errorf(CodeConflict, "node %s was skipped", id)
	case PipelineNodeStatusFailed:
		return nil, Errorf(CodeConflict, "node %s failed for good", id)
	case PipelineNodeStatusRunning:
		if attempt == n.Attempt {
			return nil, nil
		}
		return nil, Errorf(CodeConflict, "node %s is running attempt %d", id, n.Attempt)
	}
	if want := n.Attempt + 1; attempt != want {
		return nil, Errorf(CodeConflict, "node %s: the next attempt is %d, not %d", id, want, attempt)
	}
	if n.Status == PipelineNodeStatusPending {
		switch st, why := r.inputs(id, nil); st {
		case inputsWaiting:
			return nil, Errorf(CodeConflict, "node %s is waiting for its inputs", id)
		case inputsDead:
			return nil, Errorf(CodeConflict, "node %s will be skipped: %s", id, why)
		}
	}
	input, err := r.NodeInput(id)
	if err != nil {
		return nil, err
	}
	return []Event{&PipelineNodeStarted{Node: id, Type: r.byID[id].Type, Attempt: attempt, Input: input, At: now.UTC()}}, nil
}

// CompleteNode records that attempt of node id succeeded with output (any JSON; empty means
// null) after durationMS. taken says, for every outgoing edge by target node id, whether the
// edge is followed; the executor decides it (package pipeline's TakenEdges), so the domain
// never evaluates an expression. An outcome may be recorded while the run is cancelling.
func (r *PipelineRun) CompleteNode(id string, attempt int, output json.RawMessage, durationMS int64, taken map[string]bool) ([]Event, error) {
	n, err := r.node(id)
	if err != nil {
		return nil, err
	}
	if err := r.requireAttempt(id, n, attempt); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(output)) == 0 {
		output = json.RawMessage("null")
	}
	var v Validation
	var out bytes.Buffer
	if len(output) > MaxPipelineNodeOutputBytes {
		v.Add("output", "must be at most %d bytes (got %d)", MaxPipelineNodeOutputBytes, len(output))
	} else if err := json.Compact(&out, output); err != nil {
		v.Add("output", "must be valid JSON")
	}
	edges := make(map[string]bool, len(r.out[id]))
	for _, e := range r.out[id] {
		t, ok := taken[e.To]
		if !ok {
			v.Add("taken_edges."+e.To, "the edge %s -> %s needs a decision", id, e.To)
		}
		edges[e.To] = t
	}
	for to := range taken {
		if _, ok := edges[to]; !ok {
			v.Add("taken_edges."+to, "there is no edge %s -> %s", id, to)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{&PipelineNodeCompleted{Node: id, Attempt: attempt, Output: out.Bytes(), DurationMS: max(0, durationMS), TakenEdges: edges}}, nil
}

// FailNode records that attempt of node id failed. The node is retried (will_retry) when the
// error is retryable, the node's retry policy allows another attempt and the run is not
// cancelling; backoffMS (computed by the executor, with jitter) is then recorded as the wait
// before the next attempt. Otherwise the failure is final and the node's edges are dead.
func (r *PipelineRun) FailNode(id string, attempt int, message string, retryable bool, backoffMS int64) ([]Event, error) {
	n, err := r.node(id)
	if err != nil {
		return nil, err
	}
	if err := r.requireAttempt(id, n, attempt); err != nil {
		return nil, err
	}
	message = strings.TrimSpace(message)
	if message == "" {
		message = "failed"
	}
	if utf8.RuneCountInString(message) > MaxPipelineNodeErrorLen {
		message = string([]rune(message)[:MaxPipelineNodeErrorLen-1]) + "…"
	}
	willRetry := retryable && attempt < r.byID[id].Retry.MaxAttempts && r.Status == PipelineRunStatusRunning
	ev := &PipelineNodeFailed{Node: id, Attempt: attempt, Error: message, Retryable: retryable, WillRetry: willRetry}
	if willRetry {
		ev.BackoffMS = max(0, backoffMS)
	}
	return []Event{ev}, nil
}

func (r *PipelineRun) requireAttempt(id string, n *PipelineNodeState, attempt int) error {
	switch {
	case n.Status == PipelineNodeStatusCompleted:
		return Errorf(CodeConflict, "node %s already completed (attempt %d)", id, n.Attempt)
	case n.Status != PipelineNodeStatusRunning:
		return Errorf(CodeConflict, "node %s is %s, not running", id, n.Status)
	case attempt != n.Attempt:
		return Errorf(CodeConflict, "node %s is running attempt %d, not %d", id, n.Attempt, attempt)
	}
	return nil
}

// RequestCancel asks the run to stop: no node starts any more, the nodes in progress are asked
// to stop and may still record their outcome. When none is in progress the run is cancelled at
// once; otherwise Advance cancels it when the last one ends, or ForceCancel after the grace
// period. Asking again records nothing.
func (r *PipelineRun) RequestCancel(actor Actor, reason string, now time.Time) ([]Event, error) {
	if r.Version == 0 {
		return nil, Errorf(CodeNotFound, "run not found")
	}
	if !r.AccessibleBy(actor) {
		return nil, Errorf(CodeForbidden, "only the pipeline's owner, the run's starter or an admin may cancel it")
	}
	if r.Status == PipelineRunStatusCancelling {
		return nil, nil
	}
	if r.Finished() {
		return nil, Errorf(CodeConflict, "the run is %s", r.Status)
	}
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n > MaxPipelineCancelReasonLen {
		return nil, fieldErr("reason", fmt.Sprintf("must be at most %d characters (got %d)", MaxPipelineCancelReasonLen, n))
	}
	events := []Event{&PipelineRunCancelRequested{Reason: reason, By: actor.ID, GraceSec: r.CancelGraceSec, RequestedAt: now.UTC()}}
	if len(r.Running()) == 0 {
		events = append(events, &PipelineRunCancelled{})
	}
	return events, nil
}

// ForceCancel ends a cancelling run whose grace period is over, abandoning the nodes still in
// progress (they are named in the event; their late outcomes are refused).
func (r *PipelineRun) ForceCancel(now time.Time) ([]Event, error) {
	if r.Version == 0 {
		return nil, Errorf(CodeNotFound, "run not found")
	}
	if r.Status != PipelineRunStatusCancelling {
		return nil, Errorf(CodeConflict, "the run is %s; only a cancelling run can be cancelled by force", r.Status)
	}
	if d := r.CancelDeadline(); now.Before(d) {
		return nil, Errorf(CodeConflict, "the nodes in progress have until %s to stop", d.Format(time.RFC3339))
	}
	return []Event{&PipelineRunCancelled{Forced: true, Interrupted: r.Running()}}, nil
}

// TimeOut ends a run that is past its deadline, abandoning the nodes still in progress.
func (r *PipelineRun) TimeOut(now time.Time) ([]Event, error) {
	if r.Version == 0 {
		return nil, Errorf(CodeNotFound, "run not found")
	}
	if r.Finished() {
		return nil, Errorf(CodeConflict, "the run is %s", r.Status)
	}
	if d := r.Deadline(); now.Before(d) {
		return nil, Errorf(CodeConflict, "the run has until %s", d.Format(time.RFC3339))
	}
	return []Event{&PipelineRunTimedOut{TimeoutSec: r.TimeoutSec, Interrupted: r.Running()}}, nil
}

// PipelineRunStarted snapshots the pipeline version the run executes.
type PipelineRunStarted struct {
	ID              string          `json:"id"`
	PipelineID      string          `json:"pipeline_id"`
	PipelineVersion int             `json:"pipeline_version"`
	Owner           string          `json:"owner"`
	StartedBy       string          `json:"started_by"`
	Spec            PipelineSpec    `json:"spec"`
	Input           json.RawMessage `json:"input"`
	TimeoutSec      int             `json:"timeout_sec"`
	CancelGraceSec  int             `json:"cancel_grace_sec"`
	StartedAt       time.Time       `json:"started_at"`
}

func (*PipelineRunStarted) EventType() string { return EventPipelineRunStarted }

type PipelineRunCancelRequested struct {
	Reason      string    `json:"reason,omitempty"`
	By          string    `json:"by"`
	GraceSec    int       `json:"grace_sec"`
	RequestedAt time.Time `json:"requested_at"`
}

func (*PipelineRunCancelRequested) EventType() string { return EventPipelineRunCancelRequested }

// PipelineRunCompleted carries the outputs of the completed nodes without outgoing edges.
type PipelineRunCompleted struct {
	Outputs map[string]json.RawMessage `json:"outputs"`
}

func (*PipelineRunCompleted) EventType() string { return EventPipelineRunCompleted }

type PipelineRunFailed struct {
	Node  string `json:"node,omitempty"`
	Error string `json:"error"`
}

func (*PipelineRunFailed) EventType() string { return EventPipelineRunFailed }

type PipelineRunCancelled struct {
	Forced      bool     `json:"forced,omitempty"`
	Interrupted []string `json:"interrupted,omitempty"`
}

func (*PipelineRunCancelled) EventType() string { return EventPipelineRunCancelled }

type PipelineRunTimedOut struct {
	TimeoutSec  int      `json:"timeout_sec"`
	Interrupted []string `json:"interrupted,omitempty"`
}

func (*PipelineRunTimedOut) EventType() string { return EventPipelineRunTimedOut }

type PipelineNodeStarted struct {
	Node    string          `json:"node"`
	Type    string          `json:"type"`
	Attempt int             `json:"attempt"`
	Input   json.RawMessage `json:"input,omitempty"`
	At      time.Time       `json:"at"`
}

func (*PipelineNodeStarted) EventType() string { return EventPipelineNodeStarted }

type PipelineNodeCompleted struct {
	Node       string          `json:"node"`
	Attempt    int             `json:"attempt"`
	Output     json.RawMessage `json:"output"`
	DurationMS int64           `json:"duration_ms"`
	// TakenEdges says for each outgoing edge, by target node id, whether it is followed.
	TakenEdges map[string]bool `json:"taken_edges"`
}

func (*PipelineNodeCompleted) EventType() string { return EventPipelineNodeCompleted }

// PipelineNodeFailed is one failed attempt; WillRetry says whether another follows after
// BackoffMS (there is no separate retrying event).
type PipelineNodeFailed struct {
	Node      string `json:"node"`
	Attempt   int    `json:"attempt"`
	Error     string `json:"error"`
	Retryable bool   `json:"retryable"`
	WillRetry bool   `json:"will_retry"`
	BackoffMS int64  `json:"backoff_ms,omitempty"`
}

func (*PipelineNodeFailed) EventType() string { return EventPipelineNodeFailed }

type PipelineNodeSkipped struct {
	Node   string `json:"node"`
	Reason string `json:"reason"`
}

func (*PipelineNodeSkipped) EventType() string { return EventPipelineNodeSkipped }
