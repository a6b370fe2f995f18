// Package app wires GatheRing's parts into one running instance: the command bus, the
// projections, the live feed and the HTTP server, on a database that is already migrated. The
// `serve` command and the end-to-end tests and benchmarks all start it the same way.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/auth"
	"github.com/gathering/gathering/chat"
	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/conversations"
	"github.com/gathering/gathering/dashboard"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/httpapi"
	"github.com/gathering/gathering/jobs"
	"github.com/gathering/gathering/livefeed"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/memory"
	"github.com/gathering/gathering/pipeline"
	"github.com/gathering/gathering/pipeline/executor"
	"github.com/gathering/gathering/projections"
	"github.com/gathering/gathering/ratelimit"
	"github.com/gathering/gathering/sandbox"
	"github.com/gathering/gathering/scheduler/engine"
	"github.com/gathering/gathering/tasks"
	"github.com/gathering/gathering/tools"
)

// Projections are the read models this build maintains.
func Projections() []projections.Projection {
	return []projections.Projection{projections.NewAgents(domain.Events), projections.NewUsers(domain.Events),
		projections.NewAudit(domain.Events), projections.NewChats(domain.Events), projections.NewCircles(domain.Events),
		projections.NewProjects(domain.Events), projections.NewCircleTasks(domain.Events), projections.NewConversations(domain.Events),
		projections.NewMemory(domain.Events), projections.NewPipelines(domain.Events), projections.NewSchedules(domain.Events)}
}

// Options tune an instance.
type Options struct {
	Logger         zerolog.Logger
	ReadYourWrites time.Duration
	Version        string
	// ClientBuffer is each live-feed client's buffer; a client that falls this far behind is
	// dropped (default 256).
	ClientBuffer int
	// Secret signs access tokens (HS256); at least 32 bytes.
	Secret []byte
	// AllowRegistration opens self-registration.
	AllowRegistration bool
	// Admin, when its Email is set, is created at start unless an account with that email exists.
	Admin AdminBootstrap
	// Limits is the rate-limit store (default: in memory, per instance).
	Limits      ratelimit.Store
	CORSOrigins []string
	// LLM configures the model providers (keys, base URLs); offline always works.
	LLM llm.Config
	// Tools configures the built-in tools (for example whether http_get may reach private
	// networks).
	Tools tools.Options
	// ChatTimeout bounds how long a chat request waits for its reply.
	ChatTimeout time.Duration
	// WorkspacesDir holds the projects' workspaces (one directory each); empty disables them.
	WorkspacesDir string
	// TerminalIdle closes a workspace terminal left without input (default 15 minutes).
	TerminalIdle time.Duration
	// CodeNetwork lets code run by agents' run_code and shell skills reach the network.
	CodeNetwork bool
	// Dashboard, when set, replaces the console embedded in the binary (the end-to-end tests
	// serve a fresh build of its sources).
	Dashboard fs.FS
	// SchedulerEvery is how often the scheduler looks for due schedules (default 1 s).
	SchedulerEvery time.Duration
	// Embedder names the embedding model of memory and knowledge (llm.NewEmbedder's spec:
	// "offline" by default, "openai:text-embedding-3-small", "ollama:nomic-embed-text:768").
	Embedder string
}

// AdminBootstrap is the first administrator, from configuration: a password or a bcrypt hash.
type AdminBootstrap struct {
	Email        string
	Password     string
	PasswordHash string
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
	Sessions  *auth.Sessions
	Jobs      *jobs.Client
	Announcer *eventlog.Announcer
	Repo      *commands.Repository
	Users     *projections.UserQueries
	Waiter    *projections.Waiter
	// Pipelines executes pipeline runs; its breakers are this instance's.
	Pipelines *executor.Executor
	// Ticker fires due schedules; Processes runs the process managers (event schedules).
	Ticker    *engine.Ticker
	Processes *projections.Runner
}

