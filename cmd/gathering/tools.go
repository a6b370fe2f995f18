package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/gathering/gathering/chat"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/projections"
	"github.com/gathering/gathering/sql/migrations"
)

// toolLogger keeps operator commands quiet unless something is wrong.
func toolLogger(cfg config) zerolog.Logger {
	if cfg.LogLevel == "info" {
		cfg.LogLevel = "warn"
	}
	cfg.LogFormat = "console"
	return newLogger(cfg)
}

func withDatabase(ctx context.Context, cfg config, fn func(*database) error) error {
	db, err := openDatabase(ctx, cfg, toolLogger(cfg))
	if err != nil {
		return err
	}
	defer db.Close(context.Background())
	return fn(db)
}

func migrate(ctx context.Context, cfg config, args []string) error {
	sub := "up"
	if len(args) > 0 {
		sub = args[0]
	}
	if sub != "up" && sub != "status" {
		return fmt.Errorf("migrate: unknown subcommand %q (up, status)", sub)
	}
	// openDatabase applies pending migrations itself; status then shows the result.
	return withDatabase(ctx, cfg, func(db *database) error {
		list, err := migrations.List(ctx, db.SQL)
		if err != nil {
			return err
		}
		for _, m := range list {
			state := "pending"
			if m.Applied {
				state = "applied"
			}
			fmt.Printf("%05d  %-8s %s\n", m.Version, state, m.Name)
		}
		return nil
	})
}

func replay(ctx context.Context, cfg config, args []string) error {
	if len(args) == 2 && args[0] == "chat" {
		return withDatabase(ctx, cfg, func(db *database) error {
			res, err := chat.ReplaySession(ctx, eventlog.NewStore(db.SQL, domain.Events), db.SQL, args[1])
			if err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(res)
			if !res.Identical {
				return exitCode(1)
			}
			return nil
		})
	}
	if len(args) != 1 {
		return fmt.Errorf("replay: name a projection (%s), all, status, or chat <session-id>", strings.Join(projectionNames(), ", "))
	}
	return withDatabase(ctx, cfg, func(db *database) error {
		store := eventlog.NewStore(db.SQL, domain.Events)
		if args[0] == "status" {
			st, err := projections.Statuses(ctx, db.SQL, projectionNames(), nil)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PROJECTION\tPOSITION\tPENDING\tLAG\tUPDATED")
			for _, s := range st {
				fmt.Fprintf(w, "%s\t%d\t%d\t%.3fs\t%s\n", s.Name, s.Position, s.Pending, s.LagSeconds, s.UpdatedAt.Format(time.RFC3339))
			}
			return w.Flush()
		}
		var selected []projections.Projection
		for _, p := range allProjections() {
			if args[0] == "all" || args[0] == p.Name() {
				selected = append(selected, p)
			}
		}
		if len(selected) == 0 {
			return fmt.Errorf("replay: unknown projection %q (%s, all, status)", args[0], strings.Join(projectionNames(), ", "))
		}
		for _, p := range selected {
			res, err := projections.Replay(ctx, store, p)
			if err != nil {
				return err
			}
			fmt.Printf("%s: replayed %d events up to position %d; %d rows; checksum %s\n",
				res.Projection, res.Events, res.Cursor.Position, res.Checksum.Rows, res.Checksum.Sum)
		}
		return nil
	})
}

func projectionNames() []string {
	var names []string
	for _, p := range allProjections() {
		names = append(names, p.Name())
	}
	return names
}

