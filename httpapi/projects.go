package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/livefeed"
	"github.com/gathering/gathering/projections"
)

// projectInput is the body of POST and PATCH /projects; absent fields are nil.
type projectInput struct {
	Name          *string   `json:"name"`
	DisplayName   *string   `json:"display_name"`
	Description   *string   `json:"description"`
	RepositoryURL *string   `json:"repository_url"`
	DefaultBranch *string   `json:"default_branch"`
	TechStack     *[]string `json:"tech_stack"`
	Languages     *[]string `json:"languages"`
	Frameworks    *[]string `json:"frameworks"`
	Conventions   *string   `json:"conventions"`
}

func (in projectInput) spec() domain.ProjectSpec {
	var s domain.ProjectSpec
	setFrom(&s.Name, in.Name)
	setFrom(&s.DisplayName, in.DisplayName)
	setFrom(&s.Description, in.Description)
	setFrom(&s.RepositoryURL, in.RepositoryURL)
	setFrom(&s.DefaultBranch, in.DefaultBranch)
	setFrom(&s.TechStack, in.TechStack)
	setFrom(&s.Languages, in.Languages)
	setFrom(&s.Frameworks, in.Frameworks)
	setFrom(&s.Conventions, in.Conventions)
	return s
}

func (in projectInput) patch() domain.ProjectPatch {
	return domain.ProjectPatch{Name: in.Name, DisplayName: in.DisplayName, Description: in.Description,
		RepositoryURL: in.RepositoryURL, DefaultBranch: in.DefaultBranch, TechStack: in.TechStack, Languages: in.Languages,
		Frameworks: in.Frameworks, Conventions: in.Conventions}
}

// visibleProject returns a project the caller may see: its owner's or, for an admin, any.
func (s *Server) visibleProject(c *fiber.Ctx) (projections.ProjectView, error) {
	v, err := s.deps.Projects.ByID(c.UserContext(), c.Params("id"))
	if err != nil {
		return v, err
	}
	p, _ := principal(c)
	if !p.Actor().IsAdmin() && v.Owner != p.UserID {
		return v, domain.Errorf(domain.CodeForbidden, "this project is not yours")
	}
	return v, nil
}

func (s *Server) createProject(c *fiber.Ctx) error {
	var in projectInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	env := envelope(c)
	if err := withIdempotency(c, &env); err != nil {
		return err
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.CreateProject{Envelope: env, ProjectID: uuid.NewString(), Spec: in.spec()})
	if err != nil {
		return err
	}
	if res.Replayed {
		return s.replayResponse(c, env.IdempotencyKey, res)
	}
	return s.respondWithProject(c, env, res, http.StatusCreated)
}

type projectPage struct {
	Items      []projections.ProjectView `json:"items"`
	NextCursor string                    `json:"next_cursor,omitempty"`
}

