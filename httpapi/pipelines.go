package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/pipeline"
	"github.com/gathering/gathering/projections"
)

// pipelineInput is the body of POST /pipelines and PUT /pipelines/{id}: the whole spec, as an
// update replaces the definition with a new version.
type pipelineInput struct {
	Name           string                `json:"name"`
	Description    string                `json:"description"`
	Nodes          []domain.PipelineNode `json:"nodes"`
	Edges          []domain.PipelineEdge `json:"edges"`
	TimeoutSec     int                   `json:"timeout_sec"`
	CancelGraceSec int                   `json:"cancel_grace_sec"`
}

func (in pipelineInput) spec() domain.PipelineSpec {
	return domain.PipelineSpec{Name: in.Name, Description: in.Description, Nodes: in.Nodes, Edges: in.Edges,
		TimeoutSec: in.TimeoutSec, CancelGraceSec: in.CancelGraceSec}
}

// visiblePipeline returns a pipeline the caller may see and run: its owner's or, for an admin,
// any.
func (s *Server) visiblePipeline(c *fiber.Ctx) (projections.PipelineView, error) {
	v, err := s.deps.Pipelines.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return v, err
	}
	if p, _ := principal(c); !p.Actor().IsAdmin() && v.Owner != p.UserID {
		return v, domain.Errorf(domain.CodeForbidden, "this pipeline is not yours")
	}
	return v, nil
}

// checkPipeline validates a spec as the command will, and also that every agent node names an
// agent the caller may use; all problems come back in one list.
func (s *Server) checkPipeline(c *fiber.Ctx, spec domain.PipelineSpec) []domain.FieldError {
	var fields []domain.FieldError
	var de *domain.Error
	if err := domain.ValidatePipelineSpec(spec, pipeline.CheckConfig, pipeline.CheckCondition); errors.As(err, &de) {
		fields = append(fields, de.Fields...)
	}
	for i, n := range spec.Nodes {
		if n.Type != domain.NodeTypeAgent {
			continue
		}
		var cfg struct {
			AgentID string `json:"agent_id"`
		}
		if json.Unmarshal(n.Config, &cfg) != nil || uuid.Validate(cfg.AgentID) != nil {
			continue // the schema check reports it
		}
		if _, err := s.visibleAgent(c, cfg.AgentID); err != nil {
			fields = append(fields, domain.FieldError{Field: "nodes[" + strconv.Itoa(i) + "].config.agent_id",
				Message: "no agent of yours has this id"})
		}
	}
	return fields
}

func pipelineInvalid(fields []domain.FieldError) error {
	msg := strconv.Itoa(len(fields)) + " problems in the pipeline"
	if len(fields) == 1 {
		msg = "1 problem in the pipeline"
	}
	return &domain.Error{Code: domain.CodeInvalid, Message: msg, Fields: fields}
}

func (s *Server) createPipeline(c *fiber.Ctx) error {
	var in pipelineInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if fields := s.checkPipeline(c, in.spec()); len(fields) > 0 {
		return pipelineInvalid(fields)
	}
	env := envelope(c)
	if err := withIdempotency(c, &env); err != nil {
		return err
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.CreatePipeline{Envelope: env, PipelineID: uuid.NewString(), Spec: in.spec()})
	if err != nil {
		return err
	}
	if res.Replayed {
		return s.replayResponse(c, env.IdempotencyKey, res)
	}
	return s.respondWithPipeline(c, env, res, http.StatusCreated)
}

func (s *Server) updatePipeline(c *fiber.Ctx) error {
	var in pipelineInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if _, err := s.visiblePipeline(c); err != nil {
		return err
	}
	if fields := s.checkPipeline(c, in.spec()); len(fields) > 0 {
		return pipelineInvalid(fields)
	}
	env := envelope(c)
	if err := withIdempotency(c, &env); err != nil {
		return err
	}
	if err := withIfMatch(c, &env); err != nil {
		return err
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.UpdatePipeline{Envelope: env, PipelineID: c.Params("id"), Spec: in.spec()})
	if err != nil {
		return err
	}
	if res.Replayed {
		return s.replayResponse(c, env.IdempotencyKey, res)
	}
	return s.respondWithPipeline(c, env, res, http.StatusOK)
}

