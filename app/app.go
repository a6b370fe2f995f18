// Package app wires GatheRing's parts into one running instance: the command bus, the
// projections, the live feed and the HTTP server, on a database that is already migrated. The
// `serve` command and the end-to-end tests and benchmarks all start it the same way.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/dashboard"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/httpapi"
	"github.com/gathering/gathering/livefeed"
	"github.com/gathering/gathering/projections"
)

// Projections are the read models this build maintains.
func Projections() []projections.Projection {
	return []projections.Projection{projections.NewAgents(domain.Events)}
}

// Options tune an instance.
type Options struct {
	Logger         zerolog.Logger
	ReadYourWrites time.Duration
	Version        string
	// ClientBuffer is each live-feed client's buffer; a client that falls this far behind is
	// dropped (default 256).
	ClientBuffer int
}

// App is a running instance.
type App struct {
	DB        *eventlog.DB
	Store     *eventlog.Store
	Notifier  *eventlog.Notifier
	Bus       *commands.Bus
	Runner    *projections.Runner
	Hub       *livefeed.Hub
	Server    *httpapi.Server
	log       zerolog.Logger
	served    chan error
	listener  net.Listener
	stopOnce  sync.Once
	stopErr   error
	stopPurge chan struct{}
	purged    chan struct{}
}

// Start brings every part up and begins serving on ln; readiness turns on last.
func Start(ctx context.Context, db *eventlog.DB, ln net.Listener, o Options) (*App, error) {
	a := &App{DB: db, log: o.Logger, served: make(chan error, 1), listener: ln}
	a.Store = eventlog.NewStore(db.SQL, domain.Events)
	a.Notifier = eventlog.NewNotifier(db.DSN, o.Logger.With().Str("component", "notifier").Logger())
	select {
	case <-a.Notifier.Ready():
	case <-time.After(10 * time.Second):
		o.Logger.Warn().Msg("event notifications are not available yet; followers poll until they are")
	case <-ctx.Done():
		a.Notifier.Close()
		return nil, ctx.Err()
	}
	fail := func(err error) (*App, error) {
		a.stopParts()
		return nil, err
	}
	var err error
	if a.Bus, err = commands.NewBus(o.Logger.With().Str("component", "commands").Logger(), 64); err != nil {
		return fail(err)
	}
	commands.RegisterAgents(a.Bus, commands.NewRepository(a.Store, domain.Events))
	if err := a.Bus.Run(context.Background()); err != nil {
		return fail(err)
	}
	if a.Runner, err = projections.NewRunner(a.Store, a.Notifier, o.Logger.With().Str("component", "projections").Logger(), Projections()...); err != nil {
		return fail(err)
	}
	if err := a.Runner.Run(context.Background()); err != nil {
		return fail(err)
	}
	a.Hub = livefeed.NewHub(a.Store, db.SQL, a.Notifier, livefeed.Options{ClientBuffer: o.ClientBuffer,
		Logger: o.Logger.With().Str("component", "livefeed").Logger()})
	if err := a.Hub.Run(context.Background()); err != nil {
		return fail(err)
	}
	a.Server = httpapi.New(httpapi.Deps{
		DB: db, Store: a.Store, Bus: a.Bus, Agents: projections.NewAgentQueries(db.SQL),
		Waiter: projections.NewWaiter(db.SQL, a.Notifier), Hub: a.Hub, Logger: o.Logger, Dashboard: dashboard.Files(),
		ReadYourWrites: o.ReadYourWrites, Version: o.Version,
		Projections: func(ctx context.Context) ([]projections.Status, error) {
			return projections.Statuses(ctx, db.SQL, a.Runner.Names(), a.Runner.LastError)
		},
	})
	a.stopPurge = make(chan struct{})
	a.purged = make(chan struct{})
	go a.purgeIdempotencyKeys()
	go func() { a.served <- a.Server.Serve(ln) }()
	a.Server.MarkReady()
	return a, nil
}

// IdempotencyKeyTTL is how long a stored response answers a retried request.
const IdempotencyKeyTTL = 24 * time.Hour

// purgeIdempotencyKeys forgets stored responses older than IdempotencyKeyTTL, hourly; several
// instances doing it at once is harmless.
func (a *App) purgeIdempotencyKeys() {
	defer close(a.purged)
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		n, err := commands.PurgeIdempotencyKeys(context.Background(), a.DB.SQL, time.Now().Add(-IdempotencyKeyTTL))
		if err != nil {
			a.log.Warn().Err(err).Msg("purging idempotency keys")
		} else if n > 0 {
			a.log.Info().Int64("purged", n).Msg("idempotency keys expired")
		}
		select {
		case <-a.stopPurge:
			return
		case <-tick.C:
		}
	}
}

// Addr is where the instance listens.
func (a *App) Addr() string { return a.listener.Addr().String() }

// Served reports the HTTP server stopping on its own.
func (a *App) Served() <-chan error { return a.served }

// Shutdown stops in the order that loses nothing: readiness off and new requests refused,
// a pause for load balancers (drainDelay), live feeds closed, in-flight requests finished,
// then the command bus, then the consumers after their current event. The caller closes the
// pool last.
func (a *App) Shutdown(drainDelay, timeout time.Duration) error {
	a.stopOnce.Do(func() { a.stopErr = a.shutdown(drainDelay, timeout) })
	return a.stopErr
}

func (a *App) shutdown(drainDelay, timeout time.Duration) error {
	a.Server.Drain()
	time.Sleep(drainDelay)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errs := []error{a.Hub.Close(), a.Server.Shutdown(ctx)}
	errs = append(errs, a.stopParts())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func (a *App) stopParts() error {
	if a.stopPurge != nil {
		close(a.stopPurge)
		<-a.purged
		a.stopPurge = nil
	}
	var errs []error
	if a.Bus != nil {
		errs = append(errs, a.Bus.Close())
	}
	if a.Runner != nil {
		errs = append(errs, a.Runner.Close())
	}
	if a.Notifier != nil {
		a.Notifier.Close()
	}
	return errors.Join(errs...)
}
