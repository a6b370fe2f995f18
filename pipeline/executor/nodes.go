package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gathering/gathering/chat"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/livefeed"
	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/pipeline"
)

// maxActionResponse bounds what an http_request action keeps of a response: its output must
// fit in an event.
const maxActionResponse = 256 << 10

// agentTurn asks the node's agent one question: the prompt template rendered over the node's
// input. The answer's tokens reach the run's live feed as they arrive.
func (x *Executor) agentTurn(ctx context.Context, run *domain.PipelineRun, node domain.PipelineNode, input json.RawMessage) (json.RawMessage, error) {
	var cfg struct {
		AgentID   string `json:"agent_id"`
		Prompt    string `json:"prompt"`
		MaxTokens int    `json:"max_tokens"`
	}
	if err := json.Unmarshal(node.Config, &cfg); err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("config: %w", err))
	}
	in, err := pipeline.DecodeValue(input)
	if err != nil {
		return nil, pipeline.Permanent(err)
	}
	prompt, err := pipeline.RenderTemplate(cfg.Prompt, in)
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("prompt: %w", err))
	}
	agent, err := x.Repo.LoadAgent(ctx, cfg.AgentID)
	if err != nil {
		return nil, err
	}
	if !agent.Exists() {
		return nil, pipeline.Permanent(fmt.Errorf("agent %s does not exist (any more)", cfg.AgentID))
	}
	provider, err := x.Models.Get(string(agent.Spec.Provider))
	if err != nil {
		return nil, pipeline.Permanent(err)
	}
	maxTokens := agent.Spec.Personality.MaxTokens
	if cfg.MaxTokens > 0 {
		maxTokens = cfg.MaxTokens
	}
	temp := agent.Spec.Personality.Temperature
	req := llm.Request{Model: agent.Spec.Model, System: chat.SystemPrompt(agent), Temperature: &temp, MaxTokens: maxTokens,
		Messages: []llm.Message{{Role: llm.RoleUser, Content: prompt}}}
	topics := []string{"pipeline_runs:" + run.ID, "pipelines:" + run.PipelineID}
	resp, err := provider.Stream(ctx, req, func(delta string) {
		data, _ := json.Marshal(map[string]string{"run_id": run.ID, "node": node.ID, "agent_id": cfg.AgentID, "delta": delta})
		m := livefeed.Message{Type: "pipeline_node.token", Timestamp: time.Now().UTC(), Topics: topics, Data: data,
			Stream: livefeed.StreamRef{ID: domain.PipelineRunStreamID(run.ID), Type: domain.StreamTypePipelineRun}}
		if err := livefeed.Transmit(ctx, x.DB, m); err != nil {
			x.Log.Debug().Err(err).Msg("token not streamed")
		}
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"text": resp.Content, "agent_id": cfg.AgentID, "model": resp.Model,
		"usage": resp.Usage, "stop_reason": resp.StopReason})
}

// httpStatusError is a response that is not a success; 429 and 5xx are worth another try.
type httpStatusError struct {
	status int
	body   string
}

func (e *httpStatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.status, http.StatusText(e.status))
	if e.body != "" {
		msg += ": " + e.body
	}
	return msg
}

func (e *httpStatusError) Retryable() bool {
	return e.status == http.StatusTooManyRequests || e.status == http.StatusRequestTimeout || e.status >= 500
}

// action performs the node's side effect.
//
//   - http_request sends body (or, without one, the node's input) as JSON to url with method
//     (POST by default, GET without a body), through the instance's guarded client; the output
//     is {"status", "body"} with the body decoded when it is JSON. Connection failures, 408, 429
//     and 5xx are retryable; other statuses are not.
//   - emit_event publishes body (or the input) on the run's live feed as pipeline.action_event;
//     its output is what it published, recorded with the node.
//   - noop passes its input on.
func (x *Executor) action(ctx context.Context, run *domain.PipelineRun, node domain.PipelineNode, input json.RawMessage) (json.RawMessage, error) {
	var cfg struct {
		Action string          `json:"action"`
		URL    string          `json:"url"`
		Method string          `json:"method"`
		Body   json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(node.Config, &cfg); err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("config: %w", err))
	}
	payload := input
	if len(cfg.Body) > 0 {
		payload = cfg.Body
	}
	switch cfg.Action {
	case "noop":
		return input, nil
	case "emit_event":
		data, _ := json.Marshal(map[string]any{"run_id": run.ID, "node": node.ID, "payload": payload})
		m := livefeed.Message{Type: "pipeline.action_event", Timestamp: time.Now().UTC(),
			Topics: []string{"pipeline_runs:" + run.ID, "pipelines:" + run.PipelineID}, Data: data,
			Stream: livefeed.StreamRef{ID: domain.PipelineRunStreamID(run.ID), Type: domain.StreamTypePipelineRun}}
		if err := livefeed.Transmit(ctx, x.DB, m); err != nil {
			return nil, pipeline.Retry(fmt.Errorf("publishing the event: %w", err))
		}
		return json.Marshal(map[string]any{"emitted": payload})
	case "http_request":
		return x.httpRequest(ctx, cfg.Method, cfg.URL, cfg.Body, input)
	}
	return nil, pipeline.Permanent(fmt.Errorf("unknown action %q", cfg.Action))
}

func (x *Executor) httpRequest(ctx context.Context, method, url string, body, input json.RawMessage) (json.RawMessage, error) {
	payload := body
	if len(payload) == 0 && method != http.MethodGet {
		payload = input
	}
	if method == "" {
		method = http.MethodPost
		if len(body) == 0 {
			method = http.MethodGet
			payload = nil
		}
	}
	var rd io.Reader
	if len(payload) > 0 && method != http.MethodGet {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, pipeline.Permanent(err)
	}
	req.Header.Set("User-Agent", "GatheRing-pipeline/1.0")
	req.Header.Set("Accept", "application/json, text/plain;q=0.9, */*;q=0.5")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := x.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if blocked := (interface{ Blocked() bool })(nil); errors.As(err, &blocked) && blocked.Blocked() {
			return nil, pipeline.Permanent(err)
		}
		return nil, pipeline.Retry(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxActionResponse+1))
	if err != nil {
		return nil, pipeline.Retry(fmt.Errorf("reading the response: %w", err))
	}
	truncated := len(raw) > maxActionResponse
	if truncated {
		raw = raw[:maxActionResponse]
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		excerpt := strings.TrimSpace(string(raw))
		if len(excerpt) > 300 {
			excerpt = excerpt[:300] + "…"
		}
		return nil, &httpStatusError{status: res.StatusCode, body: excerpt}
	}
	out := map[string]any{"status": res.StatusCode}
	var decoded any
	if !truncated && json.Unmarshal(raw, &decoded) == nil {
		out["body"] = decoded
	} else {
		out["body"] = strings.ToValidUTF8(string(raw), "\uFFFD")
		out["truncated"] = truncated
	}
	return json.Marshal(out)
}
