package livefeed_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/testdb"
	"github.com/gathering/gathering/livefeed"
)

const wait = 20 * time.Second

type env struct {
	ctx   context.Context
	db    *eventlog.DB
	store *eventlog.Store
	hub   *livefeed.Hub

	mu    sync.Mutex
	heads map[string]eventlog.Head
}

func newEnv(t *testing.T, opts livefeed.Options) *env {
	t.Helper()
	db := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	store := eventlog.NewStore(db.SQL, domain.Events)
	notifier := eventlog.NewNotifier(db.DSN, zerolog.Nop())
	t.Cleanup(notifier.Close)
	<-notifier.Ready()
	opts.Logger = zerolog.Nop()
	hub := livefeed.NewHub(store, db.SQL, notifier, opts)
	if err := hub.Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close() })
	return &env{ctx: ctx, db: db, store: store, hub: hub, heads: map[string]eventlog.Head{}}
}

// appendAgent appends one event to an agent's stream. Each stream must have one writer at a
// time; different streams may be written concurrently, and hold is how long the transaction
// stays open after the insert, so that commits come out of position order.
// waitVisible waits until every reader can see ev. Visibility is cluster-wide: a transaction
// open in any database of the server (another test package, say) keeps pg_snapshot_xmin, and so
// gap-safe reads, behind it for a moment.
func (e *env) waitVisible(t testing.TB, ev eventlog.Event) {
	t.Helper()
	for {
		head, err := e.store.VisibleHead(e.ctx, e.db.SQL)
		if err != nil {
			t.Fatal(err)
		}
		if !head.Less(ev.Cursor()) {
			return
		}
		select {
		case <-e.ctx.Done():
			t.Fatal("event never became visible")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (e *env) appendAgent(t testing.TB, agent string, n int, hold time.Duration) eventlog.Event {
	t.Helper()
	ev, err := e.tryAppend(agent, n, hold)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func (e *env) tryAppend(agent string, n int, hold time.Duration) (eventlog.Event, error) {
	stream := domain.AgentStreamID(agent)
	e.mu.Lock()
	head := e.heads[stream]
	e.mu.Unlock()
	tx, err := e.db.SQL.BeginTx(e.ctx, nil)
	if err != nil {
		return eventlog.Event{}, err
	}
	evs, err := e.store.Append(e.ctx, tx, stream, domain.StreamTypeAgent, head,
		[]eventlog.NewEvent{{Type: "agent.tested", SchemaVersion: 1, Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))}},
		eventlog.Metadata{Actor: "tester"})
	if err != nil {
		_ = tx.Rollback()
		return eventlog.Event{}, err
	}
	time.Sleep(hold)
	if err := tx.Commit(); err != nil {
		return eventlog.Event{}, err
	}
	e.mu.Lock()
	e.heads[stream] = eventlog.Head{Version: evs[0].Version, Hash: evs[0].Hash}
	e.mu.Unlock()
	return evs[0], nil
}

func (e *env) subscribe(t testing.TB, topics []string, after *int64) *livefeed.Subscription {
	t.Helper()
	s, err := e.hub.Subscribe(e.ctx, topics, after)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// receive reads n messages, failing if the subscription ends or they do not come in time.
func receive(t testing.TB, name string, s *livefeed.Subscription, n int) []livefeed.Message {
	t.Helper()
	out := make([]livefeed.Message, 0, n)
	timeout := time.After(wait)
	for len(out) < n {
		select {
		case m := <-s.C():
			out = append(out, m)
		case <-s.Done():
			t.Fatalf("%s: ended (%s) after %d of %d messages", name, s.Reason(), len(out), n)
		case <-timeout:
			t.Fatalf("%s: got %d of %d messages", name, len(out), n)
		}
	}
	return out
}

func positions(ms []livefeed.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Position
	}
	return out
}

func eventPositions(es []eventlog.Event) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Position
	}
	return out
}