func events(ctx context.Context, cfg config, args []string) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	stream := fs.String("stream", "", "only this stream id (e.g. agent-<uuid>)")
	streamType := fs.String("stream-type", "", "only this stream type (e.g. agent)")
	typ := fs.String("type", "", "only this event type (e.g. agent.created)")
	after := fs.Int64("after", -1, "list in global order after this position (0 = from the start)")
	limit := fs.Int("limit", 50, "how many events (newest first unless --after or --follow)")
	follow := fs.Bool("follow", false, "keep printing new events as they are committed")
	format := fs.String("format", "table", "table or ndjson (one JSON event per line)")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	if *format != "table" && *format != "ndjson" {
		return fmt.Errorf("events: --format must be table or ndjson")
	}
	filter := eventlog.Filter{StreamID: *stream, StreamType: *streamType, EventType: *typ}
	return withDatabase(ctx, cfg, func(db *database) error {
		store := eventlog.NewStore(db.SQL, domain.Events)
		out := newEventPrinter(os.Stdout, *format)
		defer out.flush()
		if *after < 0 && !*follow {
			latest, err := store.ReadLatest(ctx, db.SQL, filter, *limit)
			if err != nil {
				return err
			}
			for i := len(latest) - 1; i >= 0; i-- {
				out.print(latest[i])
			}
			return nil
		}
		var cursor eventlog.Cursor
		var err error
		if *after >= 0 {
			cursor, err = store.CursorOf(ctx, db.SQL, *after)
		} else {
			cursor, err = store.VisibleHead(ctx, db.SQL)
		}
		if err != nil {
			return err
		}
		var wake <-chan struct{}
		if *follow {
			n := eventlog.NewNotifier(db.DSN, zerolog.Nop())
			defer n.Close()
			ch, cancel := n.Subscribe()
			defer cancel()
			wake = ch
		}
		printed := 0
		for {
			page, err := store.ReadAfter(ctx, db.SQL, cursor, filter, 500)
			if err != nil {
				if *follow && ctx.Err() != nil {
					return nil // a signal is how --follow ends, also while it is catching up
				}
				return err
			}
			for _, e := range page {
				out.print(e)
				printed++
				cursor = e.Cursor()
				if !*follow && printed >= *limit {
					return nil
				}
			}
			if len(page) == 500 {
				continue
			}
			if !*follow {
				return nil
			}
			out.flush()
			select {
			case <-ctx.Done():
				return nil
			case <-wake:
			case <-time.After(time.Second):
			}
		}
	})
}

type eventPrinter struct {
	format string
	enc    *json.Encoder
	tw     *tabwriter.Writer
	header bool
}

func newEventPrinter(w io.Writer, format string) *eventPrinter {
	return &eventPrinter{format: format, enc: json.NewEncoder(w), tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
}

func (p *eventPrinter) print(e eventlog.Event) {
	e.Payload = domain.Events.Redact(e.Type, e.Payload)
	if p.format == "ndjson" {
		_ = p.enc.Encode(e)
		return
	}
	if !p.header {
		fmt.Fprintln(p.tw, "POSITION\tOCCURRED\tSTREAM\tVERSION\tTYPE\tACTOR\tPAYLOAD")
		p.header = true
	}
	payload := string(e.Payload)
	if len(payload) > 80 {
		payload = payload[:77] + "..."
	}
	fmt.Fprintf(p.tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", e.Position, e.OccurredAt.Format(time.RFC3339), e.StreamID,
		e.Version, e.Type, e.Metadata.Actor, payload)
}

func (p *eventPrinter) flush() { _ = p.tw.Flush() }

func audit(ctx context.Context, cfg config, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return fmt.Errorf("audit: usage: gathering audit verify [--stream S] [--format text|json]")
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	stream := fs.String("stream", "", "verify only this stream")
	format := fs.String("format", "text", "text or json")
	if err := fs.Parse(args[1:]); err != nil {
		return exitCode(2)
	}
	return withDatabase(ctx, cfg, func(db *database) error {
		report, err := eventlog.VerifyChains(ctx, db.SQL, *stream)
		if err != nil {
			return err
		}
		if *format == "json" {
			_ = json.NewEncoder(os.Stdout).Encode(report)
		} else if report.OK() {
			fmt.Printf("OK: %d events in %d streams, every hash chain holds\n", report.Events, report.Streams)
		} else {
			fmt.Printf("BROKEN: %d of %d streams fail verification (%d events checked)\n", len(report.Breaks), report.Streams, report.Events)
			for _, b := range report.Breaks {
				fmt.Printf("  stream %s: first broken link at version %d (position %d): %s\n", b.StreamID, b.Version, b.Position, b.Reason)
			}
		}
		if !report.OK() {
			return exitCode(1)
		}
		return nil
	})
}
