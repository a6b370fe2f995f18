package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gathering/gathering/app"
	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/testdb"
)

const (
	appendWriters   = 8
	appendRounds    = 8   // baseline, append, command, repeated: alternating rounds even out drift
	appendPerWriter = 125 // per writer and round: 8 × 125 × 8 = 8000 operations per figure
	appendWarmup    = 20  // per writer, untimed, before the first round of each kind
	appendTarget    = 0.5 // Store.Append throughput as a fraction of the baseline
)

// benchPayload is an event payload of about 200 bytes, shaped like an agent's.
func benchPayload(w, i int) []byte {
	p, _ := json.Marshal(map[string]any{
		"id": uuid.NewString(), "name": fmt.Sprintf("bench agent %d-%05d", w, i), "role": "assistant",
		"provider": "offline", "model": "offline-1",
		"personality": map[string]any{"traits": []string{"curious", "precise"}, "communication_style": "concise",
			"temperature": 0.7, "max_tokens": 1024},
		"tools": []string{},
	})
	return p
}

// checkpoint flushes what setup and warm-up wrote, so that a checkpoint is less likely to land
// in the middle of one kind's timed round.
func checkpoint(ctx context.Context, b *testing.B, db *eventlog.DB) {
	b.Helper()
	if _, err := db.SQL.ExecContext(ctx, "CHECKPOINT"); err != nil {
		b.Logf("CHECKPOINT: %v (continuing)", err)
	}
}

// envelope is the envelope of a command sent by the actor "bench", which owns the agents it
// creates. It is written out rather than made by commands.NewEnvelope so that the benchmarks do
// not depend on how that constructor takes its actor.
func envelope() commands.Envelope {
	id := uuid.NewString()
	return commands.Envelope{CommandID: id, Actor: "bench", CorrelationID: id}
}

// createPlain makes the baseline table: eventlog.events' columns, defaults, constraints and
// indexes (so the same unique checks and index maintenance), without its triggers.
func createPlain(ctx context.Context, db *eventlog.DB) error {
	_, err := db.SQL.ExecContext(ctx, `CREATE TABLE bench_plain (LIKE eventlog.events
		INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`)
	return err
}

const insertPlain = `INSERT INTO bench_plain (uuid, stream_id, stream_type, stream_version, event_type,
	schema_version, payload, metadata, correlation_id, causation_id, actor, occurred_at, prev_hash, hash)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`

// plainRow returns the column values an event would have as version i+1 of stream (writer w's),
// with its hash chained to prev.
func plainRow(stream string, w, i int, prev []byte) (args []any, hash []byte) {
	payload := benchPayload(w, i)
	corr := uuid.NewString()
	meta, _ := json.Marshal(eventlog.Metadata{CorrelationID: corr, CausationID: corr, Actor: "bench"})
	h := sha256.New()
	h.Write(prev)
	h.Write(payload)
	h.Write(meta)
	hash = h.Sum(nil)
	return []any{uuid.Must(uuid.NewV7()), stream, "bench", int64(i + 1), "BenchEvent", 1, payload, meta,
		corr, corr, "bench", time.Now().UTC().Truncate(time.Microsecond), prev, hash}, hash
}

// chains holds each writer's previous hash.
func chains(writers int) [][]byte {
	prev := make([][]byte, writers)
	for w := range prev {
		prev[w] = make([]byte, sha256.Size)
	}
	return prev
}

