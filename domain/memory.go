package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Memories are what agents remember, and knowledge documents what people give them to know.
// Both are events; the memory projection turns them into the searchable memory_items, and an
// embedding job (never a projection) computes their vectors and records that it did.
const (
	StreamTypeMemory    = "memory"
	StreamTypeKnowledge = "knowledge"

	EventMemoryRemembered         = "memory.remembered"
	EventMemoryEmbedded           = "memory.embedded"
	EventMemoryForgotten          = "memory.forgotten"
	EventKnowledgeAdded           = "knowledge.document_added"
	EventKnowledgeEmbedded        = "knowledge.chunks_embedded"
	EventKnowledgeRemoved         = "knowledge.document_removed"
	MaxMemoryLen                  = 10000
	MaxMemoryTags                 = 20
	MaxKnowledgeBytes             = 2 << 20
	MaxKnowledgeTitleLen          = 200
	KnowledgeChunkRunes           = 1200
	KnowledgeChunkOverlap         = 200
	DefaultMemoryImportance       = 0.5
	maxKnowledgeChunksPerDocument = 5000
)

// MemoryScopes are who may share an item, in a stable order.
var MemoryScopes = []string{"global", "circle", "agent", "conversation", "project"}

// KnowledgeFormats are the document formats the knowledge base takes.
var KnowledgeFormats = []string{"markdown", "text", "csv"}

// MemoryStreamID returns the log stream of one memory.
func MemoryStreamID(id string) string { return "memory-" + id }

// KnowledgeStreamID returns the log stream of one knowledge document.
func KnowledgeStreamID(id string) string { return "knowledge-" + id }

