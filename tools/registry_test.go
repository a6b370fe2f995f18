package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/llm"
)

const echoSchema = `{
  "type": "object",
  "properties": {
    "id":    {"type": "string"},
    "count": {"type": "integer", "minimum": 0},
    "name":  {"type": "string", "maxLength": 5},
    "tags":  {"type": "array", "items": {"type": "string"}}
  },
  "required": ["id"],
  "additionalProperties": false
}`

// countingTool echoes its arguments and counts how often Run was reached.
func countingTool(name string, calls *atomic.Int32) Tool {
	return Tool{
		Name:        name,
		Description: "echoes its arguments",
		Schema:      json.RawMessage(echoSchema),
		Run: func(_ context.Context, args json.RawMessage) (json.RawMessage, error) {
			calls.Add(1)
			return args, nil
		},
	}
}

func mustRegister(t *testing.T, r *Registry, tools ...Tool) {
	t.Helper()
	for _, tool := range tools {
		if err := r.Register(tool); err != nil {
			t.Fatalf("Register(%s): %v", tool.Name, err)
		}
	}
}

func noop(context.Context, json.RawMessage) (json.RawMessage, error) {
	return json.RawMessage(`{}`), nil
}

func TestRegisterRejectsBadTools(t *testing.T) {
	obj := json.RawMessage(`{"type":"object"}`)
	tests := []struct {
		name string
		tool Tool
		want string
	}{
		{"schema not JSON", Tool{Name: "a", Schema: json.RawMessage(`{"type":`), Run: noop}, "not valid JSON"},
		{"schema missing", Tool{Name: "a", Run: noop}, "not valid JSON"},
		{"root not object", Tool{Name: "a", Schema: json.RawMessage(`{"type":"string"}`), Run: noop}, `"type": "object"`},
		{"unknown type", Tool{Name: "a", Schema: json.RawMessage(`{"type":"object","properties":{"x":{"type":"strin"}}}`), Run: noop}, "does not compile"},
		{"bad keyword value", Tool{Name: "a", Schema: json.RawMessage(`{"type":"object","properties":{"x":{"maxLength":"ten"}}}`), Run: noop}, "does not compile"},
		{"bad regexp", Tool{Name: "a", Schema: json.RawMessage(`{"type":"object","properties":{"x":{"pattern":"("}}}`), Run: noop}, "does not compile"},
		{"external ref", Tool{Name: "a", Schema: json.RawMessage(`{"type":"object","properties":{"x":{"$ref":"https://example.com/s.json"}}}`), Run: noop}, "does not compile"},
		{"file ref", Tool{Name: "a", Schema: json.RawMessage(`{"type":"object","properties":{"x":{"$ref":"file:///etc/passwd"}}}`), Run: noop}, "does not compile"},
		{"name uppercase", Tool{Name: "Calc", Schema: obj, Run: noop}, "invalid tool name"},
		{"name empty", Tool{Name: "", Schema: obj, Run: noop}, "invalid tool name"},
		{"name leading digit", Tool{Name: "1calc", Schema: obj, Run: noop}, "invalid tool name"},
		{"name too long", Tool{Name: "a" + strings.Repeat("b", 64), Schema: obj, Run: noop}, "invalid tool name"},
		{"name with dash", Tool{Name: "http-get", Schema: obj, Run: noop}, "invalid tool name"},
		{"no Run", Tool{Name: "a", Schema: obj}, "no Run"},
		{"negative timeout", Tool{Name: "a", Schema: obj, Run: noop, Timeout: -time.Second}, "negative timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := NewRegistry().Register(tc.tool)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Register error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	okName := "a" + strings.Repeat("b", 63)
	if err := NewRegistry().Register(Tool{Name: okName, Schema: obj, Run: noop}); err != nil {
		t.Fatalf("64-character name refused: %v", err)
	}
}

func TestRegisterDuplicate(t *testing.T) {
	r := NewRegistry()
	var n atomic.Int32
	mustRegister(t, r, countingTool("echo", &n))
	err := r.Register(countingTool("echo", &n))
	if err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("duplicate Register error = %v", err)
	}
}

func TestNamesKnownSpecs(t *testing.T) {
	r := NewRegistry()
	var n atomic.Int32
	mustRegister(t, r, countingTool("charlie", &n), countingTool("alpha", &n), countingTool("bravo", &n))

	if got := strings.Join(r.Names(), ","); got != "alpha,bravo,charlie" {
		t.Errorf("Names = %s", got)
	}
	if !r.Known("bravo") || r.Known("delta") {
		t.Errorf("Known is wrong")
	}

	specs := r.Specs([]string{"charlie", "delta", "alpha", "charlie"})
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "charlie,alpha" {
		t.Fatalf("Specs order = %s, want charlie,alpha", got)
	}
	if specs[0].Description != "echoes its arguments" || !json.Valid(specs[0].Parameters) {
		t.Errorf("spec = %+v", specs[0])
	}
	// The spec is the compacted schema, and callers cannot alter the registry through it.
	if strings.ContainsAny(string(specs[0].Parameters), "\n ") {
		t.Errorf("parameters not compact: %s", specs[0].Parameters)
	}
	specs[0].Parameters[0] = 'X'
	if p := r.Specs([]string{"charlie"})[0].Parameters; p[0] != '{' {
		t.Errorf("registry schema changed through a returned spec: %s", p)
	}
	if got := r.Specs(nil); len(got) != 0 {
		t.Errorf("Specs(nil) = %v, want none", got)
	}
}

func TestCallSuccess(t *testing.T) {
	r := NewRegistry()
	var n atomic.Int32
	mustRegister(t, r, countingTool("echo", &n))

	res := r.Call(context.Background(), llm.ToolCall{ID: "c1", Name: "echo", Arguments: json.RawMessage(`{ "id" : "x", "tags": ["a"] }`)}, []string{"echo"})
	if res.IsError {
		t.Fatalf("unexpected error: %s", res.Error)
	}
	if string(res.Output) != `{"id":"x","tags":["a"]}` {
		t.Errorf("output = %s", res.Output)
	}
	if res.CallID != "c1" || res.Name != "echo" || res.Duration <= 0 {
		t.Errorf("result = %+v", res)
	}
	if n.Load() != 1 {
		t.Errorf("Run called %d times", n.Load())
	}

	m := res.Message()
	want := llm.Message{Role: llm.RoleTool, Content: `{"id":"x","tags":["a"]}`, ToolCallID: "c1", Name: "echo"}
	if fmt.Sprintf("%+v", m) != fmt.Sprintf("%+v", want) {
		t.Errorf("Message = %+v, want %+v", m, want)
	}
}

func TestCallRefusals(t *testing.T) {
	r := NewRegistry()
	var n atomic.Int32
	mustRegister(t, r, countingTool("echo", &n), countingTool("secret", &n))
	long := strings.Repeat("x", 6)

	tests := []struct {
		name    string
		call    llm.ToolCall
		allowed []string
		want    []string
	}{
		{"unknown tool", llm.ToolCall{Name: "nope", Arguments: json.RawMessage(`{}`)}, []string{"echo"},
			[]string{`unknown tool "nope"`, "available tools: echo"}},
		{"not permitted", llm.ToolCall{Name: "secret", Arguments: json.RawMessage(`{"id":"x"}`)}, []string{"echo"},
			[]string{`tool "secret" is not permitted`, "available tools: echo"}},
		{"nil allowed", llm.ToolCall{Name: "echo", Arguments: json.RawMessage(`{"id":"x"}`)}, nil,
			[]string{"not permitted", "no tools available"}},
		{"not JSON", llm.ToolCall{Name: "echo", Arguments: json.RawMessage(`{"id": "x"`)}, []string{"echo"},
			[]string{"not valid JSON"}},
		{"trailing data", llm.ToolCall{Name: "echo", Arguments: json.RawMessage(`{"id":"x"} {}`)}, []string{"echo"},
			[]string{"not valid JSON"}},
		{"not an object", llm.ToolCall{Name: "echo", Arguments: json.RawMessage(`["x"]`)}, []string{"echo"},
			[]string{`at "" (the arguments object): got array, want object`}},
		{"empty arguments mean {}", llm.ToolCall{Name: "echo", Arguments: nil}, []string{"echo"},
			[]string{`missing property 'id'`}},
		{"every violation listed", llm.ToolCall{Name: "echo", Arguments: json.RawMessage(
			`{"count": "three", "name": "` + long + `", "extra": 1, "tags": ["ok", 7]}`)}, []string{"echo"},
			[]string{
				"nothing was run",
				`at "" (the arguments object): missing property 'id'`,
				`at "" (the arguments object): additional properties 'extra' not allowed`,
				`at "/count": got string, want integer`,
				`at "/name": string is too long: 6 characters, at most 5 allowed`,
				`at "/tags/1": got number, want string`,
			}},
		{"minimum", llm.ToolCall{Name: "echo", Arguments: json.RawMessage(`{"id":"x","count":-1}`)}, []string{"echo"},
			[]string{`at "/count": minimum`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := r.Call(context.Background(), tc.call, tc.allowed)
			if !res.IsError {
				t.Fatalf("expected an error result, got %+v", res)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Error, w) {
					t.Errorf("error %q\ndoes not contain %q", res.Error, w)
				}
			}
			if res.Output != nil {
				t.Errorf("output on error: %s", res.Output)
			}
			m := res.Message()
			if m.Role != llm.RoleTool || !m.IsError || m.Content != res.Error || m.Name != tc.call.Name {
				t.Errorf("Message = %+v", m)
			}
		})
	}
	if n.Load() != 0 {
		t.Fatalf("Run was called %d times for refused calls", n.Load())
	}
}

