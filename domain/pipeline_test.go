package domain

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var pipeOwner = Actor{ID: "owner-1", Role: RoleMember}

func pipeNode(id, typ string) PipelineNode { return PipelineNode{ID: id, Type: typ} }

func pipeEdge(from, to string) PipelineEdge { return PipelineEdge{From: from, To: to} }

// pipeFields returns the field errors of err, which must be a CodeInvalid *Error.
func pipeFields(t *testing.T, err error) []FieldError {
	t.Helper()
	var de *Error
	if !errors.As(err, &de) || de.Code != CodeInvalid {
		t.Fatalf("want an invalid error, got %v", err)
	}
	return de.Fields
}

func pipeFieldMessages(fields []FieldError, field string) []string {
	var out []string
	for _, f := range fields {
		if f.Field == field {
			out = append(out, f.Message)
		}
	}
	return out
}

func TestValidatePipelineSpecListsEveryProblemAtOnce(t *testing.T) {
	spec := PipelineSpec{
		Name: "  ",
		Nodes: []PipelineNode{
			{ID: "a", Type: "agent", Config: json.RawMessage(`{"prompt":"hi"}`)}, // 0: config errors from the checker
			pipeNode("a", "transform"), // 1: duplicate id
			pipeNode("", "condition"),  // 2: no id
			pipeNode("w", "webhook"),   // 3: unknown type
			pipeNode("m", "merge"),     // 4: one incoming edge only
			pipeNode("t", "trigger"),   // 5: has an incoming edge
			{ID: "r", Type: "action", // 6: policies out of bounds
				Retry:   RetryPolicy{MaxAttempts: 11, Multiplier: 0.5},
				Breaker: BreakerPolicy{FailureThreshold: -1, RecoverySec: 90000}},
			{ID: "x", Type: "action", Config: json.RawMessage(`[1]`)}, // 7: config not an object
			pipeNode("b", "transform"),
			pipeNode("c", "transform"),
			pipeNode("d", "transform"),
			pipeNode("9bad", "transform"), // 11: malformed id
		},
		Edges: []PipelineEdge{
			pipeEdge("a", "ghost"), // 0: missing node
			pipeEdge("", "a"),      // 1: no from
			pipeEdge("a", "m"),     // 2
			pipeEdge("x", "t"),     // 3: into a trigger
			pipeEdge("b", "c"),     // 4
			pipeEdge("c", "d"),     // 5
			pipeEdge("d", "b"),     // 6: closes b -> c -> d -> b
			{From: "a", To: "b", Condition: "output.score >"}, // 7: does not parse
			pipeEdge("b", "c"), // 8: repeats edges[4]
			pipeEdge("r", "r"), // 9: a self loop
			{From: "a", To: "d", Condition: strings.Repeat("x", MaxEdgeConditionLen+1)}, // 10: too long
		},
		TimeoutSec: -5,
	}
	var configCalls []string
	checkConfig := func(nodeType string, cfg json.RawMessage) []FieldError {
		configCalls = append(configCalls, nodeType)
		if nodeType == "agent" {
			return []FieldError{{Field: "agent_id", Message: "is required"}, {Field: "", Message: "whole config"}}
		}
		return nil
	}
	checkCondition := func(c string) error {
		if strings.HasSuffix(c, ">") {
			return errors.New("at position 15: expected a value after >")
		}
		return nil
	}
	fields := pipeFields(t, ValidatePipelineSpec(spec, checkConfig, checkCondition))

	var got []string
	for _, f := range fields {
		got = append(got, f.Field)
	}
	want := []string{
		"name", "timeout_sec",
		"nodes[0].config.agent_id", "nodes[0].config",
		"nodes[1].id", "nodes[2].id", "nodes[3].type",
		"nodes[6].retry.max_attempts", "nodes[6].retry.multiplier",
		"nodes[6].breaker.failure_threshold", "nodes[6].breaker.recovery_sec",
		"nodes[7].config", "nodes[11].id",
		"edges[0].to", "edges[1].from", "edges[3].to", "edges[7].condition", "edges[8]", "edges[10].condition",
		"nodes[4]",
		"edges", "edges",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fields:\n got %q\nwant %q\n%v", got, want, fields)
	}
	if msg := pipeFieldMessages(fields, "nodes[3].type")[0]; !strings.Contains(msg, `"webhook"`) ||
		!strings.Contains(msg, "known types: action, agent, condition, delay, filter, merge, transform, trigger") {
		t.Errorf("unknown type message: %q", msg)
	}
	if msg := pipeFieldMessages(fields, "edges[7].condition")[0]; msg != "at position 15: expected a value after >" {
		t.Errorf("condition message: %q", msg)
	}
	if msg := pipeFieldMessages(fields, "nodes[4]")[0]; !strings.Contains(msg, "at least 2 incoming edges (has 1)") {
		t.Errorf("merge message: %q", msg)
	}
	if msg := pipeFieldMessages(fields, "edges[3].to")[0]; !strings.Contains(msg, "trigger") {
		t.Errorf("trigger message: %q", msg)
	}
	if msg := pipeFieldMessages(fields, "nodes[1].id")[0]; !strings.Contains(msg, "nodes[0]") {
		t.Errorf("duplicate id message: %q", msg)
	}
	cycles := pipeFieldMessages(fields, "edges")
	if !reflect.DeepEqual(cycles, []string{"cycle: b -> c -> d -> b", "cycle: r -> r"}) {
		t.Errorf("cycles: %q", cycles)
	}
	// The checker sees only known types with object configs: not webhook, not x's array.
	if slices.Contains(configCalls, "webhook") || len(configCalls) != 10 {
		t.Errorf("config checked for %q", configCalls)
	}
	var de *Error
	errors.As(ValidatePipelineSpec(spec, checkConfig, checkCondition), &de)
	if !strings.HasPrefix(de.Message, "name: is required (and ") {
		t.Errorf("message: %q", de.Message)
	}
}

