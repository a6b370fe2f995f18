package llm

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"
)

// DefaultOpenAIBaseURL is OpenAI's API root.
const DefaultOpenAIBaseURL = "https://api.openai.com/v1"

// OpenAIConfig configures an OpenAI or OpenAI-compatible (DeepSeek, Mistral, vLLM, LM Studio,
// ...) provider.
type OpenAIConfig struct {
	APIKey string
	// BaseURL is the API root, ending in /v1 for most servers (default DefaultOpenAIBaseURL).
	BaseURL string
	// Name is the provider's catalog name (default "openai"), so a compatible server can be
	// registered under its own name.
	Name string
	// KeyEnv names the environment variable the missing-key error points to (default
	// OPENAI_API_KEY).
	KeyEnv string
	// Timeout bounds each attempt, streamed body included (0: no limit beyond ctx).
	Timeout time.Duration
	// MaxRetries is how often 429, 5xx and connection failures are retried (0: 2, <0: none).
	MaxRetries int
	// HTTPClient replaces http.DefaultClient.
	HTTPClient *http.Client
}

type openAIProvider struct {
	cfg OpenAIConfig
	svc openai.ChatCompletionService
}

// NewOpenAI returns a provider that speaks the Chat Completions API through the official SDK.
// A provider without a key is valid; its calls fail with ErrMissingKey without any request.
func NewOpenAI(cfg OpenAIConfig) Provider {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultOpenAIBaseURL
	}
	if cfg.Name == "" {
		cfg.Name = "openai"
	}
	if cfg.KeyEnv == "" {
		cfg.KeyEnv = "OPENAI_API_KEY"
	}
	// The service is built from explicit options only (not openai.NewClient), so no OPENAI_*
	// environment variable (organisation, project, base URL, ...) leaks into a provider that
	// was configured for another server.
	opts := []option.RequestOption{
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
	return &openAIProvider{cfg: cfg, svc: openai.NewChatCompletionService(opts...)}
}

func (p *openAIProvider) Name() string { return p.cfg.Name }

func (p *openAIProvider) Complete(ctx context.Context, req Request) (Response, error) {
	params, err := p.params(req)
	if err != nil {
		return Response{}, err
	}
	cc, err := p.svc.New(ctx, params)
	if err != nil {
		return Response{}, p.mapError(err)
	}
	return p.response(cc), nil
}

func (p *openAIProvider) Stream(ctx context.Context, req Request, onText func(string)) (Response, error) {
	params, err := p.params(req)
	if err != nil {
		return Response{}, err
	}
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := p.svc.NewStreaming(ctx, params)
	defer stream.Close()
	return p.consume(stream, onText)
}

func (p *openAIProvider) consume(stream *ssestream.Stream[openai.ChatCompletionChunk], onText func(string)) (Response, error) {
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		chunk := stream.Current()
		if !acc.AddChunk(chunk) {
			return Response{}, &Error{Provider: p.cfg.Name, Kind: ErrUnavailable, Message: "the provider sent a malformed stream"}
		}
		if onText != nil {
			for _, c := range chunk.Choices {
				if c.Index == 0 && c.Delta.Content != "" {
					onText(c.Delta.Content)
				}
			}
		}
	}
	if err := stream.Err(); err != nil {
		return Response{}, p.mapError(err)
	}
	if len(acc.Choices) == 0 {
		return Response{}, &Error{Provider: p.cfg.Name, Kind: ErrUnavailable, Message: "the stream ended without an answer"}
	}
	return p.response(&acc.ChatCompletion), nil
}

