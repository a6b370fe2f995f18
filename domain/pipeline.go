package domain

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A pipeline is a directed acyclic graph of nodes (an agent's turn, a condition, an action, a
// transform, a filter, a merge, a trigger, a delay) joined by edges that may carry a condition.
// Its definition is an aggregate (stream pipeline-<id>) whose every update is a new version of
// the whole spec; a run (stream pipeline_run-<id>, see pipeline_run.go) snapshots the version it
// runs, so editing a pipeline never changes a run in flight.
//
// The domain checks the shape of the graph. What a node's config means, and the little
// expression language of conditions, belong to package pipeline, which hands its checks in as
// functions (ConfigChecker, ConditionChecker): the domain stays free of JSON Schema and parsers.
const (
	StreamTypePipeline = "pipeline"

	EventPipelineCreated = "pipeline.created"
	EventPipelineUpdated = "pipeline.updated"
	EventPipelineDeleted = "pipeline.deleted"

	MaxPipelineNameLen        = 120
	MaxPipelineDescriptionLen = 2000
	MaxPipelineNodes          = 200
	MaxPipelineEdges          = 1000
	MaxPipelineNodeNameLen    = 120
	MaxNodeConfigBytes        = 64 << 10
	// MaxEdgeConditionLen bounds a condition; package pipeline's parser has the same bound.
	MaxEdgeConditionLen = 500

	DefaultPipelineTimeoutSec = 3600
	MaxPipelineTimeoutSec     = 7 * 86400
	// DefaultCancelGraceSec is how long a cancelled run's nodes in progress are given to finish
	// (cooperative cancellation) before the run is cancelled by force.
	DefaultCancelGraceSec = 30
	MaxCancelGraceSec     = 3600

	DefaultRetryMaxAttempts    = 3
	MaxRetryAttempts           = 10
	DefaultRetryInitialBackoff = 1000 // milliseconds
	DefaultRetryMaxBackoff     = 60000
	MaxRetryBackoffMS          = 3600 * 1000
	DefaultRetryMultiplier     = 2.0
	MaxRetryMultiplier         = 10.0

	DefaultBreakerFailureThreshold = 5
	MaxBreakerFailureThreshold     = 100
	DefaultBreakerRecoverySec      = 60
	MaxBreakerRecoverySec          = 86400
)

// Node types.
const (
	NodeTypeAgent     = "agent"     // one agent's turn on a prompt
	NodeTypeCondition = "condition" // evaluates an expression; its result routes the outgoing edges
	NodeTypeAction    = "action"    // a side effect: an HTTP request, an event, nothing
	NodeTypeTransform = "transform" // reshapes its input by a template or a mapping
	NodeTypeFilter    = "filter"    // lets its input through only when an expression holds
	NodeTypeMerge     = "merge"     // joins branches
	NodeTypeTrigger   = "trigger"   // where a run enters; never has incoming edges
	NodeTypeDelay     = "delay"     // waits a number of seconds
)

// PipelineNodeTypes lists the node types, sorted.
var PipelineNodeTypes = []string{NodeTypeAction, NodeTypeAgent, NodeTypeCondition, NodeTypeDelay,
	NodeTypeFilter, NodeTypeMerge, NodeTypeTransform, NodeTypeTrigger}

// Node ids name nodes in edges, in field paths and in run events; they start with a letter so
// they could also name a node in an expression one day.
var nodeIDPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// PipelineStreamID returns the log stream of one pipeline.
func PipelineStreamID(id string) string { return "pipeline-" + id }

// PipelineSpec is everything a person decides about a pipeline.
type PipelineSpec struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Nodes       []PipelineNode `json:"nodes"`
	Edges       []PipelineEdge `json:"edges"`
	// TimeoutSec bounds a whole run; 0 means DefaultPipelineTimeoutSec.
	TimeoutSec int `json:"timeout_sec"`
	// CancelGraceSec is how long a cancellation waits for the nodes in progress before it is
	// forced; 0 means DefaultCancelGraceSec (a negative value is refused).
	CancelGraceSec int `json:"cancel_grace_sec"`
}