// BenchmarkAppend compares the append path with plain single-row INSERTs, 8 writers each on
// its own streams, one event per transaction.
func BenchmarkAppend(b *testing.B) {
	load := loadAvg()
	ctx := context.Background()
	db := testdb.New(b)
	if err := createPlain(ctx, db); err != nil {
		b.Fatal(err)
	}
	var syncCommit string
	if err := db.SQL.QueryRowContext(ctx, "SHOW synchronous_commit").Scan(&syncCommit); err != nil {
		b.Fatal(err)
	}
	store := eventlog.NewStore(db.SQL, domain.Events)
	// The announcer is part of the append path: the repository announces after every commit.
	announcer := eventlog.NewAnnouncer(db.SQL, nil)
	defer announcer.Close()

	// Baseline: the columns an event has, inserted in autocommit, nothing else.
	plainRound := func(round string, perWriter int) (phase, error) {
		prev := chains(appendWriters)
		return runWriters(appendWriters, perWriter, func(w, i int) error {
			args, hash := plainRow(fmt.Sprintf("plain-%s-%d", round, w), w, i, prev[w])
			prev[w] = hash
			_, err := db.SQL.ExecContext(ctx, insertPlain, args...)
			return err
		})
	}

	// Ours: Store.Append of one event per transaction, each writer on its own stream whose
	// head it knows, so there are no conflicts.
	appendRound := func(round string, perWriter int) (phase, error) {
		heads := make([]eventlog.Head, appendWriters)
		return runWriters(appendWriters, perWriter, func(w, i int) error {
			corr := uuid.NewString()
			tx, err := db.SQL.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			evs, err := store.Append(ctx, tx, fmt.Sprintf("bench-%s-%d", round, w), "bench", heads[w],
				[]eventlog.NewEvent{{Type: "BenchEvent", SchemaVersion: 1, Payload: benchPayload(w, i)}},
				eventlog.Metadata{CorrelationID: corr, CausationID: corr, Actor: "bench"})
			if err != nil {
				_ = tx.Rollback()
				return err
			}
			if err := tx.Commit(); err != nil {
				return err
			}
			announcer.Announce()
			heads[w] = eventlog.Head{Version: evs[0].Version, Hash: evs[0].Hash}
			return nil
		})
	}

	// Full command path: a running instance (projections and live feed following the log),
	// Bus.Send loading the stream, deciding and appending. Even operations create an agent,
	// odd ones rename the agent just created (streams of two events).
	commandRound := func(round string, perWriter int) (phase, error) {
		a := startApp(b, db, app.Options{})
		defer func() { _ = a.Shutdown(0, 10*time.Second) }()
		// The projection first skips what the rounds before appended; that is not this round's cost.
		if err := waitProjection(ctx, a, 30*time.Second); err != nil {
			return phase{}, err
		}
		agents := make([]string, appendWriters)
		return runWriters(appendWriters, perWriter, func(w, i int) error {
			sendCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			var cmd any
			if i%2 == 0 {
				agents[w] = uuid.NewString()
				cmd = &commands.CreateAgent{Envelope: envelope(), AgentID: agents[w],
					Spec: domain.AgentSpec{Name: fmt.Sprintf("bench %s %d-%d", round, w, i), Provider: domain.ProviderOffline}}
			} else {
				name := fmt.Sprintf("bench %s %d-%d renamed", round, w, i)
				cmd = &commands.UpdateAgent{Envelope: envelope(), AgentID: agents[w],
					Patch: domain.AgentPatch{Name: &name}}
			}
			res, err := a.Bus.Send(sendCtx, cmd)
			if err != nil {
				return err
			}
			if res.Appended != 1 || res.Position == 0 {
				return fmt.Errorf("command appended %d events (position %d), want 1", res.Appended, res.Position)
			}
			return nil
		})
	}

	kinds := []struct {
		name string
		run  func(round string, perWriter int) (phase, error)
	}{{"plain", plainRound}, {"append", appendRound}, {"command", commandRound}}
	for _, k := range kinds {
		if _, err := k.run("warmup", appendWarmup); err != nil {
			b.Fatalf("%s warm-up: %v", k.name, err)
		}
	}
	checkpoint(ctx, b, db)
	results := make([]phase, len(kinds))
	for r := range appendRounds {
		for j, k := range kinds {
			p, err := k.run(fmt.Sprint(r), appendPerWriter)
			if err != nil {
				b.Fatalf("%s round %d: %v", k.name, r, err)
			}
			results[j] = results[j].merge(p)
		}
	}

	// Every operation of every timed round is in the log or the plain table.
	var nPlain, nAppend, nCommand int
	q := `SELECT (SELECT count(*) FROM bench_plain WHERE stream_id NOT LIKE 'plain-warmup-%'),
		(SELECT count(*) FROM eventlog.events WHERE stream_type = 'bench' AND stream_id NOT LIKE 'bench-warmup-%'),
		(SELECT count(*) FROM eventlog.events WHERE stream_type = 'agent')`
	if err := db.SQL.QueryRowContext(ctx, q).Scan(&nPlain, &nAppend, &nCommand); err != nil {
		b.Fatal(err)
	}
	want := appendRounds * appendWriters * appendPerWriter
	if nPlain != want || nAppend != want || nCommand != want+appendWriters*appendWarmup {
		b.Fatalf("rows written: plain %d, append %d, command %d; want %d, %d, %d",
			nPlain, nAppend, nCommand, want, want, want+appendWriters*appendWarmup)
	}

	plain, appendP, cmd := results[0], results[1], results[2]
	plainD, appD, cmdD := newDist(plain.lat), newDist(appendP.lat), newDist(cmd.lat)
	appRatio, cmdRatio := ratio(appendP.opsPerSec(), plain.opsPerSec()), ratio(cmd.opsPerSec(), plain.opsPerSec())
	b.ReportMetric(appendWriters, "writers")
	b.ReportMetric(1, "batch_size")
	b.ReportMetric(plain.opsPerSec(), "plain_ops/s")
	b.ReportMetric(appendP.opsPerSec(), "append_ops/s")
	b.ReportMetric(cmd.opsPerSec(), "command_ops/s")
	b.ReportMetric(appRatio, "append/plain_ratio")
	b.ReportMetric(cmdRatio, "command/plain_ratio")
	reportDist(b, "plain", plainD)
	reportDist(b, "append", appD)
	reportDist(b, "command", cmdD)

	s := summary{title: "BenchmarkAppend", loadStart: load}
	s.add("setup: %d concurrent writers, batch size 1 (one event per transaction), %d operations per figure in %d alternating rounds",
		appendWriters, plain.ops, appendRounds)
	s.add("       synchronous_commit = %s; each writer on its own streams (no conflicts)", syncCommit)
	s.add("plain INSERT (baseline) %8.0f ops/s   %s", plain.opsPerSec(), plainD)
	s.add("Store.Append            %8.0f ops/s   %s", appendP.opsPerSec(), appD)
	s.add("Bus.Send (command path) %8.0f ops/s   %s", cmd.opsPerSec(), cmdD)
	s.add("ratio append/plain  %.2f (target >= %.1f: %s)", appRatio, appendTarget, met(appRatio >= appendTarget))
	s.add("ratio command/plain %.2f (no target)", cmdRatio)
	s.log()
}

