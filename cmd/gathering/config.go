package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/rs/zerolog"
)

// config is read from the environment; every variable has a default that works on a laptop.
type config struct {
	DatabaseURL     string
	DataDir         string
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
}

func loadConfig() (config, error) {
	c := config{
		DatabaseURL:     os.Getenv("DATABASE_URL"),
		DataDir:         env("GATHERING_DATA_DIR", ".gathering"),
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