// PipelineNode is one step of the graph.
type PipelineNode struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
	// Config is the node type's settings, a JSON object checked against its JSON Schema.
	Config  json.RawMessage `json:"config"`
	Retry   RetryPolicy     `json:"retry"`
	Breaker BreakerPolicy   `json:"breaker"`
}

// RetryPolicy says how often a node is tried after a retryable failure, and how long to wait
// between tries: exponential backoff from InitialBackoffMS, times Multiplier per attempt, capped
// at MaxBackoffMS, with full jitter. Zero fields take the defaults.
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included: 1 means no retry.
	MaxAttempts      int     `json:"max_attempts"`
	InitialBackoffMS int     `json:"initial_backoff_ms"`
	MaxBackoffMS     int     `json:"max_backoff_ms"`
	Multiplier       float64 `json:"multiplier"`
}

// BreakerPolicy configures a node's circuit breaker: after FailureThreshold consecutive
// failures calls stop for RecoverySec, then a single trial call decides whether they resume.
// Zero fields take the defaults.
type BreakerPolicy struct {
	FailureThreshold int `json:"failure_threshold"`
	RecoverySec      int `json:"recovery_sec"`
}

// PipelineEdge runs To after From. Condition, when set, is an expression over From's output
// (see package pipeline); the edge is followed only when it holds.
type PipelineEdge struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Condition string `json:"condition,omitempty"`
}

// ConfigChecker reports what is wrong with a node's config. Each FieldError's Field is a path
// inside the config ("agent_id", "mapping.score", "" for the config itself); the validation
// prefixes it with the node's position, as in nodes[2].config.agent_id. Package pipeline's
// CheckConfig is one.
type ConfigChecker func(nodeType string, config json.RawMessage) []FieldError

// ConditionChecker returns why an edge condition does not parse, or nil. Package pipeline's
// CheckCondition is one.
type ConditionChecker func(condition string) error

// NormalizePipelineSpec returns the spec as it is stored: text trimmed, node types lowercased,
// empty configs as {} and compacted, zero timeouts and policies replaced by their defaults. It
// never changes the caller's slices.
func NormalizePipelineSpec(s PipelineSpec) PipelineSpec {
	s.Name = strings.TrimSpace(s.Name)
	s.Description = strings.TrimSpace(s.Description)
	if s.TimeoutSec == 0 {
		s.TimeoutSec = DefaultPipelineTimeoutSec
	}
	if s.CancelGraceSec == 0 {
		s.CancelGraceSec = DefaultCancelGraceSec
	}
	nodes := make([]PipelineNode, len(s.Nodes))
	for i, n := range s.Nodes {
		n.ID = strings.TrimSpace(n.ID)
		n.Type = strings.ToLower(strings.TrimSpace(n.Type))
		n.Name = strings.TrimSpace(n.Name)
		n.Config = normalizeConfig(n.Config)
		n.Retry = n.Retry.withDefaults()
		n.Breaker = n.Breaker.withDefaults()
		nodes[i] = n
	}
	s.Nodes = nodes
	edges := make([]PipelineEdge, len(s.Edges))
	for j, e := range s.Edges {
		edges[j] = PipelineEdge{From: strings.TrimSpace(e.From), To: strings.TrimSpace(e.To), Condition: strings.TrimSpace(e.Condition)}
	}
	s.Edges = edges
	return s
}

func normalizeConfig(raw json.RawMessage) json.RawMessage {
	// An absent config arrives as nothing or, once it has crossed JSON, as null.
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return json.RawMessage("{}")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return slices.Clone(raw) // left as given; the validation reports it
	}
	return b.Bytes()
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultRetryMaxAttempts
	}
	if p.InitialBackoffMS == 0 {
		p.InitialBackoffMS = DefaultRetryInitialBackoff
	}
	if p.MaxBackoffMS == 0 {
		p.MaxBackoffMS = max(DefaultRetryMaxBackoff, p.InitialBackoffMS)
	}
	if p.Multiplier == 0 {
		p.Multiplier = DefaultRetryMultiplier
	}
	return p
}