// Breakdown of the append path, a diagnostic without a target: the steps of Store.Append added
// to the baseline one at a time, at 8 writers and, for the NOTIFY step, at 1 writer too. It also
// keeps the design Store.Append had before the Announcer (pg_notify inside the appending
// transaction) so that the difference stays measurable.
const (
	breakdownRounds    = 4
	breakdownPerWriter = 100 // per writer and round at 8 writers; 1 writer does 8 times as many
	breakdownChannel   = "bench_breakdown"
	// positionsSQL is AppendedPositions (sql/queries/eventlog.sql) on bench_plain;
	// positionsNotifySQL is the same with the pg_notify it carried before the Announcer.
	positionsSQL = `SELECT e."offset", e.stream_version, pg_current_xact_id()::text::bigint
		FROM bench_plain e WHERE e.stream_id = $1 AND e.stream_version > $2`
	positionsNotifySQL = `WITH notified AS (SELECT pg_notify($3::text, 'bench'::text) AS sent)
		SELECT e."offset", e.stream_version, pg_current_xact_id()::text::bigint
		FROM bench_plain e CROSS JOIN notified WHERE e.stream_id = $1 AND e.stream_version > $2`
)

// BenchmarkAppendBreakdown explains BenchmarkAppend's ratio: which of the append path's steps
// (explicit transaction, positions query, NOTIFY inside or after the transaction, watermill and
// hashing) costs how much.
func BenchmarkAppendBreakdown(b *testing.B) {
	load := loadAvg()
	ctx := context.Background()
	db := testdb.New(b)
	if err := createPlain(ctx, db); err != nil {
		b.Fatal(err)
	}
	store := eventlog.NewStore(db.SQL, domain.Events)

	// txInsert is BEGIN; INSERT into bench_plain; the positions query (none, plain, with
	// pg_notify); COMMIT; and with notifyAfter a pg_notify in its own autocommit statement.
	txInsert := func(positions string, notifyAfter bool) func(round string, writers int) func(w, i int) error {
		return func(round string, writers int) func(w, i int) error {
			prev := chains(writers)
			return func(w, i int) error {
				stream := fmt.Sprintf("tx-%s-%d", round, w)
				args, hash := plainRow(stream, w, i, prev[w])
				prev[w] = hash
				tx, err := db.SQL.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer func() { _ = tx.Rollback() }()
				if _, err := tx.ExecContext(ctx, insertPlain, args...); err != nil {
					return err
				}
				if positions != "" {
					qargs := []any{stream, int64(i)}
					if positions == positionsNotifySQL {
						qargs = append(qargs, breakdownChannel)
					}
					var pos, version, txid int64
					if err := tx.QueryRowContext(ctx, positions, qargs...).Scan(&pos, &version, &txid); err != nil {
						return err
					}
				}
				if err := tx.Commit(); err != nil || !notifyAfter {
					return err
				}
				_, err = db.SQL.ExecContext(ctx, "SELECT pg_notify($1, 'bench')", breakdownChannel)
				return err
			}
		}
	}
	autocommit := func(round string, writers int) func(w, i int) error {
		prev := chains(writers)
		return func(w, i int) error {
			args, hash := plainRow(fmt.Sprintf("plain-%s-%d", round, w), w, i, prev[w])
			prev[w] = hash
			_, err := db.SQL.ExecContext(ctx, insertPlain, args...)
			return err
		}
	}
	announcer := eventlog.NewAnnouncer(db.SQL, nil)
	defer announcer.Close()
	// storeAppend is BenchmarkAppend's path: Store.Append, COMMIT, Announce.
	storeAppend := func(round string, writers int) func(w, i int) error {
		heads := make([]eventlog.Head, writers)
		return func(w, i int) error {
			tx, err := db.SQL.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback() }()
			evs, err := store.Append(ctx, tx, fmt.Sprintf("bench-%s-%d", round, w), "bench", heads[w],
				[]eventlog.NewEvent{{Type: "BenchEvent", SchemaVersion: 1, Payload: benchPayload(w, i)}},
				eventlog.Metadata{Actor: "bench"})
			if err != nil {
				return err
			}
			heads[w] = eventlog.Head{Version: evs[0].Version, Hash: evs[0].Hash}
			if err := tx.Commit(); err != nil {
				return err
			}
			announcer.Announce()
			return nil
		}
	}
	steps := []struct {
		name    string
		writers int
		op      func(round string, writers int) func(w, i int) error
	}{
		{"autocommit INSERT (baseline)", appendWriters, autocommit},
		{"BEGIN; INSERT; COMMIT", appendWriters, txInsert("", false)},
		{"  + positions SELECT", appendWriters, txInsert(positionsSQL, false)},
		{"  + pg_notify in it (Append before)", appendWriters, txInsert(positionsNotifySQL, false)},
		{"Store.Append; COMMIT; Announce", appendWriters, storeAppend},
		{"autocommit INSERT, 1 writer", 1, autocommit},
		{"positions SELECT, 1 writer", 1, txInsert(positionsSQL, false)},
		{"  + pg_notify in it, 1 writer", 1, txInsert(positionsNotifySQL, false)},
		// One NOTIFY per commit after it, in a statement of its own: the Announcer without its
		// coalescing.
		{"positions SELECT; COMMIT; pg_notify", appendWriters, txInsert(positionsSQL, true)},
	}
	for j, st := range steps {
		if _, err := runWriters(st.writers, 10, st.op(fmt.Sprintf("warmup%d", j), st.writers)); err != nil {
			b.Fatalf("%s warm-up: %v", st.name, err)
		}
	}
	checkpoint(ctx, b, db)
	results := make([]phase, len(steps))
	for r := range breakdownRounds {
		for j, st := range steps {
			per := breakdownPerWriter * appendWriters / st.writers
			p, err := runWriters(st.writers, per, st.op(fmt.Sprintf("%d-%d", r, j), st.writers))
			if err != nil {
				b.Fatalf("%s round %d: %v", st.name, r, err)
			}
			results[j] = results[j].merge(p)
		}
	}

	s := summary{title: "BenchmarkAppendBreakdown (diagnostic, no target)", loadStart: load}
	s.add("each step: %d operations, one row per transaction, in %d alternating rounds; ratio to the baseline at the same concurrency",
		results[0].ops, breakdownRounds)
	for j, st := range steps {
		base := results[0]
		if st.writers == 1 {
			base = results[5]
		}
		r := ratio(results[j].opsPerSec(), base.opsPerSec())
		s.add("%-38s %d writer(s) %7.0f ops/s  ratio %.2f   %s", st.name, st.writers, results[j].opsPerSec(), r, newDist(results[j].lat))
	}
	notify8 := ratio(results[3].opsPerSec(), results[2].opsPerSec())
	notify1 := ratio(results[7].opsPerSec(), results[6].opsPerSec())
	after8 := ratio(results[8].opsPerSec(), results[2].opsPerSec())
	s.add("pg_notify inside the transaction keeps %.2f of the throughput at %d writers and %.2f at 1 writer; one after COMMIT keeps %.2f at %d writers",
		notify8, appendWriters, notify1, after8, appendWriters)
	b.ReportMetric(ratio(results[8].opsPerSec(), results[0].opsPerSec()), "notify_after_commit/plain_ratio")
	b.ReportMetric(notify8, "notify_cost_8w_ratio")
	b.ReportMetric(notify1, "notify_cost_1w_ratio")
	b.ReportMetric(ratio(results[1].opsPerSec(), results[0].opsPerSec()), "tx/autocommit_ratio")
	b.ReportMetric(ratio(results[4].opsPerSec(), results[0].opsPerSec()), "append/plain_ratio")
	s.log()
}

