package executor_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/llm/llmtest"
	"github.com/gathering/gathering/pipeline"
	"github.com/gathering/gathering/pipeline/executor"
)

// TestEveryNodeTypeRoutesAndSkips runs one pipeline that uses every node type: a trigger, a
// transform by mapping, a condition whose edges route on its result, an action, a transform
// by template, a filter that holds its branch back, a delay, a merge, and an agent answering
// through the OpenAI wire format. The branch the condition did not take is skipped down its
// chain, the filtered branch is skipped, the merge waits and gets its live input.
func TestEveryNodeTypeRoutesAndSkips(t *testing.T) {
	fake := llmtest.NewOpenAI(t)
	fake.Reply("Ada is in the top group.")
	h := newHarness(t, func(x *executor.Executor) {
		x.Models = llm.NewRegistry(llm.Config{OpenAIKey: llmtest.Key, OpenAIBaseURL: fake.BaseURL(), Timeout: 10 * time.Second, MaxRetries: -1})
	})
	ep := newEndpoint(t, nil)
	agent := uuid.NewString()
	h.send(&commands.CreateAgent{Envelope: h.env(), AgentID: agent, Spec: domain.AgentSpec{Name: "Ada", Provider: domain.ProviderOpenAI, Model: "gpt-4o-mini"}})
	h.work()

	id := h.pipeline(domain.PipelineSpec{Name: "grading", Nodes: []domain.PipelineNode{
		node("start", "trigger", `{}`),
		node("shape", "transform", `{"mapping": {"who": "input.name", "score": "input.points", "passed": "input.points >= 50"}}`),
		node("check", "condition", `{"expression": "input.score >= 50"}`),
		node("notify", "action", `{"action": "http_request", "url": "`+ep.URL+`/notify", "method": "POST"}`),
		node("pause", "delay", `{"seconds": 0}`),
		node("letter", "transform", `{"template": "Dear {{input.value.who}}, you scored {{input.value.score}}."}`),
		node("archive", "action", `{"action": "noop"}`),
		node("huge", "filter", `{"expression": "input.score > 1000"}`),
		node("medal", "action", `{"action": "emit_event"}`),
		node("join", "merge", `{}`),
		node("summary", "agent", `{"agent_id": "`+agent+`", "prompt": "Summarise: {{input}}"}`),
	}, Edges: []domain.PipelineEdge{
		edge("start", "shape"), edge("shape", "check"), edge("shape", "huge"),
		{From: "check", To: "notify", Condition: "output.result == true"},
		{From: "check", To: "letter", Condition: "output.result == false"},
		edge("notify", "pause"),
		edge("letter", "archive"),
		edge("huge", "medal"),
		edge("pause", "join"), edge("archive", "join"), edge("medal", "join"),
		edge("join", "summary"),
	}})
	run := h.start(id, `{"name": "Ada", "points": 72}`)
	r, events := h.waitFinished(run, 20*time.Second)
	if r.Status != domain.PipelineRunStatusCompleted {
		t.Fatalf("run %s (%s); nodes %s", r.Status, r.Error, describeNodes(r))
	}
	want := map[string]domain.PipelineNodeStatus{"start": "completed", "shape": "completed", "check": "completed", "notify": "completed",
		"pause": "completed", "letter": "skipped", "archive": "skipped", "huge": "completed", "medal": "skipped", "join": "completed", "summary": "completed"}
	for n, s := range want {
		if got := r.Nodes[n].Status; got != s {
			t.Errorf("node %s is %s, want %s", n, got, s)
		}
	}
	if got := string(r.Nodes["shape"].Output); got != `{"passed":true,"score":72,"who":"Ada"}` {
		t.Errorf("transform mapping output %s", got)
	}
	if got := string(r.Nodes["check"].Output); got != `{"result":true,"value":{"passed":true,"score":72,"who":"Ada"}}` {
		t.Errorf("condition output %s", got)
	}
	if !strings.Contains(r.Nodes["archive"].SkipReason, "letter was skipped") || !strings.Contains(r.Nodes["letter"].SkipReason, "not taken") {
		t.Errorf("skip reasons: letter %q, archive %q", r.Nodes["letter"].SkipReason, r.Nodes["archive"].SkipReason)
	}
	// The filter completes with its input but takes no edge.
	if r.Nodes["huge"].TakenEdges["medal"] {
		t.Error("the filter let its input through")
	}
	calls := ep.snapshot()
	if len(calls) != 1 || calls[0].path != "/notify" || !strings.Contains(calls[0].body, `"result":true`) {
		t.Fatalf("the action's requests: %+v", calls)
	}
	// The merge received its one live input, keyed by source.
	var joinIn map[string]json.RawMessage
	if err := json.Unmarshal(r.Nodes["join"].Input, &joinIn); err != nil || len(joinIn) != 1 || joinIn["pause"] == nil {
		t.Fatalf("merge input %s (%v)", r.Nodes["join"].Input, err)
	}
	var answer struct {
		Text    string `json:"text"`
		AgentID string `json:"agent_id"`
	}
	if err := json.Unmarshal(r.Nodes["summary"].Output, &answer); err != nil || answer.Text != "Ada is in the top group." || answer.AgentID != agent {
		t.Fatalf("agent output %s (%v)", r.Nodes["summary"].Output, err)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d model requests", len(reqs))
	}
	msgs := reqs[0].Messages()
	if last := msgs[len(msgs)-1]; !strings.HasPrefix(last["content"].(string), `Summarise: {"pause":`) {
		t.Fatalf("the prompt was not rendered from the input: %v", last["content"])
	}
	var done []domain.PipelineRunCompleted
	if done = eventsOf[domain.PipelineRunCompleted](t, events, domain.EventPipelineRunCompleted); len(done) != 1 {
		t.Fatalf("%d completed events", len(done))
	}
	if _, ok := done[0].Outputs["summary"]; !ok || len(done[0].Outputs) != 1 {
		t.Fatalf("run outputs %v: only completed sinks count", done[0].Outputs)
	}
	// The skipped branch's template would have produced this: check the transform by template
	// on the other score.
	run = h.start(id, `{"name": "Bo", "points": 12}`)
	fake.Reply("Bo needs help.")
	r, _ = h.waitFinished(run, 20*time.Second)
	if r.Status != domain.PipelineRunStatusCompleted || r.Nodes["notify"].Status != "skipped" || r.Nodes["pause"].Status != "skipped" {
		t.Fatalf("second run %s: %s", r.Status, describeNodes(r))
	}
	if got := string(r.Nodes["letter"].Output); got != `"Dear Bo, you scored 12."` {
		t.Fatalf("template output %s", got)
	}
}

