// Package testdb gives each test package a fresh, migrated PostgreSQL database on a real server.
// The server is TEST_DATABASE_URL, or the local one on 127.0.0.1:5432 that scripts/ensure-postgres.sh
// makes sure of; nothing is mocked.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gathering/gathering/eventlog"
	"github.com/gathering/gathering/jobs"
	"github.com/gathering/gathering/sql/migrations"
)

// ServerURL is the admin connection used to create and drop test databases.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// New creates an empty database, applies every migration and drops it when the test ends.
func New(t testing.TB) *eventlog.DB {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatalf("testdb: cannot reach PostgreSQL at %s (run scripts/ensure-postgres.sh): %v", ServerURL(), err)
	}
	defer admin.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "gathering_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testdb: create database: %v", err)
	}
	dsn := WithDatabase(ServerURL(), name)
	db, err := eventlog.Connect(ctx, dsn, 20)
	if err != nil {
		t.Fatalf("testdb: connect: %v", err)
	}
	if _, err := migrations.Up(ctx, db.SQL); err != nil {
		t.Fatalf("testdb: migrate: %v", err)
	}
	if err := jobs.Migrate(ctx, db); err != nil {
		t.Fatalf("testdb: migrate jobs: %v", err)
	}
	t.Cleanup(func() {
		db.Close()
		admin, err := pgx.Connect(context.Background(), ServerURL())
		if err != nil {
			return
		}
		defer admin.Close(context.Background())
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return db
}

// WithDatabase returns dsn pointing at database name.
func WithDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Path = "/" + strings.TrimPrefix(name, "/")
	return u.String()
}
