package eventlog

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
)

// Notifier holds one LISTEN connection and wakes every follower in the process when an append
// commits. Notifications are only a hint: followers always read the table, and a lost
// connection is followed by a wake-up for everyone so nothing waits for the poll fallback.
type Notifier struct {
	dsn    string
	logger zerolog.Logger

	mu      sync.Mutex
	waiters map[chan struct{}]struct{}
	// transient receives the payloads of TransientChannel: messages between instances that
	// are not events (streamed tokens).
	transient map[chan string]struct{}

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	ready  chan struct{}
}

// NewNotifier starts listening on NotifyChannel using its own connection to dsn.
func NewNotifier(dsn string, logger zerolog.Logger) *Notifier {
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{dsn: dsn, logger: logger, waiters: map[chan struct{}]struct{}{}, transient: map[chan string]struct{}{},
		ctx: ctx, cancel: cancel, done: make(chan struct{}), ready: make(chan struct{})}
	go n.run()
	return n
}

// Ready is closed once the first LISTEN is in place.
func (n *Notifier) Ready() <-chan struct{} { return n.ready }

// Subscribe returns a channel that receives a token after each notification (coalesced: a slow
// reader sees one token for many commits) and a function to stop.
func (n *Notifier) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	n.waiters[ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.waiters, ch)
		n.mu.Unlock()
	}
}

// TransientChannel carries best-effort messages between instances, such as the tokens of a
// reply while a model streams it; they are delivered at once, not at commit, and never stored.
const TransientChannel = "gathering_transient"

// SubscribeTransient returns a channel of TransientChannel payloads (buffered; a reader that
// falls behind misses some) and a function to stop.
func (n *Notifier) SubscribeTransient() (<-chan string, func()) {
	ch := make(chan string, 256)
	n.mu.Lock()
	n.transient[ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.transient, ch)
		n.mu.Unlock()
	}
}

func (n *Notifier) deliverTransient(payload string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.transient {
		select {
		case ch <- payload:
		default:
		}
	}
}

// Wake wakes every subscriber as if an append had committed.
func (n *Notifier) Wake() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Close stops listening and waits for the connection to close.
func (n *Notifier) Close() {
	n.cancel()
	<-n.done
}

func (n *Notifier) run() {
	defer close(n.done)
	var readyOnce sync.Once
	backoff := 50 * time.Millisecond
	for n.ctx.Err() == nil {
		err := n.listen(func() { readyOnce.Do(func() { close(n.ready) }); backoff = 50 * time.Millisecond })
		if n.ctx.Err() != nil {
			return
		}
		n.logger.Warn().Err(err).Dur("retry_in", backoff).Msg("event notifications lost; followers fall back to polling until reconnected")
		n.Wake()
		select {
		case <-time.After(backoff):
		case <-n.ctx.Done():
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (n *Notifier) listen(onListening func()) error {
	conn, err := pgx.Connect(n.ctx, n.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(n.ctx, "LISTEN "+NotifyChannel+"; LISTEN "+TransientChannel); err != nil {
		return err
	}
	onListening()
	// Anything committed while we were not listening has not been announced.
	n.Wake()
	for {
		msg, err := conn.WaitForNotification(n.ctx)
		if err != nil {
			return err
		}
		if msg.Channel == TransientChannel {
			n.deliverTransient(msg.Payload)
			continue
		}
		n.Wake()
	}
}