const (
	lagCommands = 2000                 // per figure: ours and the LISTEN/NOTIFY baseline
	lagPhases   = 4                    // alternating baseline and ours, lagCommands/2 each
	lagInterval = 5 * time.Millisecond // 200 per second
	lagSenders  = 8
	lagPoll     = time.Millisecond
	lagTarget   = 50 * time.Millisecond
	lagChannel  = "bench_lag"
)

// BenchmarkProjectionLag measures how long after a command returns the agents projection has
// applied its event, against the delivery latency of a raw LISTEN/NOTIFY at the same rate.
func BenchmarkProjectionLag(b *testing.B) {
	load := loadAvg()
	ctx := context.Background()
	db := testdb.New(b)
	a := startApp(b, db, app.Options{})

	if _, err := notifyPhase(ctx, db, 50); err != nil {
		b.Fatalf("LISTEN/NOTIFY warm-up: %v", err)
	}
	if _, _, err := lagPhase(ctx, a, 50); err != nil {
		b.Fatalf("projection warm-up: %v", err)
	}
	var ours, base []time.Duration
	var polls int
	var polled time.Duration
	per := lagCommands / (lagPhases / 2)
	for ph := range lagPhases {
		if ph%2 == 0 {
			l, err := notifyPhase(ctx, db, per)
			if err != nil {
				b.Fatalf("LISTEN/NOTIFY phase %d: %v", ph, err)
			}
			base = append(base, l...)
		} else {
			l, st, err := lagPhase(ctx, a, per)
			if err != nil {
				b.Fatalf("projection phase %d: %v", ph, err)
			}
			ours = append(ours, l...)
			polls, polled = polls+st.polls, polled+st.wall
		}
	}
	if len(ours) != lagCommands || len(base) != lagCommands {
		b.Fatalf("measured %d lags and %d notifications, want %d each", len(ours), len(base), lagCommands)
	}

	oursEarly, baseEarly := clampNegative(ours), clampNegative(base)
	oursD, baseD := newDist(ours), newDist(base)
	p99Ratio := ratio(ms(oursD.pct(99)), ms(baseD.pct(99)))
	reportDist(b, "lag", oursD)
	b.ReportMetric(ms(oursD.max()), "lag_max_ms")
	reportDist(b, "notify", baseD)
	b.ReportMetric(p99Ratio, "lag/notify_p99_ratio")

	s := summary{title: "BenchmarkProjectionLag", loadStart: load}
	s.add("setup: %d commands (CreateAgent) at %.0f/s from %d sender goroutines, in %d phases alternating with the baseline",
		lagCommands, float64(time.Second)/float64(lagInterval), lagSenders, lagPhases/2)
	s.add("       lag = Bus.Send returned -> agents projection offset row passes the event's cursor")
	s.add("       offset row polled every %s by one goroutine (%d polls, mean period %.2f ms): figures carry ~1 ms of resolution",
		lagPoll, polls, ms(polled)/float64(max(polls, 1)))
	s.add("LISTEN/NOTIFY (baseline) %s   %d received before COMMIT returned, counted as 0", baseD, baseEarly)
	s.add("projection lag           %s   %d applied before Bus.Send returned, counted as 0", oursD, oursEarly)
	s.add("p99 lag %.2f ms (target <= %.0f ms: %s); ratio to the NOTIFY p99 %.1f",
		ms(oursD.pct(99)), ms(lagTarget), met(oursD.pct(99) <= lagTarget), p99Ratio)
	s.log()
}

