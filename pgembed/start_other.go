//go:build !unix

package pgembed

import (
	"context"
	"errors"
)

// Start is not supported here: running postgres as another user and
// signalling it for shutdown relies on unix process semantics.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	return nil, errors.New("pgembed: embedded PostgreSQL is only supported on unix systems; set DATABASE_URL")
}

// Stop does nothing; Start never returns a Server on this platform.
func (s *Server) Stop(ctx context.Context) error { return nil }
