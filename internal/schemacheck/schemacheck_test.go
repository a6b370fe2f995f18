package schemacheck_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/internal/schemacheck"
)

var sources = map[string]string{
	"shape": `{
		"type": "object", "additionalProperties": false,
		"properties": {
			"a": {"type": "string"},
			"b": {"type": "string"},
			"tags": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string", "minLength": 2}},
			"inner": {"type": "object", "additionalProperties": false,
				"properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
				"oneOf": [{"required": ["x"]}, {"required": ["y"]}]}
		},
		"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}`,
	"plain": `{"type": "object", "properties": {"n": {"type": "number", "minimum": 0.5}}}`,
}

type fe struct{ Field, Message string }

func plain(errs []domain.FieldError) []fe {
	var out []fe
	for _, e := range errs {
		out = append(out, fe(e))
	}
	return out
}

func TestCheckWordsEachViolationAtItsPath(t *testing.T) {
	set := schemacheck.MustCompile(sources, schemacheck.Options{
		BaseURI:       "urn:test:",
		OneOfMessages: map[string]string{"shape": "needs exactly one of a or b"},
	})
	cases := []struct {
		name, cfg string
		want      []fe
	}{
		{"shape", `{"a":"x"}`, nil},
		{"shape", `{}`, []fe{{"", "needs exactly one of a or b"}}},
		{"shape", `{"a":"x","b":"y"}`, []fe{{"", "needs exactly one of a or b"}}},
		{"shape", `{"a":"x","tags":[]}`, []fe{{"tags", "must not be empty"}}},
		{"shape", `{"a":"x","tags":["ok","yy","zz"]}`, []fe{{"tags", "allows at most 2 items (got 3)"}}},
		{"shape", `{"a":"x","tags":["ok","y"]}`, []fe{{"tags[1]", "must be at least 2 characters (got 1)"}}},
		{"shape", `{"a":"x","inner":{"x":1,"z":2}}`, []fe{{"inner.z", "unknown property"}}},
		{"shape", `{"a":"x","zz":1}`, []fe{{"zz", "unknown property; allowed: a, b, inner, tags"}}},
		// Below the root, a oneOf has the generic wording.
		{"shape", `{"a":"x","inner":{}}`, []fe{{"inner", "does not match any of the allowed shapes"}}},
		{"shape", `{"a":"x","inner":{"x":1,"y":2}}`, []fe{{"inner", "matches more than one of the allowed shapes"}}},
		{"plain", ``, nil},
		{"plain", `{"n":0.25}`, []fe{{"n", "must be at least 0.5 (got 0.25)"}}},
		{"plain", `{"n":`, []fe{{"", "must be valid JSON"}}},
		{"missing", `{}`, []fe{{"", `no schema named "missing"`}}},
	}
	for _, c := range cases {
		if got := plain(set.Check(c.name, json.RawMessage(c.cfg))); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s:\n got %q\nwant %q", c.name, c.cfg, got, c.want)
		}
	}
}

func TestSourceIsCompactAndTheCallersOwn(t *testing.T) {
	set := schemacheck.MustCompile(sources, schemacheck.Options{})
	src, ok := set.Source("plain")
	if !ok || string(src) != `{"type":"object","properties":{"n":{"type":"number","minimum":0.5}}}` {
		t.Fatalf("%s %v", src, ok)
	}
	src[0] = 'x'
	if again, _ := set.Source("plain"); again[0] != '{' {
		t.Fatal("a caller changed the stored schema")
	}
	if _, ok := set.Source("missing"); ok {
		t.Fatal("a source for a missing schema")
	}
}

func TestCompileNamesTheBrokenSchema(t *testing.T) {
	_, err := schemacheck.Compile(map[string]string{"bad": `{"type": "objekt"}`}, schemacheck.Options{BaseURI: "urn:test:"})
	if err == nil || !strings.HasPrefix(err.Error(), "schema bad: ") {
		t.Fatalf("%v", err)
	}
	if _, err := schemacheck.Compile(map[string]string{"bad": `{"type": `}, schemacheck.Options{}); err == nil {
		t.Fatal("a schema that is not JSON compiled")
	}
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("MustCompile did not panic")
		}
	}()
	schemacheck.MustCompile(map[string]string{"bad": `{"minimum": "x"}`}, schemacheck.Options{})
}

func TestInstancePathTellsIndexesFromKeys(t *testing.T) {
	inst := map[string]any{"list": []any{map[string]any{"0": "x"}}}
	if got := schemacheck.InstancePath(inst, []string{"list", "0", "0"}); got != "list[0].0" {
		t.Fatalf("%q", got)
	}
	if got := schemacheck.JoinPath("", "a") + "|" + schemacheck.JoinPath("a", "b"); got != "a|a.b" {
		t.Fatalf("%q", got)
	}
}
