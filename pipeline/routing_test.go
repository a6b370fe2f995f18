package pipeline

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gathering/gathering/domain"
)

func TestTakenEdgesFollowsConditions(t *testing.T) {
	node := domain.PipelineNode{ID: "score", Type: "agent"}
	edges := []domain.PipelineEdge{
		{From: "score", To: "high", Condition: "output.score > 0.5"},
		{From: "score", To: "low", Condition: "output.score <= 0.5"},
		{From: "score", To: "always"},
		{From: "score", To: "ok", Condition: `output.status == "ok" && input.lang == "en"`},
		{From: "elsewhere", To: "ignored"},
	}
	got, err := TakenEdges(node, edges, mustDecode(t, `{"lang":"en"}`), mustDecode(t, `{"score":0.7,"status":"ok"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"high": true, "low": false, "always": true, "ok": true}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("taken %v, want %v", got, want)
	}

	_, err = TakenEdges(node, edges[:1], nil, mustDecode(t, `{"score":"high"}`))
	if err == nil || Retryable(err) || !strings.Contains(err.Error(), "edge score -> high: condition: at position 14: > cannot compare") {
		t.Fatalf("bad comparison: %v (retryable %v)", err, Retryable(err))
	}
}

func TestTakenEdgesRoutesConditionAndFilterNodes(t *testing.T) {
	cond := domain.PipelineNode{ID: "check", Type: "condition", Config: json.RawMessage(`{"expression":"input.score > 0.5"}`)}
	edges := []domain.PipelineEdge{{From: "check", To: "yes"}, {From: "check", To: "no", Condition: "!output.result"}}
	for input, want := range map[string]map[string]bool{
		`{"score":0.9}`: {"yes": true, "no": false},
		`{"score":0.1}`: {"yes": false, "no": true},
	} {
		in := mustDecode(t, input)
		result, err := Gate(cond, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := TakenEdges(cond, edges, in, ConditionOutput(result, in))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v %v, want %v", input, got, err, want)
		}
	}

	filter := domain.PipelineNode{ID: "en", Type: "filter", Config: json.RawMessage(`{"expression":"input.lang == \"en\""}`)}
	fEdges := []domain.PipelineEdge{{From: "en", To: "next"}, {From: "en", To: "long", Condition: "output.words > 100"}}
	got, err := TakenEdges(filter, fEdges, mustDecode(t, `{"lang":"en","words":300}`), mustDecode(t, `{"lang":"en","words":300}`))
	if err != nil || !reflect.DeepEqual(got, map[string]bool{"next": true, "long": true}) {
		t.Fatalf("passed: %v %v", got, err)
	}
	// A filter that does not pass takes nothing, and its edge conditions are not even evaluated.
	got, err = TakenEdges(filter, fEdges, mustDecode(t, `{"lang":"fr","words":"many"}`), nil)
	if err != nil || !reflect.DeepEqual(got, map[string]bool{"next": false, "long": false}) {
		t.Fatalf("blocked: %v %v", got, err)
	}

	if _, err := Gate(domain.PipelineNode{ID: "a", Type: "agent"}, nil); err == nil {
		t.Fatal("gate of an agent node")
	}
	broken := domain.PipelineNode{ID: "c", Type: "condition", Config: json.RawMessage(`{"expression":"input.n"}`)}
	if _, err := Gate(broken, mustDecode(t, `{"n":1}`)); err == nil || Retryable(err) || !strings.Contains(err.Error(), "not true or false") {
		t.Fatalf("non-boolean gate: %v", err)
	}
}

// A small in-memory executor loop over the domain's run: what the River jobs will do, minus
// the jobs. It checks that the pieces fit: Ready, NodeInput, TakenEdges, CompleteNode, Advance.
func TestExecutorLoopOverADomainRun(t *testing.T) {
	spec := domain.PipelineSpec{
		Name: "triage",
		Nodes: []domain.PipelineNode{
			{ID: "start", Type: "trigger"},
			{ID: "check", Type: "condition", Config: json.RawMessage(`{"expression":"input.priority >= 3"}`)},
			{ID: "urgent", Type: "action", Config: json.RawMessage(`{"action":"noop"}`)},
			{ID: "later", Type: "action", Config: json.RawMessage(`{"action":"noop"}`)},
			{ID: "log", Type: "transform", Config: json.RawMessage(`{"mapping":{"p":"input.priority"}}`)},
			{ID: "join", Type: "merge", Config: json.RawMessage(`{}`)},
		},
		Edges: []domain.PipelineEdge{
			{From: "start", To: "check"}, {From: "start", To: "log"},
			{From: "check", To: "urgent"}, {From: "check", To: "later", Condition: "!output.result"},
			{From: "urgent", To: "join"}, {From: "later", To: "join"}, {From: "log", To: "join"},
		},
	}
	owner := domain.Actor{ID: "u1", Role: domain.RoleMember}
	var p domain.Pipeline
	events, err := p.Create(owner, "p1", spec, CheckConfig, CheckCondition)
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(events[0])

	run := &domain.PipelineRun{}
	apply := func(events []domain.Event, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			run.Apply(e)
		}
	}
	apply(run.Start(owner, "r1", &p, json.RawMessage(`{"priority":5}`), time.Now()))

	var order [][]string
	for !run.Finished() {
		ready := run.Ready()
		if len(ready) == 0 {
			t.Fatalf("stuck: %+v", run.Nodes)
		}
		order = append(order, ready)
		for _, id := range ready {
			apply(run.StartNode(id, 1, time.Now()))
			node, _ := run.Node(id)
			rawIn, err := run.NodeInput(id)
			if err != nil {
				t.Fatal(err)
			}
			in, _ := DecodeValue(rawIn)
			var out any = in
			if node.Type == domain.NodeTypeCondition {
				result, err := Gate(node, in)
				if err != nil {
					t.Fatal(err)
				}
				out = ConditionOutput(result, in)
			}
			taken, err := TakenEdges(node, run.OutgoingEdges(id), in, out)
			if err != nil {
				t.Fatal(err)
			}
			rawOut, _ := json.Marshal(out)
			apply(run.CompleteNode(id, 1, rawOut, 1, taken))
		}
		apply(run.Advance(), nil)
	}
	if !reflect.DeepEqual(order, [][]string{{"start"}, {"check", "log"}, {"urgent"}, {"join"}}) {
		t.Fatalf("waves: %q", order)
	}
	if run.Status != domain.PipelineRunStatusCompleted || run.Nodes["later"].Status != domain.PipelineNodeStatusSkipped {
		t.Fatalf("run %s, later %s", run.Status, run.Nodes["later"].Status)
	}
	if got := string(run.Outputs["join"]); got != `{"log":{"priority":5},"urgent":{"result":true,"value":{"priority":5}}}` {
		t.Fatalf("output: %s", got)
	}
}
