package projections

import (
	"context"
	"database/sql"

	"github.com/gathering/gathering/eventlog"
)

// SetBeforeAck installs the test hook that runs between an event's write and its ack.
func SetBeforeAck(r *Runner, f func(ctx context.Context, tx *sql.Tx, projection string, e eventlog.Event) error) {
	r.beforeAck = f
}
