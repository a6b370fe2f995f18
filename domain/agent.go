package domain

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Provider is the model provider an agent talks to.
type Provider string

const (
	ProviderOpenAI    Provider = "openai"
	ProviderAnthropic Provider = "anthropic"
	ProviderOllama    Provider = "ollama"
	// ProviderOffline answers deterministically without any key, so the product runs anywhere.
	ProviderOffline Provider = "offline"
)

// Providers lists the providers an agent may use, in a stable order.
var Providers = []Provider{ProviderOpenAI, ProviderAnthropic, ProviderOllama, ProviderOffline}

// DefaultModel is the model an agent gets when it names a provider but no model.
func DefaultModel(p Provider) string {
	switch p {
	case ProviderOpenAI:
		return "gpt-4o-mini"
	case ProviderAnthropic:
		return "claude-sonnet-4-5"
	case ProviderOllama:
		return "llama3.2"
	default:
		return "offline-1"
	}
}

// Limits on agent fields; exported so the API can document them.
const (
	MaxAgentNameLen     = 64
	MaxAgentRoleLen     = 64
	MaxModelLen         = 128
	MaxTraits           = 16
	MaxTraitLen         = 40
	MaxStyleLen         = 280
	MaxSystemPromptLen  = 20000
	MaxTools            = 64
	MinTemperature      = 0.0
	MaxTemperature      = 2.0
	MaxMaxTokens        = 200000
	DefaultTemperature  = 0.7
	DefaultMaxTokens    = 1024
	DefaultAgentRole    = "assistant"
	defaultCommunicator = ""
)

