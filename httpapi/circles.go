package httpapi

import (
	"net/http"
	"strings"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/projections"
)

type circleInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type memberInput struct {
	AgentID      string            `json:"agent_id"`
	Role         domain.MemberRole `json:"role"`
	Competencies []string          `json:"competencies"`
}

// visibleCircle returns a circle the caller may see: its owner's or, for an admin, any.
func (s *Server) visibleCircle(c *fiber.Ctx) (projections.CircleView, error) {
	v, err := s.deps.Circles.ByName(c.UserContext(), strings.ToLower(c.Params("name")))
	if err != nil {
		return v, err
	}
	p, _ := principal(c)
	if !p.Actor().IsAdmin() && v.Owner != p.UserID {
		return v, domain.Errorf(domain.CodeForbidden, "this circle is not yours")
	}
	return v, nil
}

func (s *Server) createCircle(c *fiber.Ctx) error {
	var in circleInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	id := uuid.NewString()
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.CreateCircle{Envelope: envelope(c), CircleID: id, Name: in.Name, Description: in.Description})
	if err != nil {
		return err
	}
	if err := s.waitFor(c, "circles", res); err != nil {
		return err
	}
	v, err := s.deps.Circles.ByName(c.UserContext(), strings.ToLower(strings.TrimSpace(in.Name)))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/circles/"+v.Name)
	return c.Status(http.StatusCreated).JSON(v)
}

func (s *Server) listCircles(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	owner := ""
	if p, _ := principal(c); !p.Actor().IsAdmin() {
		owner = p.UserID
	}
	items, err := s.deps.Circles.List(c.UserContext(), owner, c.Query("status"), limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) getCircle(c *fiber.Ctx) error {
	v, err := s.visibleCircle(c)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) addCircleMember(c *fiber.Ctx) error {
	var in memberInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	circle, err := s.visibleCircle(c)
	if err != nil {
		return err
	}
	if _, err := uuid.Parse(in.AgentID); err != nil {
		return invalid("agent_id", "must be the id of an agent")
	}
	if _, err := s.visibleAgent(c, in.AgentID); err != nil {
		if domain.ErrorCode(err) == domain.CodeNotFound {
			return invalid("agent_id", "no such agent")
		}
		return err
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.AddCircleMember{Envelope: envelope(c), CircleID: circle.ID,
		Member: domain.Member{AgentID: in.AgentID, Role: in.Role, Competencies: in.Competencies}})
	if err != nil {
		return err
	}
	return s.answerCircle(c, res, http.StatusOK)
}

func (s *Server) removeCircleMember(c *fiber.Ctx) error {
	circle, err := s.visibleCircle(c)
	if err != nil {
		return err
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.RemoveCircleMember{Envelope: envelope(c), CircleID: circle.ID, AgentID: c.Params("agent")})
	if err != nil {
		return err
	}
	return s.answerCircle(c, res, http.StatusOK)
}

func (s *Server) circleAction(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		circle, err := s.visibleCircle(c)
		if err != nil {
			return err
		}
		var in struct {
			Reason string `json:"reason"`
		}
		if len(c.Body()) > 0 {
			if err := decodeJSON(c, &in); err != nil {
				return err
			}
		}
		res, err := s.deps.Bus.Send(c.UserContext(), &commands.ChangeCircleStatus{Envelope: envelope(c), CircleID: circle.ID, Action: action, Reason: in.Reason})
		if err != nil {
			return err
		}
		return s.answerCircle(c, res, http.StatusOK)
	}
}

func (s *Server) answerCircle(c *fiber.Ctx, res commands.Result, status int) error {
	if err := s.waitFor(c, "circles", res); err != nil {
		return err
	}
	v, err := s.deps.Circles.ByName(c.UserContext(), strings.ToLower(c.Params("name")))
	if err != nil {
		return err
	}
	return c.Status(status).JSON(v)
}

// circleFeed streams a circle's events (and those of its conversations as they arrive).
func (s *Server) circleFeed() fiber.Handler {
	ws := websocket.New(func(conn *websocket.Conn) {
		id, _ := conn.Locals("circle_id").(string)
		s.serveFeed(conn, []string{"circles:" + id}, nil)
	}, wsConfig)
	return func(c *fiber.Ctx) error {
		v, err := s.visibleCircle(c)
		if err != nil {
			return err
		}
		c.Locals("circle_id", v.ID)
		return ws(c)
	}
}
