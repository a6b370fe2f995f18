// Package tools is the registry of tools that agents may call, and the built-in tools.
//
// A model's tool call is untrusted input. The registry checks it against the agent's allowed
// list and the tool's JSON Schema before any tool code runs, bounds every run with a timeout and
// a panic guard, and turns every problem into a Result the model can read and act on, so one
// bad call never aborts the agent's turn.
package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/llm"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// DefaultTimeout bounds a call of a tool that sets no Timeout of its own.
const DefaultTimeout = 10 * time.Second

var toolName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// printer renders schema violations; models are prompted in English.
var printer = message.NewPrinter(language.English)

// Tool is one function a model may call.
type Tool struct {
	// Name is what the model calls the tool by; it must match ^[a-z][a-z0-9_]{0,63}$ so it is
	// accepted by every provider's function-name rules.
	Name        string
	Description string
	// Permissions are what the tool may do (read, write, execute, network, git), shown to
	// whoever grants it to an agent.
	Permissions []string
	// Schema is the JSON Schema (draft 2020-12) of the arguments object. Its root must be
	// {"type": "object", ...} because providers only accept object parameters.
	Schema json.RawMessage
	// Timeout bounds one call; zero means DefaultTimeout.
	Timeout time.Duration
	// Run does the work. It only ever sees arguments that passed Schema, and must return when
	// ctx is done. Its error text is shown to the model: for a *domain.Error only the Message
	// and Fields are, so a wrapped cause stays out of the conversation.
	Run func(ctx context.Context, args json.RawMessage) (json.RawMessage, error)
}

type entry struct {
	tool   Tool
	schema *jsonschema.Schema
}

// Registry holds the tools by name. It is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	tools map[string]*entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{tools: map[string]*entry{}}
}

// Register adds t. The schema is compiled here, once, so a broken schema fails at start-up
// rather than on a model's first call.
func (r *Registry) Register(t Tool) error {
	if !toolName.MatchString(t.Name) {
		return fmt.Errorf("tools: invalid tool name %q: must match %s", t.Name, toolName)
	}
	if t.Run == nil {
		return fmt.Errorf("tools: tool %q has no Run function", t.Name)
	}
	if t.Timeout < 0 {
		return fmt.Errorf("tools: tool %q has a negative timeout", t.Name)
	}
	if t.Timeout == 0 {
		t.Timeout = DefaultTimeout
	}
	sch, err := compileSchema(t.Name, t.Schema)
	if err != nil {
		return err
	}
	// Keep a private, compact copy so the caller cannot change the spec after the schema that
	// enforces it was compiled.
	var compact bytes.Buffer
	if err := json.Compact(&compact, t.Schema); err != nil {
		return fmt.Errorf("tools: schema of %q: %w", t.Name, err)
	}
	t.Schema = compact.Bytes()

	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.tools[t.Name]; dup {
		return fmt.Errorf("tools: tool %q is already registered", t.Name)
	}
	r.tools[t.Name] = &entry{tool: t, schema: sch}
	return nil
}

func compileSchema(name string, raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("tools: schema of %q is not valid JSON: %w", name, err)
	}
	root, ok := doc.(map[string]any)
	if !ok || root["type"] != "object" {
		return nil, fmt.Errorf(`tools: schema of %q must be an object schema with "type": "object"`, name)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// Formats such as "uri" are part of the contract with the model, not annotations.
	c.AssertFormat()
	// Tool schemas are self-contained; a $ref must never make the compiler read a file or URL.
	c.UseLoader(noLoader{})
	loc := "urn:gathering:tool:" + name
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("tools: schema of %q: %w", name, err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("tools: schema of %q does not compile: %w", name, err)
	}
	return sch, nil
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema references are not allowed: %s", url)
}

