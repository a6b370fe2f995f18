package tools_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/tools"
)

func TestWebFetchAndNotifySkills(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			raw, _ := io.ReadAll(r.Body)
			got = append(got, string(raw))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<html><head><title>Release notes</title><style>p{color:red}</style></head>
			<body><h1>Version 2</h1><p>Faster   pipelines.</p><script>alert("x")</script><ul><li>One</li><li>Two</li></ul></body></html>`)
	}))
	defer srv.Close()
	reg := tools.NewRegistry()
	// A plain client stands in for the guarded one so the test server on 127.0.0.1 plays a
	// public site; the guarded default is checked below.
	if err := tools.RegisterSkills(reg, tools.SkillOptions{HTTP: srv.Client()}); err != nil {
		t.Fatal(err)
	}
	ctx := tools.WithCaller(context.Background(), tools.Caller{AgentID: "6f1c0a35-2b51-4b8e-9d57-2f1f8b2f0e01"})
	call := func(r *tools.Registry, name, args string) tools.Result {
		return r.Call(ctx, llm.ToolCall{ID: "c", Name: name, Arguments: json.RawMessage(args)}, r.Names())
	}
	res := call(reg, "web_fetch", `{"url": "`+srv.URL+`/notes"}`)
	var page struct {
		Title, Text string
	}
	if err := json.Unmarshal(res.Output, &page); res.IsError || err != nil || page.Title != "Release notes" ||
		page.Text != "Version 2\nFaster pipelines.\nOne\nTwo" {
		t.Fatalf("web_fetch: %+v %q", res, page.Text)
	}
	res = call(reg, "notify", `{"url": "`+srv.URL+`/hook", "message": "done", "data": {"n": 1}}`)
	if res.IsError || len(got) != 1 || !strings.Contains(got[0], `"message":"done"`) || !strings.Contains(got[0], `"agent_id"`) {
		t.Fatalf("notify: %+v %v", res, got)
	}
	if res := call(reg, "notify", `{"url": "ftp://x", "message": "m"}`); !res.IsError {
		t.Fatal("a non-http url was accepted")
	}
	if p := reg.Permissions("web_fetch"); len(p) != 1 || p[0] != tools.PermNetwork {
		t.Fatalf("permissions %v", p)
	}
	// With the default (guarded) client, the server's own network is out of reach.
	guarded := tools.NewRegistry()
	if err := tools.RegisterSkills(guarded, tools.SkillOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web_fetch", "notify"} {
		res := call(guarded, name, `{"url": "`+srv.URL+`/x", "message": "m"}`)
		if name == "web_fetch" {
			res = call(guarded, name, `{"url": "`+srv.URL+`/x"}`)
		}
		if !res.IsError || !strings.Contains(res.Error, "refused to connect") {
			t.Fatalf("%s to a loopback address: %+v", name, res)
		}
	}
	if len(got) != 1 {
		t.Fatalf("the guarded notify reached the server")
	}
}
