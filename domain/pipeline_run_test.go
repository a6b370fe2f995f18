package domain

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var pipeRunStart = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// pipeRunHarness drives a run the way the executor will: decide, then fold.
type pipeRunHarness struct {
	t   *testing.T
	run *PipelineRun
	log []Event
}

func newPipeRunHarness(t *testing.T, spec PipelineSpec) *pipeRunHarness {
	t.Helper()
	var p Pipeline
	events, err := p.Create(pipeOwner, "p1", spec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		p.Apply(e)
	}
	h := &pipeRunHarness{t: t, run: &PipelineRun{}}
	h.must(h.run.Start(pipeOwner, "r1", &p, json.RawMessage(`{"topic":"go"}`), pipeRunStart))
	return h
}

func (h *pipeRunHarness) must(events []Event, err error) []Event {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range events {
		h.run.Apply(e)
	}
	h.log = append(h.log, events...)
	return events
}

func (h *pipeRunHarness) start(id string, attempt int) {
	h.t.Helper()
	h.must(h.run.StartNode(id, attempt, time.Now()))
}

// complete finishes attempt 1 (or the running attempt) of id with output, taking every
// outgoing edge except those named in notTaken, then advances.
func (h *pipeRunHarness) complete(id string, output string, notTaken ...string) []Event {
	h.t.Helper()
	taken := map[string]bool{}
	for _, e := range h.run.OutgoingEdges(id) {
		taken[e.To] = !slices.Contains(notTaken, e.To)
	}
	h.must(h.run.CompleteNode(id, h.run.Nodes[id].Attempt, json.RawMessage(output), 5, taken))
	return h.advance()
}

func (h *pipeRunHarness) advance() []Event {
	h.t.Helper()
	return h.must(h.run.Advance(), nil)
}

func (h *pipeRunHarness) ready(want ...string) {
	h.t.Helper()
	if got := h.run.Ready(); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		h.t.Fatalf("ready %q, want %q", got, want)
	}
}

func (h *pipeRunHarness) status(id string, want PipelineNodeStatus) {
	h.t.Helper()
	if got := h.run.Nodes[id].Status; got != want {
		h.t.Fatalf("node %s is %s, want %s", id, got, want)
	}
}

func pipeTypes(events []Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.EventType()
	}
	return out
}

func pipeDiamond(mergeConfig string) PipelineSpec {
	m := pipeNode("m", "merge")
	m.Config = json.RawMessage(mergeConfig)
	return PipelineSpec{
		Name:  "diamond",
		Nodes: []PipelineNode{pipeNode("t", "trigger"), pipeNode("a", "agent"), pipeNode("b", "agent"), m, pipeNode("out", "action")},
		Edges: []PipelineEdge{pipeEdge("t", "a"), pipeEdge("t", "b"), pipeEdge("a", "m"), pipeEdge("b", "m"), pipeEdge("m", "out")},
	}
}

func TestRunStartSnapshotsThePipeline(t *testing.T) {
	h := newPipeRunHarness(t, pipeDiamond(`{}`))
	r := h.run
	if r.Status != PipelineRunStatusRunning || r.PipelineID != "p1" || r.PipelineVersion != 1 || r.Owner != "owner-1" ||
		string(r.Input) != `{"topic":"go"}` || r.TimeoutSec != DefaultPipelineTimeoutSec || !r.Deadline().Equal(pipeRunStart.Add(time.Hour)) {
		t.Fatalf("run: %+v", r)
	}
	if in, err := r.NodeInput("t"); err != nil || string(in) != `{"topic":"go"}` {
		t.Fatalf("a root node receives the run's input: %s %v", in, err)
	}
	if _, err := r.Start(pipeOwner, "r1", &Pipeline{}, nil, pipeRunStart); ErrorCode(err) != CodeConflict {
		t.Fatalf("second start: %v", err)
	}

	var p Pipeline
	p.Apply(&PipelineCreated{ID: "p2", Owner: "owner-1", SpecVersion: 1, Spec: NormalizePipelineSpec(pipeDiamond(`{}`))})
	var fresh PipelineRun
	if _, err := fresh.Start(Actor{ID: "x", Role: RoleMember}, "r2", &p, nil, pipeRunStart); ErrorCode(err) != CodeForbidden {
		t.Fatalf("stranger: %v", err)
	}
	if _, err := fresh.Start(pipeOwner, "r2", &p, json.RawMessage(`{nope`), pipeRunStart); ErrorCode(err) != CodeInvalid {
		t.Fatalf("bad input: %v", err)
	}
	events, err := fresh.Start(pipeOwner, "r2", &p, nil, pipeRunStart)
	if err != nil || string(events[0].(*PipelineRunStarted).Input) != "{}" {
		t.Fatalf("empty input: %v %v", events, err)
	}
	p.Apply(&PipelineDeleted{})
	if _, err := fresh.Start(pipeOwner, "r2", &p, nil, pipeRunStart); ErrorCode(err) != CodeNotFound {
		t.Fatalf("deleted pipeline: %v", err)
	}
}

