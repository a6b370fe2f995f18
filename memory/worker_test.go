package memory_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/testdb"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/llm/llmtest"
	"github.com/gathering/gathering/memory"
	"github.com/gathering/gathering/projections"
)

// queued records the jobs a command would insert, so the test runs them itself.
type queued struct{ jobs []commands.EmbedItems }

func (q *queued) InsertTx(_ context.Context, _ *sql.Tx, args river.JobArgs, _ *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	q.jobs = append(q.jobs, args.(commands.EmbedItems))
	return &rivertype.JobInsertResult{Job: &rivertype.JobRow{}}, nil
}

// TestEmbeddingJobsAndAChangeOfModel embeds a memory and a document with one model through
// the OpenAI fake (one batched call for all chunks), checks the read model carries the model
// and dimension, then switches to another model: the stale items are queued again, embedded,
// and recorded with the new model, while the cache spares the provider a second call.
func TestEmbeddingJobsAndAChangeOfModel(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	store := eventlog.NewStore(db.SQL, domain.Events)
	notifier := eventlog.NewNotifier(db.DSN, zerolog.Nop())
	t.Cleanup(notifier.Close)
	<-notifier.Ready()
	announcer := eventlog.NewAnnouncer(db.SQL, notifier)
	t.Cleanup(announcer.Close)
	bus, err := commands.NewBus(zerolog.Nop(), 8)
	if err != nil {
		t.Fatal(err)
	}
	repo := commands.NewRepository(store, domain.Events, announcer)
	jobs := &queued{}
	commands.RegisterAgents(bus, repo)
	commands.RegisterMemories(bus, repo, jobs)
	if err := bus.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	runner, err := projections.NewRunner(store, notifier, zerolog.Nop(), projections.NewMemory(domain.Events))
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer runner.Close()
	waiter := projections.NewWaiter(db.SQL, notifier)
	owner := domain.Actor{ID: "u1", Role: domain.RoleMember}
	send := func(cmd any) commands.Result {
		t.Helper()
		res, err := bus.Send(ctx, cmd)
		if err != nil {
			t.Fatalf("%T: %v", cmd, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := waiter.WaitFor(wctx, "memory", res.Cursor()); err != nil {
			t.Fatal(err)
		}
		return res
	}
	agent := uuid.NewString()
	send(&commands.CreateAgent{Envelope: commands.NewEnvelope(owner, ""), AgentID: agent, Spec: domain.AgentSpec{Name: "A", Provider: domain.ProviderOffline}})
	mem := uuid.NewString()
	send(&commands.Remember{Envelope: commands.NewEnvelope(owner, ""), MemoryID: mem, Spec: domain.MemorySpec{Scope: "agent", AgentID: agent, Content: "likes tea"}})
	doc := uuid.NewString()
	var content string
	for i := 0; i < 60; i++ {
		content += "A paragraph about brewing and kettles, repeated to make several chunks. "
	}
	send(&commands.AddKnowledge{Envelope: commands.NewEnvelope(owner, ""), DocumentID: doc, Spec: domain.KnowledgeSpec{Title: "Guide", Format: "text", Content: content}})
	if len(jobs.jobs) != 2 {
		t.Fatalf("queued %+v, want one job per item", jobs.jobs)
	}

	fake := llmtest.NewOpenAI(t)
	run := func(model string) *memory.Embeddings {
		t.Helper()
		e, err := llm.NewEmbedder(model, llm.Config{OpenAIKey: llmtest.Key, OpenAIBaseURL: fake.BaseURL(), MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		emb, err := memory.NewEmbeddings(db.SQL, e, 100)
		if err != nil {
			t.Fatal(err)
		}
		w := &memory.EmbedWorker{Repo: repo, Bus: bus, Embeddings: emb}
		for _, j := range jobs.jobs {
			if err := w.Work(ctx, &river.Job[commands.EmbedItems]{Args: j}); err != nil {
				t.Fatal(err)
			}
		}
		return emb
	}
	first := run("openai:text-embedding-3-small:256")
	if fake.EmbedCalls() != 2 {
		t.Fatalf("%d embedding calls, want 2 (the memory, then all chunks in one batch)", fake.EmbedCalls())
	}
	wait := func() {
		t.Helper()
		// A marker memory whose projection position covers what was recorded before it; its
		// own embedding job is dropped.
		defer func(n int) { jobs.jobs = jobs.jobs[:n] }(len(jobs.jobs))
		res, err := bus.Send(ctx, &commands.Remember{Envelope: commands.NewEnvelope(owner, ""), MemoryID: uuid.NewString(),
			Spec: domain.MemorySpec{Scope: "global", Content: "marker"}})
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := waiter.WaitFor(wctx, "memory", res.Cursor()); err != nil {
			t.Fatal(err)
		}
	}
	wait()
	items := memory.NewItems(db.SQL)
	if it, err := items.Get(ctx, mem); err != nil || it.Model != first.Model() || it.Dimension != 256 {
		t.Fatalf("embedded memory: %+v %v", it, err)
	}
	// Jobs that run again (a retry) neither call the provider nor record anything new.
	before := fake.EmbedCalls()
	run("openai:text-embedding-3-small:256")
	if fake.EmbedCalls() != before {
		t.Fatal("a repeated job embedded again")
	}

	// A new model: everything it has not embedded is queued again, then embedded with it.
	jobs.jobs = nil
	n, err := memory.ScheduleReembedding(ctx, db.SQL, jobs, "openai/text-embedding-3-large")
	if err != nil || n != 3 { // the memory, the document, the marker
		t.Fatalf("re-embedding queued %d: %v", n, err)
	}
	second := run("openai:text-embedding-3-large:512")
	wait()
	if it, _ := items.Get(ctx, mem); it.Model != second.Model() || it.Dimension != 512 {
		t.Fatalf("after the change of model: %+v", it)
	}
	counts, err := items.Counts(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range counts {
		if c.Kind == "knowledge" && (c.Model != second.Model() || c.NotEmbedded != 0) {
			t.Fatalf("chunks after the change of model: %+v", counts)
		}
	}
}
