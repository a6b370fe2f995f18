package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gathering/gathering/app"
	"github.com/gathering/gathering/auth"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/projections"
	"github.com/gathering/gathering/ratelimit"
	"github.com/gathering/gathering/tools"
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
	if cfg.SecretGenerated {
		secret, err := developmentSecret(cfg.DataDir)
		if err != nil {
			log.Warn().Err(err).Msg("JWT_SECRET is not set and no secret could be kept in the data directory: tokens end with this process")
		} else {
			cfg.JWTSecret = secret
			log.Warn().Msg("JWT_SECRET is not set: using a development secret kept in the data directory")
		}
	}
	var limits ratelimit.Store
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		client := redis.NewClient(opts)
		defer client.Close()
		limits = ratelimit.NewRedis(client, "gathering:ratelimit")
		log.Info().Str("redis", opts.Addr).Msg("rate limits shared through Redis")
	}
	a, err := app.Start(ctx, db.DB, ln, app.Options{Logger: log, ReadYourWrites: cfg.ReadYourWrites, Version: version,
		Secret: cfg.JWTSecret, AllowRegistration: cfg.AllowRegistration, Limits: limits, CORSOrigins: cfg.CORSOrigins,
		Admin: app.AdminBootstrap{Email: cfg.AdminEmail, Password: cfg.AdminPassword, PasswordHash: cfg.AdminPasswordHash},
		LLM: llm.Config{OpenAIKey: cfg.OpenAIKey, OpenAIBaseURL: cfg.OpenAIBaseURL, AnthropicKey: cfg.AnthropicKey,
			AnthropicBaseURL: cfg.AnthropicBaseURL, OllamaBaseURL: cfg.OllamaBaseURL, Timeout: cfg.LLMTimeout, MaxRetries: cfg.LLMMaxRetries},
		Embedder:    cfg.Embedder,
		Tools:       tools.Options{AllowPrivateNetworks: cfg.ToolsAllowPrivateNetworks},
		ChatTimeout: cfg.ChatTimeout, WorkspacesDir: workspacesDir(cfg), CodeNetwork: cfg.CodeNetwork})
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

// developmentSecret keeps a random signing secret in the data directory, so that in development
// a restart does not log everyone out. Production must set JWT_SECRET.
func developmentSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, "jwt-secret")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	secret := auth.RandomSecret()
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, err
	}
	return secret, nil
}

// workspacesDir is where projects' workspaces live: WORKSPACES_DIR, or <data dir>/workspaces.
func workspacesDir(cfg config) string {
	dir := cfg.WorkspacesDir
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "workspaces")
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return dir
}