func TestRunIndependentBranchesAreReadyTogetherAndMergeWaits(t *testing.T) {
	h := newPipeRunHarness(t, pipeDiamond(`{}`))
	h.ready("t")
	h.start("t", 1)
	h.ready()
	h.complete("t", `{"topic":"go"}`)
	h.ready("a", "b") // two independent branches at once

	h.start("a", 1)
	h.start("b", 1)
	h.ready()
	h.complete("a", `"from a"`)
	h.ready() // the merge waits for b, still running
	if _, err := h.run.StartNode("m", 1, time.Now()); ErrorCode(err) != CodeConflict || !strings.Contains(err.Error(), "waiting for its inputs") {
		t.Fatalf("merge started early: %v", err)
	}
	h.complete("b", `"from b"`)
	h.ready("m")
	in, err := h.run.NodeInput("m")
	if err != nil || string(in) != `{"a":"from a","b":"from b"}` {
		t.Fatalf("merge input %s %v", in, err)
	}
	h.start("m", 1)
	h.complete("m", `["from a","from b"]`)
	if in, _ := h.run.NodeInput("out"); string(in) != `["from a","from b"]` {
		t.Fatalf("single input: %s", in)
	}
	h.start("out", 1)
	end := h.complete("out", `{"sent":true}`)
	if !reflect.DeepEqual(pipeTypes(end), []string{EventPipelineRunCompleted}) {
		t.Fatalf("end: %q", pipeTypes(end))
	}
	if h.run.Status != PipelineRunStatusCompleted || string(h.run.Outputs["out"]) != `{"sent":true}` || len(h.run.Outputs) != 1 {
		t.Fatalf("run: %s %v", h.run.Status, h.run.Outputs)
	}
	if _, err := h.run.StartNode("a", 2, time.Now()); ErrorCode(err) != CodeConflict {
		t.Fatalf("start in a finished run: %v", err)
	}
}

func TestRunMergeWaitsOnlyForLiveInputs(t *testing.T) {
	h := newPipeRunHarness(t, pipeDiamond(`{"strategy":"all"}`))
	h.start("t", 1)
	skipped := h.complete("t", `{}`, "a") // the edge t -> a is not taken
	if !reflect.DeepEqual(pipeTypes(skipped), []string{EventPipelineNodeSkipped}) || h.run.Nodes["a"].SkipReason != "no live input: the edge from t was not taken" {
		t.Fatalf("skip: %q %q", pipeTypes(skipped), h.run.Nodes["a"].SkipReason)
	}
	h.ready("b")
	h.start("b", 1)
	h.complete("b", `2`)
	h.ready("m") // a is dead, b live: the merge runs with what it has
	if in, _ := h.run.NodeInput("m"); string(in) != `{"b":2}` {
		t.Fatalf("merge input: %s", in)
	}
}

func TestRunMergeFirstStartsOnTheFirstLiveInput(t *testing.T) {
	h := newPipeRunHarness(t, pipeDiamond(`{"strategy":"first"}`))
	h.start("t", 1)
	h.complete("t", `{}`)
	h.start("a", 1)
	h.start("b", 1)
	h.complete("b", `"b wins"`)
	h.ready("m")
	h.complete("a", `"a late"`)
	if in, _ := h.run.NodeInput("m"); string(in) != `"b wins"` {
		t.Fatalf("first input: %s", in)
	}
}

