package commands_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/testdb"
)

func newBus(t *testing.T) (*commands.Bus, *eventlog.Store) {
	t.Helper()
	db := testdb.New(t)
	store := eventlog.NewStore(db.SQL, domain.Events)
	bus, err := commands.NewBus(zerolog.Nop(), 32)
	if err != nil {
		t.Fatal(err)
	}
	commands.RegisterAgents(bus, commands.NewRepository(store, domain.Events, nil))
	if err := bus.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	return bus, store
}

func create(t *testing.T, bus *commands.Bus) string {
	t.Helper()
	id := uuid.NewString()
	if _, err := bus.Send(context.Background(), &commands.CreateAgent{Envelope: commands.NewEnvelope(domain.System, ""), AgentID: id,
		Spec: domain.AgentSpec{Name: "Base"}}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestConcurrentUpdatesRetryOnConflict(t *testing.T) {
	bus, store := newBus(t)
	id := create(t, bus)
	const writers = 12
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			style := fmt.Sprintf("style %d", i)
			if _, err := bus.Send(context.Background(), &commands.UpdateAgent{Envelope: commands.NewEnvelope(domain.System, ""), AgentID: id,
				Patch: domain.AgentPatch{Style: &style}}); err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	events, head, err := store.Load(context.Background(), store.DB(), domain.AgentStreamID(id))
	if err != nil {
		t.Fatal(err)
	}
	if head.Version != writers+1 || len(events) != writers+1 {
		t.Fatalf("stream at version %d with %d events, want %d: an update was lost", head.Version, len(events), writers+1)
	}
}

func TestStaleExpectedVersionIsReportedNotRetried(t *testing.T) {
	bus, _ := newBus(t)
	id := create(t, bus)
	name := "New"
	env := commands.NewEnvelope(domain.System, "")
	one := int64(1)
	env.ExpectedVersion = &one
	if _, err := bus.Send(context.Background(), &commands.UpdateAgent{Envelope: env, AgentID: id, Patch: domain.AgentPatch{Name: &name}}); err != nil {
		t.Fatal(err)
	}
	other := "Other"
	env = commands.NewEnvelope(domain.System, "")
	env.ExpectedVersion = &one
	_, err := bus.Send(context.Background(), &commands.UpdateAgent{Envelope: env, AgentID: id, Patch: domain.AgentPatch{Name: &other}})
	if domain.ErrorCode(err) != domain.CodeVersionConflict {
		t.Fatalf("want version conflict, got %v", err)
	}
}

func TestDomainErrorsCrossTheBusIntact(t *testing.T) {
	bus, store := newBus(t)
	_, err := bus.Send(context.Background(), &commands.CreateAgent{Envelope: commands.NewEnvelope(domain.System, ""), AgentID: uuid.NewString(),
		Spec: domain.AgentSpec{Name: "", Provider: "nope"}})
	de, ok := err.(*domain.Error)
	if !ok || de.Code != domain.CodeInvalid || len(de.Fields) != 2 || de.Fields[0].Field != "name" || de.Fields[1].Field != "provider" {
		t.Fatalf("got %#v", err)
	}
	if evs, _ := store.ReadLatest(context.Background(), store.DB(), eventlog.Filter{}, 10); len(evs) != 0 {
		t.Fatalf("a refused command appended %d events", len(evs))
	}
	_, err = bus.Send(context.Background(), &commands.DeleteAgent{Envelope: commands.NewEnvelope(domain.System, ""), AgentID: uuid.NewString()})
	if domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("delete unknown: %v", err)
	}
}

func TestIdempotencyKeyAtTheCommandLayer(t *testing.T) {
	bus, store := newBus(t)
	env := commands.NewEnvelope(domain.System, "")
	env.IdempotencyKey, env.Fingerprint = "t:key", "fp-1"
	first, err := bus.Send(context.Background(), &commands.CreateAgent{Envelope: env, AgentID: uuid.NewString(), Spec: domain.AgentSpec{Name: "A"}})
	if err != nil {
		t.Fatal(err)
	}
	// A retry carries a new command id (and here even a new agent id): the key still wins.
	env2 := commands.NewEnvelope(domain.System, "")
	env2.IdempotencyKey, env2.Fingerprint = "t:key", "fp-1"
	second, err := bus.Send(context.Background(), &commands.CreateAgent{Envelope: env2, AgentID: uuid.NewString(), Spec: domain.AgentSpec{Name: "A"}})
	if err != nil || !second.Replayed || second.StreamID != first.StreamID || second.Position != first.Position {
		t.Fatalf("first %+v second %+v %v", first, second, err)
	}
	env3 := commands.NewEnvelope(domain.System, "")
	env3.IdempotencyKey, env3.Fingerprint = "t:key", "fp-other"
	if _, err := bus.Send(context.Background(), &commands.CreateAgent{Envelope: env3, AgentID: uuid.NewString(), Spec: domain.AgentSpec{Name: "B"}}); domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("reused key: %v", err)
	}
	if evs, _ := store.ReadLatest(context.Background(), store.DB(), eventlog.Filter{}, 10); len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
}

func TestCommandsCarryCausationAndCorrelation(t *testing.T) {
	bus, store := newBus(t)
	env := commands.NewEnvelope(domain.Actor{ID: "alice", Role: domain.RoleMember}, "req-42")
	res, err := bus.Send(context.Background(), &commands.CreateAgent{Envelope: env, AgentID: uuid.NewString(), Spec: domain.AgentSpec{Name: "A"}})
	if err != nil {
		t.Fatal(err)
	}
	events, _, _ := store.Load(context.Background(), store.DB(), res.StreamID)
	m := events[0].Metadata
	if m.Actor != "alice" || m.CorrelationID != "req-42" || m.CausationID != env.CommandID {
		t.Fatalf("metadata %+v", m)
	}
}

func TestBusRefusesBeforeRunning(t *testing.T) {
	bus, err := commands.NewBus(zerolog.Nop(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Send(context.Background(), &commands.DeleteAgent{AgentID: "x"}); domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Fatalf("got %v", err)
	}
}

func TestPurgeForgetsOldIdempotencyKeys(t *testing.T) {
	bus, store := newBus(t)
	for _, key := range []string{"t:old", "t:new"} {
		env := commands.NewEnvelope(domain.System, "")
		env.IdempotencyKey, env.Fingerprint = key, "fp"
		if _, err := bus.Send(context.Background(), &commands.CreateAgent{Envelope: env, AgentID: uuid.NewString(), Spec: domain.AgentSpec{Name: "A"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.DB().Exec(`UPDATE idempotency_keys SET created_at = now() - interval '2 days' WHERE key = 't:old'`); err != nil {
		t.Fatal(err)
	}
	n, err := commands.PurgeIdempotencyKeys(context.Background(), store.DB(), time.Now().Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	var left []string
	rows, _ := store.DB().Query(`SELECT key FROM idempotency_keys`)
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		left = append(left, k)
	}
	rows.Close()
	if len(left) != 1 || left[0] != "t:new" {
		t.Fatalf("left %v", left)
	}
}
