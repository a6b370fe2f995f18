package eventlog

import (
	"context"
	"database/sql"
	"sync"
)

// Announcer tells followers that events were committed: those of this process at once, those
// of other instances through one NOTIFY on NotifyChannel.
//
// The NOTIFY is sent after the commit and outside the appending transaction on purpose: inside
// it, PostgreSQL takes a cluster-wide lock at every commit to queue the notification, which
// serialised appends and cost a third of the append throughput (docs/benchmarks.md). Out here it
// is coalesced: however many commits are announced while one NOTIFY is in flight, one more
// follows. Notifications are only hints; a lost one delays a follower by its poll fallback, it
// never loses an event.
type Announcer struct {
	db    *sql.DB
	local *Notifier
	kick  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// NewAnnouncer starts announcing on db; local (may be nil) is woken directly.
func NewAnnouncer(db *sql.DB, local *Notifier) *Announcer {
	a := &Announcer{db: db, local: local, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go a.run()
	return a
}

// Announce is called after a commit that appended events. It never blocks.
func (a *Announcer) Announce() {
	if a == nil {
		return
	}
	if a.local != nil {
		a.local.Wake()
	}
	select {
	case a.kick <- struct{}{}:
	default: // a NOTIFY is already due; it will cover this commit too
	}
}

func (a *Announcer) run() {
	for {
		select {
		case <-a.done:
			return
		case <-a.kick:
			_, _ = a.db.ExecContext(context.Background(), `SELECT pg_notify($1, '')`, NotifyChannel)
		}
	}
}

// Close stops announcing.
func (a *Announcer) Close() { a.once.Do(func() { close(a.done) }) }
