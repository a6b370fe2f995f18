package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
)

var errDraining = &domain.Error{Code: domain.CodeUnavailable, Message: "the server is shutting down"}

func (s *Server) live(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "alive", "version": s.deps.Version})
}

// ready is what a load balancer polls: 503 while starting or draining, or when the database
// does not answer.
func (s *Server) ready(c *fiber.Ctx) error {
	switch state(s.state.Load()) {
	case stateStarting:
		return c.Status(http.StatusServiceUnavailable).JSON(fiber.Map{"ready": false, "reason": "starting"})
	case stateDraining:
		return c.Status(http.StatusServiceUnavailable).JSON(fiber.Map{"ready": false, "reason": "shutting_down"})
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.deps.DB.Pool.Ping(ctx); err != nil {
		return c.Status(http.StatusServiceUnavailable).JSON(fiber.Map{"ready": false, "reason": "database_unavailable"})
	}
	return c.JSON(fiber.Map{"ready": true})
}

func (s *Server) projectionStatus(c *fiber.Ctx) error {
	st, err := s.deps.Projections(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"projections": st})
}

// listEvents lets operators and the dashboard browse the log: newest first by default, or in
// global order after a position.
func (s *Server) listEvents(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	f := eventlog.Filter{StreamID: c.Query("stream"), StreamType: c.Query("stream_type"), EventType: c.Query("type")}
	var events []eventlog.Event
	if after := c.Query("after"); after != "" {
		pos, err := int64Query(c, "after")
		if err != nil {
			return err
		}
		cur, err := s.deps.Store.CursorOf(c.UserContext(), s.deps.DB.SQL, pos)
		if err != nil {
			return err
		}
		events, err = s.deps.Store.ReadAfter(c.UserContext(), s.deps.DB.SQL, cur, f, limit)
		if err != nil {
			return err
		}
	} else {
		// ?before=<position> pages back from an event the client has shown.
		if before := c.Query("before"); before != "" {
			pos, err := int64Query(c, "before")
			if err != nil {
				return err
			}
			cur, err := s.deps.Store.CursorOf(c.UserContext(), s.deps.DB.SQL, pos)
			if err != nil {
				return invalid("before", "unknown position")
			}
			f.Before = &cur
		}
		if events, err = s.deps.Store.ReadLatest(c.UserContext(), s.deps.DB.SQL, f, limit); err != nil {
			return err
		}
	}
	for i := range events {
		events[i].Payload = domain.Events.Redact(events[i].Type, events[i].Payload)
	}
	return c.JSON(fiber.Map{"events": events})
}

// verifyAudit recomputes the hash chains of the log (or of ?stream=) and reports the first
// broken link of each broken stream: the console's "verify the audit chain".
func (s *Server) verifyAudit(c *fiber.Ctx) error {
	report, err := eventlog.VerifyChains(c.UserContext(), s.deps.DB.SQL, c.Query("stream"))
	if err != nil {
		return err
	}
	if report.Breaks == nil {
		report.Breaks = []eventlog.Break{}
	}
	return c.JSON(fiber.Map{"ok": report.OK(), "streams": report.Streams, "events": report.Events, "breaks": report.Breaks})
}
