package httpapi

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/auth"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/livefeed"
)

const (
	wsWriteTimeout = 10 * time.Second
	wsPingEvery    = 30 * time.Second
	wsReadTimeout  = 75 * time.Second
	maxTopics      = 64
)

// control is a message of the feed protocol itself, as opposed to an event.
type control struct {
	Type      string    `json:"type"`
	Data      any       `json:"data"`
	Timestamp time.Time `json:"timestamp"`
}

// clientAction is what a client of /ws may send.
type clientAction struct {
	Action string   `json:"action"` // subscribe, unsubscribe, ping
	Topics []string `json:"topics"`
}

// upgradeOnly validates a feed request while it can still get an HTTP error, then lets the
// WebSocket handler take over.
func (s *Server) upgradeOnly(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return fiber.ErrUpgradeRequired
	}
	if raw := c.Query("after"); raw != "" {
		pos, err := int64Query(c, "after")
		if err != nil {
			return err
		}
		if _, err := s.deps.Store.CursorOf(c.UserContext(), s.deps.DB.SQL, pos); err != nil {
			return err
		}
		c.Locals("after", pos)
	}
	return c.Next()
}

func (s *Server) agentFeed() fiber.Handler {
	ws := websocket.New(func(conn *websocket.Conn) {
		s.serveFeed(conn, []string{"agents:" + conn.Params("id")}, nil)
	}, wsConfig)
	return func(c *fiber.Ctx) error {
		if _, err := uuid.Parse(c.Params("id")); err != nil {
			return domain.Errorf(domain.CodeNotFound, "agent %s not found", c.Params("id"))
		}
		if _, err := s.visibleAgent(c, c.Params("id")); err != nil {
			return err
		}
		return ws(c)
	}
}

// wsConfig accepts the bearer subprotocol browsers use to carry their token.
var wsConfig = websocket.Config{Subprotocols: []string{wsBearerProtocol}}

func splitTopics(raw string) []string {
	var topics []string
	for _, t := range strings.Split(raw, ",") {
		if t = strings.TrimSpace(t); t != "" {
			topics = append(topics, t)
		}
	}
	return topics
}

func (s *Server) generalFeed() fiber.Handler {
	ws := websocket.New(func(conn *websocket.Conn) {
		p, _ := conn.Locals(localPrincipal).(auth.Principal)
		actor := p.Actor()
		s.serveFeed(conn, splitTopics(conn.Query("topics")), &actor)
	}, wsConfig)
	return func(c *fiber.Ctx) error {
		p, _ := principal(c)
		if err := s.authorizeTopics(c.UserContext(), p.Actor(), splitTopics(c.Query("topics"))); err != nil {
			return err
		}
		return ws(c)
	}
}

// authorizeTopics lets admins follow anything and members only their own agents' topics: the
// collection topics ("all", "agents") carry everyone's events.
func (s *Server) authorizeTopics(ctx context.Context, actor domain.Actor, topics []string) error {
	if actor.IsAdmin() {
		return nil
	}
	for _, t := range topics {
		if sid, ok := strings.CutPrefix(t, "chats:"); ok {
			view, err := s.deps.Chats.Session(ctx, sid)
			if err != nil {
				return err
			}
			if view.Owner != actor.ID {
				return domain.Errorf(domain.CodeForbidden, "chat session %s is not yours", sid)
			}
			continue
		}
		id, ok := strings.CutPrefix(t, "agents:")
		if !ok {
			return domain.Errorf(domain.CodeForbidden, "topic %q needs the admin role; members may follow agents:<id> and chats:<id> of their own", t)
		}
		view, err := s.deps.Agents.Get(ctx, id)
		if err != nil {
			return err
		}
		if view.CreatedBy == "" || view.CreatedBy != actor.ID {
			return domain.Errorf(domain.CodeForbidden, "you do not own agent %s", id)
		}
	}
	return nil
}

