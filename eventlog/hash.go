package eventlog

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"time"
)

// genesisHash is what the first event of every stream chains to.
var genesisHash = make([]byte, sha256.Size)

// chainHash is the tamper-evidence link: sha256 over the previous hash and every stored field of
// the event, each length-prefixed so that no two different events share an encoding. It is
// computed over the exact bytes stored (payload and metadata are json, not jsonb, columns), so
// `gathering audit verify` can recompute it from the table alone.
func chainHash(prev []byte, e *Event, metadataJSON []byte) []byte {
	h := sha256.New()
	writeField(h, []byte("gathering/event/v1"))
	writeField(h, prev)
	writeField(h, e.ID[:])
	writeField(h, []byte(e.StreamID))
	writeField(h, []byte(e.StreamType))
	writeInt(h, e.Version)
	writeField(h, []byte(e.Type))
	writeInt(h, int64(e.SchemaVersion))
	writeField(h, []byte(e.OccurredAt.UTC().Format(time.RFC3339Nano)))
	writeField(h, []byte(e.Metadata.CorrelationID))
	writeField(h, []byte(e.Metadata.CausationID))
	writeField(h, []byte(e.Metadata.Actor))
	writeField(h, e.Payload)
	writeField(h, metadataJSON)
	return h.Sum(nil)
}

func writeField(h hash.Hash, b []byte) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
	h.Write(b)
}

func writeInt(h hash.Hash, v int64) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(v))
	h.Write(n[:])
}
