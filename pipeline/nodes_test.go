package pipeline

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gathering/gathering/domain"
)

func TestTemplateRendersValuesAndReportsErrors(t *testing.T) {
	input := map[string]any{"name": "Ada", "score": 72.0, "tags": []any{"a", "b"}, "none": nil}
	got, err := RenderTemplate("{{input.name}} scored {{ input.score }} {{input.tags}}{{input.none}}{{input.missing}}!", input)
	if err != nil || got != `Ada scored 72 ["a","b"]!` {
		t.Fatalf("got %q, %v", got, err)
	}
	if got, err := RenderTemplate("no placeholders", nil); err != nil || got != "no placeholders" {
		t.Fatalf("got %q, %v", got, err)
	}
	for src, want := range map[string]string{
		"hello {{input.name":    "at position 7: the placeholder is not closed",
		"x {{ input..name }}":   "in the placeholder at position 3",
		"{{ }}":                 "the expression is empty",
		"{{ nothing.here }} ok": "in the placeholder at position 1",
	} {
		if _, err := ParseTemplate(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
}

func TestComputeEachInputOnlyNodeType(t *testing.T) {
	input := map[string]any{"score": 72.0, "name": "Ada"}
	cases := []struct {
		typ, config, want string
	}{
		{domain.NodeTypeCondition, `{"expression": "input.score > 50"}`, `{"result":true,"value":{"name":"Ada","score":72}}`},
		{domain.NodeTypeCondition, `{"expression": "input.score > 90"}`, `{"result":false,"value":{"name":"Ada","score":72}}`},
		{domain.NodeTypeFilter, `{"expression": "input.score > 90"}`, `{"name":"Ada","score":72}`},
		{domain.NodeTypeMerge, `{}`, `{"name":"Ada","score":72}`},
		{domain.NodeTypeTrigger, `{}`, `{"name":"Ada","score":72}`},
		{domain.NodeTypeTransform, `{"template": "{{input.name}}: {{input.score}}"}`, `"Ada: 72"`},
		{domain.NodeTypeTransform, `{"mapping": {"who": "input.name", "high": "input.score >= 70", "double": "input.missing"}}`, `{"double":null,"high":true,"who":"Ada"}`},
	}
	for _, c := range cases {
		out, err := Compute(domain.PipelineNode{ID: "n", Type: c.typ, Config: json.RawMessage(c.config)}, input)
		if err != nil {
			t.Fatalf("%s %s: %v", c.typ, c.config, err)
		}
		raw, _ := json.Marshal(out)
		if string(raw) != c.want {
			t.Errorf("%s %s: %s, want %s", c.typ, c.config, raw, c.want)
		}
	}
	_, err := Compute(domain.PipelineNode{ID: "n", Type: domain.NodeTypeCondition, Config: json.RawMessage(`{"expression": "input.name > 3"}`)}, input)
	if err == nil || Retryable(err) {
		t.Fatalf("a condition that cannot be evaluated: %v (retryable %v)", err, Retryable(err))
	}
	if _, err := Compute(domain.PipelineNode{ID: "n", Type: domain.NodeTypeAgent, Config: json.RawMessage(`{}`)}, input); err == nil {
		t.Fatal("an agent node was computed from its input")
	}
}

func TestConfigChecksTemplates(t *testing.T) {
	errs := CheckConfig(domain.NodeTypeTransform, json.RawMessage(`{"template": "hi {{input.name"}`))
	if len(errs) != 1 || errs[0].Field != "template" {
		t.Fatalf("%+v", errs)
	}
	errs = CheckConfig(domain.NodeTypeAgent, json.RawMessage(`{"agent_id": "6f1c0a35-2b51-4b8e-9d57-2f1f8b2f0e01", "prompt": "{{ bad.root }}"}`))
	if len(errs) != 1 || errs[0].Field != "prompt" {
		t.Fatalf("%+v", errs)
	}
}