// notifyPhase commits n transactions that each only pg_notify, at the benchmark's pace, and
// returns for each the time from its COMMIT returning until a connection blocked in
// WaitForNotification received it.
func notifyPhase(ctx context.Context, db *eventlog.DB, n int) ([]time.Duration, error) {
	listener, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		return nil, err
	}
	if _, err := listener.Exec(ctx, "LISTEN "+lagChannel); err != nil {
		listener.Close(context.Background())
		return nil, err
	}
	recv := make([]time.Time, n)
	received := make(chan error, 1)
	listening := make(chan struct{})
	lctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer func() {
		// The connection is the listener goroutine's until it has returned.
		cancel()
		<-listening
		listener.Close(context.Background())
	}()
	go func() {
		defer close(listening)
		for got := 0; got < n; {
			nt, err := listener.WaitForNotification(lctx)
			at := time.Now()
			if err != nil {
				received <- fmt.Errorf("received %d of %d notifications: %w", got, n, err)
				return
			}
			i, err := strconv.Atoi(nt.Payload)
			if err != nil || i < 0 || i >= n || !recv[i].IsZero() {
				received <- fmt.Errorf("unexpected notification %q", nt.Payload)
				return
			}
			recv[i] = at
			got++
		}
		received <- nil
	}()

	committed := make([]time.Time, n)
	errs := make([]error, n)
	paced(n, lagInterval, lagSenders, func(i int) {
		tx, err := db.SQL.BeginTx(ctx, nil)
		if err != nil {
			errs[i] = err
			return
		}
		if _, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", lagChannel, strconv.Itoa(i)); err != nil {
			_ = tx.Rollback()
			errs[i] = err
			return
		}
		errs[i] = tx.Commit()
		committed[i] = time.Now()
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := <-received; err != nil {
		return nil, err
	}
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = recv[i].Sub(committed[i])
	}
	return out, nil
}

