package eventlog

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// DB is the one connection pool of a process, seen both as pgx (for LISTEN and health checks)
// and as database/sql (for watermill-sql and the sqlc queries, which must share transactions).
type DB struct {
	Pool *pgxpool.Pool
	SQL  *sql.DB
	DSN  string
}

// Connect opens the pool and checks that the server answers.
func Connect(ctx context.Context, dsn string, maxConns int32) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s: %w", cfg.ConnConfig.Host, err)
	}
	return &DB{Pool: pool, SQL: stdlib.OpenDBFromPool(pool), DSN: dsn}, nil
}

// Close closes the database/sql handle, then the pool.
func (d *DB) Close() {
	_ = d.SQL.Close()
	d.Pool.Close()
}
