package projections_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/testdb"
	"github.com/gathering/gathering/projections"
	"github.com/gathering/gathering/sql/dbq"
)

type env struct {
	db       *eventlog.DB
	store    *eventlog.Store
	notifier *eventlog.Notifier
	agents   *commands.Agents
}

func setup(t *testing.T) *env {
	db := testdb.New(t)
	store := eventlog.NewStore(db.SQL, domain.Events)
	notifier := eventlog.NewNotifier(db.DSN, zerolog.Nop())
	t.Cleanup(notifier.Close)
	<-notifier.Ready()
	bus, err := commands.NewBus(zerolog.Nop(), 8)
	if err != nil {
		t.Fatal(err)
	}
	announcer := eventlog.NewAnnouncer(db.SQL, notifier)
	t.Cleanup(announcer.Close)
	return &env{db: db, store: store, notifier: notifier, agents: commands.RegisterAgents(bus, commands.NewRepository(store, domain.Events, announcer))}
}

func (e *env) createAgent(t *testing.T, name string) commands.Result {
	t.Helper()
	res, err := e.agents.Create(context.Background(), &commands.CreateAgent{Envelope: commands.NewEnvelope(domain.System, ""),
		AgentID: uuid.NewString(), Spec: domain.AgentSpec{Name: name, Provider: domain.ProviderOffline}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAgentsProjectionFollowsCommands(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	runner, err := projections.NewRunner(e.store, e.notifier, zerolog.Nop(), projections.NewAgents(domain.Events))
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer runner.Close()
	waiter := projections.NewWaiter(e.db.SQL, e.notifier)
	reads := projections.NewAgentQueries(e.db.SQL)

	id := uuid.NewString()
	res, err := e.agents.Create(ctx, &commands.CreateAgent{Envelope: commands.NewEnvelope(domain.System, ""), AgentID: id,
		Spec: domain.AgentSpec{Name: "Ada", Provider: domain.ProviderOffline, Tools: []string{"calculator"}}})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := waiter.WaitFor(wctx, "agents", res.Cursor()); err != nil {
		t.Fatal(err)
	}
	got, err := reads.Get(ctx, id)
	if err != nil || got.Name != "Ada" || got.Version != 1 || got.Tools[0] != "calculator" {
		t.Fatalf("read after create: %+v %v", got, err)
	}
	name := "Ada Lovelace"
	res, err = e.agents.Update(ctx, &commands.UpdateAgent{Envelope: commands.NewEnvelope(domain.System, ""), AgentID: id,
		Patch: domain.AgentPatch{Name: &name}})
	if err != nil {
		t.Fatal(err)
	}
	_ = waiter.WaitFor(wctx, "agents", res.Cursor())
	if got, _ = reads.Get(ctx, id); got.Name != name || got.Version != 2 {
		t.Fatalf("read after update: %+v", got)
	}
	res, err = e.agents.Delete(ctx, &commands.DeleteAgent{Envelope: commands.NewEnvelope(domain.System, ""), AgentID: id})
	if err != nil {
		t.Fatal(err)
	}
	_ = waiter.WaitFor(wctx, "agents", res.Cursor())
	if _, err := reads.Get(ctx, id); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("read after delete: %v", err)
	}
	st, err := projections.Statuses(ctx, e.db.SQL, runner.Names(), runner.LastError)
	if err != nil || len(st) != 1 || st[0].Pending != 0 || st[0].Position != res.Position {
		t.Fatalf("status: %+v %v", st, err)
	}
}

// counter is deliberately not idempotent: applying an event twice shows up as a wrong count.
type counter struct{}

func (counter) Name() string     { return "counter" }
func (counter) Tables() []string { return []string{"event_counter"} }
func (counter) Apply(ctx context.Context, q dbq.DBTX, e eventlog.Event) error {
	_, err := q.ExecContext(ctx, `UPDATE event_counter SET n = n + 1, positions = positions || $1::bigint`, e.Position)
	return err
}
func (counter) Checksum(ctx context.Context, q dbq.DBTX) (projections.Checksum, error) {
	var n int64
	err := q.QueryRowContext(ctx, `SELECT n FROM event_counter`).Scan(&n)
	return projections.Checksum{Rows: 1, Sum: fmt.Sprint(n)}, err
}

func count(t *testing.T, db *sql.DB) (n int64, distinct int64) {
	t.Helper()
	if err := db.QueryRow(`SELECT n, (SELECT count(DISTINCT p) FROM unnest(positions) p) FROM event_counter`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	return n, distinct
}

// TestCrashBetweenWriteAndAckAppliesOnce kills the consumer's database session after the
// projection wrote an event's effect but before the ack committed, then restarts the consumer.
func TestCrashBetweenWriteAndAckAppliesOnce(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	if _, err := e.db.SQL.Exec(`CREATE TABLE event_counter (n bigint NOT NULL, positions bigint[] NOT NULL); INSERT INTO event_counter VALUES (0, '{}')`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		e.createAgent(t, fmt.Sprintf("agent-%d", i))
	}
	crashed := make(chan struct{})
	runner, err := projections.NewRunner(e.store, e.notifier, zerolog.Nop(), counter{})
	if err != nil {
		t.Fatal(err)
	}
	// die kills the consumer's session from outside and waits until it is gone, as a crashed
	// process would leave it: its open transaction can then never commit. (A session that
	// terminates itself may still commit what the client sends before the signal lands.)
	die := func(ctx context.Context, tx *sql.Tx) error {
		var pid int
		if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			return err
		}
		if _, err := e.db.SQL.Exec(`SELECT pg_terminate_backend($1)`, pid); err != nil {
			t.Error(err)
		}
		for gone := false; !gone; {
			if err := e.db.SQL.QueryRow(`SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)`, pid).Scan(&gone); err != nil {
				t.Error(err)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		return errors.New("consumer crashed")
	}
	projections.SetBeforeAck(runner, func(ctx context.Context, tx *sql.Tx, _ string, ev eventlog.Event) error {
		select {
		case <-crashed:
			// A dead process applies nothing more, though the subscriber redelivers until
			// the test closes it.
			return die(ctx, tx)
		default:
		}
		if ev.Version == 1 && ev.StreamID != "" {
			var n int64
			_ = tx.QueryRowContext(ctx, `SELECT n FROM event_counter`).Scan(&n)
			if n == 3 { // third event written, not yet acked: the process "dies" here
				close(crashed)
				return die(ctx, tx)
			}
		}
		return nil
	})
	if err := runner.Run(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-crashed:
	case <-time.After(10 * time.Second):
		t.Fatal("crash point never reached")
	}
	_ = runner.Close()
	// watermill-sql commits the consumer's transaction when it closes, with the offset of the
	// last acked event, even though the event in flight was already applied: whatever
	// committed must be consistent, and the guard row makes the restart skip it.
	n, distinct := count(t, e.db.SQL)
	if n > 3 || n != distinct {
		t.Fatalf("after the crash the counter is %d over %d distinct events", n, distinct)
	}

	// A real crash takes the process's connection pool with it; here the pool lives on and may
	// hold the killed session, so drop its idle connections as the restart would.
	e.db.SQL.SetMaxIdleConns(0)
	e.db.SQL.SetMaxIdleConns(2)

	restarted, err := projections.NewRunner(e.store, e.notifier, zerolog.Nop(), counter{})
	if err != nil {
		t.Fatal(err)
	}
	if err := restarted.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	last := e.createAgent(t, "after-restart")
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := projections.NewWaiter(e.db.SQL, e.notifier).WaitFor(wctx, "counter", last.Cursor()); err != nil {
		t.Fatal(err)
	}
	n, distinct = count(t, e.db.SQL)
	if n != 6 || distinct != 6 {
		t.Fatalf("counter = %d over %d distinct events, want 6 and 6", n, distinct)
	}
}

func TestReplayRebuildsSameChecksumAndSwapsIn(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	agents := projections.NewAgents(domain.Events)
	runner, err := projections.NewRunner(e.store, e.notifier, zerolog.Nop(), agents)
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer runner.Close()
	var last commands.Result
	ids := []string{}
	for i := 0; i < 30; i++ {
		last = e.createAgent(t, fmt.Sprintf("agent-%02d", i))
		ids = append(ids, last.StreamID[len("agent-"):])
	}
	for i := 0; i < 10; i++ {
		temp := 1.5
		if last, err = e.agents.Update(ctx, &commands.UpdateAgent{Envelope: commands.NewEnvelope(domain.System, ""), AgentID: ids[i],
			Patch: domain.AgentPatch{Temperature: &temp}}); err != nil {
			t.Fatal(err)
		}
	}
	if last, err = e.agents.Delete(ctx, &commands.DeleteAgent{Envelope: commands.NewEnvelope(domain.System, ""), AgentID: ids[29]}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	waiter := projections.NewWaiter(e.db.SQL, e.notifier)
	if err := waiter.WaitFor(wctx, "agents", last.Cursor()); err != nil {
		t.Fatal(err)
	}
	live, err := agents.Checksum(ctx, e.db.SQL)
	if err != nil || live.Rows != 29 {
		t.Fatalf("live: %+v %v", live, err)
	}
	// Damage the live read model: a replay must restore it from the log.
	if _, err := e.db.SQL.Exec(`UPDATE agents SET name = 'corrupted'`); err != nil {
		t.Fatal(err)
	}
	first, err := projections.Replay(ctx, e.store, agents)
	if err != nil {
		t.Fatal(err)
	}
	second, err := projections.Replay(ctx, e.store, agents)
	if err != nil {
		t.Fatal(err)
	}
	if first.Checksum != live || second.Checksum != live || first.Events != 41 {
		t.Fatalf("live %+v, first replay %+v, second %+v", live, first, second)
	}
	after, _ := agents.Checksum(ctx, e.db.SQL)
	if after != live {
		t.Fatalf("swapped-in model %+v differs from the original %+v", after, live)
	}
	// The live projection keeps working on the swapped-in table.
	res := e.createAgent(t, "after-replay")
	if err := waiter.WaitFor(wctx, "agents", res.Cursor()); err != nil {
		t.Fatal(err)
	}
	if _, err := projections.NewAgentQueries(e.db.SQL).Get(ctx, res.StreamID[len("agent-"):]); err != nil {
		t.Fatal(err)
	}
	var schemas int
	_ = e.db.SQL.QueryRow(`SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'replay_%'`).Scan(&schemas)
	if schemas != 0 {
		t.Fatalf("%d scratch schemas left behind", schemas)
	}
}
