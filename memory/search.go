package memory

import (
	"context"
	"database/sql"

	"github.com/rs/zerolog"
)

// NewSearcher picks the search path for db: pgvector's HNSW indexes when the server has the
// extension (EnableVector installs it and the indexes), the exact search otherwise. It logs once
// which path it took and why. A server that has pgvector but refuses to install it (no
// privilege) gets the exact path and a warning.
func NewSearcher(ctx context.Context, db *sql.DB, log zerolog.Logger) (Searcher, error) {
	st, err := enableVector(ctx, db)
	if !st.Available {
		if err != nil {
			return nil, err
		}
		log.Info().Str("path", "exact").Msg("memory search: exact (no pgvector extension on this server)")
		return NewExact(db), nil
	}
	if err != nil {
		log.Warn().Err(err).Str("path", "exact").Msg("memory search: exact (pgvector is on this server but could not be enabled)")
		return NewExact(db), nil
	}
	s, err := NewPGVector(ctx, db)
	if err != nil {
		return nil, err
	}
	how := "HNSW, iterative index scans"
	if !s.iterative {
		how = "HNSW, no iterative index scans before 0.8.0: wider candidate lists, exact scan when short"
	}
	log.Info().Str("path", "pgvector").Str("version", st.Version).Ints("indexed_dims", st.Indexed).
		Msgf("memory search: pgvector %s %s", st.Version, how)
	return s, nil
}