type pollStats struct {
	polls int
	wall  time.Duration
}

// lagPhase sends n CreateAgent commands at the benchmark's pace and returns, for each, the time
// from Bus.Send returning until one poller, reading the agents projection's offset row every
// millisecond on its own connection, first saw the row at or past the command's cursor.
func lagPhase(ctx context.Context, a *app.App, n int) ([]time.Duration, pollStats, error) {
	conn, err := pgx.Connect(ctx, a.DB.DSN)
	if err != nil {
		return nil, pollStats{}, err
	}
	defer conn.Close(context.Background())

	type waiter struct {
		i   int
		cur eventlog.Cursor
		at  time.Time
	}
	var (
		mu       sync.Mutex
		pending  []waiter
		resolved int
		lags     = make([]time.Duration, n)
		sendErrs = make([]error, n)
		sent     = make(chan struct{})
		polled   = make(chan error, 1)
		st       pollStats
	)
	go func() {
		tick := time.NewTicker(lagPoll)
		defer tick.Stop()
		start := time.Now()
		var deadline time.Time
		finish := func(err error) {
			st.wall = time.Since(start)
			polled <- err
		}
		for range tick.C {
			var c eventlog.Cursor
			err := conn.QueryRow(ctx, `SELECT offset_acked, last_processed_transaction_id::text::bigint
				FROM eventlog.consumer_offsets WHERE consumer_group = $1`, agentsGroup).Scan(&c.Position, &c.TxID)
			seen := time.Now()
			st.polls++
			if err != nil {
				finish(fmt.Errorf("poll the offset row: %w", err))
				return
			}
			mu.Lock()
			keep := pending[:0]
			for _, w := range pending {
				if c.Less(w.cur) {
					keep = append(keep, w)
					continue
				}
				lags[w.i] = seen.Sub(w.at)
				resolved++
			}
			pending = keep
			done, left := resolved == n, len(pending)
			mu.Unlock()
			if done {
				finish(nil)
				return
			}
			select {
			case <-sent:
				if deadline.IsZero() {
					deadline = seen.Add(30 * time.Second)
				} else if seen.After(deadline) {
					finish(fmt.Errorf("the agents projection stayed at %+v with %d commands unresolved", c, left))
					return
				}
			default:
			}
		}
	}()

	paced(n, lagInterval, lagSenders, func(i int) {
		sendCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		res, err := a.Bus.Send(sendCtx, &commands.CreateAgent{Envelope: envelope(),
			AgentID: uuid.NewString(), Spec: domain.AgentSpec{Name: fmt.Sprintf("lag %d", i), Provider: domain.ProviderOffline}})
		at := time.Now()
		if err == nil && (res.Appended != 1 || res.Position == 0) {
			err = fmt.Errorf("appended %d events (position %d), want 1", res.Appended, res.Position)
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			sendErrs[i] = fmt.Errorf("command %d: %w", i, err)
			resolved++ // nothing to wait for
			return
		}
		pending = append(pending, waiter{i: i, cur: res.Cursor(), at: at})
	})
	close(sent)
	err = <-polled
	if err := errors.Join(sendErrs...); err != nil {
		return nil, st, err
	}
	return lags, st, err
}