func TestValidatePipelineSpecNoNodes(t *testing.T) {
	fields := pipeFields(t, ValidatePipelineSpec(PipelineSpec{Name: "empty"}, nil, nil))
	if len(fields) != 1 || fields[0].Field != "nodes" {
		t.Fatalf("fields: %v", fields)
	}
}

func TestValidatePipelineSpecNamesEachDistinctCycleOnce(t *testing.T) {
	spec := PipelineSpec{
		Name:  "loops",
		Nodes: []PipelineNode{pipeNode("s", "trigger"), pipeNode("a", "agent"), pipeNode("b", "agent"), pipeNode("c", "agent")},
		Edges: []PipelineEdge{
			pipeEdge("s", "a"), pipeEdge("a", "b"), pipeEdge("b", "c"), pipeEdge("c", "a"),
			pipeEdge("b", "a"),
		},
	}
	cycles := pipeFieldMessages(pipeFields(t, ValidatePipelineSpec(spec, nil, nil)), "edges")
	if !reflect.DeepEqual(cycles, []string{"cycle: a -> b -> c -> a", "cycle: a -> b -> a"}) {
		t.Fatalf("cycles: %q", cycles)
	}

	// Entered from another node, the same cycle is named from where the walk met it, once.
	spec.Nodes = []PipelineNode{pipeNode("c", "agent"), pipeNode("a", "agent"), pipeNode("b", "agent")}
	spec.Edges = []PipelineEdge{pipeEdge("a", "b"), pipeEdge("b", "c"), pipeEdge("c", "a")}
	cycles = pipeFieldMessages(pipeFields(t, ValidatePipelineSpec(spec, nil, nil)), "edges")
	if !reflect.DeepEqual(cycles, []string{"cycle: c -> a -> b -> c"}) {
		t.Fatalf("cycles: %q", cycles)
	}

	// A DAG with a diamond has no cycle.
	spec.Nodes = []PipelineNode{pipeNode("a", "agent"), pipeNode("b", "agent"), pipeNode("c", "agent"), pipeNode("d", "merge")}
	spec.Edges = []PipelineEdge{pipeEdge("a", "b"), pipeEdge("a", "c"), pipeEdge("b", "d"), pipeEdge("c", "d")}
	if err := ValidatePipelineSpec(spec, nil, nil); err != nil {
		t.Fatalf("diamond: %v", err)
	}
}

func TestNormalizePipelineSpecFillsDefaultsWithoutTouchingInput(t *testing.T) {
	in := PipelineSpec{
		Name:  "  daily digest ",
		Nodes: []PipelineNode{{ID: " a ", Type: " Agent ", Config: json.RawMessage("{ \"x\" : 1 }")}, {ID: "b", Type: "delay", Retry: RetryPolicy{InitialBackoffMS: 90000}}},
		Edges: []PipelineEdge{{From: "a ", To: " b", Condition: " true "}},
	}
	s := NormalizePipelineSpec(in)
	if in.Nodes[0].ID != " a " || in.Edges[0].From != "a " {
		t.Fatal("the caller's slices were changed")
	}
	a := s.Nodes[0]
	if s.Name != "daily digest" || a.ID != "a" || a.Type != "agent" || string(a.Config) != `{"x":1}` {
		t.Fatalf("normalized: %+v", s)
	}
	if a.Retry != (RetryPolicy{MaxAttempts: 3, InitialBackoffMS: 1000, MaxBackoffMS: 60000, Multiplier: 2}) ||
		a.Breaker != (BreakerPolicy{FailureThreshold: 5, RecoverySec: 60}) {
		t.Fatalf("defaults: %+v %+v", a.Retry, a.Breaker)
	}
	if got := s.Nodes[1].Retry.MaxBackoffMS; got != 90000 {
		t.Fatalf("max backoff follows a larger initial backoff: %d", got)
	}
	if string(s.Nodes[1].Config) != "{}" || s.TimeoutSec != DefaultPipelineTimeoutSec || s.CancelGraceSec != DefaultCancelGraceSec {
		t.Fatalf("defaults: %+v", s)
	}
	if s.Edges[0] != (PipelineEdge{From: "a", To: "b", Condition: "true"}) {
		t.Fatalf("edge: %+v", s.Edges[0])
	}
	if err := ValidatePipelineSpec(in, nil, nil); err != nil {
		t.Fatalf("valid after normalizing: %v", err)
	}
}