// serveFeed streams a subscription to one connection. One goroutine writes (concurrent writes
// corrupt a websocket: fasthttp/websocket#29), the handler's own goroutine reads.
// actor is nil on a feed whose topic is fixed; otherwise it is who may change the topics.
func (s *Server) serveFeed(conn *websocket.Conn, topics []string, actor *domain.Actor) {
	log := s.deps.Logger.With().Str("feed", strings.Join(topics, ",")).Logger()
	var after *int64
	if pos, ok := conn.Locals("after").(int64); ok {
		after = &pos
	}
	if len(topics) > maxTopics {
		topics = topics[:maxTopics]
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := s.deps.Hub.Subscribe(ctx, topics, after)
	if err != nil {
		_ = conn.WriteJSON(control{Type: "error", Data: fiber.Map{"code": domain.ErrorCode(err), "message": domain.ErrorMessage(err)}, Timestamp: time.Now().UTC()})
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, domain.ErrorMessage(err)))
		return
	}
	defer sub.Close()

	controls := make(chan control, 16)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		defer cancel()
		ping := time.NewTicker(wsPingEvery)
		defer ping.Stop()
		write := func(v any) bool {
			_ = conn.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
			return conn.WriteJSON(v) == nil
		}
		if !write(control{Type: "connected", Data: fiber.Map{"topics": topics, "after": after}, Timestamp: time.Now().UTC()}) {
			return
		}
		for {
			select {
			case m, ok := <-sub.C():
				if !ok || !write(m) {
					return
				}
			case c := <-controls:
				if !write(c) {
					return
				}
			case <-ping.C:
				_ = conn.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
				if conn.WriteMessage(websocket.PingMessage, nil) != nil {
					return
				}
			case <-sub.Done():
				code, reason := websocket.CloseNormalClosure, sub.Reason()
				switch reason {
				case "slow_consumer":
					code = websocket.CloseTryAgainLater
				case "shutdown":
					code = websocket.CloseGoingAway
				}
				_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
				_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason))
				return
			case <-ctx.Done():
				return
			}
		}
	}()

	_ = conn.SetReadDeadline(time.Now().Add(wsReadTimeout))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsReadTimeout)) })
	current := append([]string(nil), topics...)
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			break
		}
		_ = conn.SetReadDeadline(time.Now().Add(wsReadTimeout))
		reply := s.handleAction(ctx, data, actor, &current, sub)
		select {
		case controls <- reply:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	cancel()
	<-writerDone
	log.Debug().Msg("feed closed")
}

func (s *Server) handleAction(ctx context.Context, data []byte, actor *domain.Actor, current *[]string, sub *livefeed.Subscription) control {
	now := time.Now().UTC()
	var a clientAction
	if err := json.Unmarshal(data, &a); err != nil {
		return control{Type: "error", Data: fiber.Map{"code": domain.CodeInvalid, "message": "messages must be JSON objects with an action"}, Timestamp: now}
	}
	switch a.Action {
	case "ping":
		return control{Type: "pong", Data: fiber.Map{}, Timestamp: now}
	case "subscribe", "unsubscribe":
		if actor == nil {
			return control{Type: "error", Data: fiber.Map{"code": domain.CodeInvalid, "message": "this feed has a fixed topic"}, Timestamp: now}
		}
		if a.Action == "subscribe" {
			if err := s.authorizeTopics(ctx, *actor, a.Topics); err != nil {
				return control{Type: "error", Data: fiber.Map{"code": domain.ErrorCode(err), "message": domain.ErrorMessage(err)}, Timestamp: now}
			}
		}
		set := map[string]bool{}
		for _, t := range *current {
			set[t] = true
		}
		for _, t := range a.Topics {
			set[t] = a.Action == "subscribe"
		}
		next := make([]string, 0, len(set))
		for t, on := range set {
			if on {
				next = append(next, t)
			}
		}
		if len(next) > maxTopics {
			return control{Type: "error", Data: fiber.Map{"code": domain.CodeInvalid, "message": "at most " + strconv.Itoa(maxTopics) + " topics"}, Timestamp: now}
		}
		*current = next
		sub.SetTopics(next)
		return control{Type: a.Action + "d", Data: fiber.Map{"topics": next}, Timestamp: now}
	default:
		return control{Type: "error", Data: fiber.Map{"code": domain.CodeInvalid, "message": "unknown action " + strconv.Quote(a.Action)}, Timestamp: now}
	}
}