// ContentHash identifies a text for the embedding cache.
func ContentHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// MemorySpec is what is remembered, by whom and for whom.
type MemorySpec struct {
	Scope      string     `json:"scope"`
	ScopeID    string     `json:"scope_id,omitempty"`
	AgentID    string     `json:"agent_id,omitempty"`
	Content    string     `json:"content"`
	Tags       []string   `json:"tags"`
	Importance float64    `json:"importance"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

// Memory is the aggregate.
type Memory struct {
	ID        string
	Owner     string
	Spec      MemorySpec
	Hash      string
	Model     string
	Forgotten bool
	Version   int64
}

func (m *Memory) Apply(e Event) {
	m.Version++
	switch ev := e.(type) {
	case *MemoryRemembered:
		m.ID, m.Owner, m.Spec, m.Hash = ev.ID, ev.Owner, ev.Spec, ev.ContentHash
	case *MemoryEmbedded:
		m.Model = ev.Model
	case *MemoryForgotten:
		m.Forgotten = true
	}
}

// validateScope checks a scope and its id; the caller checks the actor may use that id.
func validateScope(v *Validation, scope, scopeID string) {
	known := false
	for _, s := range MemoryScopes {
		known = known || s == scope
	}
	switch {
	case !known:
		v.Add("scope", "must be one of global, circle, agent, conversation, project")
	case scope == "global" && scopeID != "":
		v.Add("scope_id", "must be empty for the global scope")
	case scope != "global" && scopeID == "":
		v.Add("scope_id", "is required for the %s scope", scope)
	}
}

// Remember decides whether a memory may be stored; now judges its expiry.
func (m *Memory) Remember(actor Actor, id string, s MemorySpec, now time.Time) ([]Event, error) {
	if m.Version > 0 {
		return nil, Errorf(CodeConflict, "memory %s already exists", id)
	}
	s.Content = strings.TrimSpace(s.Content)
	s.Scope = strings.ToLower(strings.TrimSpace(s.Scope))
	if s.Scope == "agent" && s.ScopeID == "" {
		s.ScopeID = s.AgentID
	}
	var v Validation
	if n := utf8.RuneCountInString(s.Content); n == 0 || n > MaxMemoryLen {
		v.Add("content", "must be 1 to %d characters (got %d)", MaxMemoryLen, n)
	}
	validateScope(&v, s.Scope, s.ScopeID)
	if s.Importance == 0 {
		s.Importance = DefaultMemoryImportance
	}
	if s.Importance < 0 || s.Importance > 1 {
		v.Add("importance", "must be between 0 and 1")
	}
	if len(s.Tags) > MaxMemoryTags {
		v.Add("tags", "at most %d (got %d)", MaxMemoryTags, len(s.Tags))
	} else {
		s.Tags = normalizeCompetencies(&v, "tags", s.Tags)
	}
	if s.ExpiresAt != nil && !s.ExpiresAt.After(now) {
		v.Add("expires_at", "must be in the future")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if s.ExpiresAt != nil {
		t := s.ExpiresAt.UTC()
		s.ExpiresAt = &t
	}
	return []Event{&MemoryRemembered{ID: id, Owner: actor.ID, Spec: s, ContentHash: ContentHash(s.Content)}}, nil
}

// RecordEmbedding notes that the memory's content was embedded by model; a second record for
// the same model is nothing new.
func (m *Memory) RecordEmbedding(model string, dim int, hash string) ([]Event, error) {
	if m.Version == 0 || m.Forgotten {
		return nil, nil // forgotten while the job ran: nothing to embed
	}
	if hash != m.Hash {
		return nil, Errorf(CodeConflict, "the embedded content is not the memory's")
	}
	if m.Model == model {
		return nil, nil
	}
	return []Event{&MemoryEmbedded{Model: model, Dimension: dim, ContentHash: hash}}, nil
}

// Forget removes the memory for good: the projection deletes it and nothing brings it back.
func (m *Memory) Forget(actor Actor, reason string) ([]Event, error) {
	if m.Version == 0 || m.Forgotten {
		return nil, Errorf(CodeNotFound, "memory not found")
	}
	if !actor.IsAdmin() && actor.ID != m.Owner {
		return nil, Errorf(CodeForbidden, "only the memory's owner or an admin may make it forgotten")
	}
	return []Event{&MemoryForgotten{Reason: strings.TrimSpace(reason)}}, nil
}

// Chunk is a piece of a knowledge document, by rune offsets into its content.
type Chunk struct {
	Index int    `json:"index"`
	ID    string `json:"id"`
	Start int    `json:"start"`
	End   int    `json:"end"`
	Hash  string `json:"hash"`
}

// KnowledgeSpec is an uploaded document.
type KnowledgeSpec struct {
	Title   string `json:"title"`
	Format  string `json:"format"`
	Scope   string `json:"scope"`
	ScopeID string `json:"scope_id,omitempty"`
	Content string `json:"content"`
}

// Knowledge is the aggregate of one document.
type Knowledge struct {
	ID      string
	Owner   string
	Spec    KnowledgeSpec
	Chunks  []Chunk
	Model   string
	Removed bool
	Version int64
}

func (k *Knowledge) Apply(e Event) {
	k.Version++
	switch ev := e.(type) {
	case *KnowledgeAdded:
		k.ID, k.Owner, k.Spec, k.Chunks = ev.ID, ev.Owner, ev.Spec, ev.Chunks
	case *KnowledgeEmbedded:
		k.Model = ev.Model
	case *KnowledgeRemoved:
		k.Removed = true
	}
}

// Add decides whether a document may be added and splits it into chunks; chunkIDs gives each
// chunk its id (the caller's ids keep the domain free of randomness).
func (k *Knowledge) Add(actor Actor, id string, s KnowledgeSpec, chunkID func(int) string) ([]Event, error) {
	if k.Version > 0 {
		return nil, Errorf(CodeConflict, "document %s already exists", id)
	}
	s.Title = strings.TrimSpace(s.Title)
	s.Format = strings.ToLower(strings.TrimSpace(s.Format))
	s.Scope = strings.ToLower(strings.TrimSpace(s.Scope))
	if s.Scope == "" {
		s.Scope = "global"
	}
	var v Validation
	if n := utf8.RuneCountInString(s.Title); n == 0 || n > MaxKnowledgeTitleLen {
		v.Add("title", "must be 1 to %d characters", MaxKnowledgeTitleLen)
	}
	known := false
	for _, f := range KnowledgeFormats {
		known = known || f == s.Format
	}
	if !known {
		v.Add("format", "must be markdown, text or csv")
	}
	validateScope(&v, s.Scope, s.ScopeID)
	switch {
	case strings.TrimSpace(s.Content) == "":
		v.Add("content", "is empty")
	case len(s.Content) > MaxKnowledgeBytes:
		v.Add("content", "must be at most %d bytes (got %d)", MaxKnowledgeBytes, len(s.Content))
	case !utf8.ValidString(s.Content) || strings.ContainsRune(s.Content, 0):
		v.Add("content", "must be UTF-8 text")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	chunks := ChunkDocument(s.Format, s.Content)
	if len(chunks) > maxKnowledgeChunksPerDocument {
		return nil, fieldErr("content", "splits into too many chunks")
	}
	for i := range chunks {
		chunks[i].ID = chunkID(i)
		chunks[i].Hash = ContentHash(ChunkText(s.Format, s.Content, chunks[i]))
	}
	return []Event{&KnowledgeAdded{ID: id, Owner: actor.ID, Spec: s, Chunks: chunks}}, nil
}

// RecordEmbedding notes the chunks were embedded by model.
func (k *Knowledge) RecordEmbedding(model string, dim int) ([]Event, error) {
	if k.Version == 0 || k.Removed || k.Model == model {
		return nil, nil
	}
	return []Event{&KnowledgeEmbedded{Model: model, Dimension: dim}}, nil
}

// Remove takes the document and its chunks out of the knowledge base.
func (k *Knowledge) Remove(actor Actor) ([]Event, error) {
	if k.Version == 0 || k.Removed {
		return nil, Errorf(CodeNotFound, "document not found")
	}
	if !actor.IsAdmin() && actor.ID != k.Owner {
		return nil, Errorf(CodeForbidden, "only the document's owner or an admin may remove it")
	}
	return []Event{&KnowledgeRemoved{}}, nil
}

// ChunkDocument splits content into overlapping chunks of about KnowledgeChunkRunes runes,
// breaking at a paragraph, a line, a sentence or a word near the end of each window. A CSV is
// cut at row boundaries only (ChunkText repeats its header in every chunk).
func ChunkDocument(format, content string) []Chunk {
	runes := []rune(content)
	if format == "csv" {
		return chunkRows(runes)
	}
	var out []Chunk
	for start := 0; start < len(runes); {
		end := min(start+KnowledgeChunkRunes, len(runes))
		if end < len(runes) {
			end = breakPoint(runes, start, end)
		}
		if s := strings.TrimSpace(string(runes[start:end])); s != "" {
			out = append(out, Chunk{Index: len(out), Start: start, End: end})
		}
		if end >= len(runes) {
			break
		}
		next := end - KnowledgeChunkOverlap
		// Start the overlap at a word, and always move forward.
		for next > start && next < end && !isSpace(runes[next-1]) {
			next++
		}
		if next <= start {
			next = end
		}
		start = next
	}
	return out
}

// breakPoint moves end back to the best boundary in the last fifth of the window.
func breakPoint(runes []rune, start, end int) int {
	floor := end - (end-start)/5
	for _, sep := range []string{"\n\n", "\n", ". ", " "} {
		sr := []rune(sep)
		for i := end; i-len(sr) >= floor; i-- {
			if string(runes[i-len(sr):i]) == sep {
				return i
			}
		}
	}
	return end
}

func isSpace(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == '\r' }

// chunkRows groups whole CSV rows (after the header row) into chunks of about
// KnowledgeChunkRunes runes, without overlap: rows are records, not prose.
func chunkRows(runes []rune) []Chunk {
	header := 0
	for header < len(runes) && runes[header] != '\n' {
		header++
	}
	if header < len(runes) {
		header++
	}
	var out []Chunk
	start := header
	for start < len(runes) {
		end, i := start, start
		for i < len(runes) {
			j := i
			for j < len(runes) && runes[j] != '\n' {
				j++
			}
			if j < len(runes) {
				j++
			}
			if end > start && j-start > KnowledgeChunkRunes {
				break
			}
			end, i = j, j
		}
		if strings.TrimSpace(string(runes[start:end])) != "" {
			out = append(out, Chunk{Index: len(out), Start: start, End: end})
		}
		start = end
	}
	if len(out) == 0 && header > 0 {
		out = append(out, Chunk{Index: 0, Start: 0, End: header})
	}
	return out
}

// ChunkText is the text of one chunk: its slice of the content, after the header row for CSV.
func ChunkText(format, content string, c Chunk) string {
	runes := []rune(content)
	text := string(runes[c.Start:c.End])
	if format == "csv" && c.Start > 0 {
		header := strings.SplitN(content, "\n", 2)[0]
		text = header + "\n" + text
	}
	return strings.TrimSpace(text)
}

// ChunkSource names a chunk for citations: the title and the chunk's number.
func ChunkSource(title string, c Chunk) string {
	return title + " #" + strconv.Itoa(c.Index+1)
}

type MemoryRemembered struct {
	ID          string     `json:"id"`
	Owner       string     `json:"owner"`
	Spec        MemorySpec `json:"spec"`
	ContentHash string     `json:"content_hash"`
}

func (*MemoryRemembered) EventType() string { return EventMemoryRemembered }

type MemoryEmbedded struct {
	Model       string `json:"model"`
	Dimension   int    `json:"dimension"`
	ContentHash string `json:"content_hash"`
}

func (*MemoryEmbedded) EventType() string { return EventMemoryEmbedded }

type MemoryForgotten struct {
	Reason string `json:"reason,omitempty"`
}

func (*MemoryForgotten) EventType() string { return EventMemoryForgotten }

type KnowledgeAdded struct {
	ID     string        `json:"id"`
	Owner  string        `json:"owner"`
	Spec   KnowledgeSpec `json:"spec"`
	Chunks []Chunk       `json:"chunks"`
}

func (*KnowledgeAdded) EventType() string { return EventKnowledgeAdded }

type KnowledgeEmbedded struct {
	Model     string `json:"model"`
	Dimension int    `json:"dimension"`
}

func (*KnowledgeEmbedded) EventType() string { return EventKnowledgeEmbedded }

type KnowledgeRemoved struct{}

func (*KnowledgeRemoved) EventType() string { return EventKnowledgeRemoved }

func memoryEventSpecs() []EventSpec {
	spec := func(t string, f func() Event) EventSpec { return EventSpec{Type: t, Version: 1, New: f} }
	return []EventSpec{
		spec(EventMemoryRemembered, func() Event { return &MemoryRemembered{} }),
		spec(EventMemoryEmbedded, func() Event { return &MemoryEmbedded{} }),
		spec(EventMemoryForgotten, func() Event { return &MemoryForgotten{} }),
		spec(EventKnowledgeAdded, func() Event { return &KnowledgeAdded{} }),
		spec(EventKnowledgeEmbedded, func() Event { return &KnowledgeEmbedded{} }),
		spec(EventKnowledgeRemoved, func() Event { return &KnowledgeRemoved{} }),
	}
}