func (s *Server) deletePipeline(c *fiber.Ctx) error {
	if _, err := s.visiblePipeline(c); err != nil {
		return err
	}
	env := envelope(c)
	if err := withIfMatch(c, &env); err != nil {
		return err
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.DeletePipeline{Envelope: env, PipelineID: c.Params("id")})
	if err != nil {
		return err
	}
	if err := s.waitFor(c, "pipelines", res); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (s *Server) getPipeline(c *fiber.Ctx) error {
	v, err := s.visiblePipeline(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(v.Version))
	return c.JSON(v)
}

func (s *Server) listPipelines(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	f := projections.PipelineFilter{Limit: limit + 1, After: c.Query("cursor")}
	if f.After != "" && uuid.Validate(f.After) != nil {
		return invalid("cursor", "is not a cursor returned by this API")
	}
	// Members list their own pipelines; admins everything, or one user's with ?owner=.
	if p, _ := principal(c); !p.Actor().IsAdmin() {
		f.Owner = p.UserID
	} else {
		f.Owner = c.Query("owner")
	}
	items, err := s.deps.Pipelines.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(keysetPage(items, limit, func(v projections.PipelineView) string { return v.ID }))
}

// validatePipeline checks a draft (the body, when there is one) or the stored definition, and
// answers 200 either way: the verdict is the answer, with every problem listed.
func (s *Server) validatePipeline(c *fiber.Ctx) error {
	var spec domain.PipelineSpec
	if c.Params("id") != "" {
		v, err := s.visiblePipeline(c)
		if err != nil {
			return err
		}
		spec = v.Spec
	}
	if len(c.Body()) > 0 {
		var in pipelineInput
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		spec = in.spec()
	}
	fields := s.checkPipeline(c, spec)
	if fields == nil {
		fields = []domain.FieldError{}
	}
	return c.JSON(fiber.Map{"valid": len(fields) == 0, "errors": fields})
}

// nodeTypes lists the node types with the JSON Schema of their configs, for editors.
func (s *Server) nodeTypes(c *fiber.Ctx) error {
	items := make([]fiber.Map, 0, len(domain.PipelineNodeTypes))
	for _, t := range domain.PipelineNodeTypes {
		schema, _ := pipeline.ConfigSchema(t)
		items = append(items, fiber.Map{"type": t, "config_schema": schema})
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) startPipelineRun(c *fiber.Ctx) error {
	var in struct {
		Input json.RawMessage `json:"input"`
	}
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
	}
	v, err := s.visiblePipeline(c)
	if err != nil {
		return err
	}
	env := envelope(c)
	if err := withIdempotency(c, &env); err != nil {
		return err
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.StartPipelineRun{Envelope: env, RunID: uuid.NewString(), PipelineID: v.ID, Input: in.Input})
	if err != nil {
		return err
	}
	if res.Replayed {
		return s.replayResponse(c, env.IdempotencyKey, res)
	}
	return s.respondWithRun(c, env, res, http.StatusAccepted)
}

func (s *Server) cancelPipelineRun(c *fiber.Ctx) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
	}
	run, err := s.visibleRun(c)
	if err != nil {
		return err
	}
	env := envelope(c)
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.CancelPipelineRun{Envelope: env, RunID: run.ID, PipelineID: run.PipelineID, Reason: in.Reason})
	if err != nil {
		return err
	}
	if res.Appended == 0 {
		res.StreamID = domain.PipelineRunStreamID(run.ID) // asked again: nothing new to wait for
	}
	return s.respondWithRun(c, env, res, http.StatusAccepted)
}

// visibleRun returns a run of the pipeline in the URL that the caller may see: the pipeline's
// owner, whoever started the run, or an admin. It does not need the pipeline to exist any more:
// the runs of a deleted pipeline go on and can still be followed and cancelled.
func (s *Server) visibleRun(c *fiber.Ctx) (projections.PipelineRunView, error) {
	run, err := s.deps.Pipelines.Run(c.UserContext(), c.Params("run"))
	if err != nil {
		return run, err
	}
	if run.PipelineID != c.Params("id") {
		return run, domain.Errorf(domain.CodeNotFound, "run not found")
	}
	if p, _ := principal(c); !p.Actor().IsAdmin() && run.Owner != p.UserID && run.StartedBy != p.UserID {
		return run, domain.Errorf(domain.CodeForbidden, "this run is not yours")
	}
	return run, nil
}

