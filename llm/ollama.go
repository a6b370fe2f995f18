package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultOllamaBaseURL is where a local Ollama listens.
const DefaultOllamaBaseURL = "http://127.0.0.1:11434"

// maxRetryAfter is the longest Retry-After this package waits for; a server asking for more
// gets its error returned (with RetryAfter set) instead.
const maxRetryAfter = time.Minute

// OllamaConfig configures the Ollama provider.
type OllamaConfig struct {
	// BaseURL is the server root (default DefaultOllamaBaseURL).
	BaseURL string
	// APIKey is optional: a local Ollama needs none; ollama.com or an authenticating proxy
	// takes it as a Bearer token.
	APIKey string
	// Timeout bounds each attempt, streamed body included (0: no limit beyond ctx).
	Timeout time.Duration
	// MaxRetries is how often 429, 5xx and connection failures are retried (0: 2, <0: none).
	MaxRetries int
	// HTTPClient replaces http.DefaultClient.
	HTTPClient *http.Client
}

type ollamaProvider struct {
	cfg    OllamaConfig
	client *http.Client
}

// NewOllama returns a provider for Ollama's /api/chat endpoint (JSON, or NDJSON when streamed).
func NewOllama(cfg OllamaConfig) Provider {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultOllamaBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	return &ollamaProvider{cfg: cfg, client: client}
}

func (p *ollamaProvider) Name() string { return "ollama" }

// Wire format of https://github.com/ollama/ollama/blob/main/docs/api.md#generate-a-chat-completion

type ollamaRequest struct {
	Model    string          `json:"model"`
	Messages []ollamaMessage `json:"messages"`
	Tools    []ollamaTool    `json:"tools,omitempty"`
	Stream   bool            `json:"stream"`
	Options  map[string]any  `json:"options,omitempty"`
}

type ollamaMessage struct {
	Role      string           `json:"role"`
	Content   string           `json:"content"`
	ToolCalls []ollamaToolCall `json:"tool_calls,omitempty"`
	ToolName  string           `json:"tool_name,omitempty"`
}

type ollamaToolCall struct {
	Function ollamaFunctionCall `json:"function"`
}