const (
	wsClients      = 1000
	wsEvents       = 100                   // commands per measurement, one event each
	wsInterval     = 50 * time.Millisecond // 20 per second
	wsSenders      = 4
	wsDialParallel = 50
	wsClientBuffer = 1024
	wsTarget       = 100 * time.Millisecond
)

// BenchmarkWebSocketFanout measures, per event, the time from Bus.Send returning until the last
// of 1000 WebSocket clients has the event's message, against the same with one client.
func BenchmarkWebSocketFanout(b *testing.B) {
	load := loadAvg()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		b.Fatal(err)
	}
	// Both ends of every connection live in this process, plus the database pool.
	if need := uint64(2*wsClients + 256); rl.Cur < need {
		b.Fatalf("open files limit is %d, need at least %d: raise ulimit -n", rl.Cur, need)
	}
	ctx := context.Background()
	db := testdb.New(b)
	a := startApp(b, db, app.Options{ClientBuffer: wsClientBuffer,
		Admin: app.AdminBootstrap{Email: adminEmail, Password: adminPassword}})
	token, err := login(a)
	if err != nil {
		b.Fatal(err)
	}

	if _, err := fanPhase(ctx, a, token, 1, 10); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	one, err := fanPhase(ctx, a, token, 1, wsEvents)
	if err != nil {
		b.Fatalf("1 client: %v", err)
	}
	many, err := fanPhase(ctx, a, token, wsClients, wsEvents)
	if err != nil {
		b.Fatalf("%d clients: %v", wsClients, err)
	}
	if st := a.Hub.Stats(); st.Dropped != 0 {
		b.Fatalf("the hub dropped %d slow clients", st.Dropped)
	}

	oneEarly, manyEarly := clampNegative(one.lat), clampNegative(many.lat)
	oneD, manyD := newDist(one.lat), newDist(many.lat)
	p99Ratio := ratio(ms(manyD.pct(99)), ms(oneD.pct(99)))
	reportDist(b, "ws1", oneD)
	reportDist(b, fmt.Sprintf("ws%d_last", wsClients), manyD)
	b.ReportMetric(p99Ratio, "fanout/single_p99_ratio")
	b.ReportMetric(float64(many.delivered), "messages")

	s := summary{title: "BenchmarkWebSocketFanout", loadStart: load}
	s.add("setup: %d CreateAgent commands at %.0f/s per measurement; clients on /ws?topics=agents in this process, client buffer %d",
		wsEvents, float64(time.Second)/float64(wsInterval), wsClientBuffer)
	s.add("       latency = Bus.Send returned -> the last client read the event's message (matched by position)")
	s.add("       connected %d clients in %.2f s (%d dials in parallel)", wsClients, many.connect.Seconds(), wsDialParallel)
	s.add("1 client (baseline)   %s   messages %d", oneD, one.delivered)
	s.add("%d clients, last    %s   messages %d = %d events x %d clients", wsClients, manyD, many.delivered, wsEvents, wsClients)
	if oneEarly+manyEarly > 0 {
		s.add("(%d + %d events reached their last client before Bus.Send returned, counted as 0)", oneEarly, manyEarly)
	}
	s.add("p99 %.2f ms (target <= %.0f ms: %s); ratio to 1 client p99 %.1f",
		ms(manyD.pct(99)), ms(wsTarget), met(manyD.pct(99) <= wsTarget), p99Ratio)
	s.log()
}

// fanout records, per event position, how many clients have it and when the last one read it.
type fanout struct {
	mu    sync.Mutex
	byPos map[int64]*delivery
	total atomic.Int64
	stray atomic.Int64 // messages that carry no event position
}

type delivery struct {
	n    int
	last time.Time
}

func (f *fanout) record(pos int64, at time.Time) {
	f.total.Add(1)
	f.mu.Lock()
	d := f.byPos[pos]
	if d == nil {
		d = &delivery{}
		f.byPos[pos] = d
	}
	d.n++
	if at.After(d.last) {
		d.last = at
	}
	f.mu.Unlock()
}

type feedClient struct {
	conn *websocket.Conn
	n    atomic.Int64
	done chan struct{}
}

// read stamps each message as soon as it is read and only then finds its position.
func (c *feedClient) read(f *fanout) {
	defer close(c.done)
	for {
		_, data, err := c.conn.ReadMessage()
		at := time.Now()
		if err != nil {
			return
		}
		pos, ok := positionOf(data)
		if !ok {
			f.stray.Add(1)
			continue
		}
		c.n.Add(1)
		f.record(pos, at)
	}
}

