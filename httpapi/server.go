// Package httpapi serves GatheRing over HTTP and WebSocket with Fiber. Writes go to the command
// bus, reads come from read models, live feeds come from the log; this is also the only layer
// that turns application error codes into HTTP statuses.
package httpapi

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/helmet"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/auth"
	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/livefeed"
	"github.com/gathering/gathering/memory"
	"github.com/gathering/gathering/projections"
	"github.com/gathering/gathering/ratelimit"
	"github.com/gathering/gathering/tools"
)

// Deps are the parts the API is built from.
type Deps struct {
	DB      *eventlog.DB
	Store   *eventlog.Store
	Bus     *commands.Bus
	Agents  *projections.AgentQueries
	Users   *projections.UserQueries
	Chats   *projections.ChatQueries
	Circles *projections.CircleQueries
	// Projects reads projects with their linked circles.
	Projects *projections.ProjectQueries
	// WorkspacesDir holds the projects' workspaces, one directory per project; empty disables
	// the /workspace routes.
	WorkspacesDir string
	// TerminalIdle closes a workspace terminal nobody typed in for this long (default 15 min).
	TerminalIdle time.Duration
	// Tools is the tool registry agents are given tools from (listed in /catalog).
	Tools *tools.Registry
	// Pipelines reads pipeline definitions and runs with their nodes.
	Pipelines *projections.PipelineQueries
	// Schedules reads schedules and their runs.
	Schedules *projections.ScheduleQueries
	// CircleTasks reads circle tasks, escalations and conflicts; Conversations lists
	// conversations (one conversation's transcript is read from its stream).
	CircleTasks   *projections.CircleTaskQueries
	Conversations *projections.ConversationQueries
	// MemorySearch recalls (pgvector or exact path), Embeddings embeds queries through the
	// cache, MemoryItems reads single items, documents and counts.
	MemorySearch memory.Searcher
	Embeddings   *memory.Embeddings
	MemoryItems  *memory.Items
	// Repo reads aggregates straight from the log where no read model exists yet (tasks).
	Repo     *commands.Repository
	Waiter   *projections.Waiter
	Tokens   *auth.Tokens
	Sessions *auth.Sessions
	// Limits counts requests per client and tier; in memory, or in Redis when shared.
	Limits ratelimit.Store
	// AllowRegistration opens POST /auth/register to anyone.
	AllowRegistration bool
	// CORSOrigins are the browser origins allowed to call the API; empty means same-origin only.
	CORSOrigins []string
	Hub         *livefeed.Hub
	Projections func(ctx context.Context) ([]projections.Status, error)
	Logger      zerolog.Logger
	Dashboard   fs.FS // static files served at /, may be nil
	// ReadYourWrites bounds how long a write waits for its read model (default 5 s).
	ReadYourWrites time.Duration
	// ChatTimeout bounds how long POST /agents/{id}/chat waits for the reply (default 2 min).
	ChatTimeout time.Duration
	Version     string
}

type state int32

const (
	stateStarting state = iota
	stateReady
	stateDraining
)

// Server is the HTTP and WebSocket server.
type Server struct {
	app   *fiber.App
	deps  Deps
	state atomic.Int32
	// uploads are the chunked workspace uploads in progress on this instance.
	uploads uploads
}

