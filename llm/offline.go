package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// OfflineModel is the offline provider's only model.
const OfflineModel = "offline-1"

// OfflinePrefix starts every offline answer, so nobody mistakes it for a model's.
const OfflinePrefix = "[offline model]"

// offlineExcerptWords is how much of the user's message an offline answer quotes.
const offlineExcerptWords = 40

type offlineProvider struct{}

// NewOffline returns the built-in offline model: no network, no key, and an answer that is a
// function of the conversation only. It echoes the last user message, and it drives the tool
// loop deterministically: when tools are offered and the last user message has a line
//
//	/tool <name> <json-args>
//
// it answers with that tool call; once the results are in, it answers with text quoting them.
// Usage counts words as tokens.
func NewOffline() Provider { return offlineProvider{} }

func (offlineProvider) Name() string { return "offline" }

func (o offlineProvider) Complete(ctx context.Context, req Request) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, transportError("offline", err, "")
	}
	return offlineAnswer(req), nil
}

func (o offlineProvider) Stream(ctx context.Context, req Request, onText func(string)) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, transportError("offline", err, "")
	}
	resp := offlineAnswer(req)
	if onText != nil {
		for _, chunk := range wordChunks(resp.Content) {
			if err := ctx.Err(); err != nil {
				return Response{}, transportError("offline", err, "")
			}
			onText(chunk)
		}
	}
	return resp, nil
}

func offlineAnswer(req Request) Response {
	conv, _ := json.Marshal(struct {
		System   string    `json:"system"`
		Messages []Message `json:"messages"`
	}{req.System, req.Messages})
	sum := sha256.Sum256(conv)
	hash := hex.EncodeToString(sum[:])

	resp := Response{Model: req.Model, ID: "offline-" + hash[:16], StopReason: StopEnd}
	if resp.Model == "" {
		resp.Model = OfflineModel
	}

	msgs := req.Messages
	// Trailing tool results: answer with what the tools said.
	first := len(msgs)
	for first > 0 && msgs[first-1].Role == RoleTool {
		first--
	}
	switch {
	case first < len(msgs):
		var b strings.Builder
		b.WriteString(OfflinePrefix + " The tools returned:")
		for i := first; i < len(msgs); i++ {
			m := msgs[i]
			name := m.Name
			if name == "" {
				name = toolNameByCallID(msgs, i, m.ToolCallID)
			}
			if name == "" {
				name = "tool"
			}
			verb := "returned"
			if m.IsError {
				verb = "failed"
			}
			fmt.Fprintf(&b, "\n- %s %s: %s", name, verb, m.Content)
		}
		resp.Content = b.String()
	default:
		last := -1
		for i := len(msgs) - 1; i >= 0; i-- {
			if msgs[i].Role == RoleUser {
				last = i
				break
			}
		}
		if last < 0 {
			resp.Content = OfflinePrefix + " There is no question to answer yet."
			break
		}
		text := msgs[last].Content
		if len(req.Tools) > 0 {
			if calls, problem := offlineToolCalls(text, req.Tools, hash); problem != "" {
				resp.Content = OfflinePrefix + " " + problem
				break
			} else if len(calls) > 0 {
				names := make([]string, len(calls))
				for i, c := range calls {
					names[i] = c.Name
				}
				resp.Content = OfflinePrefix + " Calling " + strings.Join(names, ", ") + "."
				resp.ToolCalls = calls
				resp.StopReason = StopToolUse
				break
			}
		}
		words := strings.Fields(text)
		excerpt := strings.Join(words[:min(len(words), offlineExcerptWords)], " ")
		if len(words) > offlineExcerptWords {
			excerpt += " …"
		}
		resp.Content = fmt.Sprintf("%s No language model is configured, so this is a canned answer. You said (%d words): %q",
			OfflinePrefix, len(words), excerpt)
	}

	if req.MaxTokens > 0 && len(resp.ToolCalls) == 0 {
		if chunks := wordChunks(resp.Content); len(chunks) > req.MaxTokens {
			resp.Content = strings.TrimRightFunc(strings.Join(chunks[:req.MaxTokens], ""), unicode.IsSpace)
			resp.StopReason = StopMaxTokens
		}
	}

	in := len(strings.Fields(req.System))
	for _, m := range msgs {
		in += len(strings.Fields(m.Content))
		for _, c := range m.ToolCalls {
			in += 1 + len(strings.Fields(string(c.Arguments)))
		}
	}
	out := len(strings.Fields(resp.Content))
	for _, c := range resp.ToolCalls {
		out += 1 + len(strings.Fields(string(c.Arguments)))
	}
	resp.Usage = Usage{InputTokens: in, OutputTokens: out}
	return resp
}

// offlineToolCalls finds the "/tool <name> <json-args>" lines of text that name an offered tool.
// problem explains a line that cannot become a call.
func offlineToolCalls(text string, tools []ToolSpec, hash string) (calls []ToolCall, problem string) {
	offered := map[string]bool{}
	for _, t := range tools {
		offered[t.Name] = true
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "/tool ")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		name, args, _ := strings.Cut(rest, " ")
		if !offered[name] {
			return nil, fmt.Sprintf("Cannot call %q: it is not one of the offered tools.", name)
		}
		args = strings.TrimSpace(args)
		if args == "" {
			args = "{}"
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(args), &obj); err != nil {
			return nil, fmt.Sprintf("Cannot call %q: its arguments are not a JSON object (%v).", name, err)
		}
		calls = append(calls, ToolCall{
			ID:        fmt.Sprintf("call_%s_%d", hash[:12], len(calls)),
			Name:      name,
			Arguments: normalizeArgs([]byte(args)),
		})
	}
	return calls, ""
}

// wordChunks splits s into words, each with the whitespace after it (leading whitespace stays
// with the first), so that the chunks join back to s.
func wordChunks(s string) []string {
	var chunks []string
	start := 0
	inSpace := true // leading whitespace belongs to the first word
	for i, r := range s {
		if unicode.IsSpace(r) {
			inSpace = true
			continue
		}
		if inSpace && i > start && strings.TrimSpace(s[start:i]) != "" {
			chunks = append(chunks, s[start:i])
			start = i
		}
		inSpace = false
	}
	if start < len(s) {
		chunks = append(chunks, s[start:])
	}
	return chunks
}
