package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/projections"
)

// pipeLog appends the domain's decisions to the log the way a command does (load the head,
// encode, append, commit), on a clock the test moves, so every time in the read model is known.
type pipeLog struct {
	t         *testing.T
	e         *env
	announcer *eventlog.Announcer
	now       time.Time
	last      eventlog.Event
}

func (l *pipeLog) tick(d time.Duration) time.Time {
	l.now = l.now.Add(d)
	return l.now
}

func (l *pipeLog) append(streamID, streamType string, events []domain.Event) {
	l.t.Helper()
	if len(events) == 0 {
		return
	}
	ctx := context.Background()
	tx, err := l.e.db.SQL.BeginTx(ctx, nil)
	if err != nil {
		l.t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	_, head, err := l.e.store.Load(ctx, tx, streamID)
	if err != nil {
		l.t.Fatal(err)
	}
	news := make([]eventlog.NewEvent, len(events))
	for i, ev := range events {
		typ, version, payload, err := domain.Events.Encode(ev)
		if err != nil {
			l.t.Fatal(err)
		}
		news[i] = eventlog.NewEvent{Type: typ, SchemaVersion: version, Payload: payload}
	}
	appended, err := l.e.store.Append(ctx, tx, streamID, streamType, head, news, eventlog.Metadata{Actor: "test"})
	if err != nil {
		l.t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		l.t.Fatal(err)
	}
	l.announcer.Announce()
	l.last = appended[len(appended)-1]
}

// pipeline returns what records a decision of p and folds it into p; it takes the decision's
// two results as they come: l.pipeline(&p)(p.Create(...)).
func (l *pipeLog) pipeline(p *domain.Pipeline) func([]domain.Event, error) {
	return func(events []domain.Event, err error) {
		l.t.Helper()
		if err != nil {
			l.t.Fatal(err)
		}
		if p.ID == "" {
			p.ID = events[0].(*domain.PipelineCreated).ID
		}
		l.append(domain.PipelineStreamID(p.ID), domain.StreamTypePipeline, events)
		for _, ev := range events {
			p.Apply(ev)
		}
	}
}

// run is pipeline for a run; after each decision it also records what follows from it without
// anyone acting (Advance), as the executor does after every outcome.
func (l *pipeLog) run(r *domain.PipelineRun) func([]domain.Event, error) {
	return func(events []domain.Event, err error) {
		l.t.Helper()
		if err != nil {
			l.t.Fatal(err)
		}
		for len(events) > 0 {
			id := r.ID
			if id == "" {
				id = events[0].(*domain.PipelineRunStarted).ID
			}
			l.append(domain.PipelineRunStreamID(id), domain.StreamTypePipelineRun, events)
			for _, ev := range events {
				r.Apply(ev)
			}
			events = r.Advance()
		}
	}
}

func jsonEqual(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %q is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s = %s, want %s", what, got, want)
	}
}

// notFound reports whether err is the domain's not-found error with message msg.
func notFound(err error, msg string) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Code == domain.CodeNotFound && de.Message == msg
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

func wantMS(t *testing.T, what string, got *int64, want int64) {
	t.Helper()
	if got == nil || *got != want {
		t.Fatalf("%s = %v, want %d", what, got, want)
	}
}

