package eventlog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/testdb"
)

func appendOne(t testing.TB, ctx context.Context, store *eventlog.Store, stream string, head eventlog.Head, payload string) ([]eventlog.Event, error) {
	t.Helper()
	tx, err := store.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := store.Append(ctx, tx, stream, "test", head,
		[]eventlog.NewEvent{{Type: "test.happened", SchemaVersion: 1, Payload: json.RawMessage(payload)}},
		eventlog.Metadata{Actor: "tester", CorrelationID: "corr-1"})
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return evs, tx.Commit()
}

func TestAppendLoadAndHashChain(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	store := eventlog.NewStore(db.SQL, domain.Events)

	head := eventlog.Head{}
	for i := 0; i < 3; i++ {
		evs, err := appendOne(t, ctx, store, "s-1", head, fmt.Sprintf(`{"n":%d}`, i))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if evs[0].Version != int64(i+1) || evs[0].Position == 0 || evs[0].TxID == 0 {
			t.Fatalf("append %d returned %+v", i, evs[0])
		}
		head = eventlog.Head{Version: evs[0].Version, Hash: evs[0].Hash}
	}
	events, loaded, err := store.Load(ctx, db.SQL, "s-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 || loaded.Version != 3 {
		t.Fatalf("loaded %d events, head %d", len(events), loaded.Version)
	}
	for i, e := range events {
		if e.Version != int64(i+1) {
			t.Errorf("event %d has version %d", i, e.Version)
		}
		if i > 0 && string(e.PrevHash) != string(events[i-1].Hash) {
			t.Errorf("event %d does not chain to its predecessor", i)
		}
		if e.Metadata.Actor != "tester" || e.Metadata.CorrelationID != "corr-1" {
			t.Errorf("metadata lost: %+v", e.Metadata)
		}
	}
	report, err := eventlog.VerifyChains(ctx, db.SQL, "")
	if err != nil || !report.OK() || report.Events != 3 || report.Streams != 1 {
		t.Fatalf("verify: %+v %v", report, err)
	}
}

