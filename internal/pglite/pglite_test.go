package pglite_test

import (
	"context"
	"testing"

	"github.com/pgvector/pgvector-go"

	"github.com/gathering/gathering/internal/pglite"
)

func TestServerSpeaksPostgresWithPgvector(t *testing.T) {
	s := pglite.StartServer(t)
	t.Logf("PGlite %s with pgvector %s ready in %v at %s", s.PostgresVersion, s.VectorVersion, s.Startup, s.Addr)
	db := pglite.Open(t, s.DSN)
	ctx := context.Background()

	// Extended protocol with parameters, through a prepared statement used twice.
	for i := 0; i < 2; i++ {
		var n int
		var txt string
		if err := db.QueryRowContext(ctx, "SELECT $1::int + 1, $2::text", 41, "x").Scan(&n, &txt); err != nil {
			t.Fatalf("parameters: %v", err)
		}
		if n != 42 || txt != "x" {
			t.Fatalf("got %d %q", n, txt)
		}
	}
	// pgvector: a vector parameter from pgvector-go, the cosine operator, arrays.
	var dist float64
	if err := db.QueryRowContext(ctx, "SELECT $1::vector(3) <=> ARRAY[0,1,0]::real[]::vector(3)",
		pgvector.NewVector([]float32{1, 0, 0})).Scan(&dist); err != nil {
		t.Fatalf("vector parameter: %v", err)
	}
	if dist != 1 {
		t.Fatalf("cosine distance of orthogonal vectors = %v, want 1", dist)
	}
	// A transaction with SET LOCAL, as the pgvector searcher runs.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL hnsw.iterative_scan = relaxed_order"); err != nil {
		t.Fatalf("iterative scans: %v", err)
	}
	var mode string
	if err := tx.QueryRowContext(ctx, "SELECT current_setting('hnsw.iterative_scan')").Scan(&mode); err != nil || mode != "relaxed_order" {
		t.Fatalf("hnsw.iterative_scan = %q, %v", mode, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT current_setting('hnsw.iterative_scan')").Scan(&mode); err != nil || mode != "off" {
		t.Fatalf("after commit hnsw.iterative_scan = %q, %v", mode, err)
	}
}