// col is a time as a TIMESTAMPTZ column or the log keeps it.
func col(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

func wantTime(t *testing.T, what string, got *time.Time, want time.Time) {
	t.Helper()
	if want = col(want); got == nil || !got.Equal(want) {
		t.Fatalf("%s = %v, want %s", what, got, want)
	}
}

func nodeByID(t *testing.T, v projections.PipelineRunView, id string) projections.PipelineNodeRunView {
	t.Helper()
	for _, n := range v.Nodes {
		if n.Node == id {
			return n
		}
	}
	t.Fatalf("run %s has no node %s", v.ID, id)
	return projections.PipelineNodeRunView{}
}

func runIDs(runs []projections.PipelineRunView) []string {
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	return ids
}

func pipelineIDs(ps []projections.PipelineView) []string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

// fanOut is in -> (a, b, c); a and b merge into m, which feeds out; c may lead to d.
func fanOut() domain.PipelineSpec {
	node := func(id, typ string) domain.PipelineNode { return domain.PipelineNode{ID: id, Type: typ} }
	return domain.PipelineSpec{Name: "ingest", Description: "fan out, merge, send", TimeoutSec: 60, CancelGraceSec: 5,
		Nodes: []domain.PipelineNode{node("in", domain.NodeTypeTrigger), node("a", domain.NodeTypeTransform),
			node("b", domain.NodeTypeAction), node("c", domain.NodeTypeCondition), node("d", domain.NodeTypeAgent),
			node("m", domain.NodeTypeMerge), node("out", domain.NodeTypeAction)},
		Edges: []domain.PipelineEdge{{From: "in", To: "a"}, {From: "in", To: "b"}, {From: "in", To: "c"}, {From: "c", To: "d"},
			{From: "a", To: "m"}, {From: "b", To: "m"}, {From: "m", To: "out"}}}
}

func single(name string) domain.PipelineSpec {
	return domain.PipelineSpec{Name: name, Nodes: []domain.PipelineNode{{ID: "start", Type: domain.NodeTypeTrigger}}}
}

// TestPipelinesModelFollowsTheLogAndReplays drives pipelines and four runs (completed after a
// retry and a skipped branch, cancelled by force, timed out, failed) through the domain, checks
// every view, then rebuilds the read model from the log to the same checksum.
func TestPipelinesModelFollowsTheLogAndReplays(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	announcer := eventlog.NewAnnouncer(e.db.SQL, e.notifier)
	t.Cleanup(announcer.Close)
	// Nanoseconds on the clock: the domain's events keep them, the log's columns round them to
	// microseconds, and the attempt history must keep them through a replay.
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 123456, time.UTC)
	l := &pipeLog{t: t, e: e, announcer: announcer, now: t0}
	// Set before the runner starts; only this goroutine appends, so only it reads the clock.
	e.store.Now = func() time.Time { return l.now }

	model := projections.NewPipelines(domain.Events)
	runner, err := projections.NewRunner(e.store, e.notifier, zerolog.Nop(), model)
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer runner.Close()

	u1 := domain.Actor{ID: "u1", Role: domain.RoleMember}
	u2 := domain.Actor{ID: "u2", Role: domain.RoleMember}
	admin := domain.Actor{ID: "u2", Role: domain.RoleAdmin} // u2 may run u1's pipeline as an admin

	// The pipeline the runs use: created as a draft, then updated to its fan-out graph.
	var ingest domain.Pipeline
	l.pipeline(&ingest)(ingest.Create(u1, uuid.NewString(), single("draft"), nil, nil))
	createdAt := l.now
	l.tick(time.Second)
	l.pipeline(&ingest)(ingest.Update(u1, fanOut(), nil, nil))
	updatedAt := l.now
	var alpha1, alpha2, gone domain.Pipeline
	l.pipeline(&alpha1)(alpha1.Create(u1, uuid.NewString(), single("alpha"), nil, nil))
	l.pipeline(&alpha2)(alpha2.Create(u2, uuid.NewString(), single("alpha"), nil, nil))
	l.pipeline(&gone)(gone.Create(u1, uuid.NewString(), single("gone"), nil, nil))
	l.pipeline(&gone)(gone.Delete(u1))

	all := func(out string) map[string]bool { return map[string]bool{out: true} }

	// Run 1: in fans out to a, b, c in parallel; b fails once and is retried; c does not take
	// its edge to d, which is skipped; a and b merge into m, then out; the run completes.
	var run1 domain.PipelineRun
	l.tick(time.Second)
	run1Start := l.now
	l.run(&run1)(run1.Start(u1, uuid.NewString(), &ingest, json.RawMessage(`{"q": 1}`), l.now))
	l.run(&run1)(run1.StartNode("in", 1, l.tick(time.Second)))
	l.tick(time.Second)
	l.run(&run1)(run1.CompleteNode("in", 1, json.RawMessage(`{"x":1}`), 1000, map[string]bool{"a": true, "b": true, "c": true}))
	if ready := run1.Ready(); !reflect.DeepEqual(ready, []string{"a", "b", "c"}) {
		t.Fatalf("fan-out ready: %q", ready)
	}
	fanAt := l.tick(time.Second)
	for _, id := range []string{"a", "b", "c"} {
		l.run(&run1)(run1.StartNode(id, 1, fanAt))
	}
	bFailAt := l.tick(time.Second)
	l.run(&run1)(run1.FailNode("b", 1, "connection reset", true, 500))
	abDoneAt := l.tick(time.Second)
	l.run(&run1)(run1.CompleteNode("a", 1, json.RawMessage(`"A"`), 2000, all("m")))
	l.run(&run1)(run1.CompleteNode("c", 1, json.RawMessage(`false`), 2000, map[string]bool{"d": false}))
	if run1.Nodes["d"].Status != domain.PipelineNodeStatusSkipped {
		t.Fatalf("d: %s", run1.Nodes["d"].Status)
	}
	bRetryAt := l.tick(time.Second)
	l.run(&run1)(run1.StartNode("b", 2, bRetryAt))
	bDoneAt := l.tick(2 * time.Second)
	l.run(&run1)(run1.CompleteNode("b", 2, json.RawMessage(`"B"`), 2000, all("m")))
	l.run(&run1)(run1.StartNode("m", 1, l.tick(time.Second)))
	l.tick(time.Second)
	l.run(&run1)(run1.CompleteNode("m", 1, json.RawMessage(`{"a":"A","b":"B"}`), 1000, all("out")))
	l.run(&run1)(run1.StartNode("out", 1, l.tick(time.Second)))
	run1End := l.tick(time.Second)
	l.run(&run1)(run1.CompleteNode("out", 1, json.RawMessage(`{"sent":true}`), 1000, nil))
	if run1.Status != domain.PipelineRunStatusCompleted {
		t.Fatalf("run 1: %s", run1.Status)
	}

	// Run 2: cancelled while a, b and c run; a and c finish in the grace period, b does not
	// and is interrupted when the cancellation is forced.
	var run2 domain.PipelineRun
	run2Start := l.tick(time.Minute)
	l.run(&run2)(run2.Start(admin, uuid.NewString(), &ingest, nil, l.now))
	l.run(&run2)(run2.StartNode("in", 1, l.tick(time.Second)))
	l.run(&run2)(run2.CompleteNode("in", 1, json.RawMessage(`{"x":2}`), 10, map[string]bool{"a": true, "b": true, "c": true}))
	run2Fan := l.tick(time.Second)
	for _, id := range []string{"a", "b", "c"} {
		l.run(&run2)(run2.StartNode(id, 1, run2Fan))
	}
	l.run(&run2)(run2.RequestCancel(u1, "enough", l.tick(time.Second)))
	l.run(&run2)(run2.CompleteNode("a", 1, json.RawMessage(`"A2"`), 10, all("m")))
	l.run(&run2)(run2.CompleteNode("c", 1, json.RawMessage(`true`), 10, map[string]bool{"d": true}))
	if run2.Status != domain.PipelineRunStatusCancelling {
		t.Fatalf("run 2 before the grace period ends: %s", run2.Status)
	}
	run2End := l.tick(6 * time.Second)
	l.run(&run2)(run2.ForceCancel(l.now))

	// Runs 3 and 4 start at the same instant, so their order falls to their ids. Run 4 fails at
	// its first node, which skips everything downstream; run 3 times out with in running.
	var run3, run4 domain.PipelineRun
	run34Start := l.tick(time.Minute)
	l.run(&run3)(run3.Start(u1, uuid.NewString(), &ingest, json.RawMessage(`[1,2]`), l.now))
	l.run(&run4)(run4.Start(u1, uuid.NewString(), &ingest, json.RawMessage(`"x"`), l.now))
	l.run(&run3)(run3.StartNode("in", 1, l.now))
	l.run(&run4)(run4.StartNode("in", 1, l.now))
	run4End := l.tick(time.Second)
	l.run(&run4)(run4.FailNode("in", 1, "bad input", false, 0))
	run3End := l.tick(time.Minute)
	l.run(&run3)(run3.TimeOut(l.now))

	waiter := projections.NewWaiter(e.db.SQL, e.notifier)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := waiter.WaitFor(wctx, "pipelines", l.last.Cursor()); err != nil {
		t.Fatal(err)
	}
	if msg := runner.LastError("pipelines"); msg != "" {
		t.Fatalf("projection error: %s", msg)
	}
	reads := projections.NewPipelineQueries(e.db.SQL)

	// Pipelines.
	p, err := reads.Get(ctx, ingest.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != ingest.ID || p.Owner != "u1" || p.Name != "ingest" || p.Description != "fan out, merge, send" || p.SpecVersion != 2 ||
		p.NodeCount != 7 || p.EdgeCount != 7 || p.Version != 2 || !p.CreatedAt.Equal(col(createdAt)) || !p.UpdatedAt.Equal(col(updatedAt)) {
		t.Fatalf("pipeline: %+v", p)
	}
	if !reflect.DeepEqual(p.Spec, ingest.Spec) {
		t.Fatalf("spec:\n got %+v\nwant %+v", p.Spec, ingest.Spec)
	}
	for _, id := range []string{gone.ID, uuid.NewString(), "not-a-uuid", run1.ID} {
		if _, err := reads.Get(ctx, id); !notFound(err, "pipeline not found") {
			t.Fatalf("get %s: %v", id, err)
		}
	}
	alphas := []string{alpha1.ID, alpha2.ID}
	sort.Strings(alphas)
	wantAll := append(alphas, ingest.ID) // by name, then id; the deleted one is not listed
	if got, err := reads.List(ctx, projections.PipelineFilter{}); err != nil || !reflect.DeepEqual(pipelineIDs(got), wantAll) {
		t.Fatalf("list: %q %v, want %q", pipelineIDs(got), err, wantAll)
	}
	var paged []string
	for after := ""; ; {
		page, err := reads.List(ctx, projections.PipelineFilter{After: after, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) != 1 {
			t.Fatalf("page of %d", len(page))
		}
		paged = append(paged, page[0].ID)
		after = page[0].ID
	}
	if !reflect.DeepEqual(paged, wantAll) {
		t.Fatalf("paged list: %q, want %q", paged, wantAll)
	}
	if got, err := reads.List(ctx, projections.PipelineFilter{Owner: "u1"}); err != nil || !reflect.DeepEqual(pipelineIDs(got), []string{alpha1.ID, ingest.ID}) {
		t.Fatalf("u1's list: %q %v", pipelineIDs(got), err)
	}
	// A deleted pipeline still places the next page.
	if got, err := reads.List(ctx, projections.PipelineFilter{After: gone.ID}); err != nil || !reflect.DeepEqual(pipelineIDs(got), []string{ingest.ID}) {
		t.Fatalf("after the last name: %q %v", pipelineIDs(got), err)
	}
	if _, err := reads.List(ctx, projections.PipelineFilter{After: "page-2"}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("bad cursor: %v", err)
	}

	// Run 1: completed.
	r1, err := reads.Run(ctx, run1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r1.PipelineID != ingest.ID || r1.PipelineVersion != 2 || r1.Owner != "u1" || r1.StartedBy != "u1" || r1.Status != "completed" ||
		r1.Error != "" || r1.FailedNode != "" || r1.CancelReason != "" || r1.CancelForced || r1.TimeoutSec != 60 ||
		!r1.StartedAt.Equal(col(run1Start)) || r1.Version != run1.Version {
		t.Fatalf("run 1: %+v", r1)
	}
	jsonEqual(t, "run 1 input", r1.Input, `{"q":1}`)
	jsonEqual(t, "run 1 outputs", r1.Outputs, `{"out":{"sent":true}}`)
	wantTime(t, "run 1 ended_at", r1.EndedAt, run1End)
	wantMS(t, "run 1 duration", r1.DurationMS, ms(run1End.Sub(run1Start)))
	var order []string
	for _, n := range r1.Nodes {
		order = append(order, n.Node)
	}
	if !reflect.DeepEqual(order, []string{"in", "a", "b", "c", "d", "m", "out"}) {
		t.Fatalf("node order: %q", order)
	}
	for _, n := range r1.Nodes {
		if n.Status != "completed" && n.Node != "d" {
			t.Fatalf("run 1 node %s: %+v", n.Node, n)
		}
		if n.Node != "d" && (n.StartedAt == nil || n.EndedAt == nil || n.DurationMS == nil || len(n.Output) == 0) {
			t.Fatalf("run 1 settled node %s lacks times or output: %+v", n.Node, n)
		}
	}
	in := nodeByID(t, r1, "in")
	if in.Type != "trigger" || in.Attempts != 1 || in.Retries != 0 || len(in.History) != 1 || in.History[0].Outcome != "completed" {
		t.Fatalf("in: %+v", in)
	}
	jsonEqual(t, "in input", in.Input, `{"q":1}`)
	jsonEqual(t, "in output", in.Output, `{"x":1}`)
	wantMS(t, "in attempt duration", in.History[0].DurationMS, 1000)

	b := nodeByID(t, r1, "b")
	if b.Type != "action" || b.Status != "completed" || b.Attempts != 2 || b.Retries != 1 || b.Error != "" || len(b.History) != 2 {
		t.Fatalf("b: %+v", b)
	}
	jsonEqual(t, "b input", b.Input, `{"x":1}`)
	jsonEqual(t, "b output", b.Output, `"B"`)
	wantTime(t, "b started_at", b.StartedAt, fanAt)
	wantTime(t, "b ended_at", b.EndedAt, bDoneAt)
	wantMS(t, "b duration (both attempts and the backoff)", b.DurationMS, ms(bDoneAt.Sub(fanAt)))
	first, second := b.History[0], b.History[1]
	if first.Attempt != 1 || first.Outcome != "failed" || first.Error != "connection reset" || !first.Retryable || !first.WillRetry ||
		first.BackoffMS != 500 || !first.StartedAt.Equal(fanAt) {
		t.Fatalf("b attempt 1: %+v", first)
	}
	wantTime(t, "b attempt 1 ended_at", first.EndedAt, bFailAt)
	wantMS(t, "b attempt 1 duration", first.DurationMS, ms(bFailAt.Sub(fanAt)))
	if second.Attempt != 2 || second.Outcome != "completed" || second.Error != "" || second.WillRetry || !second.StartedAt.Equal(bRetryAt) {
		t.Fatalf("b attempt 2: %+v", second)
	}
	wantTime(t, "b attempt 2 ended_at", second.EndedAt, bDoneAt)
	wantMS(t, "b attempt 2 duration", second.DurationMS, 2000)

	c := nodeByID(t, r1, "c")
	jsonEqual(t, "c output", c.Output, `false`)
	wantTime(t, "c ended_at", c.EndedAt, abDoneAt)
	d := nodeByID(t, r1, "d")
	if d.Status != "skipped" || d.SkipReason != "no live input: the edge from c was not taken" || d.Attempts != 0 ||
		d.StartedAt != nil || d.DurationMS != nil || d.Input != nil || d.Output != nil || len(d.History) != 0 || d.History == nil {
		t.Fatalf("d: %+v", d)
	}
	wantTime(t, "d ended_at", d.EndedAt, abDoneAt)
	m := nodeByID(t, r1, "m")
	jsonEqual(t, "m input (its live inputs by source)", m.Input, `{"a":"A","b":"B"}`)

	// Run 2: cancelled by force.
	r2, err := reads.Run(ctx, run2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Status != "cancelled" || !r2.CancelForced || r2.CancelReason != "enough" || r2.StartedBy != "u2" || r2.Owner != "u1" ||
		r2.Outputs != nil || r2.Error != "" {
		t.Fatalf("run 2: %+v", r2)
	}
	jsonEqual(t, "run 2 input", r2.Input, `{}`)
	wantTime(t, "run 2 ended_at", r2.EndedAt, run2End)
	wantMS(t, "run 2 duration", r2.DurationMS, ms(run2End.Sub(run2Start)))
	b2 := nodeByID(t, r2, "b")
	if b2.Status != "interrupted" || b2.Attempts != 1 || len(b2.History) != 1 || b2.History[0].Outcome != "interrupted" || b2.Output != nil {
		t.Fatalf("run 2 b: %+v", b2)
	}
	wantTime(t, "run 2 b attempt ended_at", b2.History[0].EndedAt, run2End)
	wantMS(t, "run 2 b attempt duration", b2.History[0].DurationMS, ms(run2End.Sub(run2Fan)))
	wantTime(t, "run 2 b ended_at", b2.EndedAt, run2End)
	for id, want := range map[string]string{"in": "completed", "a": "completed", "c": "completed", "d": "pending", "m": "pending", "out": "pending"} {
		if n := nodeByID(t, r2, id); n.Status != want {
			t.Fatalf("run 2 node %s: %s, want %s", id, n.Status, want)
		}
	}
	if n := nodeByID(t, r2, "m"); n.Input != nil || n.StartedAt != nil || n.EndedAt != nil || len(n.History) != 0 {
		t.Fatalf("run 2 pending m: %+v", n)
	}

	// Run 3: timed out with in running.
	r3, err := reads.Run(ctx, run3.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r3.Status != "timed_out" || r3.Error != "timed out after 60 seconds" || r3.CancelForced || r3.Outputs != nil {
		t.Fatalf("run 3: %+v", r3)
	}
	jsonEqual(t, "run 3 input", r3.Input, `[1,2]`)
	wantMS(t, "run 3 duration", r3.DurationMS, ms(run3End.Sub(run34Start)))
	in3 := nodeByID(t, r3, "in")
	if in3.Status != "interrupted" || in3.History[0].Outcome != "interrupted" {
		t.Fatalf("run 3 in: %+v", in3)
	}
	wantMS(t, "run 3 in duration", in3.DurationMS, ms(run3End.Sub(run34Start)))
	jsonEqual(t, "run 3 in input", in3.Input, `[1,2]`)

	// Run 4: failed at its first node; everything downstream skipped.
	r4, err := reads.Run(ctx, run4.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r4.Status != "failed" || r4.FailedNode != "in" || r4.Error != "node in failed: bad input" || r4.Outputs != nil {
		t.Fatalf("run 4: %+v", r4)
	}
	in4 := nodeByID(t, r4, "in")
	if in4.Status != "failed" || in4.Error != "bad input" || in4.Retries != 0 || in4.History[0].Outcome != "failed" ||
		in4.History[0].Retryable || in4.History[0].WillRetry || in4.History[0].Error != "bad input" {
		t.Fatalf("run 4 in: %+v", in4)
	}
	wantMS(t, "run 4 in duration", in4.DurationMS, ms(run4End.Sub(run34Start)))
	for _, n := range r4.Nodes[1:] {
		if n.Status != "skipped" || n.SkipReason == "" {
			t.Fatalf("run 4 node %s: %+v", n.Node, n)
		}
	}
	if _, err := reads.Run(ctx, uuid.NewString()); !notFound(err, "run not found") {
		t.Fatalf("unknown run: %v", err)
	}
	if _, err := reads.Run(ctx, "nope"); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("malformed run id: %v", err)
	}

	// Run lists: newest first, ties broken by id, paged by the last run's id.
	newest := []string{run3.ID, run4.ID}
	sort.Sort(sort.Reverse(sort.StringSlice(newest)))
	wantRuns := append(newest, run2.ID, run1.ID)
	got, err := reads.Runs(ctx, projections.PipelineRunFilter{PipelineID: ingest.ID})
	if err != nil || !reflect.DeepEqual(runIDs(got), wantRuns) {
		t.Fatalf("runs: %q %v, want %q", runIDs(got), err, wantRuns)
	}
	for _, r := range got {
		if r.Nodes != nil {
			t.Fatalf("listed run %s carries its nodes", r.ID)
		}
	}
	var pagedRuns []string
	for before := ""; ; {
		page, err := reads.Runs(ctx, projections.PipelineRunFilter{PipelineID: ingest.ID, Before: before, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		pagedRuns = append(pagedRuns, runIDs(page)...)
		if len(page) < 3 {
			break
		}
		before = page[len(page)-1].ID
	}
	if !reflect.DeepEqual(pagedRuns, wantRuns) {
		t.Fatalf("paged runs: %q, want %q", pagedRuns, wantRuns)
	}
	if got, err := reads.Runs(ctx, projections.PipelineRunFilter{Status: "cancelled"}); err != nil || !reflect.DeepEqual(runIDs(got), []string{run2.ID}) {
		t.Fatalf("cancelled runs: %q %v", runIDs(got), err)
	}
	for _, other := range []string{alpha1.ID, "not-a-uuid"} {
		if got, err := reads.Runs(ctx, projections.PipelineRunFilter{PipelineID: other}); err != nil || len(got) != 0 {
			t.Fatalf("runs of %s: %q %v", other, runIDs(got), err)
		}
	}

	// Delivering every event again changes nothing: the version guards hold.
	sum, err := model.Checksum(ctx, e.db.SQL)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(4 + 4 + 4*7); sum.Rows != want {
		t.Fatalf("checksum over %d rows, want %d", sum.Rows, want)
	}
	events, err := e.store.ReadAfter(ctx, e.db.SQL, eventlog.Cursor{}, eventlog.Filter{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := e.db.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if err := model.Apply(ctx, tx, ev); err != nil {
			_ = tx.Rollback()
			t.Fatalf("redeliver %s: %v", ev.Type, err)
		}
	}
	again, err := model.Checksum(ctx, tx)
	_ = tx.Rollback()
	if err != nil || again != sum {
		t.Fatalf("after redelivery %+v %v, want %+v", again, err, sum)
	}

	// Rebuilt from the log, twice, the model is the same.
	firstReplay, err := projections.Replay(ctx, e.store, model)
	if err != nil {
		t.Fatal(err)
	}
	secondReplay, err := projections.Replay(ctx, e.store, model)
	if err != nil {
		t.Fatal(err)
	}
	if firstReplay.Checksum != sum || secondReplay.Checksum != sum || firstReplay.Events != int64(len(events)) {
		t.Fatalf("live %+v, replays %+v %+v", sum, firstReplay, secondReplay)
	}
	if r, err := reads.Run(ctx, run1.ID); err != nil || !reflect.DeepEqual(r, r1) {
		t.Fatalf("run 1 after the replay:\n got %+v %v\nwant %+v", r, err, r1)
	}
}