func TestRunSkipPropagatesThroughChains(t *testing.T) {
	spec := PipelineSpec{
		Name: "chain",
		Nodes: []PipelineNode{pipeNode("t", "trigger"), pipeNode("a", "agent"), pipeNode("b", "transform"),
			pipeNode("c", "action"), pipeNode("d", "agent"), pipeNode("j", "transform")},
		Edges: []PipelineEdge{
			{From: "t", To: "a", Condition: "output.go == false"}, pipeEdge("a", "b"), pipeEdge("b", "c"),
			pipeEdge("t", "d"),
			pipeEdge("b", "j"), pipeEdge("d", "j"), // j depends on the dead chain and on d
		},
	}
	h := newPipeRunHarness(t, spec)
	h.start("t", 1)
	skipped := h.complete("t", `{"go":true}`, "a")
	var names []string
	for _, e := range skipped {
		names = append(names, e.(*PipelineNodeSkipped).Node)
	}
	if !reflect.DeepEqual(names, []string{"a", "b", "c"}) {
		t.Fatalf("skipped in one go: %q", names)
	}
	if why := h.run.Nodes["c"].SkipReason; why != "no live input: b was skipped" {
		t.Fatalf("reason: %q", why)
	}
	h.status("j", PipelineNodeStatusPending) // d may still feed it
	h.ready("d")
	if _, err := h.run.StartNode("b", 1, time.Now()); ErrorCode(err) != CodeConflict {
		t.Fatalf("start a skipped node: %v", err)
	}
	h.start("d", 1)
	h.complete("d", `"d"`)
	h.ready("j")
	if in, _ := h.run.NodeInput("j"); string(in) != `{"d":"d"}` {
		t.Fatalf("input of a node with two edges, one dead: %s", in)
	}
	h.start("j", 1)
	end := h.complete("j", `"j"`)
	if !reflect.DeepEqual(pipeTypes(end), []string{EventPipelineRunCompleted}) || !reflect.DeepEqual(h.run.Outputs, map[string]json.RawMessage{"j": json.RawMessage(`"j"`)}) {
		t.Fatalf("end %q outputs %v", pipeTypes(end), h.run.Outputs)
	}
}

func TestRunConditionNodeRoutesItsEdges(t *testing.T) {
	spec := PipelineSpec{
		Name: "route",
		Nodes: []PipelineNode{pipeNode("t", "trigger"),
			{ID: "check", Type: "condition", Config: json.RawMessage(`{"expression":"input.score > 0.5"}`)},
			pipeNode("yes", "agent"), pipeNode("no", "action"), pipeNode("after_no", "action")},
		Edges: []PipelineEdge{pipeEdge("t", "check"), pipeEdge("check", "yes"), {From: "check", To: "no", Condition: "!output.result"}, pipeEdge("no", "after_no")},
	}
	h := newPipeRunHarness(t, spec)
	h.start("t", 1)
	h.complete("t", `{"score":0.9}`)
	h.start("check", 1)
	// The executor evaluated the condition (result true) and the edges: yes taken, no not.
	skipped := h.complete("check", `{"result":true}`, "no")
	if !reflect.DeepEqual(pipeTypes(skipped), []string{EventPipelineNodeSkipped, EventPipelineNodeSkipped}) {
		t.Fatalf("skipped: %q", pipeTypes(skipped))
	}
	h.status("no", PipelineNodeStatusSkipped)
	h.status("after_no", PipelineNodeStatusSkipped)
	h.ready("yes")
	h.start("yes", 1)
	end := h.complete("yes", `"done"`)
	if h.run.Status != PipelineRunStatusCompleted || len(end) != 1 {
		t.Fatalf("run %s after %q", h.run.Status, pipeTypes(end))
	}
}