func ptr(v int64) *int64 { return &v }

func waitDone(t testing.TB, name string, s *livefeed.Subscription, reason string) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(wait):
		t.Fatalf("%s: not ended", name)
	}
	if got := s.Reason(); got != reason {
		t.Fatalf("%s: ended with reason %q, want %q", name, got, reason)
	}
}

func TestTopicsOf(t *testing.T) {
	id := uuid.NewString()
	got := livefeed.TopicsOf(eventlog.Event{StreamID: domain.AgentStreamID(id), StreamType: domain.StreamTypeAgent})
	want := []string{"agents", "agents:" + id, "all"}
	if !slices.Equal(got, want) {
		t.Fatalf("agent topics %v, want %v", got, want)
	}
	for typ, plural := range map[string]string{"circle": "circles", "policy": "policies", "key": "keys", "match": "matches", "alias": "aliases"} {
		if got := livefeed.TopicsOf(eventlog.Event{StreamID: typ + "-x", StreamType: typ}); got[0] != plural || got[1] != plural+":x" {
			t.Errorf("%s topics %v, want %s and %s:x", typ, got, plural, plural)
		}
	}
}

func TestFanOutByTopic(t *testing.T) {
	e := newEnv(t, livefeed.Options{})
	a, b, c := uuid.NewString(), uuid.NewString(), uuid.NewString()
	subs := map[string]*livefeed.Subscription{
		"all":    e.subscribe(t, []string{"all"}, nil),
		"agents": e.subscribe(t, []string{"agents"}, nil),
		"a":      e.subscribe(t, []string{"agents:" + a}, nil),
		"b":      e.subscribe(t, []string{"agents:" + b, "circles"}, nil),
		"none":   e.subscribe(t, []string{"circles"}, nil),
		"later":  e.subscribe(t, nil, nil),
	}
	if n := e.hub.Clients(); n != len(subs) {
		t.Fatalf("%d clients, want %d", n, len(subs))
	}

	var all, ofA, ofB []int64
	var appended []eventlog.Event
	for i := 0; i < 12; i++ {
		agent := a
		if i%3 == 2 {
			agent = b
		}
		ev := e.appendAgent(t, agent, i, 0)
		appended = append(appended, ev)
		all = append(all, ev.Position)
		if agent == a {
			ofA = append(ofA, ev.Position)
		} else {
			ofB = append(ofB, ev.Position)
		}
	}
	want := map[string][]int64{"all": all, "agents": all, "a": ofA, "b": ofB}
	got := map[string][]livefeed.Message{}
	for name, ps := range want {
		got[name] = receive(t, name, subs[name], len(ps))
		if !slices.Equal(positions(got[name]), ps) {
			t.Errorf("%s received %v, want %v", name, positions(got[name]), ps)
		}
	}
	for i, m := range got["all"] {
		ev := appended[i]
		if m.Type != "agent.tested" || string(m.Data) != string(ev.Payload) || !m.Timestamp.Equal(ev.OccurredAt) ||
			m.Stream != (livefeed.StreamRef{ID: ev.StreamID, Type: domain.StreamTypeAgent, Version: ev.Version}) ||
			!slices.Equal(m.Topics, livefeed.TopicsOf(ev)) {
			t.Fatalf("message %d is %+v, event %+v", i, m, ev)
		}
	}

	// The hub hands an event to every subscription before it reads the next, so once "all" has
	// the sentinel, nobody can still be owed anything from before it.
	subs["later"].SetTopics([]string{"agents:" + c})
	sentinel := e.appendAgent(t, c, 0, 0)
	if m := receive(t, "all", subs["all"], 1)[0]; m.Position != sentinel.Position {
		t.Fatalf("all: got position %d, want the sentinel %d", m.Position, sentinel.Position)
	}
	if m := receive(t, "later", subs["later"], 1)[0]; m.Position != sentinel.Position {
		t.Fatalf("later: got position %d after SetTopics, want the sentinel %d", m.Position, sentinel.Position)
	}
	for _, name := range []string{"a", "b", "none"} {
		if n := len(subs[name].C()); n != 0 {
			t.Errorf("%s has %d unexpected messages", name, n)
		}
	}
	if st := e.hub.Stats(); st.Dispatched != 13 || st.Dropped != 0 || st.Clients != len(subs) {
		t.Errorf("stats %+v", st)
	}
}

