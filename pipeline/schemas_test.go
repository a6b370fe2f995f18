package pipeline

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gathering/gathering/domain"
)

const agentID = "0b8e6c2e-5d4a-4f6e-9b1a-2f3c4d5e6f70"

func TestEveryNodeTypeHasACompilingSchema(t *testing.T) {
	if len(compiledSchemas()) != len(domain.PipelineNodeTypes) {
		t.Fatalf("%d schemas for %d node types", len(compiledSchemas()), len(domain.PipelineNodeTypes))
	}
	for _, typ := range domain.PipelineNodeTypes {
		raw, ok := ConfigSchema(typ)
		if !ok || !json.Valid(raw) {
			t.Errorf("%s: no schema", typ)
		}
	}
	if _, ok := ConfigSchema("webhook"); ok {
		t.Fatal("schema for an unknown type")
	}
}

func TestCheckConfigAcceptsValidConfigs(t *testing.T) {
	valid := map[string][]string{
		"agent":     {`{"agent_id":"` + agentID + `","prompt":"Summarize {{input}}"}`, `{"agent_id":"` + agentID + `","prompt":"x","max_tokens":512}`},
		"condition": {`{"expression":"input.score > 0.5"}`},
		"action":    {`{"action":"noop"}`, `{"action":"http_request","url":"https://example.com/hook","method":"POST","body":{"a":[1]}}`, `{"action":"emit_event","body":"done"}`},
		"transform": {`{"template":"Hello {{input.name}}"}`, `{"mapping":{"score":"input.score","ok":"input.score > 0.5"}}`},
		"filter":    {`{"expression":"input.lang == \"en\""}`},
		"merge":     {`{}`, `{"strategy":"first"}`},
		"trigger":   {`{}`, `{"kind":"schedule"}`},
		"delay":     {`{"seconds":0}`, `{"seconds":86400}`, `{"seconds":5.0}`},
	}
	for typ, cfgs := range valid {
		for _, cfg := range cfgs {
			if errs := CheckConfig(typ, json.RawMessage(cfg)); len(errs) != 0 {
				t.Errorf("%s %s: %v", typ, cfg, errs)
			}
		}
	}
	if errs := CheckConfig("merge", nil); len(errs) != 0 {
		t.Fatalf("an empty merge config is {}: %v", errs)
	}
}

func TestCheckConfigReportsEveryViolationWithItsPath(t *testing.T) {
	cases := []struct {
		typ, cfg string
		want     []domain.FieldError
	}{
		{"agent", `{}`, []domain.FieldError{{Field: "agent_id", Message: "is required"}, {Field: "prompt", Message: "is required"}}},
		{"agent", `{"agent_id":"nope","prompt":"","max_tokens":0.5,"model":"x"}`, []domain.FieldError{
			{Field: "agent_id", Message: `must be a valid uuid (got "nope")`},
			{Field: "max_tokens", Message: "must be an integer (got a number)"},
			{Field: "model", Message: "unknown property; allowed: agent_id, max_tokens, prompt"},
			{Field: "prompt", Message: "must not be empty"},
		}},
		{"agent", `{"agent_id":"` + agentID + `","prompt":"x","max_tokens":0}`, []domain.FieldError{{Field: "max_tokens", Message: "must be at least 1 (got 0)"}}},
		{"action", `{"action":"http_request","method":"get"}`, []domain.FieldError{
			{Field: "method", Message: `must be one of "GET", "POST", "PUT", "PATCH", "DELETE" (got "get")`},
			{Field: "url", Message: "is required"},
		}},
		{"action", `{"action":"shell"}`, []domain.FieldError{{Field: "action", Message: `must be one of "http_request", "emit_event", "noop" (got "shell")`}}},
		{"action", `{"action":"http_request","url":"ftp://example.com"}`, []domain.FieldError{{Field: "url", Message: `must match ^https?:// (got "ftp://example.com")`}}},
		{"transform", `{}`, []domain.FieldError{{Field: "", Message: "needs exactly one of template or mapping"}}},
		{"transform", `{"template":"x","mapping":{"a":"input"}}`, []domain.FieldError{{Field: "", Message: "needs exactly one of template or mapping"}}},
		{"transform", `{"mapping":{"a":"input.x","b":3}}`, []domain.FieldError{{Field: "mapping.b", Message: "must be a string (got a number)"}}},
		{"transform", `{"mapping":{"z":"input.x >","a":"nope"}}`, []domain.FieldError{
			{Field: "mapping.a", Message: `at position 1: unknown name "nope"; a path starts with input or output`},
			{Field: "mapping.z", Message: `at position 10: expected a value (a number, a string, true, false, null, a path or "("), found end of expression`},
		}},
		{"condition", `{"expression":"input.score >"}`, []domain.FieldError{{Field: "expression", Message: `at position 14: expected a value (a number, a string, true, false, null, a path or "("), found end of expression`}}},
		{"filter", `{"expression":"42"}`, []domain.FieldError{{Field: "expression", Message: "at position 1: a condition must be true or false, and this is always a number"}}},
		{"filter", `{}`, []domain.FieldError{{Field: "expression", Message: "is required"}}},
		{"merge", `{"strategy":"any"}`, []domain.FieldError{{Field: "strategy", Message: `must be one of "all", "first" (got "any")`}}},
		{"trigger", `{"kind":"cron","at":"9"}`, []domain.FieldError{
			{Field: "at", Message: "unknown property; allowed: kind"},
			{Field: "kind", Message: `must be one of "manual", "schedule", "event" (got "cron")`},
		}},
		{"trigger", `[]`, []domain.FieldError{{Field: "", Message: "must be an object (got an array)"}}},
		{"delay", `{"seconds":90000}`, []domain.FieldError{{Field: "seconds", Message: "must be at most 86400 (got 90000)"}}},
		{"delay", `{"seconds":-1.5}`, []domain.FieldError{{Field: "seconds", Message: "must be an integer (got a number)"}}},
		{"delay", `{"seconds":`, []domain.FieldError{{Field: "", Message: "must be valid JSON"}}},
		{"webhook", `{}`, []domain.FieldError{{Field: "", Message: `no config schema for node type "webhook"`}}},
	}
	for _, c := range cases {
		got := CheckConfig(c.typ, json.RawMessage(c.cfg))
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s:\n got %q\nwant %q", c.typ, c.cfg, got, c.want)
		}
	}
}