// TestParallelBranchesOverlapInTime: three independent branches call a service that takes
// 400 ms each; they run at the same time (every call starts before any ends), and the merge
// waits for all three.
func TestParallelBranchesOverlapInTime(t *testing.T) {
	h := newHarness(t)
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		time.Sleep(400 * time.Millisecond)
		_, _ = w.Write([]byte(`{"branch":"` + strings.TrimPrefix(r.URL.Path, "/") + `"}`))
	})
	h.work()
	action := func(name string) domain.PipelineNode {
		return node(name, "action", `{"action": "http_request", "url": "`+ep.URL+`/`+name+`", "method": "POST"}`)
	}
	id := h.pipeline(domain.PipelineSpec{Name: "fan out", Nodes: []domain.PipelineNode{
		node("start", "trigger", `{}`), action("a"), action("b"), action("c"), node("join", "merge", `{"strategy": "all"}`),
	}, Edges: []domain.PipelineEdge{edge("start", "a"), edge("start", "b"), edge("start", "c"), edge("a", "join"), edge("b", "join"), edge("c", "join")}})
	run := h.start(id, `{}`)
	r, _ := h.waitFinished(run, 20*time.Second)
	if r.Status != domain.PipelineRunStatusCompleted {
		t.Fatalf("run %s: %s", r.Status, describeNodes(r))
	}
	calls := ep.snapshot()
	if len(calls) != 3 {
		t.Fatalf("%d calls", len(calls))
	}
	var lastStart, firstEnd time.Time
	for i, c := range calls {
		if i == 0 || c.start.After(lastStart) {
			lastStart = c.start
		}
		if i == 0 || c.end.Before(firstEnd) {
			firstEnd = c.end
		}
	}
	if !lastStart.Before(firstEnd) {
		t.Fatalf("the branches ran one after another: the last started at %s, the first ended at %s", lastStart.Format(time.StampMicro), firstEnd.Format(time.StampMicro))
	}
	var joined map[string]map[string]any
	if err := json.Unmarshal(r.Nodes["join"].Output, &joined); err != nil || len(joined) != 3 {
		t.Fatalf("merge output %s (%v)", r.Nodes["join"].Output, err)
	}
	for _, b := range []string{"a", "b", "c"} {
		if joined[b]["body"].(map[string]any)["branch"] != b {
			t.Fatalf("merge output %s", r.Nodes["join"].Output)
		}
	}
}

