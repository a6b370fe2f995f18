package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html"
)

// Network skills: a web page as text for the model to read, and a webhook notification. Both
// go through the instance's guarded client, so an agent cannot reach the server's own network.

// webFetchTool fetches a page and returns its readable text (no markup, scripts or styles).
func webFetchTool(client *http.Client) Tool {
	return Tool{Name: "web_fetch", Permissions: []string{PermNetwork},
		Description: "Fetches a public web page and returns its title and readable text (at most 32 000 characters).",
		Schema: json.RawMessage(`{"type":"object","additionalProperties":false,"required":["url"],"properties":{
			"url":{"type":"string","minLength":8,"maxLength":2000,"pattern":"^https?://"}}}`),
		Timeout: 20 * time.Second,
		Run: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
			var a struct {
				URL string `json:"url"`
			}
			_ = json.Unmarshal(args, &a)
			u, err := url.Parse(a.URL)
			if err != nil {
				return nil, &toolError{msg: "the url does not parse"}
			}
			if err := checkURL(u); err != nil {
				return nil, err
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("User-Agent", "GatheRing-web_fetch/1.0")
			req.Header.Set("Accept", "text/html, text/plain;q=0.9")
			res, err := client.Do(req)
			if err != nil {
				return nil, &toolError{msg: "the page could not be fetched: " + err.Error()}
			}
			defer res.Body.Close()
			if res.StatusCode < 200 || res.StatusCode > 299 {
				return nil, &toolError{msg: fmt.Sprintf("the page answered HTTP %d", res.StatusCode)}
			}
			raw, err := io.ReadAll(io.LimitReader(res.Body, 2<<20))
			if err != nil {
				return nil, err
			}
			title, text := pageText(raw)
			truncated := false
			if r := []rune(text); len(r) > 32000 {
				text, truncated = string(r[:32000]), true
			}
			return out(map[string]any{"url": res.Request.URL.String(), "title": title, "text": text, "truncated": truncated})
		}}
}

// pageText extracts the title and the visible text of an HTML page, one block per line.
func pageText(raw []byte) (string, string) {
	z := html.NewTokenizer(bytes.NewReader(raw))
	var title string
	var b strings.Builder
	skip := 0
	inTitle := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return strings.TrimSpace(title), strings.TrimSpace(collapse(b.String()))
		case html.StartTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "noscript", "template", "svg":
				skip++
			case "title":
				inTitle = true
			case "p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article":
				b.WriteString("\n")
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "noscript", "template", "svg":
				if skip > 0 {
					skip--
				}
			case "title":
				inTitle = false
			}
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := string(z.Text())
			if inTitle {
				title += t
				continue
			}
			b.WriteString(t)
			b.WriteString(" ")
		}
	}
}

// collapse squeezes runs of spaces and blank lines.
func collapse(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// notifyTool posts a notification to a webhook as JSON.
func notifyTool(client *http.Client) Tool {
	return Tool{Name: "notify", Permissions: []string{PermNetwork},
		Description: "Sends a notification to a webhook URL: a message and optional data, as JSON.",
		Schema: json.RawMessage(`{"type":"object","additionalProperties":false,"required":["url","message"],"properties":{
			"url":{"type":"string","minLength":8,"maxLength":2000,"pattern":"^https?://"},
			"message":{"type":"string","minLength":1,"maxLength":4000},"data":{"type":"object"}}}`),
		Timeout: 15 * time.Second,
		Run: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
			var a struct {
				URL     string          `json:"url"`
				Message string          `json:"message"`
				Data    json.RawMessage `json:"data"`
			}
			_ = json.Unmarshal(args, &a)
			u, err := url.Parse(a.URL)
			if err != nil {
				return nil, &toolError{msg: "the url does not parse"}
			}
			if err := checkURL(u); err != nil {
				return nil, err
			}
			body := map[string]any{"type": "agent.notification", "message": a.Message}
			if c, err := callerOf(ctx); err == nil {
				body["agent_id"] = c.AgentID
			}
			if len(a.Data) > 0 {
				body["data"] = a.Data
			}
			raw, _ := json.Marshal(body)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(raw))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "GatheRing-notify/1.0")
			res, err := client.Do(req)
			if err != nil {
				return nil, &toolError{msg: "the webhook could not be reached: " + err.Error()}
			}
			defer res.Body.Close()
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			if res.StatusCode < 200 || res.StatusCode > 299 {
				return nil, &toolError{msg: fmt.Sprintf("the webhook answered HTTP %d", res.StatusCode)}
			}
			return out(map[string]any{"delivered": true, "status": res.StatusCode})
		}}
}
