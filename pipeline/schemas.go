package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gathering/gathering/domain"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The config of each node type is a JSON object checked against a JSON Schema (draft 2020-12)
// when a pipeline is created or updated. Unknown properties are refused everywhere, so a typo
// is an error rather than a setting silently ignored.
//
//	agent      {agent_id: uuid, prompt: a template (nodes.go), max_tokens?: 1..200000}
//	condition  {expression: a condition over input}; its output is {"result": bool, "value": input}
//	action     {action: http_request | emit_event | noop, url?: http(s) URI (required for
//	           http_request), method?: GET | POST | PUT | PATCH | DELETE, body?: any}
//	transform  exactly one of {template: a template with {{ expression }} placeholders} or
//	           {mapping: {name: expression over input}}
//	filter     {expression: a condition over input}
//	merge      {strategy?: all (default) | first}
//	trigger    {kind?: manual (default) | schedule | event}
//	delay      {seconds: 0..86400}
var configSchemas = map[string]string{
	domain.NodeTypeAgent: `{
		"type": "object", "additionalProperties": false, "required": ["agent_id", "prompt"],
		"properties": {
			"agent_id": {"type": "string", "format": "uuid"},
			"prompt": {"type": "string", "minLength": 1, "maxLength": 20000},
			"max_tokens": {"type": "integer", "minimum": 1, "maximum": 200000}
		}}`,
	domain.NodeTypeCondition: `{
		"type": "object", "additionalProperties": false, "required": ["expression"],
		"properties": {"expression": {"type": "string", "minLength": 1, "maxLength": 500}}}`,
	domain.NodeTypeAction: `{
		"type": "object", "additionalProperties": false, "required": ["action"],
		"properties": {
			"action": {"enum": ["http_request", "emit_event", "noop"]},
			"url": {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2000},
			"method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
			"body": {}
		},
		"if": {"properties": {"action": {"const": "http_request"}}, "required": ["action"]},
		"then": {"required": ["url"]}}`,
	domain.NodeTypeTransform: `{
		"type": "object", "additionalProperties": false,
		"properties": {
			"template": {"type": "string", "minLength": 1, "maxLength": 20000},
			"mapping": {"type": "object", "minProperties": 1, "maxProperties": 100,
				"additionalProperties": {"type": "string", "minLength": 1, "maxLength": 500}}
		},
		"oneOf": [{"required": ["template"]}, {"required": ["mapping"]}]}`,
	domain.NodeTypeFilter: `{
		"type": "object", "additionalProperties": false, "required": ["expression"],
		"properties": {"expression": {"type": "string", "minLength": 1, "maxLength": 500}}}`,
	domain.NodeTypeMerge: `{
		"type": "object", "additionalProperties": false,
		"properties": {"strategy": {"enum": ["all", "first"], "default": "all"}}}`,
	domain.NodeTypeTrigger: `{
		"type": "object", "additionalProperties": false,
		"properties": {"kind": {"enum": ["manual", "schedule", "event"], "default": "manual"}}}`,
	domain.NodeTypeDelay: `{
		"type": "object", "additionalProperties": false, "required": ["seconds"],
		"properties": {"seconds": {"type": "integer", "minimum": 0, "maximum": 86400}}}`,
}

// oneOfMessages words a failed oneOf at a config's root, which the library can only call
// "'oneOf' failed".
var oneOfMessages = map[string]string{
	domain.NodeTypeTransform: "needs exactly one of template or mapping",
}

var printer = message.NewPrinter(language.English)

type compiledSchema struct {
	schema  *jsonschema.Schema
	allowed []string // the root's properties, sorted
}

// compiledSchemas compiles every schema once; a schema that does not compile is a bug that the
// tests catch, hence the panic.
var compiledSchemas = sync.OnceValue(func() map[string]compiledSchema {
	out := map[string]compiledSchema{}
	for typ, src := range configSchemas {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(src))
		if err != nil {
			panic(fmt.Sprintf("pipeline: schema of %s: %v", typ, err))
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		loc := "urn:gathering:pipeline-node:" + typ
		if err := c.AddResource(loc, doc); err != nil {
			panic(fmt.Sprintf("pipeline: schema of %s: %v", typ, err))
		}
		sch, err := c.Compile(loc)
		if err != nil {
			panic(fmt.Sprintf("pipeline: schema of %s: %v", typ, err))
		}
		var allowed []string
		if props, ok := doc.(map[string]any)["properties"].(map[string]any); ok {
			for p := range props {
				allowed = append(allowed, p)
			}
		}
		slices.Sort(allowed)
		out[typ] = compiledSchema{schema: sch, allowed: allowed}
	}
	return out
})

// ConfigSchema returns the JSON Schema of a node type's config (for clients that build forms).
func ConfigSchema(nodeType string) (json.RawMessage, bool) {
	src, ok := configSchemas[nodeType]
	if !ok {
		return nil, false
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(src)); err != nil {
		return nil, false
	}
	return b.Bytes(), true
}