// TestRetryableFailuresRetryWithBackoff: a service answers 503 twice, then 200. The node is
// tried three times, each failure recorded with will_retry and its backoff (exponential, full
// jitter at its ceiling here), and the calls are at least the backoff apart. A 400 is final at
// once: the node fails, what depends on it is skipped, the run fails naming it.
func TestRetryableFailuresRetryWithBackoff(t *testing.T) {
	h := newHarness(t, func(x *executor.Executor) { x.Rand = func() float64 { return 0.999999 } })
	ep := newEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/flaky" && n <= 2:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case r.URL.Path == "/bad":
			http.Error(w, "no such thing", http.StatusBadRequest)
		default:
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	})
	h.work()
	retry := domain.RetryPolicy{MaxAttempts: 4, InitialBackoffMS: 150, MaxBackoffMS: 1000, Multiplier: 2}
	flaky := node("flaky", "action", `{"action": "http_request", "url": "`+ep.URL+`/flaky", "method": "POST"}`)
	flaky.Retry = retry
	id := h.pipeline(domain.PipelineSpec{Name: "flaky", Nodes: []domain.PipelineNode{flaky, node("after", "action", `{"action": "noop"}`)},
		Edges: []domain.PipelineEdge{edge("flaky", "after")}})
	run := h.start(id, `{"n": 1}`)
	r, events := h.waitFinished(run, 20*time.Second)
	if r.Status != domain.PipelineRunStatusCompleted || r.Nodes["flaky"].Attempt != 3 {
		t.Fatalf("run %s, flaky attempt %d: %s", r.Status, r.Nodes["flaky"].Attempt, describeNodes(r))
	}
	failed := eventsOf[domain.PipelineNodeFailed](t, events, domain.EventPipelineNodeFailed)
	if len(failed) != 2 {
		t.Fatalf("%d failures recorded", len(failed))
	}
	for i, f := range failed {
		wantBackoff := int64(150 << i) // 150 then 300 ms: the ceiling, as the jitter is ~1
		if f.Attempt != i+1 || !f.Retryable || !f.WillRetry || f.BackoffMS < wantBackoff-1 || f.BackoffMS > wantBackoff {
			t.Fatalf("failure %d: %+v (backoff want %d)", i+1, f, wantBackoff)
		}
		if !strings.Contains(f.Error, "HTTP 503") {
			t.Fatalf("failure %d error %q", i+1, f.Error)
		}
	}
	calls := ep.snapshot()
	for i := 1; i < len(calls); i++ {
		gap := calls[i].start.Sub(calls[i-1].end)
		if min := time.Duration(failed[i-1].BackoffMS) * time.Millisecond; gap < min {
			t.Fatalf("attempt %d came %s after the previous one, before its backoff of %s", i+1, gap, min)
		}
	}

	bad := node("bad", "action", `{"action": "http_request", "url": "`+ep.URL+`/bad", "method": "POST"}`)
	bad.Retry = retry
	id = h.pipeline(domain.PipelineSpec{Name: "bad", Nodes: []domain.PipelineNode{bad, node("after", "action", `{"action": "noop"}`),
		node("other", "action", `{"action": "noop"}`)}, Edges: []domain.PipelineEdge{edge("bad", "after")}})
	run = h.start(id, `{}`)
	r, events = h.waitFinished(run, 20*time.Second)
	failed = eventsOf[domain.PipelineNodeFailed](t, events, domain.EventPipelineNodeFailed)
	if r.Status != domain.PipelineRunStatusFailed || len(failed) != 1 || failed[0].Retryable || failed[0].WillRetry {
		t.Fatalf("run %s, failures %+v", r.Status, failed)
	}
	if r.Nodes["after"].Status != "skipped" || r.Nodes["other"].Status != "completed" || r.FailedNode != "bad" || !strings.Contains(r.Error, "HTTP 400") {
		t.Fatalf("after the permanent failure: %s; error %q", describeNodes(r), r.Error)
	}
}

