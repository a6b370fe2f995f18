package livefeed

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/internal/wmlog"
)

// ErrNotRunning is returned by Subscribe before Run and after the hub stopped: a subscription
// registered while nothing follows the log would silently miss events.
var ErrNotRunning = &domain.Error{Code: domain.CodeUnavailable, Message: "the live feed is not running"}

const (
	defaultClientBuffer = 256
	defaultCatchUpLimit = 10000
	// catchUpPage bounds one read of a replay; the replay as a whole is bounded by CatchUpLimit.
	catchUpPage = 500
	// followerGroup only labels the follower's logs: an ephemeral cursor stores nothing.
	followerGroup = "livefeed"
)

// Options tune a hub; zero values take the defaults.
type Options struct {
	// ClientBuffer is how many messages a client may fall behind before it is dropped (256).
	ClientBuffer int
	// CatchUpLimit is the most events a resume replays (10000); a client further behind is
	// told to reload, which is cheaper than streaming it a history it will mostly re-render.
	CatchUpLimit int
	Logger       zerolog.Logger
}

// Stats counts what the hub did since it started.
type Stats struct {
	Dispatched uint64 // events read from the log and offered to subscriptions
	Dropped    uint64 // subscriptions ended as slow consumers
	Clients    int    // subscriptions currently registered
}

// Hub is the process's one follower of the log and its live subscriptions.
type Hub struct {
	store    *eventlog.Store
	db       *sql.DB
	notifier *eventlog.Notifier
	opts     Options
	log      zerolog.Logger

	// lifecycle serialises Run and Close: the watermill subscriber's Subscribe and Close are
	// not safe against each other.
	lifecycle sync.Mutex
	follower  *eventlog.Subscriber
	followed  chan struct{}

	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	running bool
	closed  bool

	dispatched atomic.Uint64
	dropped    atomic.Uint64
}

// NewHub returns a hub that follows the log of store on db once Run is called.
func NewHub(store *eventlog.Store, db *sql.DB, notifier *eventlog.Notifier, opts Options) *Hub {
	if store == nil || db == nil {
		panic("livefeed: nil store or db")
	}
	if opts.ClientBuffer <= 0 {
		opts.ClientBuffer = defaultClientBuffer
	}
	if opts.CatchUpLimit <= 0 {
		opts.CatchUpLimit = defaultCatchUpLimit
	}
	return &Hub{store: store, db: db, notifier: notifier, opts: opts,
		log: opts.Logger.With().Str("component", "livefeed").Logger(), subs: map[*Subscription]struct{}{}}
}

// Run starts following the log at its visible head and returns once the follower is reading.
// Following stops when ctx is done or Close is called; every subscription then ends with
// ReasonShutdown. Nothing before the head is replayed here: a client that wants history asks
// for it with its own position.
func (h *Hub) Run(ctx context.Context) error {
	h.lifecycle.Lock()
	defer h.lifecycle.Unlock()
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return ErrNotRunning
	}
	if h.follower != nil {
		return errors.New("livefeed: hub is already running")
	}
	head, err := h.store.VisibleHead(ctx, h.db)
	if err != nil {
		return fmt.Errorf("livefeed: head of the log: %w", err)
	}
	sub, err := h.store.NewSubscriber(h.db, followerGroup, h.notifier, eventlog.SubscriberOptions{
		Offsets: eventlog.NewEphemeral(head), Logger: wmlog.New(h.log)})
	if err != nil {
		return fmt.Errorf("livefeed: follower: %w", err)
	}
	msgs, err := sub.Subscribe(ctx, eventlog.Topic)
	if err != nil {
		_ = sub.Close()
		return fmt.Errorf("livefeed: follow the log: %w", err)
	}
	h.follower, h.followed = sub, make(chan struct{})
	h.mu.Lock()
	h.running = true
	h.mu.Unlock()
	go h.follow(msgs)
	if h.notifier != nil {
		transient, stop := h.notifier.SubscribeTransient()
		go h.relayTransient(transient, stop, h.followed)
	}
	h.log.Debug().Int64("position", head.Position).Msg("following the event log")
	return nil
}

func (h *Hub) follow(msgs <-chan *message.Message) {
	defer close(h.followed)
	for m := range msgs {
		e, err := eventlog.FromMessage(m)
		if err != nil {
			// Redelivery would fail the same way and hold up every client behind it.
			h.log.Error().Err(err).Msg("skipping an event the live feed cannot decode")
		} else {
			h.dispatch(e)
		}
		m.Ack()
	}
	h.endAll()
}