// Names returns the registered tool names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.tools))
	for n := range r.tools {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Permissions returns the permissions a tool declares (nil for an unknown tool).
func (r *Registry) Permissions(name string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e, ok := r.tools[name]; ok {
		return slices.Clone(e.tool.Permissions)
	}
	return nil
}

// Known reports whether a tool called name is registered.
func (r *Registry) Known(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.tools[name]
	return ok
}

// Specs returns the specs of the allowed tools that exist, in the order of allowed, each once.
// Names that are not registered are skipped, so an agent configured with a tool this build
// lacks still runs with the rest.
func (r *Registry) Specs(allowed []string) []llm.ToolSpec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	specs := make([]llm.ToolSpec, 0, len(allowed))
	seen := make(map[string]bool, len(allowed))
	for _, name := range allowed {
		e, ok := r.tools[name]
		if !ok || seen[name] {
			continue
		}
		seen[name] = true
		specs = append(specs, llm.ToolSpec{
			Name:        e.tool.Name,
			Description: e.tool.Description,
			Parameters:  slices.Clone(e.tool.Schema),
		})
	}
	return specs
}

// Result is the outcome of one tool call.
type Result struct {
	CallID string          `json:"call_id"`
	Name   string          `json:"name"`
	Output json.RawMessage `json:"output,omitempty"`
	// IsError marks a failed call; Error then tells the model what went wrong and what to do.
	IsError  bool          `json:"is_error,omitempty"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
	// Cause is the underlying failure, for logs. It is never shown to the model: a panic value
	// or an internal error may carry details that do not belong in a conversation.
	Cause error `json:"-"`
}

// Message returns the tool message that answers the call.
func (res Result) Message() llm.Message {
	m := llm.Message{
		Role:       llm.RoleTool,
		ToolCallID: res.CallID,
		Name:       res.Name,
		IsError:    res.IsError,
	}
	if res.IsError {
		m.Content = res.Error
	} else {
		m.Content = string(res.Output)
	}
	return m
}

// Call runs one model tool call for an agent allowed the tools in allowed (nil allows none).
// It never returns a Go error for a problem the model caused: unknown tool, tool not permitted,
// arguments that are not JSON or break the schema, tool failure, panic and timeout all become a
// Result with IsError. Invalid arguments never reach Run.
func (r *Registry) Call(ctx context.Context, call llm.ToolCall, allowed []string) Result {
	start := time.Now()
	res := r.call(ctx, call, allowed)
	res.CallID = call.ID
	res.Name = call.Name
	res.Duration = time.Since(start)
	return res
}

func (r *Registry) call(ctx context.Context, call llm.ToolCall, allowed []string) Result {
	r.mu.RLock()
	e, known := r.tools[call.Name]
	r.mu.RUnlock()
	if !known {
		return failed(fmt.Sprintf("unknown tool %q; %s", call.Name, r.available(allowed)), nil)
	}
	if !slices.Contains(allowed, call.Name) {
		return failed(fmt.Sprintf("tool %q is not permitted for this agent; %s", call.Name, r.available(allowed)), nil)
	}

	args, msg := e.checkArgs(call.Arguments)
	if msg != "" {
		return failed(msg, nil)
	}
	return e.run(ctx, args)
}

// available names the tools the agent may use, so the model can correct a wrong name itself.
func (r *Registry) available(allowed []string) string {
	specs := r.Specs(allowed)
	if len(specs) == 0 {
		return "this agent has no tools available"
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return "available tools: " + strings.Join(names, ", ")
}

// checkArgs returns the arguments to pass to Run, or a message explaining why they are refused.
func (e *entry) checkArgs(raw json.RawMessage) (json.RawMessage, string) {
	// Several providers send an empty string rather than {} when a tool takes no arguments.
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("{}")
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Sprintf("arguments for tool %q are not valid JSON (%v); send a single JSON object matching the tool's parameters schema", e.tool.Name, err)
	}
	if err := e.schema.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return nil, fmt.Sprintf("arguments for tool %q could not be validated: %v", e.tool.Name, err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "arguments for tool %q do not match its parameters schema; nothing was run. Fix these and call again:", e.tool.Name)
		for _, v := range violations(ve) {
			b.WriteString("\n- ")
			b.WriteString(v)
		}
		return nil, b.String()
	}
	return raw, ""
}

// violations flattens a validation error tree into one line per failed keyword. Only the leaves
// are listed: the inner nodes ("doesn't validate with ...") repeat them without adding a cause.
func violations(ve *jsonschema.ValidationError) []string {
	var out []string
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, fmt.Sprintf("at %s: %s", pointer(e.InstanceLocation), describeViolation(e.ErrorKind)))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return slices.Compact(out)
}

// describeViolation words the size limits itself: the library's printer groups digits
// ("got 1,001"), which reads as a decimal comma in much of the world.
func describeViolation(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.MaxLength:
		return fmt.Sprintf("string is too long: %d characters, at most %d allowed", k.Got, k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("string is too short: %d characters, at least %d required", k.Got, k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("array has %d items, at most %d allowed", k.Got, k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("array has %d items, at least %d required", k.Got, k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("object has %d properties, at most %d allowed", k.Got, k.Want)
	case *kind.MinProperties:
		return fmt.Sprintf("object has %d properties, at least %d required", k.Got, k.Want)
	}
	return k.LocalizedString(printer)
}

// pointer renders an RFC 6901 JSON pointer; the root's pointer is the empty string, which is
// spelled out so the model does not read it as a missing value.
func pointer(tokens []string) string {
	if len(tokens) == 0 {
		return `"" (the arguments object)`
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return `"` + b.String() + `"`
}

type outcome struct {
	out      json.RawMessage
	err      error
	panicked any
}

func (e *entry) run(ctx context.Context, args json.RawMessage) Result {
	runCtx, cancel := context.WithTimeout(ctx, e.tool.Timeout)
	defer cancel()

	// Buffered, so a Run that ignores ctx and finishes after the timeout does not leak a
	// goroutine blocked on the send.
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			if p := recover(); p != nil {
				o = outcome{panicked: p}
			}
			done <- o
		}()
		o.out, o.err = e.tool.Run(runCtx, args)
	}()

	var o outcome
	select {
	case o = <-done:
	case <-runCtx.Done():
		return e.interrupted(ctx)
	}

	switch {
	case o.panicked != nil:
		return failed(fmt.Sprintf("tool %q failed with an internal error; this is not caused by your arguments, so do not retry the same call", e.tool.Name),
			fmt.Errorf("tool %q panicked: %v", e.tool.Name, o.panicked))
	case o.err != nil && runCtx.Err() != nil:
		// Run gave up because its context ended; say why in our words rather than Run's.
		res := e.interrupted(ctx)
		res.Cause = o.err
		return res
	case o.err != nil:
		return failed(fmt.Sprintf("tool %q failed: %s", e.tool.Name, toolMessage(o.err)), o.err)
	}

	out := o.out
	if len(bytes.TrimSpace(out)) == 0 {
		out = json.RawMessage("null")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, out); err != nil {
		return failed(fmt.Sprintf("tool %q failed with an internal error; this is not caused by your arguments", e.tool.Name),
			fmt.Errorf("tool %q returned invalid JSON: %w", e.tool.Name, err))
	}
	return Result{Output: compact.Bytes()}
}

func (e *entry) interrupted(parent context.Context) Result {
	if err := parent.Err(); err != nil {
		return failed(fmt.Sprintf("tool %q was cancelled before it finished", e.tool.Name), err)
	}
	return failed(fmt.Sprintf("tool %q timed out after %s; try a smaller or simpler request", e.tool.Name, e.tool.Timeout),
		context.DeadlineExceeded)
}

func toolMessage(err error) string {
	var de *domain.Error
	if !errors.As(err, &de) {
		return err.Error()
	}
	if len(de.Fields) == 0 {
		return de.Message
	}
	parts := make([]string, 0, len(de.Fields)+1)
	// A domain.Validation message only summarises its first field ("f: msg (and 2 more)");
	// the model is better served by every field, once.
	if first := de.Fields[0]; !strings.HasPrefix(de.Message, first.Field+": "+first.Message) {
		parts = append(parts, de.Message)
	}
	for _, f := range de.Fields {
		parts = append(parts, f.Field+": "+f.Message)
	}
	return strings.Join(parts, "; ")
}

func failed(msg string, cause error) Result {
	return Result{IsError: true, Error: msg, Cause: cause}
}
