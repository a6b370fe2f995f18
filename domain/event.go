package domain

import (
	"encoding/json"
	"fmt"
)

// Event is a fact that happened to one aggregate. Its payload struct is what gets stored.
type Event interface {
	EventType() string
}

// EventSpec describes how one event type is stored and read back. Payloads written today carry
// Version; older payloads are brought up to it by Upcasters, one step at a time, on every read.
type EventSpec struct {
	Type      string
	Version   int
	New       func() Event
	Upcasters map[int]func(payload []byte) ([]byte, error) // from version N to N+1
	// Sensitive names top-level payload fields that are stored (a replay needs them) but never
	// shown: live feeds, the log browser and the CLI print them as "[redacted]".
	Sensitive []string
}

// Registry knows every event type of the domain.
type Registry struct{ specs map[string]EventSpec }

func NewRegistry(specs ...EventSpec) *Registry {
	r := &Registry{specs: map[string]EventSpec{}}
	for _, s := range specs {
		if _, dup := r.specs[s.Type]; dup {
			panic("domain: event type registered twice: " + s.Type)
		}
		if s.Version < 1 {
			panic("domain: event version must be >= 1: " + s.Type)
		}
		for v := 1; v < s.Version; v++ {
			if _, ok := s.Upcasters[v]; !ok {
				panic(fmt.Sprintf("domain: %s has no upcaster from v%d", s.Type, v))
			}
		}
		r.specs[s.Type] = s
	}
	return r
}

// Encode returns the stored form of an event: its type, current schema version and JSON payload.
func (r *Registry) Encode(e Event) (string, int, []byte, error) {
	spec, ok := r.specs[e.EventType()]
	if !ok {
		return "", 0, nil, fmt.Errorf("domain: unregistered event type %q", e.EventType())
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return "", 0, nil, fmt.Errorf("domain: encode %s: %w", spec.Type, err)
	}
	return spec.Type, spec.Version, payload, nil
}

// Upcast brings a stored payload to the current schema version of its type.
func (r *Registry) Upcast(eventType string, version int, payload []byte) ([]byte, int, error) {
	spec, ok := r.specs[eventType]
	if !ok {
		// Not ours to interpret (another context's or a newer build's type): pass it through
		// untouched so that readers such as the live feed and audit tools still carry it.
		return payload, version, nil
	}
	if version > spec.Version {
		return payload, version, fmt.Errorf("domain: %s v%d is newer than this build (v%d)", eventType, version, spec.Version)
	}
	for v := version; v < spec.Version; v++ {
		next, err := spec.Upcasters[v](payload)
		if err != nil {
			return payload, v, fmt.Errorf("domain: upcast %s v%d: %w", eventType, v, err)
		}
		payload = next
	}
	return payload, spec.Version, nil
}

// Decode turns a stored payload of any known schema version into its current event struct.
func (r *Registry) Decode(eventType string, version int, payload []byte) (Event, error) {
	spec, ok := r.specs[eventType]
	if !ok {
		return nil, fmt.Errorf("domain: unknown event type %q", eventType)
	}
	upcasted, _, err := r.Upcast(eventType, version, payload)
	if err != nil {
		return nil, err
	}
	e := spec.New()
	if err := json.Unmarshal(upcasted, e); err != nil {
		return nil, fmt.Errorf("domain: decode %s: %w", eventType, err)
	}
	return e, nil
}

// Redact returns payload with the sensitive fields of its type replaced; other payloads are
// returned as they are.
func (r *Registry) Redact(eventType string, payload []byte) []byte {
	spec, ok := r.specs[eventType]
	if !ok || len(spec.Sensitive) == 0 {
		return payload
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return []byte(`{"redacted":true}`)
	}
	for _, name := range spec.Sensitive {
		if _, present := fields[name]; present {
			fields[name] = json.RawMessage(`"[redacted]"`)
		}
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return []byte(`{"redacted":true}`)
	}
	return out
}

// Events is the registry of every event type in GatheRing.
var Events = NewRegistry(concat(agentEventSpecs(), userEventSpecs(), chatEventSpecs(), taskEventSpecs(), circleEventSpecs(), conversationEventSpecs(), circleTaskEventSpecs(), projectEventSpecs(), memoryEventSpecs(), pipelineEventSpecs(), scheduleEventSpecs(), workspaceEventSpecs())...)

func concat(groups ...[]EventSpec) []EventSpec {
	var all []EventSpec
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}