type ollamaFunctionCall struct {
	Index     *int            `json:"index,omitempty"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

type ollamaTool struct {
	Type     string             `json:"type"`
	Function ollamaToolFunction `json:"function"`
}

type ollamaToolFunction struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Parameters  map[string]any `json:"parameters"`
}

type ollamaResponse struct {
	Model           string        `json:"model"`
	Message         ollamaMessage `json:"message"`
	Done            bool          `json:"done"`
	DoneReason      string        `json:"done_reason"`
	PromptEvalCount int           `json:"prompt_eval_count"`
	EvalCount       int           `json:"eval_count"`
	Error           string        `json:"error"`
}

func (p *ollamaProvider) Complete(ctx context.Context, req Request) (Response, error) {
	return p.do(ctx, req, false, nil)
}

func (p *ollamaProvider) Stream(ctx context.Context, req Request, onText func(string)) (Response, error) {
	return p.do(ctx, req, true, onText)
}

func (p *ollamaProvider) body(req Request, stream bool) ([]byte, error) {
	or := ollamaRequest{Model: req.Model, Stream: stream}
	if req.System != "" {
		or.Messages = append(or.Messages, ollamaMessage{Role: "system", Content: req.System})
	}
	for i, m := range req.Messages {
		switch m.Role {
		case RoleSystem, RoleUser:
			or.Messages = append(or.Messages, ollamaMessage{Role: string(m.Role), Content: m.Content})
		case RoleAssistant:
			om := ollamaMessage{Role: "assistant", Content: m.Content}
			for _, tc := range m.ToolCalls {
				om.ToolCalls = append(om.ToolCalls, ollamaToolCall{Function: ollamaFunctionCall{
					Name:      tc.Name,
					Arguments: toolInput(tc.Arguments),
				}})
			}
			or.Messages = append(or.Messages, om)
		case RoleTool:
			name := m.Name
			if name == "" {
				name = toolNameByCallID(req.Messages, i, m.ToolCallID)
			}
			or.Messages = append(or.Messages, ollamaMessage{Role: "tool", Content: m.Content, ToolName: name})
		default:
			return nil, badRequest("ollama", "unknown message role "+string(m.Role))
		}
	}
	for _, t := range req.Tools {
		schema, err := schemaObject("ollama", t)
		if err != nil {
			return nil, err
		}
		or.Tools = append(or.Tools, ollamaTool{Type: "function", Function: ollamaToolFunction{
			Name: t.Name, Description: t.Description, Parameters: schema,
		}})
	}
	if req.Temperature != nil || req.MaxTokens > 0 {
		or.Options = map[string]any{}
		if req.Temperature != nil {
			or.Options["temperature"] = *req.Temperature
		}
		if req.MaxTokens > 0 {
			or.Options["num_predict"] = req.MaxTokens
		}
	}
	return json.Marshal(or)
}

func (p *ollamaProvider) do(ctx context.Context, req Request, stream bool, onText func(string)) (Response, error) {
	body, err := p.body(req, stream)
	if err != nil {
		return Response{}, err
	}
	retries := retriesOf(p.cfg.MaxRetries)
	for attempt := 0; ; attempt++ {
		resp, f := p.attempt(ctx, body, stream, onText)
		if f == nil {
			return resp, nil
		}
		if !f.retry || attempt >= retries || ctx.Err() != nil {
			return Response{}, f.err
		}
		wait := backoff(attempt)
		if f.retryAfter >= 0 {
			if f.retryAfter > maxRetryAfter {
				return Response{}, f.err
			}
			wait = f.retryAfter
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return Response{}, transportError("ollama", err, p.cfg.APIKey)
		}
	}
}

// failure is a failed attempt: err, whether it may be repeated (rate limits, outages and
// connection failures, but nothing after the answer began), and the server's Retry-After (or -1).
type failure struct {
	err        *Error
	retry      bool
	retryAfter time.Duration
}

func fail(e *Error) *failure {
	return &failure{err: e, retry: e.Kind == ErrRateLimited || e.Kind == ErrUnavailable, retryAfter: -1}
}

func failFinal(e *Error) *failure { return &failure{err: e, retryAfter: -1} }

// attempt makes one HTTP request.
func (p *ollamaProvider) attempt(ctx context.Context, body []byte, stream bool, onText func(string)) (Response, *failure) {
	if p.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.Timeout)
		defer cancel()
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.BaseURL+"/api/chat", bytes.NewReader(body))
	if err != nil {
		return Response{}, failFinal(badRequest("ollama", "invalid base URL: "+err.Error()))
	}
	hr.Header.Set("Content-Type", "application/json")
	if stream {
		hr.Header.Set("Accept", "application/x-ndjson")
	} else {
		hr.Header.Set("Accept", "application/json")
	}
	if p.cfg.APIKey != "" {
		hr.Header.Set("Authorization", "Bearer "+p.cfg.APIKey)
	}
	res, err := p.client.Do(hr)
	if err != nil {
		e := transportError("ollama", err, p.cfg.APIKey)
		if e.Kind == ErrUnavailable {
			e.Message = fmt.Sprintf("cannot reach Ollama at %s (is it running?): %v", p.cfg.BaseURL, redact(err.Error(), p.cfg.APIKey))
		}
		return Response{}, fail(e)
	}
	defer res.Body.Close()

	if res.StatusCode >= 400 {
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		var eb struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &eb) == nil && eb.Error != "" {
			msg = eb.Error
		}
		ra, ok := parseRetryAfter(res.Header, time.Now())
		f := fail(statusError("ollama", res.StatusCode, msg, ra, p.cfg.APIKey))
		if ok {
			f.retryAfter = ra
		}
		return Response{}, f
	}

	dec := json.NewDecoder(res.Body)
	var out Response
	var text strings.Builder
	started := false
	for {
		var chunk ollamaResponse
		if err := dec.Decode(&chunk); err != nil {
			if err == io.EOF {
				if !started {
					return Response{}, fail(&Error{Provider: "ollama", Kind: ErrUnavailable, Message: "Ollama sent an empty answer"})
				}
				// A stream that stops without done:true was cut off.
				return Response{}, failFinal(&Error{Provider: "ollama", Kind: ErrUnavailable, Message: "the answer stream ended early"})
			}
			e := transportError("ollama", err, p.cfg.APIKey)
			if e.Kind == ErrUnavailable {
				e.Message = "cannot read Ollama's answer: " + redact(err.Error(), p.cfg.APIKey)
			}
			if started {
				return Response{}, failFinal(e)
			}
			return Response{}, fail(e)
		}
		if chunk.Error != "" {
			return Response{}, failFinal(&Error{Provider: "ollama", Kind: ErrUnavailable, Message: "Ollama: " + chunk.Error})
		}
		started = true
		if chunk.Model != "" {
			out.Model = chunk.Model
		}
		if chunk.Message.Content != "" {
			text.WriteString(chunk.Message.Content)
			if onText != nil {
				onText(chunk.Message.Content)
			}
		}
		for _, tc := range chunk.Message.ToolCalls {
			idx := len(out.ToolCalls)
			out.ToolCalls = append(out.ToolCalls, ToolCall{
				// Ollama gives no ids; the position in the answer pairs a call with its result.
				ID:        fmt.Sprintf("call_%d", idx),
				Name:      tc.Function.Name,
				Arguments: normalizeArgs(tc.Function.Arguments),
			})
		}
		if chunk.Done {
			out.Usage = Usage{InputTokens: chunk.PromptEvalCount, OutputTokens: chunk.EvalCount}
			switch {
			case len(out.ToolCalls) > 0:
				out.StopReason = StopToolUse
			case chunk.DoneReason == "stop" || chunk.DoneReason == "":
				out.StopReason = StopEnd
			case chunk.DoneReason == "length":
				out.StopReason = StopMaxTokens
			default:
				out.StopReason = StopOther
			}
			out.Content = text.String()
			return out, nil
		}
	}
}
