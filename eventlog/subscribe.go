package eventlog

import (
	"database/sql"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
)

// SubscriberOptions configure a log subscriber.
type SubscriberOptions struct {
	// Offsets is Offsets{} for a durable consumer group, or an *Ephemeral for a live follower.
	Offsets wmsql.OffsetsAdapter
	// MaxIdle is the longest a subscriber sleeps without a notification (default 1 s): the
	// fallback if a NOTIFY is lost.
	MaxIdle time.Duration
	// AckDeadline bounds one event's handling (default 30 s); handlers must stay short.
	AckDeadline time.Duration
	BatchSize   int
	Logger      watermill.LoggerAdapter
}

// Subscriber is a watermill-sql subscriber on the log that wakes on notifications.
type Subscriber struct {
	*wmsql.Subscriber
	wake *wakeBackoff
}

// NewSubscriber returns a watermill subscriber for consumer group on db.
func (s *Store) NewSubscriber(db *sql.DB, group string, notifier *Notifier, opts SubscriberOptions) (*Subscriber, error) {
	if opts.Offsets == nil {
		opts.Offsets = Offsets{}
	}
	if opts.MaxIdle == 0 {
		opts.MaxIdle = time.Second
	}
	if opts.AckDeadline == 0 {
		opts.AckDeadline = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = watermill.NopLogger{}
	}
	wake := newWakeBackoff(notifier, opts.MaxIdle)
	schema := &Schema{Upcaster: s.upcaster, BatchSize: opts.BatchSize}
	sub, err := wmsql.NewSubscriber(db, wmsql.SubscriberConfig{
		ConsumerGroup:  group,
		AckDeadline:    &opts.AckDeadline,
		PollInterval:   opts.MaxIdle,
		ResendInterval: 50 * time.Millisecond,
		RetryInterval:  250 * time.Millisecond,
		BackoffManager: wake,
		SchemaAdapter:  schema,
		OffsetsAdapter: opts.Offsets,
	}, opts.Logger)
	if err != nil {
		wake.stop()
		return nil, err
	}
	return &Subscriber{Subscriber: sub, wake: wake}, nil
}

// Close stops waiting for notifications, then closes the watermill subscriber, which lets the
// event in hand finish first.
func (s *Subscriber) Close() error {
	s.wake.stop()
	return s.Subscriber.Close()
}

// wakeBackoff is the subscriber's BackoffManager. watermill-sql v3 only knows how to poll; its
// consume loop asks the BackoffManager how long to sleep when a query found nothing, so blocking
// here until a NOTIFY arrives turns polling into push without forking the library.
//
// After a notification the subscriber keeps polling briefly (1 ms doubling to 16 ms, for
// 250 ms): a committed event stays invisible while any older transaction is still open (the
// pg_snapshot_xmin rule that makes reads gap-safe), and that older transaction may not notify.
type wakeBackoff struct {
	wake    <-chan struct{}
	cancel  func()
	done    chan struct{}
	maxIdle time.Duration

	hotUntil time.Time
	step     time.Duration
}

const (
	hotWindow  = 250 * time.Millisecond
	hotMinStep = time.Millisecond
	hotMaxStep = 16 * time.Millisecond
	errorPause = 250 * time.Millisecond
)

func newWakeBackoff(n *Notifier, maxIdle time.Duration) *wakeBackoff {
	b := &wakeBackoff{maxIdle: maxIdle, done: make(chan struct{}), cancel: func() {}}
	if n != nil {
		b.wake, b.cancel = n.Subscribe()
	}
	return b
}

func (b *wakeBackoff) stop() {
	select {
	case <-b.done:
	default:
		close(b.done)
		b.cancel()
	}
}

func (b *wakeBackoff) HandleError(logger watermill.LoggerAdapter, noMsg bool, err error) time.Duration {
	if err != nil {
		logger.Error("event log subscriber query failed", err, nil)
		return errorPause
	}
	if !noMsg {
		// A full batch may mean more is waiting.
		b.step = 0
		return 0
	}
	if time.Now().Before(b.hotUntil) {
		b.step = min(max(b.step*2, hotMinStep), hotMaxStep)
		return b.step
	}
	timer := time.NewTimer(b.maxIdle)
	defer timer.Stop()
	select {
	case <-b.wake:
		b.hotUntil = time.Now().Add(hotWindow)
		b.step = 0
	case <-timer.C:
	case <-b.done:
	}
	return 0
}