func TestRunNeverStartsACompletedNodeAgain(t *testing.T) {
	h := newPipeRunHarness(t, pipeDiamond(`{}`))
	h.start("t", 1)
	h.complete("t", `{}`)
	h.start("a", 1)
	h.complete("a", `"a"`)
	h.start("b", 1)

	for _, attempt := range []int{1, 2} {
		if _, err := h.run.StartNode("a", attempt, time.Now()); ErrorCode(err) != CodeConflict || !strings.Contains(err.Error(), "already completed") {
			t.Fatalf("restart a (attempt %d): %v", attempt, err)
		}
	}
	if _, err := h.run.CompleteNode("a", 1, nil, 1, map[string]bool{"m": true}); ErrorCode(err) != CodeConflict {
		t.Fatalf("complete a twice: %v", err)
	}
	// The attempt in progress may be entered again (its job died and was retried); another may not.
	if events, err := h.run.StartNode("b", 1, time.Now()); err != nil || events != nil {
		t.Fatalf("re-enter b's attempt: %v %v", events, err)
	}
	if _, err := h.run.StartNode("b", 2, time.Now()); ErrorCode(err) != CodeConflict {
		t.Fatalf("second attempt while the first runs: %v", err)
	}
	if _, err := h.run.StartNode("ghost", 1, time.Now()); ErrorCode(err) != CodeNotFound {
		t.Fatalf("unknown node: %v", err)
	}
	if _, err := h.run.StartNode("m", 2, time.Now()); ErrorCode(err) != CodeConflict {
		t.Fatalf("wrong first attempt: %v", err)
	}

	// A crash: the run is folded again from its log, decoded as a reader would.
	reg := NewRegistry(pipelineEventSpecs()...)
	var resumed PipelineRun
	for _, e := range h.log {
		typ, v, payload, err := reg.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		back, err := reg.Decode(typ, v, payload)
		if err != nil {
			t.Fatal(err)
		}
		resumed.Apply(back)
	}
	if resumed.Version != h.run.Version || len(resumed.Ready()) != 0 || !reflect.DeepEqual(resumed.Running(), []string{"b"}) {
		t.Fatalf("resumed: version %d ready %q running %q", resumed.Version, resumed.Ready(), resumed.Running())
	}
	if _, err := resumed.StartNode("a", 1, time.Now()); ErrorCode(err) != CodeConflict {
		t.Fatalf("resumed run restarts a: %v", err)
	}
	if _, err := resumed.CompleteNode("b", 1, json.RawMessage(`"b"`), 3, map[string]bool{"m": true}); err != nil {
		t.Fatal(err)
	}
}

func TestRunCompleteNodeNeedsADecisionForEveryEdge(t *testing.T) {
	h := newPipeRunHarness(t, pipeDiamond(`{}`))
	h.start("t", 1)
	_, err := h.run.CompleteNode("t", 1, json.RawMessage(`{bad`), 1, map[string]bool{"a": true, "zz": true})
	fields := pipeFields(t, err)
	var got []string
	for _, f := range fields {
		got = append(got, f.Field)
	}
	if !reflect.DeepEqual(got, []string{"output", "taken_edges.b", "taken_edges.zz"}) {
		t.Fatalf("fields %q", got)
	}
	if _, err := h.run.CompleteNode("t", 2, nil, 1, map[string]bool{"a": true, "b": true}); ErrorCode(err) != CodeConflict {
		t.Fatalf("wrong attempt: %v", err)
	}
	if _, err := h.run.CompleteNode("a", 1, nil, 1, map[string]bool{"m": true}); ErrorCode(err) != CodeConflict {
		t.Fatalf("complete a node not started: %v", err)
	}
	events, err := h.run.CompleteNode("t", 1, nil, -4, map[string]bool{"a": true, "b": false})
	if err != nil {
		t.Fatal(err)
	}
	if c := events[0].(*PipelineNodeCompleted); string(c.Output) != "null" || c.DurationMS != 0 {
		t.Fatalf("completed: %+v", c)
	}
}

