package scheduler

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/internal/schemacheck"
)

// The config of each action is a JSON object checked against a JSON Schema (draft 2020-12)
// when a schedule is created or updated, so a schedule that could never run is refused then
// rather than failing at its first due time, possibly months later. Unknown properties are
// refused everywhere: a typo is an error, not a setting silently ignored.
//
//	run_task           {agent_id: uuid, goal: 1..4000 characters, max_steps?: 1..100}
//	execute_pipeline   {pipeline_id: uuid, input?: any JSON}
//	send_notification  {url: http(s) URI, message?: ≤ 4000 characters, payload?: object,
//	                   headers?: {name: string value} (at most 20)}
//	call_api           {url: http(s) URI, method?: GET (default) | POST | PUT | PATCH | DELETE,
//	                   headers?: {name: string value} (at most 20), body?: any JSON,
//	                   expect_status?: [100..599, ...]}
const (
	urlSchema     = `{"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2000}`
	headersSchema = `{"type": "object", "maxProperties": 20, "additionalProperties": {"type": "string", "maxLength": 4000}}`
)

var actionSchemas = map[string]string{
	domain.ActionRunTask: `{
		"type": "object", "additionalProperties": false, "required": ["agent_id", "goal"],
		"properties": {
			"agent_id": {"type": "string", "format": "uuid"},
			"goal": {"type": "string", "minLength": 1, "maxLength": 4000},
			"max_steps": {"type": "integer", "minimum": 1, "maximum": 100}
		}}`,
	domain.ActionExecutePipeline: `{
		"type": "object", "additionalProperties": false, "required": ["pipeline_id"],
		"properties": {
			"pipeline_id": {"type": "string", "format": "uuid"},
			"input": {}
		}}`,
	domain.ActionSendNotification: `{
		"type": "object", "additionalProperties": false, "required": ["url"],
		"properties": {
			"url": ` + urlSchema + `,
			"message": {"type": "string", "maxLength": 4000},
			"payload": {"type": "object"},
			"headers": ` + headersSchema + `
		}}`,
	domain.ActionCallAPI: `{
		"type": "object", "additionalProperties": false, "required": ["url"],
		"properties": {
			"url": ` + urlSchema + `,
			"method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"], "default": "GET"},
			"headers": ` + headersSchema + `,
			"body": {},
			"expect_status": {"type": "array", "minItems": 1, "maxItems": 50,
				"items": {"type": "integer", "minimum": 100, "maximum": 599}}
		}}`,
}

var compiledActionSchemas = sync.OnceValue(func() schemacheck.Set {
	return schemacheck.MustCompile(actionSchemas, schemacheck.Options{BaseURI: "urn:gathering:schedule-action:"})
})

// CheckAction returns what is wrong with an action's config, each field a path inside the
// config ("url", "headers.X-Token", "expect_status[1]"); the domain prefixes it with
// action_config. It is the domain's ActionChecker.
func CheckAction(action string, cfg json.RawMessage) []domain.FieldError {
	schema, ok := compiledActionSchemas()[action]
	if !ok {
		return []domain.FieldError{{Field: "", Message: fmt.Sprintf("no config schema for action %q", action)}}
	}
	return schema.Check(cfg)
}

var _ domain.ActionChecker = CheckAction

// ActionSchema returns the JSON Schema of an action's config (for clients that build forms).
func ActionSchema(action string) (json.RawMessage, bool) {
	return compiledActionSchemas().Source(action)
}
