package llm

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// DefaultAnthropicBaseURL is Anthropic's API root.
const DefaultAnthropicBaseURL = "https://api.anthropic.com"

// defaultAnthropicMaxTokens is sent when a Request leaves MaxTokens at 0: the Messages API
// requires the field.
const defaultAnthropicMaxTokens = 1024

// AnthropicConfig configures the Anthropic provider.
type AnthropicConfig struct {
	APIKey string
	// BaseURL is the API root (default DefaultAnthropicBaseURL).
	BaseURL string
	// Timeout bounds each attempt, streamed body included (0: the SDK's default).
	Timeout time.Duration
	// MaxRetries is how often 429, 5xx and connection failures are retried (0: 2, <0: none).
	MaxRetries int
	// HTTPClient replaces http.DefaultClient.
	HTTPClient *http.Client
}

type anthropicProvider struct {
	cfg    AnthropicConfig
	client anthropic.Client
}

// NewAnthropic returns a provider that speaks the Messages API through the official SDK.
// A provider without a key is valid; its calls fail with ErrMissingKey without any request.
//
// Request.Temperature is not sent: the API version of this SDK no longer has the parameter.
func NewAnthropic(cfg AnthropicConfig) Provider {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultAnthropicBaseURL
	}
	opts := []option.RequestOption{
		// Only the explicit configuration: no ANTHROPIC_* variable or profile file.
		option.WithoutEnvironmentDefaults(),
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(cfg.APIKey),
		option.WithMaxRetries(retriesOf(cfg.MaxRetries)),
	}
	if cfg.Timeout > 0 {
		opts = append(opts, option.WithRequestTimeout(cfg.Timeout))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	return &anthropicProvider{cfg: cfg, client: anthropic.NewClient(opts...)}
}

func (p *anthropicProvider) Name() string { return "anthropic" }

func (p *anthropicProvider) Complete(ctx context.Context, req Request) (Response, error) {
	params, err := p.params(req)
	if err != nil {
		return Response{}, err
	}
	msg, err := p.client.Messages.New(ctx, params)
	if err != nil {
		return Response{}, p.mapError(err)
	}
	return anthropicResponse(msg), nil
}

func (p *anthropicProvider) Stream(ctx context.Context, req Request, onText func(string)) (Response, error) {
	params, err := p.params(req)
	if err != nil {
		return Response{}, err
	}
	stream := p.client.Messages.NewStreaming(ctx, params)
	defer stream.Close()
	var msg anthropic.Message
	for stream.Next() {
		ev := stream.Current()
		if err := msg.Accumulate(ev); err != nil {
			return Response{}, &Error{Provider: "anthropic", Kind: ErrUnavailable, Message: "the provider sent a malformed stream: " + err.Error()}
		}
		if onText != nil && ev.Type == "content_block_delta" && ev.Delta.Type == "text_delta" && ev.Delta.Text != "" {
			onText(ev.Delta.Text)
		}
	}
	if err := stream.Err(); err != nil {
		return Response{}, p.mapError(err)
	}
	if msg.ID == "" && len(msg.Content) == 0 {
		return Response{}, &Error{Provider: "anthropic", Kind: ErrUnavailable, Message: "the stream ended without an answer"}
	}
	return anthropicResponse(&msg), nil
}