// CheckConfig returns what is wrong with a node's config: schema violations, then expressions
// that do not parse (a condition's or filter's expression, a transform's mapping values). Each
// field is a path inside the config ("agent_id", "mapping.score", "" for the config itself);
// the domain prefixes it with the node (nodes[2].config.agent_id). It is the domain's
// ConfigChecker.
func CheckConfig(nodeType string, cfg json.RawMessage) []domain.FieldError {
	cs, ok := compiledSchemas()[nodeType]
	if !ok {
		return []domain.FieldError{{Field: "", Message: fmt.Sprintf("no config schema for node type %q", nodeType)}}
	}
	if len(bytes.TrimSpace(cfg)) == 0 {
		cfg = json.RawMessage("{}")
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(cfg))
	if err != nil {
		return []domain.FieldError{{Field: "", Message: "must be valid JSON"}}
	}
	if err := cs.schema.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return []domain.FieldError{{Field: "", Message: err.Error()}}
		}
		return schemaFieldErrors(nodeType, cs, inst, ve)
	}
	return checkExpressions(nodeType, cfg)
}

// checkExpressions parses the expressions of a config that passed its schema.
func checkExpressions(nodeType string, cfg json.RawMessage) []domain.FieldError {
	var c struct {
		Expression string            `json:"expression"`
		Mapping    map[string]string `json:"mapping"`
		Template   string            `json:"template"`
		Prompt     string            `json:"prompt"`
	}
	if err := json.Unmarshal(cfg, &c); err != nil {
		return nil // the schema already vouched for the shape
	}
	var out []domain.FieldError
	switch nodeType {
	case domain.NodeTypeCondition, domain.NodeTypeFilter:
		if err := CheckCondition(c.Expression); err != nil {
			out = append(out, domain.FieldError{Field: "expression", Message: err.Error()})
		}
	case domain.NodeTypeAgent:
		if _, err := ParseTemplate(c.Prompt); err != nil {
			out = append(out, domain.FieldError{Field: "prompt", Message: err.Error()})
		}
	case domain.NodeTypeTransform:
		if c.Template != "" {
			if _, err := ParseTemplate(c.Template); err != nil {
				out = append(out, domain.FieldError{Field: "template", Message: err.Error()})
			}
		}
		keys := make([]string, 0, len(c.Mapping))
		for k := range c.Mapping {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if _, err := ParseExpr(c.Mapping[k]); err != nil {
				out = append(out, domain.FieldError{Field: joinPath("mapping", k), Message: err.Error()})
			}
		}
	}
	return out
}

// schemaFieldErrors flattens a validation error tree into field errors, one per failed
// keyword at the leaves (the inner nodes only repeat them), sorted by field.
func schemaFieldErrors(nodeType string, cs compiledSchema, inst any, ve *jsonschema.ValidationError) []domain.FieldError {
	var out []domain.FieldError
	add := func(field, format string, args ...any) {
		fe := domain.FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
		if !slices.Contains(out, fe) {
			out = append(out, fe)
		}
	}
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		at := instancePath(inst, e.InstanceLocation)
		switch k := e.ErrorKind.(type) {
		case *kind.OneOf, *kind.AnyOf:
			msg, ok := oneOfMessages[nodeType]
			if !ok || at != "" {
				msg = "does not match any of the allowed shapes"
				if o, isOneOf := k.(*kind.OneOf); isOneOf && len(o.Subschemas) > 1 {
					msg = "matches more than one of the allowed shapes"
				}
			}
			add(at, "%s", msg)
			return
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, m := range k.Missing {
				add(joinPath(at, m), "is required")
			}
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				if at == "" {
					add(joinPath(at, p), "unknown property; allowed: %s", strings.Join(cs.allowed, ", "))
				} else {
					add(joinPath(at, p), "unknown property")
				}
			}
		default:
			add(at, "%s", describeViolation(k))
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// describeViolation words one failed keyword for a person.
func describeViolation(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = withArticle(w)
		}
		return fmt.Sprintf("must be %s (got %s)", strings.Join(want, " or "), withArticle(k.Got))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = jsonText(w)
		}
		return fmt.Sprintf("must be one of %s (got %s)", strings.Join(want, ", "), jsonText(k.Got))
	case *kind.Const:
		return fmt.Sprintf("must be %s (got %s)", jsonText(k.Want), jsonText(k.Got))
	case *kind.Format:
		return fmt.Sprintf("must be a valid %s (got %s)", k.Want, jsonText(k.Got))
	case *kind.Pattern:
		return fmt.Sprintf("must match %s (got %q)", k.Want, k.Got)
	case *kind.Minimum:
		return fmt.Sprintf("must be at least %s (got %s)", ratText(k.Want), ratText(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("must be at most %s (got %s)", ratText(k.Want), ratText(k.Got))
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("must be at least %d characters (got %d)", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters (got %d)", k.Want, k.Got)
	case *kind.MinProperties:
		return fmt.Sprintf("needs at least %d entries (got %d)", k.Want, k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("allows at most %d entries (got %d)", k.Want, k.Got)
	}
	return k.LocalizedString(printer)
}

// withArticle turns a JSON type name into words: "an object", "a string", "null".
func withArticle(t string) string {
	switch t {
	case "null":
		return t
	case "object", "array", "integer":
		return "an " + t
	}
	return "a " + t
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func ratText(r interface{ FloatString(int) string }) string {
	s := r.FloatString(6)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-" {
		return "0"
	}
	return s
}

// instancePath renders a JSON pointer's tokens as a field path, walking the instance to tell
// array indexes ("[0]") from object keys (".key").
func instancePath(inst any, tokens []string) string {
	var b strings.Builder
	cur := inst
	for _, t := range tokens {
		switch x := cur.(type) {
		case []any:
			b.WriteString("[" + t + "]")
			if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(x) {
				cur = x[i]
			} else {
				cur = nil
			}
		case map[string]any:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(t)
			cur = x[t]
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(t)
			cur = nil
		}
	}
	return b.String()
}

func joinPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}