var positionKey = []byte(`"position":`)

// positionOf finds the top-level position of an event message without decoding it all; the
// position follows the payload in the message, so the last occurrence is the message's own.
func positionOf(msg []byte) (int64, bool) {
	i := bytes.LastIndex(msg, positionKey)
	if i < 0 {
		return 0, false
	}
	rest := msg[i+len(positionKey):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	v, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return v, err == nil && v > 0
}

type fanResult struct {
	lat       []time.Duration
	delivered int64
	connect   time.Duration
}

// fanPhase connects n clients, sends events commands at the benchmark's pace, waits until every
// client has every event, checks that nothing else or more arrived, and disconnects.
func fanPhase(ctx context.Context, a *app.App, token string, n, events int) (fanResult, error) {
	f := &fanout{byPos: map[int64]*delivery{}}
	clients := make([]*feedClient, n)
	defer func() {
		for _, c := range clients {
			if c != nil {
				_ = c.conn.Close()
				<-c.done
			}
		}
		for deadline := time.Now().Add(10 * time.Second); a.Hub.Clients() > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}()

	var res fanResult
	t0 := time.Now()
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	url := "ws://" + a.Addr() + "/ws?topics=agents"
	dialErrs := make([]error, n)
	sem := make(chan struct{}, wsDialParallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conn, _, err := dialer.Dial(url, http.Header{"Authorization": {"Bearer " + token}})
			if err != nil {
				dialErrs[i] = fmt.Errorf("client %d: dial: %w", i, err)
				return
			}
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, first, err := conn.ReadMessage()
			if err == nil && !bytes.Contains(first, []byte(`"type":"connected"`)) {
				err = fmt.Errorf("first message is not connected: %s", first)
			}
			if err != nil {
				_ = conn.Close()
				dialErrs[i] = fmt.Errorf("client %d: %w", i, err)
				return
			}
			_ = conn.SetReadDeadline(time.Time{})
			c := &feedClient{conn: conn, done: make(chan struct{})}
			clients[i] = c
			go c.read(f)
		}()
	}
	wg.Wait()
	res.connect = time.Since(t0)
	if err := errors.Join(dialErrs...); err != nil {
		return res, err
	}
	if got := a.Hub.Clients(); got != n {
		return res, fmt.Errorf("the hub has %d subscriptions, want %d", got, n)
	}

	var (
		mu       sync.Mutex
		sentAt   = map[int64]time.Time{}
		sendErrs = make([]error, events)
	)
	paced(events, wsInterval, wsSenders, func(i int) {
		sendCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		r, err := a.Bus.Send(sendCtx, &commands.CreateAgent{Envelope: envelope(),
			AgentID: uuid.NewString(), Spec: domain.AgentSpec{Name: fmt.Sprintf("fanout %d", i), Provider: domain.ProviderOffline}})
		at := time.Now()
		if err == nil && (r.Appended != 1 || r.Position == 0) {
			err = fmt.Errorf("appended %d events (position %d), want 1", r.Appended, r.Position)
		}
		if err != nil {
			sendErrs[i] = fmt.Errorf("command %d: %w", i, err)
			return
		}
		mu.Lock()
		sentAt[r.Position] = at
		mu.Unlock()
	})
	if err := errors.Join(sendErrs...); err != nil {
		return res, err
	}

	// Wait until every client has every event.
	complete := func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for pos := range sentAt {
			if d := f.byPos[pos]; d == nil || d.n < n {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(30 * time.Second); !complete(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("after 30 s %d of %d messages were delivered", f.total.Load(), int64(events*n))
		}
	}
	// Anything extra (duplicates, other events) would have arrived by now.
	time.Sleep(200 * time.Millisecond)
	res.delivered = f.total.Load()
	if want := int64(events * n); res.delivered != want || f.stray.Load() != 0 || len(f.byPos) != events {
		return res, fmt.Errorf("delivered %d event messages for %d positions and %d other messages; want %d = %d events x %d clients",
			res.delivered, len(f.byPos), f.stray.Load(), want, events, n)
	}
	for i, c := range clients {
		if got := c.n.Load(); got != int64(events) {
			return res, fmt.Errorf("client %d received %d events, want %d", i, got, events)
		}
	}
	f.mu.Lock()
	for pos, at := range sentAt {
		res.lat = append(res.lat, f.byPos[pos].last.Sub(at))
	}
	f.mu.Unlock()
	return res, nil
}