// clock is a settable time source for breakers and deadlines.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestBreakerOpensFailsFastAndRecovers: two failed calls open the node's breaker; the next run
// fails at once without calling the service; once the recovery time has passed one trial call
// goes through, succeeds, and closes the breaker.
func TestBreakerOpensFailsFastAndRecovers(t *testing.T) {
	clk := &clock{now: time.Now()}
	h := newHarness(t, func(x *executor.Executor) { x.Breakers = pipeline.NewBreakers(clk.Now) })
	healthy := false
	var mu sync.Mutex
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		ok := healthy
		mu.Unlock()
		if !ok {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	h.work()
	call := node("call", "action", `{"action": "http_request", "url": "`+ep.URL+`/svc", "method": "POST"}`)
	call.Retry = domain.RetryPolicy{MaxAttempts: 1}
	call.Breaker = domain.BreakerPolicy{FailureThreshold: 2, RecoverySec: 30}
	id := h.pipeline(domain.PipelineSpec{Name: "breaker", Nodes: []domain.PipelineNode{call}})
	breaker := h.x.Breakers.Get(id+"/call", domain.NormalizePipelineSpec(domain.PipelineSpec{Nodes: []domain.PipelineNode{call}}).Nodes[0].Breaker)
	outcome := func() (domain.PipelineRunStatus, string) {
		r, _ := h.waitFinished(h.start(id, `{}`), 20*time.Second)
		return r.Status, r.Nodes["call"].Error
	}
	for i := 1; i <= 2; i++ {
		if st, msg := outcome(); st != domain.PipelineRunStatusFailed || !strings.Contains(msg, "HTTP 502") {
			t.Fatalf("run %d: %s %q", i, st, msg)
		}
	}
	if s := breaker.State(); s != pipeline.BreakerOpen {
		t.Fatalf("after 2 failures the breaker is %s", s)
	}
	if st, msg := outcome(); st != domain.PipelineRunStatusFailed || !strings.Contains(msg, "circuit breaker is open") {
		t.Fatalf("run 3 with the breaker open: %s %q", st, msg)
	}
	if n := len(ep.snapshot()); n != 2 {
		t.Fatalf("the open breaker let a call through (%d calls)", n)
	}
	mu.Lock()
	healthy = true
	mu.Unlock()
	clk.Add(31 * time.Second)
	if s := breaker.State(); s != pipeline.BreakerHalfOpen {
		t.Fatalf("after the recovery time the breaker is %s", s)
	}
	if st, msg := outcome(); st != domain.PipelineRunStatusCompleted {
		t.Fatalf("trial run: %s %q", st, msg)
	}
	if s := breaker.State(); s != pipeline.BreakerClosed {
		t.Fatalf("after a successful trial the breaker is %s", s)
	}
	if n := len(ep.snapshot()); n != 3 {
		t.Fatalf("%d calls; want 3", n)
	}
}

// TestRunTimesOut: a run whose timeout passes while a node waits ends timed_out, the node named
// as interrupted, and nothing after it runs.
func TestRunTimesOut(t *testing.T) {
	h := newHarness(t)
	h.work()
	id := h.pipeline(domain.PipelineSpec{Name: "slow", TimeoutSec: 1, Nodes: []domain.PipelineNode{
		node("wait", "delay", `{"seconds": 20}`), node("after", "action", `{"action": "noop"}`),
	}, Edges: []domain.PipelineEdge{edge("wait", "after")}})
	started := time.Now()
	run := h.start(id, `{}`)
	r, events := h.waitFinished(run, 15*time.Second)
	if r.Status != domain.PipelineRunStatusTimedOut {
		t.Fatalf("run %s: %s", r.Status, describeNodes(r))
	}
	if took := time.Since(started); took > 10*time.Second {
		t.Fatalf("the timeout took %s", took)
	}
	out := eventsOf[domain.PipelineRunTimedOut](t, events, domain.EventPipelineRunTimedOut)
	if len(out) != 1 || out[0].TimeoutSec != 1 || len(out[0].Interrupted) != 1 || out[0].Interrupted[0] != "wait" {
		t.Fatalf("timed out events %+v", out)
	}
	if r.Nodes["after"].Status != domain.PipelineNodeStatusPending {
		t.Fatalf("after the timeout: %s", describeNodes(r))
	}
}

// TestCancelIsCooperative: a cancelled run's node in progress is stopped (its call is
// abandoned), records the cancellation as its failure, and the run ends cancelled without
// being forced; nothing downstream starts.
func TestCancelIsCooperative(t *testing.T) {
	h := newHarness(t)
	entered := make(chan struct{}, 1)
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-r.Context().Done() // holds the call until the client gives up
	})
	h.work()
	id := h.pipeline(domain.PipelineSpec{Name: "cancellable", CancelGraceSec: 60, Nodes: []domain.PipelineNode{
		node("call", "action", `{"action": "http_request", "url": "`+ep.URL+`/hold", "method": "POST"}`),
		node("after", "action", `{"action": "noop"}`),
	}, Edges: []domain.PipelineEdge{edge("call", "after")}})
	run := h.start(id, `{}`)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the node never called")
	}
	h.send(&commands.CancelPipelineRun{Envelope: h.env(), RunID: run, PipelineID: id, Reason: "changed my mind"})
	r, events := h.waitFinished(run, 10*time.Second)
	cancelled := eventsOf[domain.PipelineRunCancelled](t, events, domain.EventPipelineRunCancelled)
	if r.Status != domain.PipelineRunStatusCancelled || len(cancelled) != 1 || cancelled[0].Forced {
		t.Fatalf("run %s, cancelled %+v", r.Status, cancelled)
	}
	if n := r.Nodes["call"]; n.Status != domain.PipelineNodeStatusFailed || n.Error != "cancelled: changed my mind" {
		t.Fatalf("the node in progress: %s %q", n.Status, n.Error)
	}
	if r.Nodes["after"].Status != domain.PipelineNodeStatusPending {
		t.Fatalf("after the cancellation: %s", describeNodes(r))
	}
}