func TestCallToolErrors(t *testing.T) {
	r := NewRegistry()
	obj := json.RawMessage(`{"type":"object"}`)
	mustRegister(t, r,
		Tool{Name: "domain_err", Schema: obj, Run: func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, &domain.Error{Code: domain.CodeInvalid, Message: "bad input", Fields: []domain.FieldError{{Field: "x", Message: "too big"}},
				Err: errors.New("secret internal detail")}
		}},
		Tool{Name: "plain_err", Schema: obj, Run: func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, errors.New("upstream said no")
		}},
		Tool{Name: "panics", Schema: obj, Run: func(context.Context, json.RawMessage) (json.RawMessage, error) {
			panic("boom: password=hunter2")
		}},
		Tool{Name: "bad_output", Schema: obj, Run: func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"unterminated":`), nil
		}},
		Tool{Name: "nil_output", Schema: obj, Run: func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, nil
		}},
	)
	all := r.Names()
	call := func(name string) Result {
		return r.Call(context.Background(), llm.ToolCall{ID: "id-" + name, Name: name, Arguments: json.RawMessage(`{}`)}, all)
	}

	res := call("domain_err")
	if !res.IsError || res.Error != `tool "domain_err" failed: bad input; x: too big` || res.Cause == nil {
		t.Errorf("domain error result = %+v", res)
	}
	res = call("plain_err")
	if !res.IsError || res.Error != `tool "plain_err" failed: upstream said no` {
		t.Errorf("plain error result = %+v", res)
	}
	res = call("panics")
	if !res.IsError || !strings.Contains(res.Error, "internal error") || strings.Contains(res.Error, "hunter2") {
		t.Errorf("panic result = %+v", res)
	}
	if res.Cause == nil || !strings.Contains(res.Cause.Error(), "boom") {
		t.Errorf("panic cause = %v", res.Cause)
	}
	res = call("bad_output")
	if !res.IsError || !strings.Contains(res.Error, "internal error") {
		t.Errorf("bad output result = %+v", res)
	}
	res = call("nil_output")
	if res.IsError || string(res.Output) != "null" {
		t.Errorf("nil output result = %+v", res)
	}
}

func TestCallTimeout(t *testing.T) {
	r := NewRegistry()
	obj := json.RawMessage(`{"type":"object"}`)
	release := make(chan struct{})
	defer close(release)
	mustRegister(t, r,
		Tool{Name: "slow", Schema: obj, Timeout: 50 * time.Millisecond, Run: func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(10 * time.Second):
				return json.RawMessage(`{}`), nil
			}
		}},
		// A tool that ignores its context must not hold the agent past the timeout either.
		Tool{Name: "stubborn", Schema: obj, Timeout: 50 * time.Millisecond, Run: func(context.Context, json.RawMessage) (json.RawMessage, error) {
			<-release
			return json.RawMessage(`{}`), nil
		}},
	)
	for _, name := range []string{"slow", "stubborn"} {
		start := time.Now()
		res := r.Call(context.Background(), llm.ToolCall{ID: "t", Name: name, Arguments: json.RawMessage(`{}`)}, r.Names())
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Fatalf("%s: Call took %s", name, elapsed)
		}
		if !res.IsError || !strings.Contains(res.Error, "timed out after 50ms") {
			t.Errorf("%s: result = %+v", name, res)
		}
		if !errors.Is(res.Cause, context.DeadlineExceeded) {
			t.Errorf("%s: cause = %v", name, res.Cause)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	res := r.Call(ctx, llm.ToolCall{ID: "t", Name: "slow", Arguments: json.RawMessage(`{}`)}, r.Names())
	if !res.IsError || !strings.Contains(res.Error, "cancelled") {
		t.Errorf("cancelled call result = %+v", res)
	}
}

func TestDefaultTimeoutApplied(t *testing.T) {
	r := NewRegistry()
	mustRegister(t, r, Tool{Name: "a", Schema: json.RawMessage(`{"type":"object"}`), Run: noop})
	if got := r.tools["a"].tool.Timeout; got != DefaultTimeout {
		t.Fatalf("timeout = %s, want %s", got, DefaultTimeout)
	}
}

func TestCallConcurrent(t *testing.T) {
	r := NewRegistry()
	var n atomic.Int32
	mustRegister(t, r, countingTool("echo", &n))
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := json.RawMessage(fmt.Sprintf(`{"id":"%d"}`, i))
			if i%2 == 1 {
				args = json.RawMessage(`{"id":1}`)
			}
			res := r.Call(context.Background(), llm.ToolCall{ID: "c", Name: "echo", Arguments: args}, []string{"echo"})
			if res.IsError != (i%2 == 1) {
				t.Errorf("call %d: %+v", i, res)
			}
		}()
	}
	wg.Wait()
	if n.Load() != 16 {
		t.Fatalf("Run called %d times, want 16", n.Load())
	}
}

func TestDefaultRegistry(t *testing.T) {
	r := Default(Options{})
	if got := strings.Join(r.Names(), ","); got != "calculator,current_time,http_get" {
		t.Fatalf("Names = %s", got)
	}
	for _, s := range r.Specs(r.Names()) {
		var sch map[string]any
		if err := json.Unmarshal(s.Parameters, &sch); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if sch["additionalProperties"] != false || sch["type"] != "object" {
			t.Errorf("%s: schema must be a closed object: %s", s.Name, s.Parameters)
		}
		if s.Description == "" {
			t.Errorf("%s: no description", s.Name)
		}
	}
}