func (p *anthropicProvider) params(req Request) (anthropic.MessageNewParams, error) {
	if p.cfg.APIKey == "" {
		return anthropic.MessageNewParams{}, missingKeyError("anthropic", "ANTHROPIC_API_KEY")
	}
	params := anthropic.MessageNewParams{
		Model:     anthropic.Model(req.Model),
		MaxTokens: defaultAnthropicMaxTokens,
	}
	if req.MaxTokens > 0 {
		params.MaxTokens = int64(req.MaxTokens)
	}
	system := []string{}
	if req.System != "" {
		system = append(system, req.System)
	}

	// Consecutive messages of one API role are merged into one message: the tool results
	// answering one assistant turn must all be in the single user message that follows it.
	var msgs []anthropic.MessageParam
	add := func(user bool, blocks ...anthropic.ContentBlockParamUnion) {
		if len(blocks) == 0 {
			return
		}
		if n := len(msgs); n > 0 {
			last := &msgs[n-1]
			if user && last.OfUser != nil {
				last.OfUser.Content = append(last.OfUser.Content, blocks...)
				return
			}
			if !user && last.OfAssistant != nil {
				last.OfAssistant.Content = append(last.OfAssistant.Content, blocks...)
				return
			}
		}
		if user {
			msgs = append(msgs, anthropic.NewUserMessage(blocks...))
		} else {
			msgs = append(msgs, anthropic.NewAssistantMessage(blocks...))
		}
	}
	for _, m := range req.Messages {
		switch m.Role {
		case RoleSystem:
			if m.Content != "" {
				system = append(system, m.Content)
			}
		case RoleUser:
			if m.Content != "" {
				add(true, anthropic.NewTextBlock(m.Content))
			}
		case RoleAssistant:
			var blocks []anthropic.ContentBlockParamUnion
			if m.Content != "" {
				blocks = append(blocks, anthropic.NewTextBlock(m.Content))
			}
			for _, tc := range m.ToolCalls {
				blocks = append(blocks, anthropic.NewToolUseBlock(tc.ID, toolInput(tc.Arguments), tc.Name))
			}
			add(false, blocks...)
		case RoleTool:
			add(true, anthropic.NewToolResultBlock(m.ToolCallID, m.Content, m.IsError))
		default:
			return params, badRequest("anthropic", "unknown message role "+string(m.Role))
		}
	}
	params.Messages = msgs
	if len(system) > 0 {
		params.System = []anthropic.TextBlockParam{{Text: strings.Join(system, "\n\n")}}
	}
	for _, t := range req.Tools {
		schema, err := schemaObject("anthropic", t)
		if err != nil {
			return params, err
		}
		in := anthropic.ToolInputSchemaParam{ExtraFields: map[string]any{}}
		for k, v := range schema {
			switch k {
			case "type":
			case "properties":
				in.Properties = v
			case "required":
				if list, ok := v.([]any); ok {
					for _, r := range list {
						if s, ok := r.(string); ok {
							in.Required = append(in.Required, s)
						}
					}
				}
			default:
				in.ExtraFields[k] = v
			}
		}
		tp := anthropic.ToolParam{Name: t.Name, InputSchema: in}
		if t.Description != "" {
			tp.Description = anthropic.String(t.Description)
		}
		params.Tools = append(params.Tools, anthropic.ToolUnionParam{OfTool: &tp})
	}
	return params, nil
}

// toolInput is a tool_use block's input: the call's arguments as a JSON object.
func toolInput(args json.RawMessage) json.RawMessage {
	a := normalizeArgs(args)
	if len(a) == 0 || a[0] != '{' {
		return json.RawMessage(`{}`)
	}
	return a
}

func anthropicResponse(msg *anthropic.Message) Response {
	resp := Response{
		ID:    msg.ID,
		Model: string(msg.Model),
		Usage: Usage{
			InputTokens:  int(msg.Usage.InputTokens + msg.Usage.CacheCreationInputTokens + msg.Usage.CacheReadInputTokens),
			OutputTokens: int(msg.Usage.OutputTokens),
		},
	}
	var text strings.Builder
	for _, b := range msg.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			resp.ToolCalls = append(resp.ToolCalls, ToolCall{ID: b.ID, Name: b.Name, Arguments: normalizeArgs(b.Input)})
		}
	}
	resp.Content = text.String()
	switch msg.StopReason {
	case anthropic.StopReasonEndTurn:
		resp.StopReason = StopEnd
	case anthropic.StopReasonToolUse:
		resp.StopReason = StopToolUse
	case anthropic.StopReasonMaxTokens:
		resp.StopReason = StopMaxTokens
	default:
		resp.StopReason = StopOther
	}
	return resp
}

func (p *anthropicProvider) mapError(err error) error {
	var apiErr *anthropic.Error
	if errors.As(err, &apiErr) {
		var ra time.Duration
		if apiErr.Response != nil {
			ra, _ = parseRetryAfter(apiErr.Response.Header, time.Now())
		}
		status := apiErr.StatusCode
		if status < 400 {
			// An error event inside a stream that had started with 200.
			status = anthropicStatusForType(string(apiErr.Type()))
		}
		// apiErr carries the request and its x-api-key header: it is not wrapped.
		return statusError("anthropic", status, apiErr.Message, ra, p.cfg.APIKey)
	}
	return transportError("anthropic", err, p.cfg.APIKey)
}

// anthropicStatusForType maps the error type of a streamed error event to its HTTP status.
func anthropicStatusForType(errType string) int {
	switch errType {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "permission_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "rate_limit_error":
		return http.StatusTooManyRequests
	case "overloaded_error":
		return 529
	case "timeout_error":
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}