// TestCancelIsForcedAfterTheGracePeriod: the instance running a node died, so nobody stops it
// cooperatively; the cancellation is forced once its grace period is over, naming the node
// interrupted. A deadline job that runs early waits (snoozes) instead.
func TestCancelIsForcedAfterTheGracePeriod(t *testing.T) {
	clk := &clock{now: time.Now()}
	h := newHarness(t, func(x *executor.Executor) { x.Now = clk.Now })
	h.cmds.Now = clk.Now
	hold := make(chan struct{})
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, r *http.Request) { <-hold })
	defer close(hold)
	id := h.pipeline(domain.PipelineSpec{Name: "orphaned", CancelGraceSec: 5, Nodes: []domain.PipelineNode{
		node("call", "action", `{"action": "http_request", "url": "`+ep.URL+`/hold", "method": "POST"}`)}})
	run := h.start(id, `{}`)
	// The job's worker "dies" while the call is in flight: its context ends, nothing is recorded.
	ctx, cancel := context.WithCancel(h.ctx)
	go func() {
		for len(ep.snapshot()) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	job := &river.Job[commands.PipelineNodeAttempt]{Args: commands.PipelineNodeAttempt{RunID: run, PipelineID: id, Node: "call", Attempt: 1}}
	if err := h.x.NewNodeWorker().Work(ctx, job); !errors.Is(err, context.Canceled) {
		t.Fatalf("the dying worker returned %v", err)
	}
	h.send(&commands.CancelPipelineRun{Envelope: h.env(), RunID: run, PipelineID: id})
	if r, _ := h.load(run); r.Status != domain.PipelineRunStatusCancelling {
		t.Fatalf("with a node in progress the run is %s", r.Status)
	}
	force := &river.Job[commands.PipelineRunDeadline]{Args: commands.PipelineRunDeadline{RunID: run, PipelineID: id, Deadline: commands.DeadlineForceCancel}}
	var snooze *river.JobSnoozeError
	if err := h.x.NewDeadlineWorker().Work(h.ctx, force); !errors.As(err, &snooze) {
		t.Fatalf("before the grace period the deadline job returned %v", err)
	}
	clk.Add(6 * time.Second)
	if err := h.x.NewDeadlineWorker().Work(h.ctx, force); err != nil {
		t.Fatal(err)
	}
	r, events := h.load(run)
	cancelled := eventsOf[domain.PipelineRunCancelled](t, events, domain.EventPipelineRunCancelled)
	if r.Status != domain.PipelineRunStatusCancelled || len(cancelled) != 1 || !cancelled[0].Forced ||
		len(cancelled[0].Interrupted) != 1 || cancelled[0].Interrupted[0] != "call" {
		t.Fatalf("run %s, cancelled %+v", r.Status, cancelled)
	}
	// A late outcome of the abandoned attempt is refused.
	if _, err := h.bus.Send(h.ctx, &commands.CompletePipelineNode{Envelope: h.env(), RunID: run, PipelineID: id, Node: "call", Attempt: 1,
		Output: json.RawMessage(`{}`), TakenEdges: map[string]bool{}}); domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("a late outcome: %v", err)
	}
}

