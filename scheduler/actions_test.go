package scheduler_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/scheduler"
)

const someUUID = "0b8e6c2e-5d4a-4f6e-9b1a-2f3c4d5e6f70"

func TestEveryActionHasASchema(t *testing.T) {
	for _, action := range domain.ScheduleActions {
		raw, ok := scheduler.ActionSchema(action)
		if !ok || !json.Valid(raw) {
			t.Errorf("%s: no schema", action)
		}
	}
	if _, ok := scheduler.ActionSchema("shell"); ok {
		t.Fatal("a schema for an unknown action")
	}
	raw, _ := scheduler.ActionSchema(domain.ActionCallAPI)
	raw[0] = 'x'
	if again, _ := scheduler.ActionSchema(domain.ActionCallAPI); again[0] != '{' {
		t.Fatal("a caller changed the schema every other caller gets")
	}
}

func TestCheckActionAcceptsValidConfigs(t *testing.T) {
	valid := map[string][]string{
		domain.ActionRunTask: {
			`{"agent_id":"` + someUUID + `","goal":"Summarize yesterday's tickets"}`,
			`{"agent_id":"` + someUUID + `","goal":"x","max_steps":100}`,
		},
		domain.ActionExecutePipeline: {
			`{"pipeline_id":"` + someUUID + `"}`,
			`{"pipeline_id":"` + someUUID + `","input":{"topic":"go","n":[1,2]}}`,
			`{"pipeline_id":"` + someUUID + `","input":"plain"}`,
		},
		domain.ActionSendNotification: {
			`{"url":"https://hooks.example.com/T0/B1"}`,
			`{"url":"http://example.com/hook","message":"done","payload":{"a":1},"headers":{"X-Token":"s3cret"}}`,
		},
		domain.ActionCallAPI: {
			`{"url":"https://api.example.com/v1/report"}`,
			`{"url":"https://api.example.com/v1/report","method":"POST","headers":{"Content-Type":"application/json"},"body":{"k":[true]},"expect_status":[200,201,204]}`,
			`{"url":"https://api.example.com/","method":"DELETE","body":null}`,
		},
	}
	for action, cfgs := range valid {
		for _, cfg := range cfgs {
			if errs := scheduler.CheckAction(action, json.RawMessage(cfg)); len(errs) != 0 {
				t.Errorf("%s %s: %v", action, cfg, errs)
			}
		}
	}
}

func TestCheckActionReportsEachRuleWithItsPath(t *testing.T) {
	cases := []struct {
		action, cfg string
		want        []fe
	}{
		{domain.ActionRunTask, `{}`, []fe{{"agent_id", "is required"}, {"goal", "is required"}}},
		{domain.ActionRunTask, `{"agent_id":"agent-7","goal":""}`, []fe{
			{"agent_id", `must be a valid uuid (got "agent-7")`},
			{"goal", "must not be empty"},
		}},
		{domain.ActionRunTask, `{"agent_id":"` + someUUID + `","goal":"x","max_steps":101}`, []fe{{"max_steps", "must be at most 100 (got 101)"}}},
		{domain.ActionRunTask, `{"agent_id":"` + someUUID + `","goal":"x","max_steps":2.5}`, []fe{{"max_steps", "must be an integer (got a number)"}}},
		{domain.ActionRunTask, `{"agent_id":"` + someUUID + `","goal":"x","model":"big"}`, []fe{{"model", "unknown property; allowed: agent_id, goal, max_steps"}}},
		{domain.ActionExecutePipeline, `{"input":{}}`, []fe{{"pipeline_id", "is required"}}},
		{domain.ActionExecutePipeline, `{"pipeline_id":"p1"}`, []fe{{"pipeline_id", `must be a valid uuid (got "p1")`}}},
		{domain.ActionExecutePipeline, `{"pipeline_id":"` + someUUID + `","inputs":{}}`, []fe{{"inputs", "unknown property; allowed: input, pipeline_id"}}},
		{domain.ActionSendNotification, `{"message":"hi"}`, []fe{{"url", "is required"}}},
		{domain.ActionSendNotification, `{"url":"ftp://example.com/drop"}`, []fe{{"url", `must match ^https?:// (got "ftp://example.com/drop")`}}},
		{domain.ActionSendNotification, `{"url":"example.com/hook"}`, []fe{{"url", `must be a valid uri (got "example.com/hook")`}}},
		{domain.ActionSendNotification, `{"url":"https://example.com","payload":[1],"headers":{"X-Count":3}}`, []fe{
			{"headers.X-Count", "must be a string (got a number)"},
			{"payload", "must be an object (got an array)"},
		}},
		{domain.ActionCallAPI, `{}`, []fe{{"url", "is required"}}},
		{domain.ActionCallAPI, `{"url":"https://example.com","method":"get"}`, []fe{{"method", `must be one of "GET", "POST", "PUT", "PATCH", "DELETE" (got "get")`}}},
		{domain.ActionCallAPI, `{"url":"https://example.com","headers":{"Accept":["a","b"]}}`, []fe{{"headers.Accept", "must be a string (got an array)"}}},
		{domain.ActionCallAPI, `{"url":"https://example.com","expect_status":[200,99,600]}`, []fe{
			{"expect_status[1]", "must be at least 100 (got 99)"},
			{"expect_status[2]", "must be at most 599 (got 600)"},
		}},
		{domain.ActionCallAPI, `{"url":"https://example.com","expect_status":[]}`, []fe{{"expect_status", "must not be empty"}}},
		{domain.ActionCallAPI, `{"url":"https://example.com","expect_status":200}`, []fe{{"expect_status", "must be an array (got a number)"}}},
		{domain.ActionCallAPI, `{"url":"https://example.com","timeout":5}`, []fe{{"timeout", "unknown property; allowed: body, expect_status, headers, method, url"}}},
		{domain.ActionCallAPI, `[]`, []fe{{"", "must be an object (got an array)"}}},
		{domain.ActionCallAPI, `{"url":`, []fe{{"", "must be valid JSON"}}},
		{"shell", `{}`, []fe{{"", `no config schema for action "shell"`}}},
	}
	for _, c := range cases {
		got := plain(scheduler.CheckAction(c.action, json.RawMessage(c.cfg)))
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s:\n got %q\nwant %q", c.action, c.cfg, got, c.want)
		}
	}
}

func TestCheckActionBoundsHeaders(t *testing.T) {
	headers := map[string]string{}
	for i := range 21 {
		headers["X-H"+string(rune('a'+i))] = "v"
	}
	cfg, _ := json.Marshal(map[string]any{"url": "https://example.com", "headers": headers})
	want := []domain.FieldError{{Field: "headers", Message: "allows at most 20 entries (got 21)"}}
	for _, action := range []string{domain.ActionCallAPI, domain.ActionSendNotification} {
		if got := scheduler.CheckAction(action, cfg); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %q", action, got)
		}
	}
}

// fe is a field error written short in the tables; vet asks for keyed fields on another
// package's struct.
type fe struct{ Field, Message string }

func plain(errs []domain.FieldError) []fe {
	var out []fe
	for _, e := range errs {
		out = append(out, fe(e))
	}
	return out
}
