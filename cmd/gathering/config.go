package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/gathering/gathering/auth"
)

// config is read from the environment; every variable has a default that works on a laptop.
type config struct {
	DatabaseURL     string
	DataDir         string
	WorkspacesDir   string
	CodeNetwork     bool
	EmbeddedPGPort  int
	Host            string
	Port            int
	Env             string
	LogLevel        string
	LogFormat       string
	DBMaxConns      int32
	DrainDelay      time.Duration
	ShutdownTimeout time.Duration
	ReadYourWrites  time.Duration
	JWTSecret       []byte
	// SecretGenerated is true when no JWT_SECRET was set (development only).
	SecretGenerated   bool
	AdminEmail        string
	AdminPassword     string
	AdminPasswordHash string
	AllowRegistration bool
	CORSOrigins       []string
	RedisURL          string
	// Model providers: keys are only ever passed to the SDKs, never logged or returned.
	OpenAIKey, OpenAIBaseURL       string
	AnthropicKey, AnthropicBaseURL string
	OllamaBaseURL                  string
	LLMTimeout                     time.Duration
	LLMMaxRetries                  int
	// Embedder is the memory's embedding model, e.g. offline, openai:text-embedding-3-small.
	Embedder                  string
	ToolsAllowPrivateNetworks bool
	ChatTimeout               time.Duration
}

func loadConfig() (config, error) {
	c := config{
		DatabaseURL:     os.Getenv("DATABASE_URL"),
		DataDir:         env("GATHERING_DATA_DIR", ".gathering"),
		WorkspacesDir:   os.Getenv("WORKSPACES_DIR"),
		CodeNetwork:     os.Getenv("CODE_NETWORK") == "true",
		Host:            env("API_HOST", "127.0.0.1"),
		Env:             env("GATHERING_ENV", "development"),
		LogLevel:        env("LOG_LEVEL", "info"),
		LogFormat:       env("LOG_FORMAT", "json"),
		DrainDelay:      0,
		ShutdownTimeout: 20 * time.Second,
		ReadYourWrites:  5 * time.Second,
	}
	var err error
	if c.Port, err = envInt("API_PORT", 8000); err != nil {
		return c, err
	}
	if c.EmbeddedPGPort, err = envInt("EMBEDDED_PG_PORT", 54329); err != nil {
		return c, err
	}
	conns, err := envInt("DB_MAX_CONNS", 20)
	if err != nil {
		return c, err
	}
	c.DBMaxConns = int32(conns)
	if c.DrainDelay, err = envDuration("DRAIN_DELAY", c.DrainDelay); err != nil {
		return c, err
	}
	if c.ShutdownTimeout, err = envDuration("SHUTDOWN_TIMEOUT", c.ShutdownTimeout); err != nil {
		return c, err
	}
	if c.ReadYourWrites, err = envDuration("READ_YOUR_WRITES_TIMEOUT", c.ReadYourWrites); err != nil {
		return c, err
	}
	if c.Env != "development" && c.Env != "production" {
		return c, fmt.Errorf("GATHERING_ENV must be development or production, not %q", c.Env)
	}
	c.AdminEmail = os.Getenv("ADMIN_EMAIL")
	c.AdminPassword = os.Getenv("ADMIN_PASSWORD")
	c.AdminPasswordHash = os.Getenv("ADMIN_PASSWORD_HASH")
	c.RedisURL = os.Getenv("REDIS_URL")
	for _, o := range strings.Split(os.Getenv("CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			if o == "*" {
				return c, fmt.Errorf("CORS_ORIGINS must list origins explicitly, not *")
			}
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	// Open self-registration is a development convenience; production opts in explicitly.
	c.AllowRegistration = c.Env == "development"
	if v := os.Getenv("ALLOW_REGISTRATION"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("ALLOW_REGISTRATION must be true or false, not %q", v)
		}
		c.AllowRegistration = b
	}
	if c.AdminEmail != "" && c.AdminPassword == "" && c.AdminPasswordHash == "" {
		return c, fmt.Errorf("ADMIN_EMAIL needs ADMIN_PASSWORD or ADMIN_PASSWORD_HASH")
	}
	c.OpenAIKey, c.OpenAIBaseURL = os.Getenv("OPENAI_API_KEY"), os.Getenv("OPENAI_BASE_URL")
	c.AnthropicKey, c.AnthropicBaseURL = os.Getenv("ANTHROPIC_API_KEY"), os.Getenv("ANTHROPIC_BASE_URL")
	c.OllamaBaseURL = os.Getenv("OLLAMA_BASE_URL")
	c.Embedder = env("MEMORY_EMBEDDER", "offline")
	if c.LLMTimeout, err = envDuration("LLM_TIMEOUT", 60*time.Second); err != nil {
		return c, err
	}
	if c.LLMMaxRetries, err = envInt("LLM_MAX_RETRIES", 2); err != nil {
		return c, err
	}
	if c.ChatTimeout, err = envDuration("CHAT_TIMEOUT", 2*time.Minute); err != nil {
		return c, err
	}
	if v := os.Getenv("TOOLS_ALLOW_PRIVATE_NETWORKS"); v != "" {
		if c.ToolsAllowPrivateNetworks, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("TOOLS_ALLOW_PRIVATE_NETWORKS must be true or false, not %q", v)
		}
	}
	c.JWTSecret = []byte(os.Getenv("JWT_SECRET"))
	if len(c.JWTSecret) == 0 && c.Env == "development" {
		c.JWTSecret, c.SecretGenerated = auth.RandomSecret(), true
	}
	if c.Env == "production" || !c.SecretGenerated {
		if err := auth.CheckSecret(c.JWTSecret); err != nil {
			return c, err
		}
	}
	if _, err := zerolog.ParseLevel(c.LogLevel); err != nil {
		return c, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	return c, nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a non-negative whole number, not %q", name, v)
	}
	return n, nil
}

func envDuration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s must be a duration such as 5s, not %q", name, v)
	}
	return d, nil
}

func newLogger(c config) zerolog.Logger {
	lvl, _ := zerolog.ParseLevel(c.LogLevel)
	zerolog.TimeFieldFormat = time.RFC3339Nano
	var l zerolog.Logger
	if c.LogFormat == "console" {
		l = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr})
	} else {
		l = zerolog.New(os.Stderr)
	}
	return l.Level(lvl).With().Timestamp().Str("service", "gathering").Logger()
}