// New builds the server; it answers 503 on /health/ready until MarkReady.
func New(d Deps) *Server {
	if d.ReadYourWrites == 0 {
		d.ReadYourWrites = 5 * time.Second
	}
	if d.ChatTimeout == 0 {
		d.ChatTimeout = 2 * time.Minute
	}
	s := &Server{deps: d}
	s.app = fiber.New(fiber.Config{
		AppName:               "gathering",
		DisableStartupMessage: true,
		// Room for a 2 MiB knowledge document with its JSON or multipart framing; every
		// other body is bounded by its own fields' limits.
		BodyLimit:    3 << 20,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorHandler: func(c *fiber.Ctx, err error) error { return writeError(c, err) },
	})
	s.app.Use(s.requestContext, s.refuseWhileDraining, helmet.New(helmet.Config{
		// The dashboard is served from this origin and talks to it over fetch and WebSocket. Its
		// code editor and terminal (Monaco, xterm.js) inject <style> elements, hence inline styles;
		// scripts stay 'self' only, which is what the policy is for.
		ContentSecurityPolicy: "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
			"connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		XFrameOptions:             "DENY",
		ReferrerPolicy:            "strict-origin-when-cross-origin",
		HSTSMaxAge:                31536000, // helmet only sends it over TLS
		CrossOriginEmbedderPolicy: "unsafe-none",
	}))
	if len(d.CORSOrigins) > 0 {
		s.app.Use(cors.New(cors.Config{AllowOrigins: strings.Join(d.CORSOrigins, ","),
			AllowHeaders:  "Authorization, Content-Type, Idempotency-Key, If-Match, X-Request-ID",
			ExposeHeaders: "ETag, Location, X-Request-ID, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset",
			MaxAge:        600}))
	}

	limit := func(t ratelimit.Tier) fiber.Handler { return ratelimit.Middleware(d.Limits, t, clientKey, d.Logger) }
	health, authTier := limit(ratelimit.Health), limit(ratelimit.Auth)
	// Every route below needs a valid token (and the right tier, keyed by user); only the
	// health probes, the three ways to obtain a token and the dashboard's files are public.
	user := func(t ratelimit.Tier) []fiber.Handler { return []fiber.Handler{s.requireAuth, limit(t)} }
	admin := func(t ratelimit.Tier) []fiber.Handler {
		return []fiber.Handler{s.requireAuth, s.requireAdmin, limit(t)}
	}
	read, write := user(ratelimit.Read), user(ratelimit.Write)
	route := func(method, path string, chain []fiber.Handler, h fiber.Handler) {
		s.app.Add(method, path, append(append([]fiber.Handler{}, chain...), h)...)
	}

	s.app.Get("/health/live", health, s.live)
	s.app.Get("/health/ready", health, s.ready)

	s.app.Post("/auth/login", authTier, s.login)
	s.app.Post("/auth/register", authTier, s.register)
	s.app.Post("/auth/refresh", authTier, s.refresh)
	route(fiber.MethodPost, "/auth/logout", user(ratelimit.Auth), s.logout)
	route(fiber.MethodGet, "/auth/me", read, s.me)
	route(fiber.MethodPost, "/auth/password", user(ratelimit.Auth), s.changePassword)

	route(fiber.MethodPost, "/agents", write, s.createAgent)
	route(fiber.MethodGet, "/agents", read, s.listAgents)
	route(fiber.MethodGet, "/agents/:id", read, s.getAgent)
	route(fiber.MethodPatch, "/agents/:id", write, s.updateAgent)
	route(fiber.MethodDelete, "/agents/:id", write, s.deleteAgent)
	route(fiber.MethodGet, "/personas", read, s.personas)
	route(fiber.MethodGet, "/catalog", read, s.catalog)
	route(fiber.MethodPost, "/agents/:id/chat", write, s.chat)
	route(fiber.MethodGet, "/agents/:id/usage", read, s.agentUsage)
	route(fiber.MethodPost, "/agents/:id/tasks", write, s.createTask)
	route(fiber.MethodGet, "/tasks/:id", read, s.getTask)
	route(fiber.MethodPost, "/tasks/:id/pause", write, s.taskAction("pause"))
	route(fiber.MethodPost, "/tasks/:id/resume", write, s.taskAction("resume"))
	route(fiber.MethodPost, "/tasks/:id/cancel", write, s.taskAction("cancel"))
	route(fiber.MethodGet, "/chats/:id", read, s.getChat)
	route(fiber.MethodGet, "/chats/:id/replay", read, s.replayChat)

	route(fiber.MethodPost, "/circles", write, s.createCircle)
	route(fiber.MethodGet, "/circles", read, s.listCircles)
	route(fiber.MethodGet, "/circles/:name", read, s.getCircle)
	route(fiber.MethodPost, "/circles/:name/members", write, s.addCircleMember)
	route(fiber.MethodDelete, "/circles/:name/members/:agent", write, s.removeCircleMember)
	route(fiber.MethodPost, "/circles/:name/start", write, s.circleAction("start"))
	route(fiber.MethodPost, "/circles/:name/stop", write, s.circleAction("stop"))
	route(fiber.MethodPost, "/circles/:name/archive", write, s.circleAction("archive"))
	route(fiber.MethodGet, "/circles/:name/conversations", read, s.circleConversations())
	route(fiber.MethodPost, "/circles/:name/tasks", write, s.createCircleTask)
	route(fiber.MethodGet, "/circles/:name/tasks", read, s.listCircleTasks)
	route(fiber.MethodGet, "/circles/:name/tasks/:task", read, s.getCircleTask)
	for _, step := range []string{"route", "claim", "refuse", "submit", "review", "cancel"} {
		route(fiber.MethodPost, "/circles/:name/tasks/:task/"+step, write, s.circleTaskStep(step))
	}
	route(fiber.MethodPost, "/circles/:name/tasks/:task/files", write, s.claimTaskFile)
	route(fiber.MethodDelete, "/circles/:name/tasks/:task/files", write, s.releaseTaskFile)
	route(fiber.MethodGet, "/circles/:name/escalations", read, s.circleEscalations())
	route(fiber.MethodGet, "/circles/:name/conflicts", read, s.circleConflicts())

	route(fiber.MethodPost, "/projects", write, s.createProject)
	route(fiber.MethodGet, "/projects", read, s.listProjects)
	route(fiber.MethodGet, "/projects/:id", read, s.getProject)
	route(fiber.MethodPatch, "/projects/:id", write, s.updateProject)
	route(fiber.MethodPost, "/projects/:id/archive", write, s.archiveProject)
	route(fiber.MethodGet, "/projects/:id/circles", read, s.listProjectCircles)
	route(fiber.MethodPost, "/projects/:id/circles", write, s.linkProjectCircle)
	route(fiber.MethodDelete, "/projects/:id/circles/:name", write, s.unlinkProjectCircle)
	route(fiber.MethodGet, "/projects/:id/tasks", read, s.projectTasks)

	route(fiber.MethodPost, "/conversations", write, s.startConversation)
	route(fiber.MethodGet, "/conversations", read, s.listConversations)
	route(fiber.MethodGet, "/conversations/:id", read, s.getConversation)
	route(fiber.MethodPost, "/conversations/:id/messages", write, s.postToConversation)
	route(fiber.MethodPost, "/conversations/:id/stop", write, s.stopConversation)

	route(fiber.MethodPost, "/memory", write, s.remember)
	route(fiber.MethodPost, "/memory/search", read, s.recall(nil))
	route(fiber.MethodGet, "/memory/stats", read, s.memoryStats)
	route(fiber.MethodGet, "/memory/:id", read, s.getMemory)
	route(fiber.MethodDelete, "/memory/:id", write, s.forget)
	route(fiber.MethodPost, "/knowledge", write, s.addKnowledge)
	route(fiber.MethodGet, "/knowledge", read, s.listKnowledge)
	route(fiber.MethodPost, "/knowledge/search", read, s.recall([]string{memory.KindKnowledge}))
	route(fiber.MethodDelete, "/knowledge/:id", write, s.removeKnowledge)

	route(fiber.MethodPost, "/pipelines", write, s.createPipeline)
	route(fiber.MethodGet, "/pipelines", read, s.listPipelines)
	route(fiber.MethodGet, "/pipelines/node-types", read, s.nodeTypes)
	route(fiber.MethodPost, "/pipelines/validate", read, s.validatePipeline)
	route(fiber.MethodGet, "/pipelines/:id", read, s.getPipeline)
	route(fiber.MethodPut, "/pipelines/:id", write, s.updatePipeline)
	route(fiber.MethodDelete, "/pipelines/:id", write, s.deletePipeline)
	route(fiber.MethodPost, "/pipelines/:id/validate", read, s.validatePipeline)
	route(fiber.MethodPost, "/pipelines/:id/runs", write, s.startPipelineRun)
	route(fiber.MethodGet, "/pipelines/:id/runs", read, s.listPipelineRuns)
	route(fiber.MethodGet, "/pipelines/:id/runs/:run", read, s.getPipelineRun)
	route(fiber.MethodPost, "/pipelines/:id/runs/:run/cancel", write, s.cancelPipelineRun)

	route(fiber.MethodPost, "/schedules", write, s.createSchedule)
	route(fiber.MethodGet, "/schedules", read, s.listSchedules)
	route(fiber.MethodGet, "/schedules/calendar", read, s.scheduleCalendar)
	route(fiber.MethodGet, "/schedules/:id", read, s.getSchedule)
	route(fiber.MethodPut, "/schedules/:id", write, s.updateSchedule)
	route(fiber.MethodDelete, "/schedules/:id", write, s.scheduleAction("delete"))
	route(fiber.MethodPost, "/schedules/:id/pause", write, s.scheduleAction("pause"))
	route(fiber.MethodPost, "/schedules/:id/resume", write, s.scheduleAction("resume"))
	route(fiber.MethodPost, "/schedules/:id/trigger", write, s.triggerSchedule)
	route(fiber.MethodGet, "/schedules/:id/runs", read, s.listScheduleRuns)
	route(fiber.MethodGet, "/schedules/:id/runs/:run", read, s.getScheduleRun)
	route(fiber.MethodGet, "/schedules/:id/upcoming", read, s.scheduleUpcoming)

	route(fiber.MethodGet, "/workspace/:id/tree", read, s.workspaceTree)
	route(fiber.MethodGet, "/workspace/:id/file", read, s.readFile)
	route(fiber.MethodGet, "/workspace/:id/raw", read, s.downloadFile)
	route(fiber.MethodPut, "/workspace/:id/file", write, s.writeFile)
	route(fiber.MethodDelete, "/workspace/:id/file", write, s.deleteFile)
	route(fiber.MethodPost, "/workspace/:id/dir", write, s.makeDir)
	route(fiber.MethodPost, "/workspace/:id/move", write, s.moveFile)
	route(fiber.MethodGet, "/workspace/:id/search", read, s.searchFiles)
	route(fiber.MethodPost, "/workspace/:id/uploads", write, s.startUpload)
	route(fiber.MethodPut, "/workspace/:id/uploads/:upload", write, s.uploadChunk)
	route(fiber.MethodPost, "/workspace/:id/uploads/:upload/complete", write, s.completeUpload)
	route(fiber.MethodDelete, "/workspace/:id/uploads/:upload", write, s.abortUpload)
	route(fiber.MethodGet, "/workspace/:id/git/status", read, s.gitStatus)
	route(fiber.MethodGet, "/workspace/:id/git/diff", read, s.gitDiff)
	route(fiber.MethodGet, "/workspace/:id/git/log", read, s.gitLog)
	route(fiber.MethodGet, "/workspace/:id/git/branches", read, s.gitBranches)
	for _, action := range []string{"init", "stage", "unstage", "commit", "checkout"} {
		route(fiber.MethodPost, "/workspace/:id/git/"+action, write, s.gitAction(action))
	}

	route(fiber.MethodGet, "/users", admin(ratelimit.Read), s.listUsers)
	route(fiber.MethodPost, "/users", admin(ratelimit.Write), s.adminCreateUser)
	route(fiber.MethodPost, "/users/:id/deactivate", write, s.deactivateUser)
	route(fiber.MethodPost, "/users/:id/role", admin(ratelimit.Write), s.changeRole)
	route(fiber.MethodGet, "/audit", admin(ratelimit.Read), s.audit)
	route(fiber.MethodGet, "/admin/projections", admin(ratelimit.Read), s.projectionStatus)
	route(fiber.MethodGet, "/events", admin(ratelimit.Read), s.listEvents)
	route(fiber.MethodGet, "/admin/audit/verify", admin(ratelimit.Read), s.verifyAudit)

	route(fiber.MethodGet, "/ws/agents/:id", append(read, s.upgradeOnly), s.agentFeed())
	route(fiber.MethodGet, "/ws/circles/:name", append(read, s.upgradeOnly), s.circleFeed())
	route(fiber.MethodGet, "/ws/pipelines/:id", append(read, s.upgradeOnly), s.pipelineFeed())
	route(fiber.MethodGet, "/ws/schedules/:id", append(read, s.upgradeOnly), s.scheduleFeed())
	route(fiber.MethodGet, "/ws/workspace/:id", append(read, s.upgradeOnly), s.workspaceFeed())
	route(fiber.MethodGet, "/ws/terminal/:id", append(write, s.upgradeOnly), s.terminalFeed())
	route(fiber.MethodGet, "/ws", append(read, s.upgradeOnly), s.generalFeed())

	if d.Dashboard != nil {
		s.app.Use("/", filesystem.New(filesystem.Config{Root: httpFS(d.Dashboard), Index: "index.html"}))
	}
	return s
}