func (h *Hub) dispatch(e eventlog.Event) {
	// Counted first, so a client that has received an event also sees it counted.
	h.dispatched.Add(1)
	en := entry{cur: e.Cursor(), msg: messageOf(e)}
	h.mu.Lock()
	for s := range h.subs {
		if s.offer(en) {
			delete(h.subs, s)
			h.dropped.Add(1)
			h.log.Warn().Int64("position", e.Position).Msg("dropped a live client that fell behind")
		}
	}
	h.mu.Unlock()
}

// relayTransient passes on the transient messages any instance published (see Transmit) until
// the follower stops.
func (h *Hub) relayTransient(in <-chan string, stop func(), done <-chan struct{}) {
	defer stop()
	for {
		select {
		case <-done:
			return
		case payload := <-in:
			var m Message
			if err := json.Unmarshal([]byte(payload), &m); err != nil {
				continue
			}
			h.PublishTransient(m)
		}
	}
}

// Transmit publishes a transient message to the live clients of every instance, through
// PostgreSQL NOTIFY (outside any transaction, so at once). Payloads are limited to 8000 bytes by
// PostgreSQL; callers send small pieces.
func Transmit(ctx context.Context, db *sql.DB, m Message) error {
	payload, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, eventlog.TransientChannel, string(payload))
	return err
}

// PublishTransient hands a message that is not in the log (a token of a reply being streamed)
// to the live subscriptions on its topics. It is best effort by design: a slow client skips it
// rather than being dropped, and nobody replays it; the finished reply arrives as an event.
func (h *Hub) PublishTransient(m Message) {
	en := entry{msg: m, ephemeral: true}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.offer(en)
	}
}

// Close stops following the log, then ends every subscription with ReasonShutdown.
func (h *Hub) Close() error {
	h.lifecycle.Lock()
	defer h.lifecycle.Unlock()
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	var err error
	if h.follower != nil {
		err = h.follower.Close()
		<-h.followed
	}
	h.endAll()
	return err
}

func (h *Hub) endAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running, h.closed = false, true
	for s := range h.subs {
		s.end(ReasonShutdown)
		delete(h.subs, s)
	}
}

// Clients is the number of live subscriptions.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	return Stats{Dispatched: h.dispatched.Load(), Dropped: h.dropped.Load(), Clients: h.Clients()}
}

// Subscribe registers a client for topics. With after == nil it receives live events only.
// With after set it first receives every matching event after that position (0: the whole
// log), then the live events, without gap or duplicate. ctx bounds the replay read only; the
// subscription lasts until it is closed, dropped or the hub stops.
//
// Why a resume cannot miss or repeat an event: the subscription is registered before the
// replay is read, so every event the hub dispatches from then on reaches it. Every event the
// hub dispatched before was visible to the hub's gap-safe read, hence to the later replay
// read. The two overlap, never leave a hole between them, and the overlap is cut by cursor.
func (h *Hub) Subscribe(ctx context.Context, topics []string, after *int64) (*Subscription, error) {
	s := &Subscription{hub: h, ch: make(chan Message, h.opts.ClientBuffer), done: make(chan struct{}),
		topics: newTopicSet(topics), catchingUp: after != nil, maxPending: h.opts.CatchUpLimit + h.opts.ClientBuffer}
	h.mu.Lock()
	if !h.running || h.closed {
		h.mu.Unlock()
		return nil, ErrNotRunning
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	if after == nil {
		return s, nil
	}
	replay, last, err := h.replay(ctx, s.topicSnapshot(), *after)
	if err != nil {
		s.Close()
		return nil, err
	}
	go s.drain(replay, last)
	return s, nil
}

// replay reads the matching events after position and the cursor up to which it looked. Topics
// are matched here rather than in SQL because a topic names a collection or an item, which the
// log's stream filter cannot express for several topics at once.
func (h *Hub) replay(ctx context.Context, topics topicSet, position int64) ([]Message, eventlog.Cursor, error) {
	cur, err := h.store.CursorOf(ctx, h.db, position)
	if err != nil {
		return nil, eventlog.Cursor{}, err
	}
	var out []Message
	for {
		page, err := h.store.ReadAfter(ctx, h.db, cur, eventlog.Filter{}, catchUpPage)
		if err != nil {
			return nil, eventlog.Cursor{}, fmt.Errorf("livefeed: replay after %d: %w", position, err)
		}
		for _, e := range page {
			cur = e.Cursor()
			m := messageOf(e)
			if !topics.matches(m.Topics) {
				continue
			}
			if len(out) == h.opts.CatchUpLimit {
				return nil, eventlog.Cursor{}, &domain.Error{Code: domain.CodeInvalid,
					Message: fmt.Sprintf("position %d is too far behind (more than %d events to replay); reload and subscribe again", position, h.opts.CatchUpLimit),
					Fields:  []domain.FieldError{{Field: "after", Message: "too far behind"}}}
			}
			out = append(out, m)
		}
		if len(page) < catchUpPage {
			return out, cur, nil
		}
	}
}

func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}