// TestCrashedRunResumesWithoutRepeatingCompletedNodes: the instance working a run stops hard
// in the middle of node b (its jobs are cancelled, nothing more is recorded); another instance
// on the same database takes over. a is not run again, b's attempt is redone, c runs, and every
// node's start and completion is recorded once.
func TestCrashedRunResumesWithoutRepeatingCompletedNodes(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	crashed := false
	entered := make(chan struct{}, 4)
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hold := r.URL.Path == "/b" && !crashed
		mu.Unlock()
		if hold {
			entered <- struct{}{}
			<-r.Context().Done()
			return
		}
		_, _ = w.Write([]byte(`{"step":"` + r.URL.Path + `"}`))
	})
	action := func(name string) domain.PipelineNode {
		return node(name, "action", `{"action": "http_request", "url": "`+ep.URL+`/`+name+`", "method": "POST"}`)
	}
	id := h.pipeline(domain.PipelineSpec{Name: "resumable", Nodes: []domain.PipelineNode{action("a"), action("b"), action("c")},
		Edges: []domain.PipelineEdge{edge("a", "b"), edge("b", "c")}})
	if err := h.jobs.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	run := h.start(id, `{}`)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("b never started")
	}
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	if err := h.jobs.StopAndCancel(ctx); err != nil {
		t.Fatalf("stopping the first instance: %v", err)
	}
	cancel()
	mu.Lock()
	crashed = true
	mu.Unlock()
	if r, _ := h.load(run); r.Nodes["a"].Status != "completed" || r.Nodes["b"].Status != "running" || r.Finished() {
		t.Fatalf("after the crash: %s %s", r.Status, describeNodes(r))
	}

	// The second instance: the same executor code, its own River client, the same database.
	second, err := newClient(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = second.StopAndCancel(ctx)
	}()
	r, events := h.waitFinished(run, 30*time.Second)
	if r.Status != domain.PipelineRunStatusCompleted {
		t.Fatalf("resumed run %s: %s", r.Status, describeNodes(r))
	}
	if got := ep.calledPaths(); got["/a"] != 1 || got["/b"] != 2 || got["/c"] != 1 {
		t.Fatalf("calls %v: a once, b again after the crash, c once", got)
	}
	started := map[string]int{}
	for _, s := range eventsOf[domain.PipelineNodeStarted](t, events, domain.EventPipelineNodeStarted) {
		started[s.Node]++
		if s.Attempt != 1 {
			t.Fatalf("node %s started attempt %d", s.Node, s.Attempt)
		}
	}
	completed := map[string]int{}
	for _, c := range eventsOf[domain.PipelineNodeCompleted](t, events, domain.EventPipelineNodeCompleted) {
		completed[c.Node]++
	}
	for _, n := range []string{"a", "b", "c"} {
		if started[n] != 1 || completed[n] != 1 {
			t.Fatalf("node %s: started %d, completed %d times", n, started[n], completed[n])
		}
	}
}

// TestARefusedOutputFailsTheNodeOnce: an output over the size limit is refused when recorded;
// the node fails for good saying why, instead of redoing its work until the run times out.
func TestARefusedOutputFailsTheNodeOnce(t *testing.T) {
	h := newHarness(t)
	h.work()
	id := h.pipeline(domain.PipelineSpec{Name: "too big", Nodes: []domain.PipelineNode{
		node("double", "transform", `{"mapping": {"a": "input.text", "b": "input.text"}}`)}})
	run := h.start(id, `{"text": "`+strings.Repeat("x", 600<<10)+`"}`)
	r, events := h.waitFinished(run, 20*time.Second)
	n := r.Nodes["double"]
	if r.Status != domain.PipelineRunStatusFailed || n.Status != domain.PipelineNodeStatusFailed || n.Attempt != 1 ||
		!strings.Contains(n.Error, "the output was refused") {
		t.Fatalf("run %s, node %s attempt %d: %q", r.Status, n.Status, n.Attempt, n.Error)
	}
	if started := eventsOf[domain.PipelineNodeStarted](t, events, domain.EventPipelineNodeStarted); len(started) != 1 {
		t.Fatalf("the node was started %d times", len(started))
	}
}