func TestRunRetriesRetryableFailuresThenFails(t *testing.T) {
	spec := pipeDiamond(`{}`)
	spec.Nodes[1].Retry = RetryPolicy{MaxAttempts: 2}
	h := newPipeRunHarness(t, spec)
	h.start("t", 1)
	h.complete("t", `{}`)
	h.start("a", 1)
	h.start("b", 1)

	ev := h.must(h.run.FailNode("a", 1, "rate limited", true, 750))[0].(*PipelineNodeFailed)
	if !ev.WillRetry || ev.BackoffMS != 750 || ev.Attempt != 1 {
		t.Fatalf("first failure: %+v", ev)
	}
	h.status("a", PipelineNodeStatusRetrying)
	if !reflect.DeepEqual(h.run.Retrying(), []string{"a"}) || len(h.advance()) != 0 {
		t.Fatal("a retrying node is neither ready nor settled")
	}
	h.ready()
	if _, err := h.run.StartNode("a", 3, time.Now()); ErrorCode(err) != CodeConflict {
		t.Fatalf("skipping an attempt: %v", err)
	}
	h.start("a", 2)
	ev = h.must(h.run.FailNode("a", 2, "rate limited again", true, 1500))[0].(*PipelineNodeFailed)
	if ev.WillRetry || ev.BackoffMS != 0 {
		t.Fatalf("out of attempts: %+v", ev)
	}
	h.status("a", PipelineNodeStatusFailed)
	if got := h.advance(); len(got) != 0 {
		t.Fatalf("b still runs, nothing follows yet: %q", pipeTypes(got))
	}
	end := h.complete("b", `"b"`)
	// m still has b live, so it runs; the run fails only once everything is settled.
	if len(end) != 0 {
		t.Fatalf("after b: %q", pipeTypes(end))
	}
	h.start("m", 1)
	h.complete("m", `1`)
	h.start("out", 1)
	end = h.complete("out", `2`)
	if !reflect.DeepEqual(pipeTypes(end), []string{EventPipelineRunFailed}) || h.run.Error != "node a failed: rate limited again" {
		t.Fatalf("end %q error %q", pipeTypes(end), h.run.Error)
	}
}

func TestRunNonRetryableFailureIsFinalAndKillsItsEdges(t *testing.T) {
	spec := PipelineSpec{Name: "line", Nodes: []PipelineNode{pipeNode("a", "agent"), pipeNode("b", "action")}, Edges: []PipelineEdge{pipeEdge("a", "b")}}
	h := newPipeRunHarness(t, spec)
	h.start("a", 1)
	long := strings.Repeat("é", MaxPipelineNodeErrorLen+10)
	ev := h.must(h.run.FailNode("a", 1, long, false, 999))[0].(*PipelineNodeFailed)
	if ev.WillRetry || ev.Retryable || len([]rune(ev.Error)) != MaxPipelineNodeErrorLen {
		t.Fatalf("failure: will_retry %v, %d runes", ev.WillRetry, len([]rune(ev.Error)))
	}
	end := h.advance()
	if !reflect.DeepEqual(pipeTypes(end), []string{EventPipelineNodeSkipped, EventPipelineRunFailed}) {
		t.Fatalf("end: %q", pipeTypes(end))
	}
	if h.run.Nodes["b"].SkipReason != "no live input: a failed" || h.run.Status != PipelineRunStatusFailed {
		t.Fatalf("b: %q, run %s", h.run.Nodes["b"].SkipReason, h.run.Status)
	}
}

