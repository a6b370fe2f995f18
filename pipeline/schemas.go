package pipeline

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/internal/schemacheck"
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

// compiledSchemas compiles every schema once, on first use.
var compiledSchemas = sync.OnceValue(func() schemacheck.Set {
	return schemacheck.MustCompile(configSchemas, schemacheck.Options{
		BaseURI:       "urn:gathering:pipeline-node:",
		OneOfMessages: oneOfMessages,
	})
})

// ConfigSchema returns the JSON Schema of a node type's config (for clients that build forms).
func ConfigSchema(nodeType string) (json.RawMessage, bool) {
	return compiledSchemas().Source(nodeType)
}

// CheckConfig returns what is wrong with a node's config: schema violations, then expressions
// that do not parse (a condition's or filter's expression, a transform's mapping values). Each
// field is a path inside the config ("agent_id", "mapping.score", "" for the config itself);
// the domain prefixes it with the node (nodes[2].config.agent_id). It is the domain's
// ConfigChecker.
func CheckConfig(nodeType string, cfg json.RawMessage) []domain.FieldError {
	schema, ok := compiledSchemas()[nodeType]
	if !ok {
		return []domain.FieldError{{Field: "", Message: fmt.Sprintf("no config schema for node type %q", nodeType)}}
	}
	if errs := schema.Check(cfg); len(errs) > 0 {
		return errs
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
				out = append(out, domain.FieldError{Field: schemacheck.JoinPath("mapping", k), Message: err.Error()})
			}
		}
	}
	return out
}

// instancePath is how node config paths are rendered; the pipeline's tests pin it down.
var instancePath = schemacheck.InstancePath