func TestSlowConsumerIsDroppedOthersUnaffected(t *testing.T) {
	e := newEnv(t, livefeed.Options{ClientBuffer: 4})
	slow := e.subscribe(t, []string{"all"}, nil)
	reader := e.subscribe(t, []string{"agents"}, nil)
	agent := uuid.NewString()
	const total = 10
	var want []int64
	var got []livefeed.Message
	// Lock-step with the reader keeps its own buffer nearly empty, so only the slow one can fill.
	for i := 0; i < total; i++ {
		want = append(want, e.appendAgent(t, agent, i, 0).Position)
		got = append(got, receive(t, "reader", reader, 1)...)
		select {
		case <-slow.Done():
			if i < 4 {
				t.Fatalf("slow consumer dropped after %d events with a buffer of 4", i+1)
			}
		default:
		}
	}
	if !slices.Equal(positions(got), want) {
		t.Fatalf("reader received %v, want %v", positions(got), want)
	}
	waitDone(t, "slow", slow, livefeed.ReasonSlowConsumer)
	if n := len(slow.C()); n != 4 {
		t.Errorf("slow consumer holds %d messages, want its full buffer of 4", n)
	}
	if st := e.hub.Stats(); st.Dropped != 1 || st.Clients != 1 || st.Dispatched != total {
		t.Errorf("stats %+v, want 1 dropped, 1 client, %d dispatched", st, total)
	}
	select {
	case <-reader.Done():
		t.Fatalf("reader ended: %s", reader.Reason())
	default:
	}
}

func TestResumeWithoutGapOrDuplicate(t *testing.T) {
	e := newEnv(t, livefeed.Options{})
	first := e.subscribe(t, []string{"all"}, nil)
	agents := []string{uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()}
	for i := 0; i < 40; i++ {
		e.appendAgent(t, agents[i%len(agents)], i, 0)
	}
	seen := receive(t, "first", first, 15)
	resumeAt := seen[len(seen)-1].Position
	first.Close()

	// Writers keep committing, out of position order, while the resumes replay and go live.
	const writers, perWriter = 4, 30
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		newest   eventlog.Event
		appended bool
	)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(agent string) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				ev, err := e.tryAppend(agent, 100+i, time.Duration(rand.IntN(5))*time.Millisecond)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if !appended || newest.Cursor().Less(ev.Cursor()) {
					newest, appended = ev, true
				}
				mu.Unlock()
			}
		}(agents[w])
	}
	time.Sleep(20 * time.Millisecond)
	resumed := e.subscribe(t, []string{"all"}, ptr(resumeAt))
	fromStart := e.subscribe(t, []string{"all"}, ptr(0))
	oneAgent := e.subscribe(t, []string{"agents:" + agents[1]}, ptr(resumeAt))
	wg.Wait()
	e.waitVisible(t, newest)

	// Every writer has committed and is visible, so the log read now is the complete truth.
	read := func(after int64) []eventlog.Event {
		cur, err := e.store.CursorOf(e.ctx, e.db.SQL, after)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := e.store.ReadAfter(e.ctx, e.db.SQL, cur, eventlog.Filter{}, 100000)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	afterResume, everything := read(resumeAt), read(0)
	var ofAgent []eventlog.Event
	for _, ev := range afterResume {
		if ev.StreamID == domain.AgentStreamID(agents[1]) {
			ofAgent = append(ofAgent, ev)
		}
	}
	if len(everything) != 40+writers*perWriter {
		t.Fatalf("log holds %d events", len(everything))
	}
	sentinel := e.appendAgent(t, agents[1], 999, 0)
	for _, c := range []struct {
		name string
		sub  *livefeed.Subscription
		want []eventlog.Event
	}{{"resumed", resumed, afterResume}, {"from start", fromStart, everything}, {"one agent", oneAgent, ofAgent}} {
		want := append(eventPositions(c.want), sentinel.Position)
		got := positions(receive(t, c.name, c.sub, len(want)))
		if !slices.Equal(got, want) {
			t.Fatalf("%s: received %v\nwant %v", c.name, got, want)
		}
		if n := len(c.sub.C()); n != 0 {
			t.Fatalf("%s: %d messages after the sentinel", c.name, n)
		}
	}
}