func TestRunCancelIsCooperativeThenForced(t *testing.T) {
	h := newPipeRunHarness(t, pipeDiamond(`{}`))
	h.start("t", 1)
	h.complete("t", `{}`)
	h.start("a", 1)
	h.start("b", 1)

	if _, err := h.run.RequestCancel(Actor{ID: "x", Role: RoleMember}, "", pipeRunStart); ErrorCode(err) != CodeForbidden {
		t.Fatalf("stranger: %v", err)
	}
	at := pipeRunStart.Add(time.Minute)
	got := h.must(h.run.RequestCancel(pipeOwner, " enough ", at))
	if !reflect.DeepEqual(pipeTypes(got), []string{EventPipelineRunCancelRequested}) || h.run.CancelReason != "enough" {
		t.Fatalf("request: %q", pipeTypes(got))
	}
	if again, err := h.run.RequestCancel(pipeOwner, "again", at); err != nil || again != nil {
		t.Fatalf("asking again: %v %v", again, err)
	}
	h.ready()
	// a finishes cooperatively; its outcome is still recorded, but nothing new starts.
	h.complete("a", `"a"`)
	h.ready()
	if _, err := h.run.StartNode("m", 1, time.Now()); ErrorCode(err) != CodeConflict {
		t.Fatalf("start while cancelling: %v", err)
	}
	if _, err := h.run.StartNode("b", 1, time.Now()); ErrorCode(err) != CodeConflict {
		t.Fatalf("re-enter while cancelling: %v", err)
	}
	if _, err := h.run.ForceCancel(at.Add(29 * time.Second)); ErrorCode(err) != CodeConflict {
		t.Fatalf("forced within the grace period: %v", err)
	}
	got = h.must(h.run.ForceCancel(at.Add(30 * time.Second)))
	c := got[0].(*PipelineRunCancelled)
	if !c.Forced || !reflect.DeepEqual(c.Interrupted, []string{"b"}) || h.run.Status != PipelineRunStatusCancelled {
		t.Fatalf("forced: %+v %s", c, h.run.Status)
	}
	if _, err := h.run.CompleteNode("b", 1, nil, 1, map[string]bool{"m": true}); ErrorCode(err) != CodeConflict {
		t.Fatalf("late outcome: %v", err)
	}
	if _, err := h.run.RequestCancel(pipeOwner, "", at); ErrorCode(err) != CodeConflict {
		t.Fatalf("cancel a cancelled run: %v", err)
	}
}

func TestRunCancelEndsWhenTheLastNodeStops(t *testing.T) {
	h := newPipeRunHarness(t, pipeDiamond(`{}`))
	h.start("t", 1)
	h.must(h.run.RequestCancel(pipeOwner, "", pipeRunStart))
	if len(h.advance()) != 0 {
		t.Fatal("t is still in progress")
	}
	// The executor stops t and records the attempt as failed; no retry while cancelling.
	ev := h.must(h.run.FailNode("t", 1, "cancelled", true, 100))[0].(*PipelineNodeFailed)
	if ev.WillRetry {
		t.Fatal("retry while cancelling")
	}
	end := h.advance()
	if !reflect.DeepEqual(pipeTypes(end), []string{EventPipelineRunCancelled}) || end[0].(*PipelineRunCancelled).Forced {
		t.Fatalf("end: %+v", end)
	}

	// Nothing in progress: cancelled at once.
	idle := newPipeRunHarness(t, pipeDiamond(`{}`))
	got := idle.must(idle.run.RequestCancel(Actor{ID: "root", Role: RoleAdmin}, "", pipeRunStart))
	if !reflect.DeepEqual(pipeTypes(got), []string{EventPipelineRunCancelRequested, EventPipelineRunCancelled}) {
		t.Fatalf("idle cancel: %q", pipeTypes(got))
	}
}

func TestRunTimesOutAfterItsDeadline(t *testing.T) {
	spec := pipeDiamond(`{}`)
	spec.TimeoutSec = 60
	h := newPipeRunHarness(t, spec)
	h.start("t", 1)
	if _, err := h.run.TimeOut(pipeRunStart.Add(59 * time.Second)); ErrorCode(err) != CodeConflict {
		t.Fatalf("early timeout: %v", err)
	}
	got := h.must(h.run.TimeOut(pipeRunStart.Add(time.Minute)))
	if to := got[0].(*PipelineRunTimedOut); to.TimeoutSec != 60 || !reflect.DeepEqual(to.Interrupted, []string{"t"}) {
		t.Fatalf("timed out: %+v", to)
	}
	if !h.run.Finished() || h.run.Ready() != nil || h.run.Advance() != nil {
		t.Fatal("a timed-out run is over")
	}
	if _, err := h.run.CompleteNode("t", 1, nil, 1, map[string]bool{"a": true, "b": true}); ErrorCode(err) != CodeConflict {
		t.Fatalf("late completion: %v", err)
	}
	if _, err := h.run.TimeOut(pipeRunStart.Add(time.Hour)); ErrorCode(err) != CodeConflict {
		t.Fatalf("timed out twice: %v", err)
	}
}
