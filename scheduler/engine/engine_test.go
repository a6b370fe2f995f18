package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/testdb"
	"github.com/gathering/gathering/jobs"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/llm/llmtest"
	"github.com/gathering/gathering/pipeline"
	"github.com/gathering/gathering/pipeline/executor"
	"github.com/gathering/gathering/projections"
	"github.com/gathering/gathering/scheduler/engine"
	"github.com/gathering/gathering/tasks"
	"github.com/gathering/gathering/tools"
)

// clock is a settable time source shared by the instances of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
	// live follows the real time (tests whose retries River schedules on the real clock).
	live bool
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live {
		return time.Now()
	}
	return c.now
}
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// instance is one GatheRing process as far as schedules go: its own bus, commands, River client
// and ticker, on the shared database.
type instance struct {
	bus    *commands.Bus
	repo   *commands.Repository
	jobs   *jobs.Client
	ticker *engine.Ticker
	cmds   *commands.Schedules
}

// world is a database with the schedules read model and the event-trigger process manager
// running, and as many instances as a test asks for.
type world struct {
	t      *testing.T
	ctx    context.Context
	db     *eventlog.DB
	store  *eventlog.Store
	waiter *projections.Waiter
	clock  *clock
	owner  domain.Actor
}

func newWorld(t *testing.T) *world {
	t.Helper()
	db := testdb.New(t)
	store := eventlog.NewStore(db.SQL, domain.Events)
	notifier := eventlog.NewNotifier(db.DSN, zerolog.Nop())
	t.Cleanup(notifier.Close)
	runner, err := projections.NewRunner(store, notifier, zerolog.Nop(), projections.NewSchedules(domain.Events))
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runner.Close() })
	return &world{t: t, ctx: context.Background(), db: db, store: store, waiter: projections.NewWaiter(db.SQL, notifier),
		clock: &clock{now: time.Now().UTC().Truncate(time.Minute).Add(90 * time.Second)}, owner: domain.Actor{ID: uuid.NewString(), Role: domain.RoleMember}}
}

type instanceOption struct {
	httpClient *http.Client
	models     *llm.Registry
	triggers   bool // run the event-trigger process manager in this instance
}

func (w *world) instance(o instanceOption) *instance {
	t := w.t
	t.Helper()
	bus, err := commands.NewBus(zerolog.Nop(), 64)
	if err != nil {
		t.Fatal(err)
	}
	repo := commands.NewRepository(w.store, domain.Events, nil)
	if o.httpClient == nil {
		o.httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	models := o.models
	if models == nil {
		models = llm.NewRegistry(llm.Config{})
	}
	workers := river.NewWorkers()
	(&engine.Runner{Repo: repo, Bus: bus, HTTP: o.httpClient, Log: zerolog.Nop(), PollEvery: 20 * time.Millisecond}).Workers(workers)
	x := &executor.Executor{Repo: repo, Bus: bus, DB: w.db.SQL, Models: models, HTTP: o.httpClient, Breakers: pipeline.NewBreakers(nil), Log: zerolog.Nop()}
	x.Workers(workers)
	river.AddWorker(workers, &tasks.Worker{Repo: repo, Bus: bus, Models: models, Tools: tools.Default(tools.Options{}), Log: zerolog.Nop()})
	client, err := jobs.New(w.db, workers, jobs.Options{MaxWorkers: 16})
	if err != nil {
		t.Fatal(err)
	}
	commands.RegisterAgents(bus, repo)
	commands.RegisterTasks(bus, repo, client)
	commands.RegisterPipelines(bus, repo, client)
	cmds := commands.RegisterSchedules(bus, repo, client)
	cmds.Now = w.clock.Now
	if err := bus.Run(w.ctx); err != nil {
		t.Fatal(err)
	}
	if err := client.Start(w.ctx); err != nil {
		t.Fatal(err)
	}
	if o.triggers {
		notifier := eventlog.NewNotifier(w.db.DSN, zerolog.Nop())
		t.Cleanup(notifier.Close)
		pm, err := projections.NewRunner(w.store, notifier, zerolog.Nop(), engine.NewEventTriggers(domain.Events, client))
		if err != nil {
			t.Fatal(err)
		}
		if err := pm.Run(w.ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pm.Close() })
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.StopAndCancel(ctx)
		_ = bus.Close()
	})
	ticker := &engine.Ticker{DB: w.db.SQL, Repo: repo, Bus: bus, Schedules: projections.NewScheduleQueries(w.db.SQL), Log: zerolog.Nop(), Now: w.clock.Now}
	return &instance{bus: bus, repo: repo, jobs: client, ticker: ticker, cmds: cmds}
}

