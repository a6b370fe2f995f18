package llm_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gathering/gathering/llm"
)

func TestCost(t *testing.T) {
	cases := []struct {
		provider, model string
		u               llm.Usage
		want            float64
	}{
		{"openai", "gpt-4o-mini", llm.Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000}, 0.75},
		{"openai", "gpt-4o-2024-08-06", llm.Usage{InputTokens: 2_000, OutputTokens: 1_000}, 0.015},
		{"anthropic", "claude-sonnet-4-5", llm.Usage{InputTokens: 10_000, OutputTokens: 2_000}, 0.06},
		{"anthropic", "claude-sonnet-4-5-20250929", llm.Usage{InputTokens: 1_000_000}, 3},
		{"ollama", "llama3.2:3b", llm.Usage{InputTokens: 5_000, OutputTokens: 5_000}, 0},
		{"offline", "offline-1", llm.Usage{InputTokens: 5, OutputTokens: 5}, 0},
	}
	for _, c := range cases {
		got, known := llm.Cost(c.provider, c.model, c.u)
		if !known || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Cost(%s, %s, %+v) = %v, %v; want %v", c.provider, c.model, c.u, got, known, c.want)
		}
	}
	for _, c := range [][2]string{{"openai", "gpt-9"}, {"nope", "gpt-4o"}, {"openai", "gpt-4o-turbo"}, {"anthropic", "gpt-4o"}} {
		if usd, known := llm.Cost(c[0], c[1], llm.Usage{InputTokens: 10}); known || usd != 0 {
			t.Errorf("Cost(%s, %s) = %v, %v; want unknown", c[0], c[1], usd, known)
		}
	}
	// gpt-4o-mini must not be priced as gpt-4o.
	if m, _ := llm.LookupModel("openai", "gpt-4o-mini-2024-07-18"); m.ID != "gpt-4o-mini" {
		t.Errorf("snapshot resolved to %q", m.ID)
	}
}

func TestCatalog(t *testing.T) {
	want := map[string]bool{"openai": true, "anthropic": true, "ollama": true, "offline": true, "deepseek": true, "mistral": true}
	for _, p := range llm.Catalog() {
		delete(want, p.Name)
		if len(p.Models) == 0 {
			t.Errorf("%s has no models", p.Name)
		}
		if p.OpenAICompatible && p.BaseURL == "" {
			t.Errorf("%s has no base URL", p.Name)
		}
		for _, m := range p.Models {
			if m.ContextWindow <= 0 || m.MaxOutput <= 0 || m.InputPerMTok < 0 || m.OutputPerMTok < 0 || m.DisplayName == "" {
				t.Errorf("%s/%s: %+v", p.Name, m.ID, m)
			}
			if p.Local != (m.InputPerMTok == 0 && m.OutputPerMTok == 0) {
				t.Errorf("%s/%s: local %v but priced %+v", p.Name, m.ID, p.Local, m)
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("missing providers %v", want)
	}
	// Catalog returns a copy.
	c := llm.Catalog()
	c[0].Models[0].InputPerMTok = 1e9
	if llm.Catalog()[0].Models[0].InputPerMTok == 1e9 {
		t.Error("Catalog exposes its internal slice")
	}
}

func TestRegistry(t *testing.T) {
	r := llm.NewRegistry(llm.Config{})
	for _, name := range []string{"openai", "anthropic", "ollama", "offline", "deepseek", "mistral"} {
		p, err := r.Get(name)
		if err != nil || p.Name() != name {
			t.Fatalf("Get(%s) = %v, %v", name, p, err)
		}
	}
	if _, err := r.Get("nope"); !errors.Is(err, llm.ErrUnknownProvider) {
		t.Errorf("Get(nope) = %v", err)
	}
	// No keys: the providers exist and fail at use time, without any request.
	for name, env := range map[string]string{"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "deepseek": "DEEPSEEK_API_KEY", "mistral": "MISTRAL_API_KEY"} {
		p, _ := r.Get(name)
		_, err := p.Complete(context.Background(), llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}})
		var e *llm.Error
		if !errors.As(err, &e) || e.Kind != llm.ErrMissingKey || e.Provider != name {
			t.Errorf("%s: %v", name, err)
		} else if e.Message == "" || !strings.Contains(e.Error(), env) {
			t.Errorf("%s: message %q does not name %s", name, e.Error(), env)
		}
	}
	off, _ := r.Get(" Offline ")
	if resp, err := off.Complete(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}); err != nil || resp.Content == "" {
		t.Errorf("offline: %v %v", resp, err)
	}

	r.Register(llm.NewOpenAI(llm.OpenAIConfig{Name: "vllm", BaseURL: "http://127.0.0.1:1/v1", APIKey: "x"}))
	if p, err := r.Get("vllm"); err != nil || p.Name() != "vllm" {
		t.Errorf("registered provider: %v %v", p, err)
	}
}
