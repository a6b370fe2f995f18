package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/gathering/gathering/app"
	"github.com/gathering/gathering/projections"
)

func allProjections() []projections.Projection { return app.Projections() }

func serve(ctx context.Context, stopSignals func(), cfg config) error {
	log := newLogger(cfg)
	log.Info().Str("version", version).Str("env", cfg.Env).Msg("starting")

	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	// The pool (and an embedded server) close last, after everything that uses them stopped.
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.Close(stopCtx); err != nil {
			log.Error().Err(err).Msg("stopping the database")
		}
		log.Info().Msg("stopped")
	}()

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return err
	}
	a, err := app.Start(ctx, db.DB, ln, app.Options{Logger: log, ReadYourWrites: cfg.ReadYourWrites, Version: version})
	if err != nil {
		_ = ln.Close()
		return err
	}
	log.Info().Str("addr", "http://"+a.Addr()).Msg("ready")

	select {
	case <-ctx.Done():
	case err := <-a.Served():
		return fmt.Errorf("http server: %w", err)
	}
	stopSignals() // a second signal now ends the process the default way
	log.Info().Msg("shutting down")
	if err := a.Shutdown(cfg.DrainDelay, cfg.ShutdownTimeout); err != nil {
		log.Error().Err(err).Msg("during shutdown")
	}
	return nil
}