func (p BreakerPolicy) withDefaults() BreakerPolicy {
	if p.FailureThreshold == 0 {
		p.FailureThreshold = DefaultBreakerFailureThreshold
	}
	if p.RecoverySec == 0 {
		p.RecoverySec = DefaultBreakerRecoverySec
	}
	return p
}

// ValidatePipelineSpec checks a spec (normalized first, so zero values mean defaults) and
// returns one *Error with CodeInvalid listing every problem as a field error:
//
//   - name, description, timeout_sec, cancel_grace_sec: required or within bounds;
//   - nodes: none, or too many;
//   - nodes[i].id: empty, malformed or used twice; nodes[i].type: empty or unknown (the
//     message lists the known types); nodes[i].name: too long;
//   - nodes[i].config...: not a JSON object, too large, or what checkConfig reports, under
//     nodes[i].config.<path>;
//   - nodes[i].retry.*, nodes[i].breaker.*: out of bounds;
//   - nodes[i]: a merge node with fewer than two incoming edges;
//   - edges[j].from, edges[j].to: empty or naming no node; edges[j].to: a trigger (triggers
//     have no incoming edges); edges[j]: the same from and to as an earlier edge;
//   - edges[j].condition: too long or what checkCondition reports;
//   - edges: each distinct cycle once, named in order: "cycle: a -> b -> c -> a".
//
// checkConfig and checkCondition may be nil, which skips those checks.
func ValidatePipelineSpec(s PipelineSpec, checkConfig ConfigChecker, checkCondition ConditionChecker) error {
	s = NormalizePipelineSpec(s)
	var v Validation
	switch n := utf8.RuneCountInString(s.Name); {
	case n == 0:
		v.Add("name", "is required")
	case n > MaxPipelineNameLen:
		v.Add("name", "must be at most %d characters (got %d)", MaxPipelineNameLen, n)
	case hasControl(s.Name):
		v.Add("name", "must not contain control characters")
	}
	if n := utf8.RuneCountInString(s.Description); n > MaxPipelineDescriptionLen {
		v.Add("description", "must be at most %d characters (got %d)", MaxPipelineDescriptionLen, n)
	}
	if s.TimeoutSec < 1 || s.TimeoutSec > MaxPipelineTimeoutSec {
		v.Add("timeout_sec", "must be between 1 and %d seconds (got %d)", MaxPipelineTimeoutSec, s.TimeoutSec)
	}
	if s.CancelGraceSec < 0 || s.CancelGraceSec > MaxCancelGraceSec {
		v.Add("cancel_grace_sec", "must be between 0 and %d seconds (got %d)", MaxCancelGraceSec, s.CancelGraceSec)
	}

	switch {
	case len(s.Nodes) == 0:
		v.Add("nodes", "a pipeline needs at least one node")
	case len(s.Nodes) > MaxPipelineNodes:
		v.Add("nodes", "at most %d nodes (got %d)", MaxPipelineNodes, len(s.Nodes))
	}
	// index maps each valid node id to its first position.
	index := map[string]int{}
	for i, n := range s.Nodes {
		validateNode(&v, i, n, index, checkConfig)
	}

	if len(s.Edges) > MaxPipelineEdges {
		v.Add("edges", "at most %d edges (got %d)", MaxPipelineEdges, len(s.Edges))
	}
	incoming := map[string]int{}
	seen := map[[2]string]int{}
	for j, e := range s.Edges {
		f := "edges[" + strconv.Itoa(j) + "]"
		fromOK := checkEdgeEnd(&v, f+".from", e.From, index)
		toOK := checkEdgeEnd(&v, f+".to", e.To, index)
		if toOK && s.Nodes[index[e.To]].Type == NodeTypeTrigger {
			v.Add(f+".to", "node %q is a trigger, and a trigger cannot have incoming edges", e.To)
		}
		if fromOK && toOK {
			key := [2]string{e.From, e.To}
			if k, dup := seen[key]; dup {
				v.Add(f, "repeats edges[%d] (%s -> %s); give one edge a combined condition instead", k, e.From, e.To)
			} else {
				seen[key] = j
			}
		}
		if toOK {
			incoming[e.To]++
		}
		if n := utf8.RuneCountInString(e.Condition); n > MaxEdgeConditionLen {
			v.Add(f+".condition", "must be at most %d characters (got %d)", MaxEdgeConditionLen, n)
		} else if e.Condition != "" && checkCondition != nil {
			if err := checkCondition(e.Condition); err != nil {
				v.Add(f+".condition", "%s", err.Error())
			}
		}
	}
	for i, n := range s.Nodes {
		if n.Type == NodeTypeMerge && index[n.ID] == i {
			if got := incoming[n.ID]; got < 2 {
				v.Add("nodes["+strconv.Itoa(i)+"]", "a merge node needs at least 2 incoming edges (has %d)", got)
			}
		}
	}
	for _, c := range findCycles(s, index) {
		v.Add("edges", "cycle: %s", strings.Join(c, " -> "))
	}
	return v.Err()
}

