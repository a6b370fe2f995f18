package executor_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
	"github.com/gathering/gathering/pipeline"
	"github.com/gathering/gathering/pipeline/executor"
)

// harness is a migrated database with the command bus, the pipeline commands and an executor
// whose jobs a real River client works (started by run, or driven by hand in the tests that
// stage a crash).
type harness struct {
	t     *testing.T
	ctx   context.Context
	db    *eventlog.DB
	bus   *commands.Bus
	repo  *commands.Repository
	x     *executor.Executor
	jobs  *jobs.Client
	cmds  *commands.Pipelines
	owner domain.Actor
}

type harnessOption func(*executor.Executor)

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	db := testdb.New(t)
	ctx := context.Background()
	store := eventlog.NewStore(db.SQL, domain.Events)
	bus, err := commands.NewBus(zerolog.Nop(), 32)
	if err != nil {
		t.Fatal(err)
	}
	repo := commands.NewRepository(store, domain.Events, nil)
	x := &executor.Executor{Repo: repo, Bus: bus, DB: db.SQL, Models: llm.NewRegistry(llm.Config{}),
		HTTP: &http.Client{Timeout: 10 * time.Second}, Breakers: pipeline.NewBreakers(nil), Log: zerolog.Nop(),
		WatchEvery: 20 * time.Millisecond}
	for _, o := range opts {
		o(x)
	}
	workers := river.NewWorkers()
	x.Workers(workers)
	client, err := jobs.New(db, workers, jobs.Options{MaxWorkers: 16})
	if err != nil {
		t.Fatal(err)
	}
	commands.RegisterAgents(bus, repo)
	cmds := commands.RegisterPipelines(bus, repo, client)
	if err := bus.Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	return &harness{t: t, ctx: ctx, db: db, bus: bus, repo: repo, x: x, jobs: client, cmds: cmds,
		owner: domain.Actor{ID: uuid.NewString(), Role: domain.RoleMember}}
}

// work starts the River client; it stops when the test ends.
func (h *harness) work() {
	h.t.Helper()
	if err := h.jobs.Start(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.jobs.StopAndCancel(ctx)
	})
}

func (h *harness) env() commands.Envelope { return commands.NewEnvelope(h.owner, "") }

func (h *harness) send(cmd any) commands.Result {
	h.t.Helper()
	res, err := h.bus.Send(h.ctx, cmd)
	if err != nil {
		h.t.Fatalf("%T: %v", cmd, err)
	}
	return res
}

// pipeline defines a pipeline and returns its id.
func (h *harness) pipeline(spec domain.PipelineSpec) string {
	h.t.Helper()
	id := uuid.NewString()
	h.send(&commands.CreatePipeline{Envelope: h.env(), PipelineID: id, Spec: spec})
	return id
}

// start starts a run of pipeline id on input and returns the run's id.
func (h *harness) start(id string, input string) string {
	h.t.Helper()
	run := uuid.NewString()
	h.send(&commands.StartPipelineRun{Envelope: h.env(), RunID: run, PipelineID: id, Input: json.RawMessage(input)})
	return run
}

func (h *harness) load(run string) (*domain.PipelineRun, []eventlog.Event) {
	h.t.Helper()
	r, events, err := h.repo.LoadPipelineRun(h.ctx, run)
	if err != nil {
		h.t.Fatal(err)
	}
	return r, events
}

// waitFinished waits until the run has ended and returns it.
func (h *harness) waitFinished(run string, within time.Duration) (*domain.PipelineRun, []eventlog.Event) {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		r, events := h.load(run)
		if r.Finished() {
			return r, events
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("run still %s after %s; nodes: %s", r.Status, within, describeNodes(r))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor polls until cond holds for the run.
func (h *harness) waitFor(run string, within time.Duration, what string, cond func(*domain.PipelineRun) bool) *domain.PipelineRun {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		r, _ := h.load(run)
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: not after %s; run %s, nodes: %s", what, within, r.Status, describeNodes(r))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func describeNodes(r *domain.PipelineRun) string {
	out := ""
	for _, n := range r.Spec.Nodes {
		s := r.Nodes[n.ID]
		out += n.ID + "=" + string(s.Status)
		if s.Error != "" {
			out += "(" + s.Error + ")"
		}
		out += " "
	}
	return out
}

// node is a spec node with its config as JSON text.
func node(id, typ, config string) domain.PipelineNode {
	return domain.PipelineNode{ID: id, Type: typ, Config: json.RawMessage(config)}
}

func edge(from, to string) domain.PipelineEdge { return domain.PipelineEdge{From: from, To: to} }

// endpoint is a local HTTP service for action nodes; it records every call.
type endpoint struct {
	*httptest.Server
	mu    sync.Mutex
	calls []call
	// handle answers a call (the n-th, from 1); nil answers 200 {"ok": true}.
	handle func(n int, w http.ResponseWriter, r *http.Request)
}

type call struct {
	path       string
	body       string
	start, end time.Time
}

func newEndpoint(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *endpoint {
	e := &endpoint{handle: handle}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		raw := make([]byte, 0, 256)
		buf := make([]byte, 256)
		for {
			n, err := r.Body.Read(buf)
			raw = append(raw, buf[:n]...)
			if err != nil {
				break
			}
		}
		e.mu.Lock()
		e.calls = append(e.calls, call{path: r.URL.Path, body: string(raw), start: start})
		n := len(e.calls)
		e.mu.Unlock()
		if e.handle != nil {
			e.handle(n, w, r)
		} else {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
		e.mu.Lock()
		e.calls[n-1].end = time.Now()
		e.mu.Unlock()
	}))
	t.Cleanup(e.Server.Close)
	return e
}

func (e *endpoint) calledPaths() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	for _, c := range e.calls {
		out[c.path]++
	}
	return out
}

func (e *endpoint) snapshot() []call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]call(nil), e.calls...)
}

// eventsOf returns the decoded events of a type, in order.
func eventsOf[E any](t *testing.T, events []eventlog.Event, typ string) []E {
	t.Helper()
	var out []E
	for _, e := range events {
		if e.Type != typ {
			continue
		}
		var v E
		if err := json.Unmarshal(e.Payload, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// newClient is another instance's River client on the harness's database.
func newClient(h *harness) (*jobs.Client, error) {
	workers := river.NewWorkers()
	h.x.Workers(workers)
	return jobs.New(h.db, workers, jobs.Options{MaxWorkers: 16})
}