func (s *Server) getPipelineRun(c *fiber.Ctx) error {
	run, err := s.visibleRun(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(run.Version))
	return c.JSON(run)
}

// page is a list answer; NextCursor, when set, is the id to pass as ?cursor= for the next page.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// keysetPage cuts a result fetched with one row more than limit: that row's presence says a
// next page exists, and the last row kept is where it starts.
func keysetPage[T any](items []T, limit int, id func(T) string) page[T] {
	if items == nil {
		items = []T{}
	}
	if len(items) <= limit {
		return page[T]{Items: items}
	}
	return page[T]{Items: items[:limit], NextCursor: id(items[limit-1])}
}

var runStatuses = map[string]bool{"running": true, "cancelling": true, "completed": true, "failed": true, "cancelled": true, "timed_out": true}

func (s *Server) listPipelineRuns(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	p, err := s.visiblePipeline(c)
	if err != nil {
		return err
	}
	f := projections.PipelineRunFilter{PipelineID: p.ID, Status: c.Query("status"), Before: c.Query("cursor"), Limit: limit + 1}
	if f.Status != "" && !runStatuses[f.Status] {
		return invalid("status", "must be one of running, cancelling, completed, failed, cancelled, timed_out")
	}
	if f.Before != "" && uuid.Validate(f.Before) != nil {
		return invalid("cursor", "is not a cursor returned by this API")
	}
	items, err := s.deps.Pipelines.Runs(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(keysetPage(items, limit, func(v projections.PipelineRunView) string { return v.ID }))
}

// respondWithPipeline answers a write with the pipeline as the read model shows it once it has
// applied the write.
func (s *Server) respondWithPipeline(c *fiber.Ctx, env commands.Envelope, res commands.Result, status int) error {
	if err := s.waitFor(c, "pipelines", res); err != nil {
		return err
	}
	id := res.StreamID[len("pipeline-"):]
	v, err := s.deps.Pipelines.Get(c.UserContext(), id)
	if err != nil {
		return err
	}
	if status == http.StatusCreated {
		c.Set(fiber.HeaderLocation, "/pipelines/"+id)
	}
	return s.respondJSON(c, env, v, v.Version, status)
}

// respondWithRun answers with the run as the read model shows it once it has applied the write:
// a client that starts a run reads it, with its first nodes queued, straight away.
func (s *Server) respondWithRun(c *fiber.Ctx, env commands.Envelope, res commands.Result, status int) error {
	if res.Appended > 0 {
		if err := s.waitFor(c, "pipelines", res); err != nil {
			return err
		}
	}
	id := res.StreamID[len("pipeline_run-"):]
	v, err := s.deps.Pipelines.Run(c.UserContext(), id)
	if err != nil {
		return err
	}
	if status == http.StatusAccepted {
		c.Set(fiber.HeaderLocation, "/pipelines/"+v.PipelineID+"/runs/"+id)
	}
	return s.respondJSON(c, env, v, v.Version, status)
}

func (s *Server) respondJSON(c *fiber.Ctx, env commands.Envelope, v any, version int64, status int) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(version))
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Status(status)
	if err := s.storeResponse(c, env.IdempotencyKey, body); err != nil {
		return err
	}
	return c.Send(body)
}

// pipelineFeed streams a pipeline's runs live: every pipeline_run.* and pipeline_node.* event
// of its runs, and the tokens of its agent nodes.
func (s *Server) pipelineFeed() fiber.Handler {
	ws := websocket.New(func(conn *websocket.Conn) {
		s.serveFeed(conn, []string{"pipelines:" + conn.Params("id")}, nil)
	}, wsConfig)
	return func(c *fiber.Ctx) error {
		if _, err := s.visiblePipeline(c); err != nil {
			return err
		}
		return ws(c)
	}
}