func (w *world) send(in *instance, cmd any) commands.Result {
	w.t.Helper()
	res, err := in.bus.Send(w.ctx, cmd)
	if err != nil {
		w.t.Fatalf("%T: %v", cmd, err)
	}
	return res
}

// schedule creates a schedule through instance in and waits for the read model to show it.
func (w *world) schedule(in *instance, spec domain.ScheduleSpec) string {
	w.t.Helper()
	id := uuid.NewString()
	w.caughtUp(w.send(in, &commands.CreateSchedule{Envelope: commands.NewEnvelope(w.owner, ""), ScheduleID: id, Spec: spec}))
	return id
}

func (w *world) caughtUp(res commands.Result) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	if err := w.waiter.WaitFor(ctx, "schedules", res.Cursor()); err != nil {
		w.t.Fatal(err)
	}
}

// runs reads a schedule's runs from the read model.
func (w *world) runs(id string) []projections.ScheduleRunView {
	w.t.Helper()
	runs, err := projections.NewScheduleQueries(w.db.SQL).Runs(w.ctx, projections.ScheduleRunFilter{ScheduleID: id, Limit: 500})
	if err != nil {
		w.t.Fatal(err)
	}
	return runs
}

// waitRuns waits until the schedule has n runs, all finished, and returns them.
func (w *world) waitRuns(id string, n int, within time.Duration) []projections.ScheduleRunView {
	w.t.Helper()
	deadline := time.Now().Add(within)
	for {
		runs := w.runs(id)
		done := 0
		for _, r := range runs {
			if r.Status == "succeeded" || r.Status == "failed" {
				done++
			}
		}
		if len(runs) == n && done == n {
			return runs
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("schedule %s: %d runs, %d finished after %s; want %d: %+v", id, len(runs), done, within, n, runs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hook is a local HTTP service standing in for webhooks and APIs; it records every call.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []hookCall
	answer func(n int, r *http.Request) (int, string)
}

type hookCall struct {
	path, run, schedule string
	body                map[string]any
	at                  time.Time
}

func newHook(t *testing.T, answer func(n int, r *http.Request) (int, string)) *hook {
	h := &hook{answer: answer}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		h.mu.Lock()
		h.calls = append(h.calls, hookCall{path: r.URL.Path, run: r.Header.Get("X-Gathering-Run"), schedule: r.Header.Get("X-Gathering-Schedule"), body: body, at: time.Now()})
		n := len(h.calls)
		h.mu.Unlock()
		status, text := 200, `{"ok":true}`
		if h.answer != nil {
			status, text = h.answer(n, r)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(text))
	}))
	t.Cleanup(h.Server.Close)
	return h
}

func (h *hook) snapshot() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...)
}