func validateNode(v *Validation, i int, n PipelineNode, index map[string]int, checkConfig ConfigChecker) {
	f := "nodes[" + strconv.Itoa(i) + "]"
	switch {
	case n.ID == "":
		v.Add(f+".id", "is required")
	case !nodeIDPattern.MatchString(n.ID):
		v.Add(f+".id", "must be 1 to 64 letters, digits, _ or -, starting with a letter (got %q)", n.ID)
	default:
		if k, dup := index[n.ID]; dup {
			v.Add(f+".id", "%q is already the id of nodes[%d]", n.ID, k)
		} else {
			index[n.ID] = i
		}
	}
	known := slices.Contains(PipelineNodeTypes, n.Type)
	switch {
	case n.Type == "":
		v.Add(f+".type", "is required; known types: %s", strings.Join(PipelineNodeTypes, ", "))
	case !known:
		v.Add(f+".type", "unknown type %q; known types: %s", n.Type, strings.Join(PipelineNodeTypes, ", "))
	}
	if c := utf8.RuneCountInString(n.Name); c > MaxPipelineNodeNameLen {
		v.Add(f+".name", "must be at most %d characters (got %d)", MaxPipelineNodeNameLen, c)
	} else if hasControl(n.Name) {
		v.Add(f+".name", "must not contain control characters")
	}

	cf := f + ".config"
	switch {
	case len(n.Config) > MaxNodeConfigBytes:
		v.Add(cf, "must be at most %d bytes (got %d)", MaxNodeConfigBytes, len(n.Config))
	case !isJSONObject(n.Config):
		v.Add(cf, "must be a JSON object")
	case known && checkConfig != nil:
		for _, fe := range checkConfig(n.Type, n.Config) {
			v.Add(joinFieldPath(cf, fe.Field), "%s", fe.Message)
		}
	}

	r := n.Retry
	if r.MaxAttempts < 1 || r.MaxAttempts > MaxRetryAttempts {
		v.Add(f+".retry.max_attempts", "must be between 1 (no retry) and %d (got %d)", MaxRetryAttempts, r.MaxAttempts)
	}
	if r.InitialBackoffMS < 1 || r.InitialBackoffMS > MaxRetryBackoffMS {
		v.Add(f+".retry.initial_backoff_ms", "must be between 1 and %d (got %d)", MaxRetryBackoffMS, r.InitialBackoffMS)
	}
	if r.MaxBackoffMS < r.InitialBackoffMS || r.MaxBackoffMS > MaxRetryBackoffMS {
		v.Add(f+".retry.max_backoff_ms", "must be between initial_backoff_ms (%d) and %d (got %d)", r.InitialBackoffMS, MaxRetryBackoffMS, r.MaxBackoffMS)
	}
	if !(r.Multiplier >= 1 && r.Multiplier <= MaxRetryMultiplier) { // also refuses NaN
		v.Add(f+".retry.multiplier", "must be between 1 and %g (got %g)", MaxRetryMultiplier, r.Multiplier)
	}
	b := n.Breaker
	if b.FailureThreshold < 1 || b.FailureThreshold > MaxBreakerFailureThreshold {
		v.Add(f+".breaker.failure_threshold", "must be between 1 and %d (got %d)", MaxBreakerFailureThreshold, b.FailureThreshold)
	}
	if b.RecoverySec < 1 || b.RecoverySec > MaxBreakerRecoverySec {
		v.Add(f+".breaker.recovery_sec", "must be between 1 and %d seconds (got %d)", MaxBreakerRecoverySec, b.RecoverySec)
	}
}