// bootstrapAdmin creates the configured administrator once; an existing account with that
// email is left as it is (its password is never reset from configuration).
func (a *App) bootstrapAdmin(ctx context.Context, b AdminBootstrap) error {
	if _, err := a.Users.ByEmail(ctx, b.Email); err == nil {
		return nil
	} else if domain.ErrorCode(err) != domain.CodeNotFound {
		return err
	}
	hash := b.PasswordHash
	if hash == "" {
		var v domain.Validation
		domain.ValidatePassword(&v, "ADMIN_PASSWORD", b.Password, b.Email)
		if err := v.Err(); err != nil {
			return err
		}
		var err error
		if hash, err = auth.HashPassword(b.Password); err != nil {
			return err
		}
	} else if err := auth.ValidHash(hash); err != nil {
		return fmt.Errorf("ADMIN_PASSWORD_HASH: %w", err)
	}
	res, err := a.Bus.Send(ctx, &commands.RegisterUser{Envelope: commands.NewEnvelope(domain.System, ""),
		UserID: uuid.NewString(), Email: b.Email, Role: domain.RoleAdmin, PasswordHash: hash, Via: "bootstrap"})
	if errors.Is(err, commands.ErrEmailTaken) || domain.ErrorCode(err) == domain.CodeConflict {
		return nil
	}
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	a.log.Info().Str("email", b.Email).Msg("administrator account created")
	return a.Waiter.WaitFor(wctx, "users", res.Cursor())
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
	a.Announcer = eventlog.NewAnnouncer(db.SQL, a.Notifier)
	repo := commands.NewRepository(a.Store, domain.Events, a.Announcer)
	commands.RegisterAgents(a.Bus, repo)
	commands.RegisterUsers(a.Bus, repo)
	workers := river.NewWorkers()
	models, toolbox := llm.NewRegistry(o.LLM), tools.Default(o.Tools)
	// Agents' skills act in their own workspaces; code runs in the sandbox where this process
	// can isolate it (root, util-linux), and run_code and shell are left out elsewhere.
	var box *sandbox.Sandbox
	if len(sandbox.Available()) > 0 {
		box = sandbox.New(sandbox.Config{})
	}
	if err := tools.RegisterSkills(toolbox, tools.SkillOptions{WorkspacesDir: o.WorkspacesDir, Sandbox: box, CodeNetwork: o.CodeNetwork,
		HTTP: tools.GuardedClient(15*time.Second, o.Tools.AllowPrivateNetworks)}); err != nil {
		return fail(fmt.Errorf("skills: %w", err))
	}
	cost := func(provider, model string, u llm.Usage) float64 { usd, _ := llm.Cost(provider, model, u); return usd }
	embedder, err := llm.NewEmbedder(o.Embedder, o.LLM)
	if err != nil {
		return fail(fmt.Errorf("memory embedder: %w", err))
	}
	embeddings, err := memory.NewEmbeddings(db.SQL, embedder, 20000)
	if err != nil {
		return fail(err)
	}
	searcher, err := memory.NewSearcher(ctx, db.SQL, o.Logger.With().Str("component", "memory").Logger())
	if err != nil {
		return fail(fmt.Errorf("memory search: %w", err))
	}
	if searcher.Path() == "pgvector" {
		// The HNSW index is per dimension: the configured model's must exist before recall.
		if err := memory.EnsureIndex(ctx, db.SQL, embeddings.Dimension()); err != nil {
			return fail(fmt.Errorf("memory index: %w", err))
		}
	}
	recall := &memory.ContextBuilder{Search: searcher, Embeddings: embeddings}
	river.AddWorker(workers, &chat.Worker{Repo: repo, Bus: a.Bus, DB: db.SQL, Models: models, Tools: toolbox, Cost: cost,
		Log: o.Logger.With().Str("component", "chat").Logger(), Recall: recall.For})
	river.AddWorker(workers, &conversations.Worker{Repo: repo, Bus: a.Bus, DB: db.SQL, Models: models,
		Log: o.Logger.With().Str("component", "conversations").Logger(), Recall: recall.For})
	river.AddWorker(workers, &tasks.Worker{Repo: repo, Bus: a.Bus, Models: models, Tools: toolbox, Cost: cost,
		Log: o.Logger.With().Str("component", "tasks").Logger()})
	river.AddWorker(workers, &memory.EmbedWorker{Repo: repo, Bus: a.Bus, Embeddings: embeddings})
	// Pipeline actions reach URLs their authors chose: the same private-address guard as the
	// http_get tool, under the same setting.
	a.Pipelines = &executor.Executor{Repo: repo, Bus: a.Bus, DB: db.SQL, Models: models,
		HTTP: tools.GuardedClient(30*time.Second, o.Tools.AllowPrivateNetworks), Breakers: pipeline.NewBreakers(nil),
		Log: o.Logger.With().Str("component", "pipelines").Logger()}
	a.Pipelines.Workers(workers)
	(&engine.Runner{Repo: repo, Bus: a.Bus, HTTP: tools.GuardedClient(30*time.Second, o.Tools.AllowPrivateNetworks),
		Log: o.Logger.With().Str("component", "scheduler").Logger()}).Workers(workers)
	if a.Jobs, err = jobs.New(db, workers, jobs.Options{}); err != nil {
		return fail(err)
	}
	commands.RegisterChats(a.Bus, repo, a.Jobs)
	commands.RegisterTasks(a.Bus, repo, a.Jobs)
	commands.RegisterCircles(a.Bus, repo)
	commands.RegisterProjects(a.Bus, repo)
	commands.RegisterConversations(a.Bus, repo, a.Jobs)
	commands.RegisterCircleTasks(a.Bus, repo)
	commands.RegisterMemories(a.Bus, repo, a.Jobs)
	commands.RegisterPipelines(a.Bus, repo, a.Jobs)
	commands.RegisterSchedules(a.Bus, repo, a.Jobs)
	commands.RegisterWorkspaces(a.Bus, repo)
	a.Repo = repo
	if err := a.Bus.Run(context.Background()); err != nil {
		return fail(err)
	}
	if err := a.Jobs.Start(context.Background()); err != nil {
		return fail(fmt.Errorf("jobs: %w", err))
	}
	// After a change of embedding model, what the new model has not embedded is queued again.
	if n, err := memory.ScheduleReembedding(ctx, db.SQL, a.Jobs, embeddings.Model()); err != nil {
		return fail(fmt.Errorf("memory re-embedding: %w", err))
	} else if n > 0 {
		o.Logger.Info().Int("items", n).Str("model", embeddings.Model()).Msg("memory: re-embedding items with the current model")
	}
	if a.Runner, err = projections.NewRunner(a.Store, a.Notifier, o.Logger.With().Str("component", "projections").Logger(), Projections()...); err != nil {
		return fail(err)
	}
	if err := a.Runner.Run(context.Background()); err != nil {
		return fail(err)
	}
	if a.Processes, err = projections.NewRunner(a.Store, a.Notifier, o.Logger.With().Str("component", "processes").Logger(),
		engine.NewEventTriggers(domain.Events, a.Jobs)); err != nil {
		return fail(err)
	}
	if err := a.Processes.Run(context.Background()); err != nil {
		return fail(err)
	}
	a.Ticker = &engine.Ticker{DB: db.SQL, Repo: repo, Bus: a.Bus, Schedules: projections.NewScheduleQueries(db.SQL),
		Every: o.SchedulerEvery, Log: o.Logger.With().Str("component", "scheduler").Logger()}
	a.Ticker.Start()
	a.Hub = livefeed.NewHub(a.Store, db.SQL, a.Notifier, livefeed.Options{ClientBuffer: o.ClientBuffer,
		Logger: o.Logger.With().Str("component", "livefeed").Logger()})
	if err := a.Hub.Run(context.Background()); err != nil {
		return fail(err)
	}
	if len(o.Secret) == 0 {
		return fail(errors.New("app: no token signing secret"))
	}
	if o.Limits == nil {
		o.Limits = ratelimit.NewMemory(100000)
	}
	a.Sessions = auth.NewSessions(db.SQL, 10000)
	a.Users = projections.NewUserQueries(db.SQL)
	a.Waiter = projections.NewWaiter(db.SQL, a.Notifier)
	if o.Admin.Email != "" {
		if err := a.bootstrapAdmin(ctx, o.Admin); err != nil {
			return fail(fmt.Errorf("bootstrap admin: %w", err))
		}
	}
	a.Server = httpapi.New(httpapi.Deps{
		DB: db, Store: a.Store, Bus: a.Bus, Agents: projections.NewAgentQueries(db.SQL), Users: a.Users,
		Chats: projections.NewChatQueries(db.SQL), ChatTimeout: o.ChatTimeout, Repo: repo,
		Circles: projections.NewCircleQueries(db.SQL), Projects: projections.NewProjectQueries(db.SQL),
		Tools: toolbox, WorkspacesDir: o.WorkspacesDir, TerminalIdle: o.TerminalIdle, Pipelines: projections.NewPipelineQueries(db.SQL), Schedules: projections.NewScheduleQueries(db.SQL),
		CircleTasks: projections.NewCircleTaskQueries(db.SQL), Conversations: projections.NewConversationQueries(db.SQL),
		MemorySearch: searcher, Embeddings: embeddings, MemoryItems: memory.NewItems(db.SQL),
		Tokens: auth.NewTokens(o.Secret), Sessions: a.Sessions, Limits: o.Limits, AllowRegistration: o.AllowRegistration,
		CORSOrigins: o.CORSOrigins,
		Waiter:      a.Waiter, Hub: a.Hub, Logger: o.Logger, Dashboard: dashboardFiles(o.Dashboard),
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

func dashboardFiles(override fs.FS) fs.FS {
	if override != nil {
		return override
	}
	return dashboard.Files()
}

// IdempotencyKeyTTL is how long a stored response answers a retried request.
const IdempotencyKeyTTL = 24 * time.Hour

// purgeIdempotencyKeys forgets stored responses older than IdempotencyKeyTTL and tokens that
// expired anyway, hourly; several instances doing it at once is harmless.
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
		if n, err := a.Sessions.Purge(context.Background()); err != nil {
			a.log.Warn().Err(err).Msg("purging expired tokens")
		} else if n > 0 {
			a.log.Info().Int64("purged", n).Msg("expired tokens purged")
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
	// The scheduler takes no more due times; running jobs finish (they record through the bus,
	// which stops after them); a job cut short by the deadline is handed back to River and run
	// again by another instance or this one after a restart.
	a.stopTicker()
	errs = append(errs, a.stopJobs(ctx))
	errs = append(errs, a.stopParts())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func (a *App) stopJobs(ctx context.Context) error {
	if a.Jobs == nil {
		return nil
	}
	err := a.Jobs.Stop(ctx)
	if err != nil {
		// Jobs still running at the deadline are cancelled rather than left running against a
		// pool about to close; River runs them again (here after a restart, or elsewhere).
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(err, a.Jobs.StopAndCancel(cctx))
	}
	a.Jobs = nil
	return err
}

func (a *App) stopTicker() {
	if a.Ticker != nil {
		a.Ticker.Stop()
		a.Ticker = nil
	}
}

func (a *App) stopParts() error {
	a.stopTicker()
	_ = a.stopJobs(context.Background())
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
	if a.Processes != nil {
		errs = append(errs, a.Processes.Close())
	}
	if a.Announcer != nil {
		a.Announcer.Close()
	}
	if a.Notifier != nil {
		a.Notifier.Close()
	}
	return errors.Join(errs...)
}