// App exposes the Fiber app, for tests that call it in memory.
func (s *Server) App() *fiber.App { return s.app }

// MarkReady turns readiness on once every dependency is running.
func (s *Server) MarkReady() { s.state.Store(int32(stateReady)) }

// Serve answers on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Drain turns readiness off and makes new requests fail with 503, so that a load balancer
// stops sending traffic before the listener closes.
func (s *Server) Drain() { s.state.Store(int32(stateDraining)) }

// Shutdown stops accepting connections and waits for in-flight requests, up to ctx's deadline.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Drain()
	err := s.app.ShutdownWithContext(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("shutdown: in-flight requests did not finish in time")
	}
	return err
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestContext gives every request an id (the caller's X-Request-ID if it is sane), echoes it,
// and logs the request with it once it is done.
func (s *Server) requestContext(c *fiber.Ctx) error {
	start := time.Now()
	id := c.Get(fiber.HeaderXRequestID)
	if !requestIDPattern.MatchString(id) {
		id = uuid.NewString()
	}
	c.Set(fiber.HeaderXRequestID, id)
	c.Locals(localRequestID, id)
	l := s.deps.Logger.With().Str("request_id", id).Logger()
	c.Locals(localLogger, &l)
	err := c.Next()
	if err != nil {
		// Let the error handler write the response before logging its status.
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	// Probes are polled constantly, and a 503 while draining or starting is the server doing its
	// job: neither deserves an error line.
	lvl := zerolog.InfoLevel
	switch status := c.Response().StatusCode(); {
	case c.Path() == "/health/live" || c.Path() == "/health/ready":
		lvl = zerolog.DebugLevel
	case status == fiber.StatusServiceUnavailable:
		lvl = zerolog.WarnLevel
	case status >= 500:
		lvl = zerolog.ErrorLevel
	}
	l.WithLevel(lvl).Str("method", c.Method()).Str("path", c.Path()).Int("status", c.Response().StatusCode()).
		Dur("duration", time.Since(start)).Str("ip", c.IP()).Msg("request")
	return nil
}

func (s *Server) refuseWhileDraining(c *fiber.Ctx) error {
	if state(s.state.Load()) == stateDraining && c.Path() != "/health/live" && c.Path() != "/health/ready" {
		c.Set(fiber.HeaderConnection, "close")
		c.Set(fiber.HeaderRetryAfter, "1")
		return writeError(c, errDraining)
	}
	return c.Next()
}

// clientKey is who a rate limit counts: the user once authenticated, else the address.
func clientKey(c *fiber.Ctx) string {
	if p, ok := principal(c); ok {
		return "user:" + p.UserID
	}
	return "ip:" + c.IP()
}

const (
	localRequestID = "request_id"
	localLogger    = "logger"
)

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

func logger(c *fiber.Ctx) *zerolog.Logger {
	if l, ok := c.Locals(localLogger).(*zerolog.Logger); ok {
		return l
	}
	nop := zerolog.Nop()
	return &nop
}