var (
	toolNamePattern  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	modelNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$`)
)

// Personality shapes how an agent speaks and how freely its model samples.
type Personality struct {
	Traits             []string `json:"traits"`
	CommunicationStyle string   `json:"communication_style"`
	Temperature        float64  `json:"temperature"`
	MaxTokens          int      `json:"max_tokens"`
}

// AgentSpec is everything a person decides about an agent.
type AgentSpec struct {
	Name         string      `json:"name"`
	Role         string      `json:"role"`
	Provider     Provider    `json:"provider"`
	Model        string      `json:"model"`
	Personality  Personality `json:"personality"`
	SystemPrompt string      `json:"system_prompt"`
	Tools        []string    `json:"tools"`
}

// AgentPatch changes some fields of an agent; nil means "leave as is".
type AgentPatch struct {
	Name         *string
	Role         *string
	Provider     *Provider
	Model        *string
	Traits       *[]string
	Style        *string
	Temperature  *float64
	MaxTokens    *int
	SystemPrompt *string
	Tools        *[]string
}

// Agent is the aggregate rebuilt from an agent's stream.
type Agent struct {
	ID      string
	Spec    AgentSpec
	Owner   string
	Version int64
	Deleted bool
}

// Exists reports whether the agent was created and not deleted.
func (a *Agent) Exists() bool { return a.Version > 0 && !a.Deleted }

// Apply folds one event into the aggregate. It never fails: events are facts.
func (a *Agent) Apply(e Event) {
	a.Version++
	switch ev := e.(type) {
	case *AgentCreated:
		a.ID = ev.ID
		a.Spec = ev.spec()
		a.Owner = ev.CreatedBy
	case *AgentUpdated:
		a.Spec = ev.spec()
	case *AgentDeleted:
		a.Deleted = true
	}
}

// NormalizeAgentSpec fills defaults and trims whitespace, so that what is validated is what is
// stored.
func NormalizeAgentSpec(s AgentSpec) AgentSpec {
	s.Name = strings.TrimSpace(s.Name)
	s.Role = strings.TrimSpace(s.Role)
	if s.Role == "" {
		s.Role = DefaultAgentRole
	}
	s.Provider = Provider(strings.ToLower(strings.TrimSpace(string(s.Provider))))
	if s.Provider == "" {
		s.Provider = ProviderOffline
	}
	s.Model = strings.TrimSpace(s.Model)
	if s.Model == "" {
		s.Model = DefaultModel(s.Provider)
	}
	traits := make([]string, 0, len(s.Personality.Traits))
	for _, t := range s.Personality.Traits {
		traits = append(traits, strings.TrimSpace(t))
	}
	s.Personality.Traits = traits
	s.Personality.CommunicationStyle = strings.TrimSpace(s.Personality.CommunicationStyle)
	if s.Personality.MaxTokens == 0 {
		s.Personality.MaxTokens = DefaultMaxTokens
	}
	if s.Tools == nil {
		s.Tools = []string{}
	}
	tools := make([]string, 0, len(s.Tools))
	for _, t := range s.Tools {
		tools = append(tools, strings.TrimSpace(t))
	}
	s.Tools = tools
	return s
}

// ValidateAgentSpec reports every rule the spec breaks, each with the field at fault.
func ValidateAgentSpec(s AgentSpec) error {
	var v Validation
	switch n := utf8.RuneCountInString(s.Name); {
	case n == 0:
		v.Add("name", "is required")
	case n > MaxAgentNameLen:
		v.Add("name", "must be at most %d characters (got %d)", MaxAgentNameLen, n)
	case hasControl(s.Name):
		v.Add("name", "must not contain control characters")
	}
	if n := utf8.RuneCountInString(s.Role); n > MaxAgentRoleLen {
		v.Add("role", "must be at most %d characters (got %d)", MaxAgentRoleLen, n)
	} else if hasControl(s.Role) {
		v.Add("role", "must not contain control characters")
	}
	if !knownProvider(s.Provider) {
		v.Add("provider", "unknown provider %q; use one of openai, anthropic, ollama, offline", s.Provider)
	}
	if len(s.Model) > MaxModelLen {
		v.Add("model", "must be at most %d characters", MaxModelLen)
	} else if !modelNamePattern.MatchString(s.Model) {
		v.Add("model", "must be a model name such as gpt-4o-mini (letters, digits and . _ : / @ + -)")
	}
	p := s.Personality
	if len(p.Traits) > MaxTraits {
		v.Add("personality.traits", "at most %d traits (got %d)", MaxTraits, len(p.Traits))
	}
	seenTrait := map[string]bool{}
	for i, t := range p.Traits {
		field := "personality.traits[" + strconv.Itoa(i) + "]"
		switch n := utf8.RuneCountInString(t); {
		case n == 0:
			v.Add(field, "must not be empty")
		case n > MaxTraitLen:
			v.Add(field, "must be at most %d characters", MaxTraitLen)
		case seenTrait[strings.ToLower(t)]:
			v.Add(field, "duplicate trait %q", t)
		}
		seenTrait[strings.ToLower(t)] = true
	}
	if n := utf8.RuneCountInString(p.CommunicationStyle); n > MaxStyleLen {
		v.Add("personality.communication_style", "must be at most %d characters", MaxStyleLen)
	}
	if p.Temperature < MinTemperature || p.Temperature > MaxTemperature || p.Temperature != p.Temperature {
		v.Add("personality.temperature", "must be between %.0f and %.0f (got %g)", MinTemperature, MaxTemperature, p.Temperature)
	}
	if p.MaxTokens < 1 || p.MaxTokens > MaxMaxTokens {
		v.Add("personality.max_tokens", "must be between 1 and %d (got %d)", MaxMaxTokens, p.MaxTokens)
	}
	if n := utf8.RuneCountInString(s.SystemPrompt); n > MaxSystemPromptLen {
		v.Add("system_prompt", "must be at most %d characters (got %d)", MaxSystemPromptLen, n)
	}
	if len(s.Tools) > MaxTools {
		v.Add("tools", "at most %d tools (got %d)", MaxTools, len(s.Tools))
	}
	seenTool := map[string]bool{}
	for i, t := range s.Tools {
		field := "tools[" + strconv.Itoa(i) + "]"
		if !toolNamePattern.MatchString(t) {
			v.Add(field, "%q is not a tool name (lowercase letters, digits and _, starting with a letter)", t)
		} else if seenTool[t] {
			v.Add(field, "duplicate tool %q", t)
		}
		seenTool[t] = true
	}
	return v.Err()
}

// CreateAgent decides whether an agent may be created with this spec, owned by owner.
func CreateAgent(id string, spec AgentSpec, owner string) ([]Event, error) {
	if strings.TrimSpace(id) == "" {
		return nil, &Error{Code: CodeInvalid, Message: "id: is required", Fields: []FieldError{{Field: "id", Message: "is required"}}}
	}
	spec = NormalizeAgentSpec(spec)
	if err := ValidateAgentSpec(spec); err != nil {
		return nil, err
	}
	return []Event{newAgentCreated(id, spec, owner)}, nil
}

// Create is CreateAgent on an aggregate loaded from its stream, which must be empty.
func (a *Agent) Create(id string, spec AgentSpec, owner string) ([]Event, error) {
	if a.Version > 0 {
		return nil, Errorf(CodeConflict, "agent %s already exists", id)
	}
	return CreateAgent(id, spec, owner)
}

// AccessibleBy reports whether actor may see and change the agent: its owner or an admin.
// Agents created before accounts existed have no owner and are admin-only.
func (a *Agent) AccessibleBy(actor Actor) bool {
	return actor.IsAdmin() || (a.Owner != "" && a.Owner == actor.ID)
}

func (a *Agent) authorize(actor Actor) error {
	if !a.Exists() {
		return Errorf(CodeNotFound, "agent not found")
	}
	if !a.AccessibleBy(actor) {
		return Errorf(CodeForbidden, "you do not own this agent")
	}
	return nil
}

// Update applies a patch. A patch that changes nothing records nothing.
func (a *Agent) Update(actor Actor, p AgentPatch) ([]Event, error) {
	if err := a.authorize(actor); err != nil {
		return nil, err
	}
	next := a.Spec
	next.Personality.Traits = append([]string(nil), a.Spec.Personality.Traits...)
	next.Tools = append([]string(nil), a.Spec.Tools...)
	set(&next.Name, p.Name)
	set(&next.Role, p.Role)
	set(&next.Provider, p.Provider)
	set(&next.Model, p.Model)
	set(&next.Personality.Traits, p.Traits)
	set(&next.Personality.CommunicationStyle, p.Style)
	set(&next.Personality.Temperature, p.Temperature)
	set(&next.Personality.MaxTokens, p.MaxTokens)
	set(&next.SystemPrompt, p.SystemPrompt)
	set(&next.Tools, p.Tools)
	if p.Provider != nil && p.Model == nil && *p.Provider != a.Spec.Provider {
		// A model name belongs to its provider; switching provider without naming a model
		// takes the new provider's default rather than keeping a name it cannot serve.
		next.Model = ""
	}
	next = NormalizeAgentSpec(next)
	if err := ValidateAgentSpec(next); err != nil {
		return nil, err
	}
	changed := diffAgentSpec(a.Spec, next)
	if len(changed) == 0 {
		return nil, nil
	}
	return []Event{newAgentUpdated(a.ID, next, changed)}, nil
}

// Delete removes the agent. Deleting twice is a not-found, not a silent success, so that a
// client learns its view was stale.
func (a *Agent) Delete(actor Actor) ([]Event, error) {
	if err := a.authorize(actor); err != nil {
		return nil, err
	}
	return []Event{&AgentDeleted{ID: a.ID}}, nil
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func diffAgentSpec(a, b AgentSpec) []string {
	var changed []string
	add := func(cond bool, name string) {
		if cond {
			changed = append(changed, name)
		}
	}
	add(a.Name != b.Name, "name")
	add(a.Role != b.Role, "role")
	add(a.Provider != b.Provider, "provider")
	add(a.Model != b.Model, "model")
	add(!equalStrings(a.Personality.Traits, b.Personality.Traits), "personality.traits")
	add(a.Personality.CommunicationStyle != b.Personality.CommunicationStyle, "personality.communication_style")
	add(a.Personality.Temperature != b.Personality.Temperature, "personality.temperature")
	add(a.Personality.MaxTokens != b.Personality.MaxTokens, "personality.max_tokens")
	add(a.SystemPrompt != b.SystemPrompt, "system_prompt")
	add(!equalStrings(a.Tools, b.Tools), "tools")
	return changed
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func knownProvider(p Provider) bool {
	for _, known := range Providers {
		if p == known {
			return true
		}
	}
	return false
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
