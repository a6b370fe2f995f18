// Command gathering is the GatheRing server and its operator tools: serve, migrate, replay,
// events and audit.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

var version = "dev"

const usage = `gathering — multi-agent backend on an event-sourced PostgreSQL log

Usage:
  gathering serve                       run the API, live feeds, projections and dashboard
  gathering migrate [up|status]         apply (default) or list database migrations
  gathering replay <projection|all>     rebuild read models from the log and print checksums
  gathering replay status               show each projection's position and lag
  gathering replay chat <session-id>    re-run a chat from its recordings, without any model
  gathering events [flags]              list the log, or follow it with --follow
  gathering audit verify [--stream S]   recompute every hash chain and name the first broken link
  gathering version

Configuration comes from the environment; see README.md.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gathering:", err)
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, stop, cfg)
	case "migrate":
		err = migrate(ctx, cfg, args)
	case "replay":
		err = replay(ctx, cfg, args)
	case "events":
		err = events(ctx, cfg, args)
	case "audit":
		err = audit(ctx, cfg, args)
	case "version":
		fmt.Println(version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "gathering: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		if code, ok := err.(exitCode); ok {
			os.Exit(int(code))
		}
		fmt.Fprintln(os.Stderr, "gathering:", err)
		os.Exit(1)
	}
}

// exitCode ends the process with a status and no further message (the command printed its own).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }
