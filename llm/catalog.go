package llm

import "strings"

// ModelInfo describes one model of a provider. Prices are USD per million tokens, as published
// by the vendor (standard tier, no caching or batch discounts); a local model costs 0.
type ModelInfo struct {
	ID             string  `json:"id"`
	DisplayName    string  `json:"display_name"`
	ContextWindow  int     `json:"context_window"`
	MaxOutput      int     `json:"max_output"`
	InputPerMTok   float64 `json:"input_per_mtok"`
	OutputPerMTok  float64 `json:"output_per_mtok"`
	SupportsTools  bool    `json:"supports_tools"`
	SupportsStream bool    `json:"supports_streaming"`
	// Deprecated, when set, says the vendor is retiring the model (and when).
	Deprecated string `json:"deprecated,omitempty"`
}

// ProviderInfo describes a provider and the models the product knows about. Other model ids
// can still be sent; they just have no known price.
type ProviderInfo struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	// BaseURL is the default API root.
	BaseURL string `json:"base_url,omitempty"`
	// KeyEnv is the environment variable conventionally holding the key ("" when none is needed).
	KeyEnv string `json:"key_env,omitempty"`
	// OpenAICompatible providers are reached through NewOpenAI with BaseURL.
	OpenAICompatible bool `json:"openai_compatible,omitempty"`
	// Local providers run on the user's machine (or none at all) and cost nothing.
	Local  bool        `json:"local,omitempty"`
	Models []ModelInfo `json:"models"`
}

const (
	DefaultDeepSeekBaseURL = "https://api.deepseek.com/v1"
	DefaultMistralBaseURL  = "https://api.mistral.ai/v1"
)

// Figures are the vendors' published ones (prices as of late 2025); re-check them when prices
// change. Deprecation notes come from anthropic-sdk-go v2.15.0's model list.
var catalog = []ProviderInfo{
	{
		Name: "openai", DisplayName: "OpenAI", BaseURL: DefaultOpenAIBaseURL, KeyEnv: "OPENAI_API_KEY",
		Models: []ModelInfo{
			{ID: "gpt-4o-mini", DisplayName: "GPT-4o mini", ContextWindow: 128_000, MaxOutput: 16_384, InputPerMTok: 0.15, OutputPerMTok: 0.60, SupportsTools: true, SupportsStream: true},
			{ID: "gpt-4o", DisplayName: "GPT-4o", ContextWindow: 128_000, MaxOutput: 16_384, InputPerMTok: 2.50, OutputPerMTok: 10.00, SupportsTools: true, SupportsStream: true},
			{ID: "gpt-4.1", DisplayName: "GPT-4.1", ContextWindow: 1_047_576, MaxOutput: 32_768, InputPerMTok: 2.00, OutputPerMTok: 8.00, SupportsTools: true, SupportsStream: true},
			{ID: "o4-mini", DisplayName: "o4-mini", ContextWindow: 200_000, MaxOutput: 100_000, InputPerMTok: 1.10, OutputPerMTok: 4.40, SupportsTools: true, SupportsStream: true},
		},
	},
	{
		Name: "anthropic", DisplayName: "Anthropic", BaseURL: DefaultAnthropicBaseURL, KeyEnv: "ANTHROPIC_API_KEY",
		Models: []ModelInfo{
			{ID: "claude-sonnet-4-5", DisplayName: "Claude Sonnet 4.5", ContextWindow: 200_000, MaxOutput: 64_000, InputPerMTok: 3.00, OutputPerMTok: 15.00, SupportsTools: true, SupportsStream: true,
				Deprecated: "end-of-life 2026-11-30; Anthropic suggests claude-sonnet-5-5"},
			{ID: "claude-haiku-4-5", DisplayName: "Claude Haiku 4.5", ContextWindow: 200_000, MaxOutput: 64_000, InputPerMTok: 1.00, OutputPerMTok: 5.00, SupportsTools: true, SupportsStream: true},
			{ID: "claude-opus-4-1", DisplayName: "Claude Opus 4.1", ContextWindow: 200_000, MaxOutput: 32_000, InputPerMTok: 15.00, OutputPerMTok: 75.00, SupportsTools: true, SupportsStream: true,
				Deprecated: "retired by Anthropic (no longer in anthropic-sdk-go v2)"},
		},
	},
	{
		Name: "deepseek", DisplayName: "DeepSeek", BaseURL: DefaultDeepSeekBaseURL, KeyEnv: "DEEPSEEK_API_KEY", OpenAICompatible: true,
		Models: []ModelInfo{
			{ID: "deepseek-chat", DisplayName: "DeepSeek Chat (V3.2)", ContextWindow: 128_000, MaxOutput: 8_192, InputPerMTok: 0.28, OutputPerMTok: 0.42, SupportsTools: true, SupportsStream: true},
		},
	},
	{
		Name: "mistral", DisplayName: "Mistral AI", BaseURL: DefaultMistralBaseURL, KeyEnv: "MISTRAL_API_KEY", OpenAICompatible: true,
		Models: []ModelInfo{
			{ID: "mistral-large-latest", DisplayName: "Mistral Large", ContextWindow: 128_000, MaxOutput: 8_192, InputPerMTok: 2.00, OutputPerMTok: 6.00, SupportsTools: true, SupportsStream: true},
		},
	},
	{
		Name: "ollama", DisplayName: "Ollama (local)", BaseURL: DefaultOllamaBaseURL, Local: true,
		Models: []ModelInfo{
			{ID: "llama3.2", DisplayName: "Llama 3.2 3B", ContextWindow: 131_072, MaxOutput: 8_192, SupportsTools: true, SupportsStream: true},
			{ID: "qwen2.5", DisplayName: "Qwen2.5 7B", ContextWindow: 32_768, MaxOutput: 8_192, SupportsTools: true, SupportsStream: true},
		},
	},
	{
		Name: "offline", DisplayName: "Offline (no model)", Local: true,
		Models: []ModelInfo{
			{ID: OfflineModel, DisplayName: "Offline echo model", ContextWindow: 1_000_000, MaxOutput: 100_000, SupportsTools: true, SupportsStream: true},
		},
	},
}