// joinFieldPath appends a path inside a value to the value's field: "config" + "agent_id" is
// "config.agent_id", "config" + "[0]" is "config[0]", and "config" + "" is "config".
func joinFieldPath(base, sub string) string {
	switch {
	case sub == "":
		return base
	case strings.HasPrefix(sub, "["):
		return base + sub
	}
	return base + "." + strings.TrimPrefix(sub, ".")
}

func isJSONObject(raw json.RawMessage) bool {
	if !json.Valid(raw) {
		return false
	}
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

func checkEdgeEnd(v *Validation, field, id string, index map[string]int) bool {
	if id == "" {
		v.Add(field, "is required")
		return false
	}
	if _, ok := index[id]; !ok {
		v.Add(field, "no node has the id %q", id)
		return false
	}
	return true
}

// findCycles walks the graph depth first, colouring nodes white (unseen), grey (on the current
// path) and black (done); an edge to a grey node closes a cycle, which is the path from that
// node back to itself. Each distinct cycle is reported once, whichever of its nodes it was
// entered by; nodes and edges are walked in spec order, so the report is stable.
func findCycles(s PipelineSpec, index map[string]int) [][]string {
	adj := map[string][]string{}
	for _, e := range s.Edges {
		_, okFrom := index[e.From]
		_, okTo := index[e.To]
		if okFrom && okTo {
			adj[e.From] = append(adj[e.From], e.To)
		}
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var path []string
	var cycles [][]string
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		color[n] = grey
		path = append(path, n)
		for _, m := range adj[n] {
			switch color[m] {
			case white:
				visit(m)
			case grey:
				start := slices.Index(path, m)
				cycle := append(slices.Clone(path[start:]), m)
				if key := cycleKey(cycle[:len(cycle)-1]); !seen[key] {
					seen[key] = true
					cycles = append(cycles, cycle)
				}
			}
		}
		path = path[:len(path)-1]
		color[n] = black
	}
	for i, n := range s.Nodes {
		if index[n.ID] == i && n.ID != "" && color[n.ID] == white {
			visit(n.ID)
		}
	}
	return cycles
}

// cycleKey names a cycle independently of where it was entered: its rotation that starts at
// the smallest id.
func cycleKey(c []string) string {
	lo := 0
	for i := range c {
		if c[i] < c[lo] {
			lo = i
		}
	}
	return strings.Join(append(slices.Clone(c[lo:]), c[:lo]...), "\x00")
}

// Pipeline is the aggregate of a pipeline's definition.
type Pipeline struct {
	ID    string
	Owner string
	Spec  PipelineSpec
	// SpecVersion counts the spec's versions: 1 on creation, one more per update.
	SpecVersion int
	Deleted     bool
	Version     int64
}

// Apply folds one event into the pipeline.
func (p *Pipeline) Apply(e Event) {
	p.Version++
	switch ev := e.(type) {
	case *PipelineCreated:
		p.ID, p.Owner, p.Spec, p.SpecVersion = ev.ID, ev.Owner, ev.Spec, ev.SpecVersion
	case *PipelineUpdated:
		p.Spec, p.SpecVersion = ev.Spec, ev.SpecVersion
	case *PipelineDeleted:
		p.Deleted = true
	}
}

// AccessibleBy reports whether actor may see, change and run the pipeline: its owner or an
// admin.
func (p *Pipeline) AccessibleBy(actor Actor) bool { return actor.IsAdmin() || actor.ID == p.Owner }

func (p *Pipeline) authorize(actor Actor) error {
	if p.Version == 0 || p.Deleted {
		return Errorf(CodeNotFound, "pipeline not found")
	}
	if !p.AccessibleBy(actor) {
		return Errorf(CodeForbidden, "only the pipeline's owner or an admin may change it")
	}
	return nil
}

// Create decides whether a pipeline may be defined with spec; the spec is stored normalized.
func (p *Pipeline) Create(actor Actor, id string, spec PipelineSpec, checkConfig ConfigChecker, checkCondition ConditionChecker) ([]Event, error) {
	if p.Version > 0 {
		return nil, Errorf(CodeConflict, "pipeline %s already exists", id)
	}
	spec = NormalizePipelineSpec(spec)
	if err := ValidatePipelineSpec(spec, checkConfig, checkCondition); err != nil {
		return nil, err
	}
	return []Event{&PipelineCreated{ID: id, Owner: actor.ID, SpecVersion: 1, Spec: spec}}, nil
}

// Update replaces the spec by a new version. A spec equal to the current one records nothing.
func (p *Pipeline) Update(actor Actor, spec PipelineSpec, checkConfig ConfigChecker, checkCondition ConditionChecker) ([]Event, error) {
	if err := p.authorize(actor); err != nil {
		return nil, err
	}
	spec = NormalizePipelineSpec(spec)
	if err := ValidatePipelineSpec(spec, checkConfig, checkCondition); err != nil {
		return nil, err
	}
	if samePipelineSpec(p.Spec, spec) {
		return nil, nil
	}
	return []Event{&PipelineUpdated{ID: p.ID, SpecVersion: p.SpecVersion + 1, Spec: spec}}, nil
}

// Delete retires the pipeline; its runs in flight go on with their snapshot, no new run starts.
func (p *Pipeline) Delete(actor Actor) ([]Event, error) {
	if err := p.authorize(actor); err != nil {
		return nil, err
	}
	return []Event{&PipelineDeleted{}}, nil
}

func samePipelineSpec(a, b PipelineSpec) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// PipelineCreated carries the first version of the spec.
type PipelineCreated struct {
	ID          string       `json:"id"`
	Owner       string       `json:"owner"`
	SpecVersion int          `json:"spec_version"`
	Spec        PipelineSpec `json:"spec"`
}

func (*PipelineCreated) EventType() string { return EventPipelineCreated }

// PipelineUpdated carries the whole new version of the spec, so a reader needs no earlier event.
type PipelineUpdated struct {
	ID          string       `json:"id"`
	SpecVersion int          `json:"spec_version"`
	Spec        PipelineSpec `json:"spec"`
}

func (*PipelineUpdated) EventType() string { return EventPipelineUpdated }

type PipelineDeleted struct{}

func (*PipelineDeleted) EventType() string { return EventPipelineDeleted }

// pipelineEventSpecs registers the definition's and the runs' events.
func pipelineEventSpecs() []EventSpec {
	spec := func(t string, f func() Event) EventSpec { return EventSpec{Type: t, Version: 1, New: f} }
	return []EventSpec{
		spec(EventPipelineCreated, func() Event { return &PipelineCreated{} }),
		spec(EventPipelineUpdated, func() Event { return &PipelineUpdated{} }),
		spec(EventPipelineDeleted, func() Event { return &PipelineDeleted{} }),
		spec(EventPipelineRunStarted, func() Event { return &PipelineRunStarted{} }),
		spec(EventPipelineRunCancelRequested, func() Event { return &PipelineRunCancelRequested{} }),
		spec(EventPipelineRunCompleted, func() Event { return &PipelineRunCompleted{} }),
		spec(EventPipelineRunFailed, func() Event { return &PipelineRunFailed{} }),
		spec(EventPipelineRunCancelled, func() Event { return &PipelineRunCancelled{} }),
		spec(EventPipelineRunTimedOut, func() Event { return &PipelineRunTimedOut{} }),
		spec(EventPipelineNodeStarted, func() Event { return &PipelineNodeStarted{} }),
		spec(EventPipelineNodeCompleted, func() Event { return &PipelineNodeCompleted{} }),
		spec(EventPipelineNodeFailed, func() Event { return &PipelineNodeFailed{} }),
		spec(EventPipelineNodeSkipped, func() Event { return &PipelineNodeSkipped{} }),
	}
}