func TestConcurrentAppendFailsWithVersionConflict(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	store := eventlog.NewStore(db.SQL, nil)

	// Both writers loaded the empty stream; the first to commit wins.
	tx1, _ := db.SQL.BeginTx(ctx, nil)
	tx2, _ := db.SQL.BeginTx(ctx, nil)
	ev := []eventlog.NewEvent{{Type: "test.happened", SchemaVersion: 1, Payload: json.RawMessage(`{}`)}}
	if _, err := store.Append(ctx, tx1, "s", "test", eventlog.Head{}, ev, eventlog.Metadata{}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := store.Append(ctx, tx2, "s", "test", eventlog.Head{}, ev, eventlog.Metadata{})
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // tx2 now waits on tx1's uncommitted unique key
	if err := tx1.Commit(); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	_ = tx2.Rollback()
	if !errors.Is(err, eventlog.ErrVersionConflict) || domain.ErrorCode(err) != domain.CodeVersionConflict {
		t.Fatalf("second append: want version conflict, got %v", err)
	}
	events, _, _ := store.Load(ctx, db.SQL, "s")
	if len(events) != 1 {
		t.Fatalf("stream has %d events, want 1", len(events))
	}
}

func TestLogIsAppendOnly(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	store := eventlog.NewStore(db.SQL, nil)
	if _, err := appendOne(t, ctx, store, "s", eventlog.Head{}, `{}`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.ExecContext(ctx, `UPDATE eventlog.events SET payload = '{"x":1}'`); err == nil {
		t.Fatal("UPDATE of the log succeeded")
	}
	if _, err := db.SQL.ExecContext(ctx, `DELETE FROM eventlog.events`); err == nil {
		t.Fatal("DELETE from the log succeeded")
	}
}

func TestAuditVerifyNamesFirstBrokenLink(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	store := eventlog.NewStore(db.SQL, nil)
	for _, stream := range []string{"a", "b"} {
		head := eventlog.Head{}
		for i := 0; i < 4; i++ {
			evs, err := appendOne(t, ctx, store, stream, head, fmt.Sprintf(`{"i":%d}`, i))
			if err != nil {
				t.Fatal(err)
			}
			head = eventlog.Head{Version: evs[0].Version, Hash: evs[0].Hash}
		}
	}
	// An attacker with superuser rights bypasses the append-only trigger and edits history.
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `UPDATE eventlog.events SET payload = '{"i":99}' WHERE stream_id = 'b' AND stream_version = 2`); err != nil {
		t.Fatal(err)
	}
	var position int64
	_ = db.SQL.QueryRowContext(ctx, `SELECT "offset" FROM eventlog.events WHERE stream_id = 'b' AND stream_version = 2`).Scan(&position)

	report, err := eventlog.VerifyChains(ctx, db.SQL, "")
	if err != nil {
		t.Fatal(err)
	}
	if report.OK() || len(report.Breaks) != 1 {
		t.Fatalf("want exactly one broken stream, got %+v", report)
	}
	br := report.Breaks[0]
	if br.StreamID != "b" || br.Version != 2 || br.Position != position {
		t.Fatalf("break named %+v, want stream b version 2 position %d", br, position)
	}
	// Changing a column outside the payload is caught as well.
	if _, err := conn.ExecContext(ctx, `UPDATE eventlog.events SET actor = 'mallory' WHERE stream_id = 'a' AND stream_version = 3`); err != nil {
		t.Fatal(err)
	}
	report, _ = eventlog.VerifyChains(ctx, db.SQL, "a")
	if len(report.Breaks) != 1 || report.Breaks[0].Version != 3 {
		t.Fatalf("actor tampering not caught: %+v", report)
	}
}

func TestUpcastV1EventReadAsV2(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	store := eventlog.NewStore(db.SQL, domain.Events)
	v1 := domain.AgentCreatedV1{ID: "a1", Name: "Ada", Role: "analyst", Provider: domain.ProviderOffline,
		Model: "offline-1", Traits: []string{"curious"}, Temperature: 0.3, SystemPrompt: "hi", Tools: []string{"calculator"}}
	payload, _ := json.Marshal(v1)
	tx, _ := db.SQL.BeginTx(ctx, nil)
	if _, err := store.Append(ctx, tx, domain.AgentStreamID("a1"), domain.StreamTypeAgent, eventlog.Head{},
		[]eventlog.NewEvent{{Type: domain.EventAgentCreated, SchemaVersion: 1, Payload: payload}}, eventlog.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	events, _, err := store.Load(ctx, db.SQL, domain.AgentStreamID("a1"))
	if err != nil {
		t.Fatal(err)
	}
	if events[0].SchemaVersion != 2 {
		t.Fatalf("read as v%d, want v2", events[0].SchemaVersion)
	}
	decoded, err := domain.Events.Decode(events[0].Type, events[0].SchemaVersion, events[0].Payload)
	if err != nil {
		t.Fatal(err)
	}
	created := decoded.(*domain.AgentCreated)
	if created.Personality.Temperature != 0.3 || len(created.Personality.Traits) != 1 || created.Personality.Traits[0] != "curious" ||
		created.Personality.MaxTokens != domain.DefaultMaxTokens {
		t.Fatalf("upcast lost data: %+v", created.Personality)
	}
	// The stored row is untouched (still v1), so its hash chain still verifies.
	var stored int
	_ = db.SQL.QueryRowContext(ctx, `SELECT schema_version FROM eventlog.events`).Scan(&stored)
	report, _ := eventlog.VerifyChains(ctx, db.SQL, "")
	if stored != 1 || !report.OK() {
		t.Fatalf("stored version %d, audit %+v", stored, report)
	}
}

// TestGapSafeConsumption has many writers whose transactions overlap and commit out of order
// (each holds its transaction open for a random time after inserting). A durable consumer
// group and a live follower must each see every event exactly once, every stream in order.
func TestGapSafeConsumption(t *testing.T) {
	db := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	store := eventlog.NewStore(db.SQL, nil)
	notifier := eventlog.NewNotifier(db.DSN, zerolog.Nop())
	defer notifier.Close()
	<-notifier.Ready()

	durable, err := store.NewSubscriber(db.SQL, "test.durable", notifier, eventlog.SubscriberOptions{BatchSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer durable.Close()
	live, err := store.NewSubscriber(db.SQL, "test.live", notifier, eventlog.SubscriberOptions{Offsets: eventlog.NewEphemeral(eventlog.Cursor{})})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	const writers, perWriter = 12, 25
	total := writers * perWriter
	collect := func(sub *eventlog.Subscriber) <-chan []eventlog.Event {
		msgs, err := sub.Subscribe(ctx, eventlog.Topic)
		if err != nil {
			t.Fatal(err)
		}
		out := make(chan []eventlog.Event, 1)
		go func() {
			var got []eventlog.Event
			for m := range msgs {
				e, err := eventlog.FromMessage(m)
				if err != nil {
					t.Error(err)
				}
				got = append(got, e)
				m.Ack()
				if len(got) == total {
					break
				}
			}
			out <- got
		}()
		return out
	}
	durableGot, liveGot := collect(durable), collect(live)

	var (
		wg          sync.WaitGroup
		commitMu    sync.Mutex
		commitOrder []int64
	)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			head := eventlog.Head{}
			stream := fmt.Sprintf("writer-%d", w)
			for i := 0; i < perWriter; i++ {
				tx, err := db.SQL.BeginTx(ctx, nil)
				if err != nil {
					t.Error(err)
					return
				}
				// Take a transaction id now and insert later, so that transaction order, position
				// order and commit order all differ.
				if _, err := tx.ExecContext(ctx, `SELECT pg_current_xact_id()`); err != nil {
					t.Error(err)
				}
				time.Sleep(time.Duration(rand.IntN(4)) * time.Millisecond)
				evs, err := store.Append(ctx, tx, stream, "test", head,
					[]eventlog.NewEvent{{Type: "test.n", SchemaVersion: 1, Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}}, eventlog.Metadata{})
				if err != nil {
					t.Error(err)
					_ = tx.Rollback()
					return
				}
				// Hold the transaction open so that later positions commit first.
				time.Sleep(time.Duration(rand.IntN(8)) * time.Millisecond)
				if err := tx.Commit(); err != nil {
					t.Error(err)
					return
				}
				commitMu.Lock()
				commitOrder = append(commitOrder, evs[0].Position)
				commitMu.Unlock()
				head = eventlog.Head{Version: evs[0].Version, Hash: evs[0].Hash}
			}
		}(w)
	}
	wg.Wait()

	for name, ch := range map[string]<-chan []eventlog.Event{"durable": durableGot, "live": liveGot} {
		var got []eventlog.Event
		select {
		case got = <-ch:
		case <-ctx.Done():
			t.Fatalf("%s consumer: timed out", name)
		}
		checkExactlyOnceInOrder(t, name, got, total)
	}
	// The test is only meaningful if commits really came out of position order.
	var outOfOrder int
	var maxSeen int64
	for _, p := range commitOrder {
		if p < maxSeen {
			outOfOrder++
		}
		maxSeen = max(maxSeen, p)
	}
	if outOfOrder == 0 {
		t.Fatal("no event committed after a later position: the test did not exercise gaps")
	}
	t.Logf("%d of %d events committed out of position order", outOfOrder, total)
}

func checkExactlyOnceInOrder(t *testing.T, name string, got []eventlog.Event, total int) {
	t.Helper()
	if len(got) != total {
		t.Fatalf("%s: got %d events, want %d", name, len(got), total)
	}
	seen := map[int64]bool{}
	lastVersion := map[string]int64{}
	var prev eventlog.Cursor
	for i, e := range got {
		if seen[e.Position] {
			t.Fatalf("%s: position %d delivered twice", name, e.Position)
		}
		seen[e.Position] = true
		if e.Version != lastVersion[e.StreamID]+1 {
			t.Fatalf("%s: %s version %d after %d", name, e.StreamID, e.Version, lastVersion[e.StreamID])
		}
		lastVersion[e.StreamID] = e.Version
		if i > 0 && !prev.Less(e.Cursor()) {
			t.Fatalf("%s: cursor went backwards at %d", name, i)
		}
		prev = e.Cursor()
	}
}

func TestSubscriberWakesOnNotifyNotPoll(t *testing.T) {
	db := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	store := eventlog.NewStore(db.SQL, nil)
	notifier := eventlog.NewNotifier(db.DSN, zerolog.Nop())
	defer notifier.Close()
	<-notifier.Ready()
	// A one-minute poll interval: only a notification can deliver the event in time.
	sub, err := store.NewSubscriber(db.SQL, "test.wake", notifier, eventlog.SubscriberOptions{MaxIdle: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, eventlog.Topic)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)              // let it go idle, blocked on the notification
	announcer := eventlog.NewAnnouncer(db.SQL, nil) // remote wake-up only: through NOTIFY
	defer announcer.Close()
	if _, err := appendOne(t, ctx, store, "w", eventlog.Head{}, `{}`); err != nil {
		t.Fatal(err)
	}
	announcer.Announce()
	select {
	case m := <-msgs:
		m.Ack()
	case <-time.After(10 * time.Second):
		t.Fatal("event not delivered: the subscriber is waiting for its poll tick")
	}
}