func (s *Server) listProjects(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	f := projections.ProjectFilter{Status: c.Query("status"), Limit: limit}
	if f.Status != "" && f.Status != string(domain.ProjectStatusActive) && f.Status != string(domain.ProjectStatusArchived) {
		return invalid("status", "must be active or archived")
	}
	// Members list their own projects; admins everything, or one user's with ?owner=.
	if p, _ := principal(c); !p.Actor().IsAdmin() {
		f.Owner = p.UserID
	} else {
		f.Owner = c.Query("owner")
	}
	if raw := c.Query("cursor"); raw != "" {
		after, err := base64.RawURLEncoding.DecodeString(raw)
		if err != nil || len(after) == 0 {
			return invalid("cursor", "is not a cursor returned by this API")
		}
		f.After = string(after)
	}
	items, next, err := s.deps.Projects.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	page := projectPage{Items: items}
	if next != "" {
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	return c.JSON(page)
}

func (s *Server) getProject(c *fiber.Ctx) error {
	v, err := s.visibleProject(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(v.Version))
	return c.JSON(v)
}

func (s *Server) updateProject(c *fiber.Ctx) error {
	var in projectInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	env := envelope(c)
	if err := withIdempotency(c, &env); err != nil {
		return err
	}
	if err := withIfMatch(c, &env); err != nil {
		return err
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.UpdateProject{Envelope: env, ProjectID: c.Params("id"), Patch: in.patch()})
	if err != nil {
		return err
	}
	if res.Replayed {
		return s.replayResponse(c, env.IdempotencyKey, res)
	}
	return s.respondWithProject(c, env, res, http.StatusOK)
}

func (s *Server) archiveProject(c *fiber.Ctx) error {
	env := envelope(c)
	if err := withIfMatch(c, &env); err != nil {
		return err
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.ArchiveProject{Envelope: env, ProjectID: c.Params("id")})
	if err != nil {
		return err
	}
	return s.respondWithProject(c, env, res, http.StatusOK)
}

// linkProjectCircle links one of the caller's circles, named in the body, to the project.
func (s *Server) linkProjectCircle(c *fiber.Ctx) error {
	var in struct {
		Circle string `json:"circle"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	project, err := s.visibleProject(c)
	if err != nil {
		return err
	}
	name := strings.ToLower(strings.TrimSpace(in.Circle))
	if name == "" {
		return invalid("circle", "is required (a circle name)")
	}
	circle, err := s.deps.Circles.ByName(c.UserContext(), name)
	if domain.ErrorCode(err) == domain.CodeNotFound {
		return invalid("circle", "no such circle")
	}
	if err != nil {
		return err
	}
	if p, _ := principal(c); !p.Actor().IsAdmin() && circle.Owner != p.UserID {
		return domain.Errorf(domain.CodeForbidden, "this circle is not yours")
	}
	if circle.Status == string(domain.CircleStatusArchived) {
		return domain.Errorf(domain.CodeConflict, "the circle is archived")
	}
	env := envelope(c)
	env.Context[livefeed.MetadataCircle] = circle.ID // the link shows on the circle's feed too
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.LinkProjectCircle{Envelope: env, ProjectID: project.ID, CircleID: circle.ID})
	if err != nil {
		return err
	}
	return s.respondWithProject(c, env, res, http.StatusOK)
}

// unlinkProjectCircle takes a circle off the project; the project's owner may unlink any of its
// circles, whoever owns the circle.
func (s *Server) unlinkProjectCircle(c *fiber.Ctx) error {
	project, err := s.visibleProject(c)
	if err != nil {
		return err
	}
	name := strings.ToLower(c.Params("name"))
	circleID := ""
	for _, pc := range project.Circles {
		if pc.Name == name {
			circleID = pc.CircleID
		}
	}
	if circleID == "" {
		return domain.Errorf(domain.CodeNotFound, "circle %q is not linked to this project", name)
	}
	env := envelope(c)
	env.Context[livefeed.MetadataCircle] = circleID
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.UnlinkProjectCircle{Envelope: env, ProjectID: project.ID, CircleID: circleID})
	if err != nil {
		return err
	}
	return s.respondWithProject(c, env, res, http.StatusOK)
}

func (s *Server) listProjectCircles(c *fiber.Ctx) error {
	project, err := s.visibleProject(c)
	if err != nil {
		return err
	}
	items := project.Circles
	if items == nil {
		items = []projections.ProjectCircleView{}
	}
	return c.JSON(fiber.Map{"items": items})
}

// respondWithProject answers a write with the project as the read model shows it once it has
// applied the write, so the client can read its own write straight away.
func (s *Server) respondWithProject(c *fiber.Ctx, env commands.Envelope, res commands.Result, status int) error {
	if err := s.waitFor(c, "projects", res); err != nil {
		return err
	}
	id := strings.TrimPrefix(res.StreamID, "project-")
	v, err := s.deps.Projects.ByID(c.UserContext(), id)
	if err != nil {
		return err
	}
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(v.Version))
	if status == http.StatusCreated {
		c.Set(fiber.HeaderLocation, "/projects/"+id)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Status(status)
	if err := s.storeResponse(c, env.IdempotencyKey, body); err != nil {
		return err
	}
	return c.Send(body)
}