func TestInstancePathTellsIndexesFromKeys(t *testing.T) {
	inst := map[string]any{"list": []any{map[string]any{"0": "x"}}, "m": map[string]any{"1": true}}
	for tokens, want := range map[string]string{
		"list/0/0": "list[0].0",
		"m/1":      "m.1",
		"list/7/x": "list[7].x",
		"":         "",
	} {
		var toks []string
		if tokens != "" {
			toks = strings.Split(tokens, "/")
		}
		if got := instancePath(inst, toks); got != want {
			t.Errorf("%q: %q, want %q", tokens, got, want)
		}
	}
}

// The domain validates a whole spec with these checkers and prefixes their paths.
func TestDomainValidationUsesTheCheckers(t *testing.T) {
	spec := domain.PipelineSpec{
		Name: "digest",
		Nodes: []domain.PipelineNode{
			{ID: "start", Type: "trigger"},
			{ID: "check", Type: "condition", Config: json.RawMessage(`{"expression":"input.n > 1"}`)},
			{ID: "write", Type: "agent", Config: json.RawMessage(`{"prompt":"x","temperature":1}`)},
			{ID: "wait", Type: "delay", Config: json.RawMessage(`{"seconds":-1}`)},
		},
		Edges: []domain.PipelineEdge{
			{From: "start", To: "check"},
			{From: "check", To: "write", Condition: "output.result &&"},
			{From: "check", To: "wait", Condition: "!output.result"},
		},
	}
	err := domain.ValidatePipelineSpec(spec, CheckConfig, CheckCondition)
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeInvalid {
		t.Fatalf("%v", err)
	}
	want := []domain.FieldError{
		{Field: "nodes[2].config.agent_id", Message: "is required"},
		{Field: "nodes[2].config.temperature", Message: "unknown property; allowed: agent_id, max_tokens, prompt"},
		{Field: "nodes[3].config.seconds", Message: "must be at least 0 (got -1)"},
		{Field: "edges[1].condition", Message: `at position 17: expected a value (a number, a string, true, false, null, a path or "("), found end of expression`},
	}
	if !reflect.DeepEqual(de.Fields, want) {
		t.Fatalf("fields:\n got %q\nwant %q", de.Fields, want)
	}

	spec.Nodes[2].Config = json.RawMessage(`{"agent_id":"` + agentID + `","prompt":"x"}`)
	spec.Nodes[3].Config = json.RawMessage(`{"seconds":30}`)
	spec.Edges[1].Condition = "output.result"
	if err := domain.ValidatePipelineSpec(spec, CheckConfig, CheckCondition); err != nil {
		t.Fatal(err)
	}
}