func (p *openAIProvider) params(req Request) (openai.ChatCompletionNewParams, error) {
	if p.cfg.APIKey == "" {
		return openai.ChatCompletionNewParams{}, missingKeyError(p.cfg.Name, p.cfg.KeyEnv)
	}
	params := openai.ChatCompletionNewParams{Model: shared.ChatModel(req.Model)}
	if req.System != "" {
		params.Messages = append(params.Messages, openai.SystemMessage(req.System))
	}
	for _, m := range req.Messages {
		switch m.Role {
		case RoleSystem:
			params.Messages = append(params.Messages, openai.SystemMessage(m.Content))
		case RoleUser:
			params.Messages = append(params.Messages, openai.UserMessage(m.Content))
		case RoleAssistant:
			var am openai.ChatCompletionAssistantMessageParam
			if m.Content != "" || len(m.ToolCalls) == 0 {
				am.Content.OfString = openai.String(m.Content)
			}
			for _, tc := range m.ToolCalls {
				am.ToolCalls = append(am.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
						ID: tc.ID,
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{
							Name:      tc.Name,
							Arguments: string(normalizeArgs(tc.Arguments)),
						},
					},
				})
			}
			params.Messages = append(params.Messages, openai.ChatCompletionMessageParamUnion{OfAssistant: &am})
		case RoleTool:
			params.Messages = append(params.Messages, openai.ToolMessage(m.Content, m.ToolCallID))
		default:
			return params, badRequest(p.cfg.Name, "unknown message role "+string(m.Role))
		}
	}
	for _, t := range req.Tools {
		schema, err := schemaObject(p.cfg.Name, t)
		if err != nil {
			return params, err
		}
		fd := shared.FunctionDefinitionParam{Name: t.Name, Parameters: shared.FunctionParameters(schema)}
		if t.Description != "" {
			fd.Description = openai.String(t.Description)
		}
		params.Tools = append(params.Tools, openai.ChatCompletionFunctionTool(fd))
	}
	if req.Temperature != nil {
		params.Temperature = openai.Float(*req.Temperature)
	}
	if req.MaxTokens > 0 {
		// OpenAI's reasoning models only accept max_completion_tokens; compatible servers
		// generally only know the older max_tokens.
		if strings.Contains(p.cfg.BaseURL, "api.openai.com") {
			params.MaxCompletionTokens = openai.Int(int64(req.MaxTokens))
		} else {
			params.MaxTokens = openai.Int(int64(req.MaxTokens))
		}
	}
	return params, nil
}

func (p *openAIProvider) response(cc *openai.ChatCompletion) Response {
	resp := Response{
		ID:    cc.ID,
		Model: cc.Model,
		Usage: Usage{InputTokens: int(cc.Usage.PromptTokens), OutputTokens: int(cc.Usage.CompletionTokens)},
	}
	if len(cc.Choices) == 0 {
		resp.StopReason = StopOther
		return resp
	}
	ch := cc.Choices[0]
	resp.Content = ch.Message.Content
	if resp.Content == "" && ch.Message.Refusal != "" {
		resp.Content = ch.Message.Refusal
	}
	for _, tc := range ch.Message.ToolCalls {
		if tc.Type != "" && tc.Type != "function" {
			continue
		}
		resp.ToolCalls = append(resp.ToolCalls, ToolCall{
			ID:        tc.ID,
			Name:      tc.Function.Name,
			Arguments: normalizeArgs([]byte(tc.Function.Arguments)),
		})
	}
	switch ch.FinishReason {
	case "stop":
		resp.StopReason = StopEnd
	case "tool_calls", "function_call":
		resp.StopReason = StopToolUse
	case "length":
		resp.StopReason = StopMaxTokens
	default:
		resp.StopReason = StopOther
	}
	// Some compatible servers report "stop" although the answer is a tool call.
	if len(resp.ToolCalls) > 0 && resp.StopReason == StopEnd {
		resp.StopReason = StopToolUse
	}
	return resp
}

func (p *openAIProvider) mapError(err error) error {
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		var ra time.Duration
		if apiErr.Response != nil {
			ra, _ = parseRetryAfter(apiErr.Response.Header, time.Now())
		}
		// apiErr carries the request and its Authorization header: it is not wrapped.
		return statusError(p.cfg.Name, apiErr.StatusCode, apiErr.Message, ra, p.cfg.APIKey)
	}
	var streamErr *ssestream.StreamError
	if errors.As(err, &streamErr) {
		return &Error{
			Provider: p.cfg.Name,
			Kind:     ErrUnavailable,
			Message:  redact(strings.TrimPrefix(streamErr.Message, "received error while streaming: "), p.cfg.APIKey),
		}
	}
	return transportError(p.cfg.Name, err, p.cfg.APIKey)
}