func TestPipelineLifecycleVersionsTheSpec(t *testing.T) {
	spec := PipelineSpec{Name: "p", Nodes: []PipelineNode{pipeNode("t", "trigger"), pipeNode("a", "agent")}, Edges: []PipelineEdge{pipeEdge("t", "a")}}
	var p Pipeline
	events, err := p.Create(pipeOwner, "p1", spec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	created := events[0].(*PipelineCreated)
	if created.SpecVersion != 1 || created.Owner != "owner-1" || created.Spec.TimeoutSec != DefaultPipelineTimeoutSec {
		t.Fatalf("created: %+v", created)
	}
	p.Apply(created)
	if _, err := p.Create(pipeOwner, "p1", spec, nil, nil); ErrorCode(err) != CodeConflict {
		t.Fatalf("second create: %v", err)
	}

	if events, err := p.Update(pipeOwner, spec, nil, nil); err != nil || events != nil {
		t.Fatalf("an unchanged spec records nothing: %v %v", events, err)
	}
	spec.Description = "now with a description"
	events, err = p.Update(pipeOwner, spec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	updated := events[0].(*PipelineUpdated)
	if updated.SpecVersion != 2 || updated.Spec.Description != "now with a description" {
		t.Fatalf("updated: %+v", updated)
	}
	p.Apply(updated)
	if p.SpecVersion != 2 {
		t.Fatalf("spec version %d", p.SpecVersion)
	}

	stranger := Actor{ID: "someone", Role: RoleMember}
	if _, err := p.Update(stranger, spec, nil, nil); ErrorCode(err) != CodeForbidden {
		t.Fatalf("stranger: %v", err)
	}
	if _, err := p.Update(Actor{ID: "root", Role: RoleAdmin}, PipelineSpec{Name: "p"}, nil, nil); ErrorCode(err) != CodeInvalid {
		t.Fatalf("invalid update: %v", err)
	}
	events, err = p.Delete(pipeOwner)
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(events[0])
	if _, err := p.Update(pipeOwner, spec, nil, nil); ErrorCode(err) != CodeNotFound {
		t.Fatalf("update after delete: %v", err)
	}
}

func TestPipelineEventsRoundTripThroughARegistry(t *testing.T) {
	reg := NewRegistry(pipelineEventSpecs()...)
	spec := NormalizePipelineSpec(PipelineSpec{Name: "p", Nodes: []PipelineNode{{ID: "a", Type: "agent", Config: json.RawMessage(`{"prompt":"x"}`)}}})
	events := []Event{
		&PipelineCreated{ID: "p1", Owner: "o", SpecVersion: 1, Spec: spec},
		&PipelineUpdated{ID: "p1", SpecVersion: 2, Spec: spec},
		&PipelineDeleted{},
		&PipelineRunStarted{ID: "r1", PipelineID: "p1", PipelineVersion: 2, Spec: spec, Input: json.RawMessage(`{"q":1}`), TimeoutSec: 60, StartedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
		&PipelineNodeStarted{Node: "a", Type: "agent", Attempt: 1},
		&PipelineNodeFailed{Node: "a", Attempt: 1, Error: "boom", Retryable: true, WillRetry: true, BackoffMS: 250},
		&PipelineNodeCompleted{Node: "a", Attempt: 2, Output: json.RawMessage(`{"ok":true}`), DurationMS: 12, TakenEdges: map[string]bool{"b": true}},
		&PipelineNodeSkipped{Node: "b", Reason: "no live input"},
		&PipelineRunCancelRequested{Reason: "enough", By: "o", GraceSec: 30, RequestedAt: time.Date(2025, 1, 2, 3, 5, 0, 0, time.UTC)},
		&PipelineRunCompleted{Outputs: map[string]json.RawMessage{"a": json.RawMessage(`{"ok":true}`)}},
		&PipelineRunFailed{Node: "a", Error: "node a failed: boom"},
		&PipelineRunCancelled{Forced: true, Interrupted: []string{"a"}},
		&PipelineRunTimedOut{TimeoutSec: 60, Interrupted: []string{"a"}},
	}
	if len(events) != len(pipelineEventSpecs()) {
		t.Fatalf("%d events for %d specs", len(events), len(pipelineEventSpecs()))
	}
	for _, e := range events {
		typ, version, payload, err := reg.Encode(e)
		if err != nil || version != 1 {
			t.Fatalf("%s: %v", e.EventType(), err)
		}
		back, err := reg.Decode(typ, version, payload)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", typ, back, e)
		}
	}
}

func TestPipelineStreamsAndFieldPaths(t *testing.T) {
	if PipelineStreamID("x") != "pipeline-x" || PipelineRunStreamID("y") != "pipeline_run-y" {
		t.Fatal("stream ids")
	}
	for sub, want := range map[string]string{"": "c", "a": "c.a", ".a": "c.a", "[0]": "c[0]", "a[1].b": "c.a[1].b"} {
		if got := joinFieldPath("c", sub); got != want {
			t.Errorf("%q: %q, want %q", sub, got, want)
		}
	}
}