// Catalog lists the known providers and models. The result is a copy the caller may change.
func Catalog() []ProviderInfo {
	out := make([]ProviderInfo, len(catalog))
	for i, p := range catalog {
		p.Models = append([]ModelInfo(nil), p.Models...)
		out[i] = p
	}
	return out
}

// LookupProvider returns the catalog entry of a provider.
func LookupProvider(name string) (ProviderInfo, bool) {
	for _, p := range Catalog() {
		if p.Name == name {
			return p, true
		}
	}
	return ProviderInfo{}, false
}

// LookupModel returns a model's catalog entry. A dated snapshot id ("gpt-4o-2024-08-06",
// "claude-sonnet-4-5-20250929") or an Ollama tag ("llama3.2:3b", "qwen2.5:latest") resolves to
// its base model.
func LookupModel(provider, model string) (ModelInfo, bool) {
	p, ok := LookupProvider(provider)
	if !ok {
		return ModelInfo{}, false
	}
	if p.Name == "ollama" {
		model, _, _ = strings.Cut(model, ":")
	}
	var best ModelInfo
	for _, m := range p.Models {
		if m.ID == model {
			return m, true
		}
		if rest, ok := strings.CutPrefix(model, m.ID+"-"); ok && isSnapshotSuffix(rest) && len(m.ID) > len(best.ID) {
			best = m
		}
	}
	return best, best.ID != ""
}

// isSnapshotSuffix reports whether s looks like a date suffix: digits and dashes.
func isSnapshotSuffix(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// Cost prices a call's usage in USD. known is false when the model has no catalog entry.
func Cost(provider, model string, u Usage) (usd float64, known bool) {
	m, ok := LookupModel(provider, model)
	if !ok {
		return 0, false
	}
	return (float64(u.InputTokens)*m.InputPerMTok + float64(u.OutputTokens)*m.OutputPerMTok) / 1e6, true
}
