package llm

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config is what the product knows about providers, usually read from the environment
// (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...). Empty keys are fine: those providers are still
// registered and fail with ErrMissingKey when used.
type Config struct {
	OpenAIKey, OpenAIBaseURL       string
	AnthropicKey, AnthropicBaseURL string
	OllamaBaseURL                  string
	// DeepSeekKey and MistralKey enable the OpenAI-compatible providers of the catalog.
	DeepSeekKey, MistralKey string
	// Timeout bounds each attempt of a call; MaxRetries is the retry count (0: 2, <0: none).
	Timeout    time.Duration
	MaxRetries int
}

// ErrUnknownProvider is wrapped by Registry.Get for a name it does not know.
var ErrUnknownProvider = errors.New("unknown provider")

// Registry holds the providers by catalog name. It is safe for concurrent use.
type Registry struct {
	mu        sync.RWMutex
	providers map[string]Provider
}

// NewRegistry builds openai, anthropic, deepseek, mistral, ollama and offline from cfg.
func NewRegistry(cfg Config) *Registry {
	r := &Registry{providers: map[string]Provider{}}
	r.Register(NewOpenAI(OpenAIConfig{
		APIKey: cfg.OpenAIKey, BaseURL: cfg.OpenAIBaseURL, Timeout: cfg.Timeout, MaxRetries: cfg.MaxRetries,
	}))
	r.Register(NewAnthropic(AnthropicConfig{
		APIKey: cfg.AnthropicKey, BaseURL: cfg.AnthropicBaseURL, Timeout: cfg.Timeout, MaxRetries: cfg.MaxRetries,
	}))
	r.Register(NewOpenAI(OpenAIConfig{
		Name: "deepseek", APIKey: cfg.DeepSeekKey, BaseURL: DefaultDeepSeekBaseURL, KeyEnv: "DEEPSEEK_API_KEY",
		Timeout: cfg.Timeout, MaxRetries: cfg.MaxRetries,
	}))
	r.Register(NewOpenAI(OpenAIConfig{
		Name: "mistral", APIKey: cfg.MistralKey, BaseURL: DefaultMistralBaseURL, KeyEnv: "MISTRAL_API_KEY",
		Timeout: cfg.Timeout, MaxRetries: cfg.MaxRetries,
	}))
	r.Register(NewOllama(OllamaConfig{BaseURL: cfg.OllamaBaseURL, Timeout: cfg.Timeout, MaxRetries: cfg.MaxRetries}))
	r.Register(NewOffline())
	return r
}

// Register adds p under p.Name(), replacing a provider of that name (e.g. an OpenAI-compatible
// local server made with NewOpenAI and its own Name).
func (r *Registry) Register(p Provider) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.providers[strings.ToLower(p.Name())] = p
}

// Get returns the provider called name.
func (r *Registry) Get(name string) (Provider, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if p, ok := r.providers[strings.ToLower(strings.TrimSpace(name))]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("llm: %w %q (known: %s)", ErrUnknownProvider, name, strings.Join(r.namesLocked(), ", "))
}

// Names lists the registered providers, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.namesLocked()
}

func (r *Registry) namesLocked() []string {
	names := make([]string, 0, len(r.providers))
	for n := range r.providers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
