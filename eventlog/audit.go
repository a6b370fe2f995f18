package eventlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/gathering/gathering/sql/dbq"
)

// Break is the first link of a stream's chain that does not hold.
type Break struct {
	StreamID string `json:"stream_id"`
	Version  int64  `json:"version"`
	Position int64  `json:"position"`
	Reason   string `json:"reason"`
}

// AuditReport is the result of recomputing hash chains.
type AuditReport struct {
	Streams int64   `json:"streams"`
	Events  int64   `json:"events"`
	Breaks  []Break `json:"breaks"` // the first break of each broken stream, in stream order
}

// OK reports whether every chain held.
func (r AuditReport) OK() bool { return len(r.Breaks) == 0 }

// VerifyChains recomputes the hash chain of every stream (or only streamID) from the stored rows.
// It reads raw rows, never upcast ones: the chain covers what was written.
func VerifyChains(ctx context.Context, q dbq.DBTX, streamID string) (AuditReport, error) {
	queries := dbq.New()
	var (
		report   AuditReport
		current  string
		prevHash []byte
		version  int64
		broken   bool
		after    = dbq.ChainPageParams{AfterStream: "", AfterVersion: 0, OnlyStream: nullString(streamID), MaxRows: 1000}
	)
	for {
		rows, err := queries.ChainPage(ctx, q, after)
		if err != nil {
			return report, fmt.Errorf("audit: %w", err)
		}
		for _, r := range rows {
			if r.StreamID != current {
				current, prevHash, version, broken = r.StreamID, genesisHash, 0, false
				report.Streams++
			}
			report.Events++
			if broken {
				continue
			}
			fail := func(reason string) {
				report.Breaks = append(report.Breaks, Break{StreamID: r.StreamID, Version: r.StreamVersion, Position: r.Offset, Reason: reason})
				broken = true
			}
			e := Event{ID: r.Uuid, StreamID: r.StreamID, StreamType: r.StreamType, Version: r.StreamVersion, Type: r.EventType,
				SchemaVersion: int(r.SchemaVersion), Payload: r.Payload, OccurredAt: r.OccurredAt,
				Metadata: Metadata{CorrelationID: r.CorrelationID, CausationID: r.CausationID, Actor: r.Actor}}
			switch {
			case r.StreamVersion != version+1:
				fail(fmt.Sprintf("version %d follows version %d", r.StreamVersion, version))
			case !bytes.Equal(r.PrevHash, prevHash):
				fail("prev_hash does not match the hash of the previous event")
			case !json.Valid(r.Payload):
				fail("payload is not valid JSON")
			case !bytes.Equal(chainHash(prevHash, &e, r.Metadata), r.Hash):
				fail("hash does not match the event's content")
			}
			prevHash, version = r.Hash, r.StreamVersion
		}
		if len(rows) < int(after.MaxRows) {
			return report, nil
		}
		last := rows[len(rows)-1]
		after.AfterStream, after.AfterVersion = last.StreamID, last.StreamVersion
	}
}