func TestResumeRejected(t *testing.T) {
	e := newEnv(t, livefeed.Options{CatchUpLimit: 3})
	agent := uuid.NewString()
	var last eventlog.Event
	for i := 0; i < 5; i++ {
		last = e.appendAgent(t, agent, i, 0)
	}
	e.waitVisible(t, last)
	_, err := e.hub.Subscribe(e.ctx, []string{"all"}, ptr(last.Position+1000))
	if domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("unknown position: got %v, want an invalid error", err)
	}
	_, err = e.hub.Subscribe(e.ctx, []string{"all"}, ptr(0))
	if domain.ErrorCode(err) != domain.CodeInvalid || !strings.Contains(domain.ErrorMessage(err), "too far behind") {
		t.Fatalf("resume past the catch-up limit: got %v", err)
	}
	// Only the events a client would receive count against the limit.
	other := e.subscribe(t, []string{"agents:" + uuid.NewString()}, ptr(0))
	if n := e.hub.Clients(); n != 1 {
		t.Fatalf("%d clients, want only the accepted one", n)
	}
	other.Close()
	waitDone(t, "other", other, livefeed.ReasonClosed)
	if n := e.hub.Clients(); n != 0 {
		t.Fatalf("%d clients after close", n)
	}
}

func TestCloseEndsSubscriptionsWithShutdown(t *testing.T) {
	e := newEnv(t, livefeed.Options{})
	agent := uuid.NewString()
	first := e.appendAgent(t, agent, 0, 0)
	e.appendAgent(t, agent, 1, 0)
	live := e.subscribe(t, []string{"all"}, nil)
	// Never read: its replay is still waiting on the client when the hub closes.
	resuming := e.subscribe(t, []string{"all"}, ptr(first.Position))
	if err := e.hub.Close(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, "live", live, livefeed.ReasonShutdown)
	waitDone(t, "resuming", resuming, livefeed.ReasonShutdown)
	if n := e.hub.Clients(); n != 0 {
		t.Fatalf("%d clients after close", n)
	}
	if _, err := e.hub.Subscribe(e.ctx, []string{"all"}, nil); !errors.Is(err, livefeed.ErrNotRunning) {
		t.Fatalf("subscribe after close: got %v", err)
	}
	if err := e.hub.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestRunContextEndsFollowing(t *testing.T) {
	db := testdb.New(t)
	store := eventlog.NewStore(db.SQL, nil)
	hub := livefeed.NewHub(store, db.SQL, nil, livefeed.Options{Logger: zerolog.Nop()})
	if _, err := hub.Subscribe(context.Background(), []string{"all"}, nil); !errors.Is(err, livefeed.ErrNotRunning) {
		t.Fatalf("subscribe before run: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := hub.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	s, err := hub.Subscribe(context.Background(), []string{"all"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitDone(t, "subscription", s, livefeed.ReasonShutdown)
	if _, err := hub.Subscribe(context.Background(), []string{"all"}, nil); !errors.Is(err, livefeed.ErrNotRunning) {
		t.Fatalf("subscribe after the follower stopped: got %v", err)
	}
}