func notify(url string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"url": %q, "message": "tick"}`, url))
}

// TestTwoInstancesRunEachDueTimeOnce: ten interval schedules on two instances whose tickers
// race on every due time for ten periods: 100 due runs, each executed exactly once.
func TestTwoInstancesRunEachDueTimeOnce(t *testing.T) {
	w := newWorld(t)
	h := newHook(t, nil)
	a, b := w.instance(instanceOption{}), w.instance(instanceOption{})
	var ids []string
	for i := range 10 {
		ids = append(ids, w.schedule([]*instance{a, b}[i%2], domain.ScheduleSpec{Name: fmt.Sprintf("every minute %d", i), Type: domain.ScheduleInterval,
			IntervalSec: 60, Action: domain.ActionSendNotification, ActionConfig: notify(h.URL + "/hook")}))
	}
	for period := 1; period <= 10; period++ {
		w.clock.Add(time.Minute)
		fired := 0
		for deadline := time.Now().Add(10 * time.Second); fired < 10; {
			var wg sync.WaitGroup
			counts := make([]int, 2)
			for i, in := range []*instance{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, err := in.ticker.Tick(w.ctx)
					if err != nil {
						t.Errorf("tick: %v", err)
					}
					counts[i] = n
				}()
			}
			wg.Wait()
			fired += counts[0] + counts[1]
			if time.Now().After(deadline) {
				t.Fatalf("period %d: %d of 10 fired", period, fired)
			}
		}
		if fired != 10 {
			t.Fatalf("period %d: %d fires recorded for 10 due times", period, fired)
		}
	}
	for _, id := range ids {
		runs := w.waitRuns(id, 10, 30*time.Second)
		due := map[time.Time]bool{}
		for _, r := range runs {
			if r.Status != "succeeded" || r.Attempts != 1 || r.Trigger != domain.TriggerScheduler || due[r.DueAt] {
				t.Fatalf("run %+v (duplicate due: %v)", r, due[r.DueAt])
			}
			due[r.DueAt] = true
		}
	}
	calls := h.snapshot()
	perRun := map[string]int{}
	perDue := map[string]int{}
	for _, c := range calls {
		perRun[c.run]++
		perDue[c.schedule+" "+fmt.Sprint(c.body["due_at"])]++
	}
	if len(calls) != 100 || len(perRun) != 100 || len(perDue) != 100 {
		t.Fatalf("%d webhook calls for %d runs and %d due times; want 100 of each", len(calls), len(perRun), len(perDue))
	}
	var fires int
	if err := w.db.SQL.QueryRow(`SELECT count(*) FROM schedule_fires`).Scan(&fires); err != nil || fires != 100 {
		t.Fatalf("%d claimed fires (%v)", fires, err)
	}
}

// TestMissedRunsFollowThePolicyOnceAfterARestart: ten minutes pass with no instance running.
// On start, run_latest runs the latest due time and records nine missed, run_all runs all ten,
// skip runs none; a second start (another instance) finds nothing left to do.
func TestMissedRunsFollowThePolicyOnceAfterARestart(t *testing.T) {
	w := newWorld(t)
	h := newHook(t, nil)
	first := w.instance(instanceOption{})
	policies := map[string]string{}
	for _, p := range []string{domain.MissedRunLatest, domain.MissedRunAll, domain.MissedSkip} {
		policies[p] = w.schedule(first, domain.ScheduleSpec{Name: p, Type: domain.ScheduleInterval, IntervalSec: 60,
			MissedPolicy: p, Action: domain.ActionSendNotification, ActionConfig: notify(h.URL + "/" + p)})
	}
	w.clock.Add(10 * time.Minute)
	restarted := w.instance(instanceOption{})
	n, err := restarted.ticker.Tick(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 11 {
		t.Fatalf("%d fires on start; want 1 (run_latest) + 10 (run_all)", n)
	}
	latest := w.waitRuns(policies[domain.MissedRunLatest], 1, 20*time.Second)
	if latest[0].Trigger != domain.TriggerRecovery || !latest[0].DueAt.Equal(w.clock.Now().Truncate(time.Minute)) {
		t.Fatalf("run_latest ran %+v", latest[0])
	}
	all := w.waitRuns(policies[domain.MissedRunAll], 10, 20*time.Second)
	for _, r := range all {
		if r.Trigger != domain.TriggerRecovery || r.Status != "succeeded" {
			t.Fatalf("run_all: %+v", r)
		}
	}
	if runs := w.runs(policies[domain.MissedSkip]); len(runs) != 0 {
		t.Fatalf("skip ran %d", len(runs))
	}
	missed := map[string]int{}
	for p, id := range policies {
		_, events, err := first.repo.LoadSchedule(w.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.Type == domain.EventScheduleMissed {
				var m domain.ScheduleMissed
				_ = json.Unmarshal(e.Payload, &m)
				missed[p] += m.Count
			}
		}
	}
	if missed[domain.MissedRunLatest] != 9 || missed[domain.MissedRunAll] != 0 || missed[domain.MissedSkip] != 10 {
		t.Fatalf("missed %v", missed)
	}
	// Another instance starting now finds every due time handled.
	again := w.instance(instanceOption{})
	if n, err := again.ticker.Tick(w.ctx); err != nil || n != 0 {
		t.Fatalf("a second start fired %d (%v)", n, err)
	}
	time.Sleep(200 * time.Millisecond)
	if got := len(h.snapshot()); got != 11 {
		t.Fatalf("%d webhook calls; want 11", got)
	}
}

// TestRetriesWaitTheirDelayAndEveryRunEnds: a webhook that fails twice then answers succeeds
// on the third attempt, each retry after the retry delay; one that always fails uses its retries
// and fails with the error; a 400 fails at once (a retry would get the same answer).
func TestRetriesWaitTheirDelayAndEveryRunEnds(t *testing.T) {
	w := newWorld(t)
	w.clock.live = true // retries are scheduled in River, on the real clock
	var mu sync.Mutex
	flaky := 0
	h := newHook(t, func(_ int, r *http.Request) (int, string) {
		switch r.URL.Path {
		case "/flaky":
			mu.Lock()
			defer mu.Unlock()
			if flaky++; flaky <= 2 {
				return 503, "busy"
			}
		case "/down":
			return 500, "down for good"
		case "/bad":
			return 400, "no such thing"
		}
		return 200, `{"ok":true}`
	})
	in := w.instance(instanceOption{})
	trigger := func(path string, retries int) (string, string) {
		id := w.schedule(in, domain.ScheduleSpec{Name: path, Type: domain.ScheduleInterval, IntervalSec: 3600, MaxRetries: retries,
			RetryDelaySec: 1, Action: domain.ActionCallAPI, ActionConfig: json.RawMessage(fmt.Sprintf(`{"url": %q, "method": "POST", "body": {"x": 1}}`, h.URL+path))})
		run := uuid.NewString()
		w.send(in, &commands.FireSchedule{Envelope: commands.NewEnvelope(w.owner, ""), ScheduleID: id, RunID: run, Trigger: domain.TriggerManual,
			FireKey: "manual:" + run, DueAt: w.clock.Now()})
		return id, run
	}
	flakyID, _ := trigger("/flaky", 3)
	downID, _ := trigger("/down", 1)
	badID, _ := trigger("/bad", 3)

	r := w.waitRuns(flakyID, 1, 20*time.Second)[0]
	if r.Status != "succeeded" || r.Attempts != 3 || len(r.History) != 3 || r.DurationMS == nil {
		t.Fatalf("flaky run %+v", r)
	}
	for i, a := range r.History[:2] {
		if a.Outcome != "failed" || !a.WillRetry || a.RetryAt == nil || !strings.Contains(a.Error, "HTTP 503") {
			t.Fatalf("attempt %d: %+v", i+1, a)
		}
		if next := r.History[i+1].StartedAt; next.Sub(*a.RetryAt) < -50*time.Millisecond {
			t.Fatalf("attempt %d started at %s, before its retry time %s", i+2, next, a.RetryAt)
		}
	}
	var flakyCalls []time.Time
	for _, c := range h.snapshot() {
		if c.path == "/flaky" {
			flakyCalls = append(flakyCalls, c.at)
		}
	}
	for i := 1; i < len(flakyCalls); i++ {
		if gap := flakyCalls[i].Sub(flakyCalls[i-1]); gap < 900*time.Millisecond {
			t.Fatalf("retry %d came %s after the previous call; the retry delay is 1 s", i, gap)
		}
	}
	r = w.waitRuns(downID, 1, 20*time.Second)[0]
	if r.Status != "failed" || r.Attempts != 2 || !strings.Contains(r.Error, "HTTP 500") || r.DurationMS == nil || r.EndedAt == nil {
		t.Fatalf("down run %+v", r)
	}
	r = w.waitRuns(badID, 1, 20*time.Second)[0]
	if r.Status != "failed" || r.Attempts != 1 || !strings.Contains(r.Error, "HTTP 400") || r.History[0].WillRetry {
		t.Fatalf("bad run %+v", r)
	}
}

// TestEachActionType runs every action through a manual trigger: a webhook notification, an API
// call with an expected status, a pipeline run, and an agent's background task answered
// through the OpenAI wire format.
func TestEachActionType(t *testing.T) {
	w := newWorld(t)
	fake := llmtest.NewOpenAI(t)
	fake.CallTool("call_1", "finish_task", `{"result": "the report is written"}`)
	fake.Reply("The weekly report is written.") // the turn's answer after the tool's result
	models := llm.NewRegistry(llm.Config{OpenAIKey: llmtest.Key, OpenAIBaseURL: fake.BaseURL(), Timeout: 10 * time.Second, MaxRetries: -1})
	h := newHook(t, func(_ int, r *http.Request) (int, string) {
		if r.URL.Path == "/created" {
			return 201, `{"id": 7}`
		}
		return 200, `{"ok": true}`
	})
	in := w.instance(instanceOption{models: models})
	run := func(action string, config string) projections.ScheduleRunView {
		t.Helper()
		id := w.schedule(in, domain.ScheduleSpec{Name: action, Type: domain.ScheduleInterval, IntervalSec: 3600, Action: action,
			ActionConfig: json.RawMessage(config)})
		rid := uuid.NewString()
		w.send(in, &commands.FireSchedule{Envelope: commands.NewEnvelope(w.owner, ""), ScheduleID: id, RunID: rid,
			Trigger: domain.TriggerManual, FireKey: "manual:" + rid, DueAt: w.clock.Now()})
		return w.waitRuns(id, 1, 30*time.Second)[0]
	}

	r := run(domain.ActionSendNotification, fmt.Sprintf(`{"url": %q, "message": "standup", "payload": {"room": 4}}`, h.URL+"/notify"))
	calls := h.snapshot()
	if r.Status != "succeeded" || len(calls) != 1 || calls[0].body["message"] != "standup" || calls[0].body["payload"].(map[string]any)["room"] != 4.0 ||
		calls[0].body["type"] != "schedule.notification" || calls[0].run != r.ID {
		t.Fatalf("notification: run %+v, calls %+v", r, calls)
	}

	r = run(domain.ActionCallAPI, fmt.Sprintf(`{"url": %q, "method": "PUT", "body": {"n": 1}, "expect_status": [201]}`, h.URL+"/created"))
	var res struct {
		Status int            `json:"status"`
		Body   map[string]any `json:"body"`
	}
	if err := json.Unmarshal(r.Result, &res); err != nil || r.Status != "succeeded" || res.Status != 201 || res.Body["id"] != 7.0 {
		t.Fatalf("call_api: %+v (%s)", r, r.Result)
	}
	r = run(domain.ActionCallAPI, fmt.Sprintf(`{"url": %q, "expect_status": [204]}`, h.URL+"/created"))
	if r.Status != "failed" || !strings.Contains(r.Error, "HTTP 201") {
		t.Fatalf("an unexpected status: %+v", r)
	}

	pipelineID := uuid.NewString()
	w.send(in, &commands.CreatePipeline{Envelope: commands.NewEnvelope(w.owner, ""), PipelineID: pipelineID, Spec: domain.PipelineSpec{
		Name: "report", Nodes: []domain.PipelineNode{{ID: "in", Type: "trigger"}, {ID: "say", Type: "transform",
			Config: json.RawMessage(`{"template": "report for {{input.trigger}}"}`)}}, Edges: []domain.PipelineEdge{{From: "in", To: "say"}}}})
	r = run(domain.ActionExecutePipeline, fmt.Sprintf(`{"pipeline_id": %q}`, pipelineID))
	var pres struct {
		Status  string                     `json:"status"`
		Outputs map[string]json.RawMessage `json:"outputs"`
	}
	if err := json.Unmarshal(r.Result, &pres); err != nil || r.Status != "succeeded" || pres.Status != "completed" || string(pres.Outputs["say"]) != `"report for manual"` {
		t.Fatalf("execute_pipeline: %+v (%s)", r, r.Result)
	}

	agentID := uuid.NewString()
	w.send(in, &commands.CreateAgent{Envelope: commands.NewEnvelope(w.owner, ""), AgentID: agentID,
		Spec: domain.AgentSpec{Name: "Reporter", Provider: domain.ProviderOpenAI, Model: "gpt-4o-mini"}})
	r = run(domain.ActionRunTask, fmt.Sprintf(`{"agent_id": %q, "goal": "write the weekly report", "max_steps": 3}`, agentID))
	var tres struct {
		Status string `json:"status"`
		Result string `json:"result"`
	}
	if err := json.Unmarshal(r.Result, &tres); err != nil || r.Status != "succeeded" || tres.Status != "completed" || tres.Result != "the report is written" {
		t.Fatalf("run_task: %+v (%s)", r, r.Result)
	}
	if reqs := fake.Requests(); len(reqs) != 2 || !strings.Contains(fmt.Sprint(reqs[0].Messages()), "write the weekly report") {
		t.Fatalf("the agent was asked %d times: %v", len(reqs), reqs)
	}

}

// TestPrivateAddressesAreRefused: with the guard on (the default), a call to an internal
// address fails at once, without retries, and the service never sees it.
func TestPrivateAddressesAreRefused(t *testing.T) {
	w := newWorld(t)
	h := newHook(t, nil)
	guarded := w.instance(instanceOption{httpClient: tools.GuardedClient(5*time.Second, false)})
	id := w.schedule(guarded, domain.ScheduleSpec{Name: "internal", Type: domain.ScheduleInterval, IntervalSec: 3600, MaxRetries: 3,
		Action: domain.ActionCallAPI, ActionConfig: json.RawMessage(fmt.Sprintf(`{"url": %q}`, h.URL+"/admin"))})
	rid := uuid.NewString()
	w.send(guarded, &commands.FireSchedule{Envelope: commands.NewEnvelope(w.owner, ""), ScheduleID: id, RunID: rid,
		Trigger: domain.TriggerManual, FireKey: "manual:" + rid, DueAt: w.clock.Now()})
	r := w.waitRuns(id, 1, 20*time.Second)[0]
	if r.Status != "failed" || r.Attempts != 1 || !strings.Contains(r.Error, "refused to connect") || len(h.snapshot()) != 0 {
		t.Fatalf("a private address: %+v", r)
	}
}

// TestEventSchedulesFireOnTheirEvent: an event schedule on agent.created fires once per agent
// created after it, not for one created before, not while paused, and again once resumed.
func TestEventSchedulesFireOnTheirEvent(t *testing.T) {
	w := newWorld(t)
	h := newHook(t, nil)
	in := w.instance(instanceOption{triggers: true})
	agent := func(name string) {
		w.send(in, &commands.CreateAgent{Envelope: commands.NewEnvelope(w.owner, ""), AgentID: uuid.NewString(),
			Spec: domain.AgentSpec{Name: name, Provider: domain.ProviderOffline}})
	}
	agent("Before")
	id := w.schedule(in, domain.ScheduleSpec{Name: "welcome", Type: domain.ScheduleEvent, EventType: domain.EventAgentCreated,
		Action: domain.ActionSendNotification, ActionConfig: notify(h.URL + "/welcome")})
	agent("First")
	agent("Second")
	runs := w.waitRuns(id, 2, 20*time.Second)
	for _, r := range runs {
		if r.Trigger != domain.TriggerEvent || r.Status != "succeeded" || !strings.HasPrefix(r.FireKey, "event:") {
			t.Fatalf("run %+v", r)
		}
	}
	w.caughtUp(w.send(in, &commands.ScheduleAction{Envelope: commands.NewEnvelope(w.owner, ""), ScheduleID: id, Action: "pause"}))
	agent("WhilePaused")
	w.caughtUp(w.send(in, &commands.ScheduleAction{Envelope: commands.NewEnvelope(w.owner, ""), ScheduleID: id, Action: "resume"}))
	agent("Third")
	w.waitRuns(id, 3, 20*time.Second)
	// Another user's agent does not fire this owner's schedule.
	stranger := domain.Actor{ID: uuid.NewString(), Role: domain.RoleMember}
	w.send(in, &commands.CreateAgent{Envelope: commands.NewEnvelope(stranger, ""), AgentID: uuid.NewString(),
		Spec: domain.AgentSpec{Name: "NotYours", Provider: domain.ProviderOffline}})
	time.Sleep(300 * time.Millisecond) // a fire for the paused or the stranger's event would have landed by now
	if runs := w.runs(id); len(runs) != 3 || len(h.snapshot()) != 3 {
		t.Fatalf("%d runs, %d calls; want 3", len(runs), len(h.snapshot()))
	}

	// A schedule whose action appends the very event it waits for does not fire itself: the
	// events an action causes are marked and never trigger.
	pipelineID := uuid.NewString()
	w.send(in, &commands.CreatePipeline{Envelope: commands.NewEnvelope(w.owner, ""), PipelineID: pipelineID, Spec: domain.PipelineSpec{
		Name: "echo", Nodes: []domain.PipelineNode{{ID: "in", Type: "trigger"}}}})
	loop := w.schedule(in, domain.ScheduleSpec{Name: "loop", Type: domain.ScheduleEvent, EventType: domain.EventPipelineRunStarted,
		Action: domain.ActionExecutePipeline, ActionConfig: json.RawMessage(fmt.Sprintf(`{"pipeline_id": %q}`, pipelineID))})
	w.send(in, &commands.StartPipelineRun{Envelope: commands.NewEnvelope(w.owner, ""), RunID: uuid.NewString(), PipelineID: pipelineID})
	w.waitRuns(loop, 1, 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	if runs := w.runs(loop); len(runs) != 1 {
		t.Fatalf("the schedule fired itself: %d runs", len(runs))
	}
}

// TestStoppedTickerTakesNoMoreDueTimes: after Stop returns, a due time is left for the next
// instance.
func TestStoppedTickerTakesNoMoreDueTimes(t *testing.T) {
	w := newWorld(t)
	h := newHook(t, nil)
	in := w.instance(instanceOption{})
	in.ticker.Every = 10 * time.Millisecond
	id := w.schedule(in, domain.ScheduleSpec{Name: "later", Type: domain.ScheduleInterval, IntervalSec: 60,
		Action: domain.ActionSendNotification, ActionConfig: notify(h.URL)})
	in.ticker.Start()
	in.ticker.Stop()
	w.clock.Add(time.Minute)
	time.Sleep(100 * time.Millisecond)
	if runs := w.runs(id); len(runs) != 0 {
		t.Fatalf("a stopped ticker fired %d", len(runs))
	}
	next := w.instance(instanceOption{})
	if n, err := next.ticker.Tick(w.ctx); err != nil || n != 1 {
		t.Fatalf("the next instance fired %d (%v)", n, err)
	}
}
