package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gathering/gathering/llm"
)

type httpOut struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	Body        string `json:"body"`
	Truncated   bool   `json:"truncated"`
	FinalURL    string `json:"final_url"`
	Note        string `json:"note"`
}

func fetch(t *testing.T, r *Registry, args string) (Result, httpOut) {
	t.Helper()
	res := r.Call(context.Background(), llm.ToolCall{ID: "h", Name: "http_get", Arguments: json.RawMessage(args)}, []string{"http_get"})
	var out httpOut
	if !res.IsError {
		if err := json.Unmarshal(res.Output, &out); err != nil {
			t.Fatalf("output %s: %v", res.Output, err)
		}
	}
	return res, out
}

func urlArgs(u string) string {
	b, _ := json.Marshal(map[string]string{"url": u})
	return string(b)
}

// countingServer serves body with contentType and counts the requests that reached it.
func countingServer(t *testing.T, contentType, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", contentType)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// registryPretendingPublic returns a registry whose http_get treats srv as a public server
// while every other address, including srv's own IP on other ports, is checked as usual.
func registryPretendingPublic(t *testing.T, srv *httptest.Server, opts Options) *Registry {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	public := netip.MustParseAddrPort(u.Host)
	r := NewRegistry()
	mustRegister(t, r, httpGetTool(opts, func(ap netip.AddrPort) bool { return ap == public }))
	return r
}

func TestHTTPGetRefusesLoopbackByDefault(t *testing.T) {
	srv, hits := countingServer(t, "text/plain", "hello")
	u, _ := url.Parse(srv.URL)
	port := u.Port()
	r := Default(Options{})

	for _, target := range []string{
		srv.URL,
		"http://localhost:" + port + "/", // the name is fine; the address it resolves to is not
		"http://[::ffff:127.0.0.1]:" + port + "/",
		"http://[::1]:" + port + "/",
		"http://0.0.0.0:" + port + "/",
	} {
		res, _ := fetch(t, r, urlArgs(target))
		if !res.IsError {
			t.Errorf("%s: fetched, want refused", target)
			continue
		}
		if !strings.Contains(res.Error, "refused to connect to") || !strings.Contains(res.Error, "only reaches public internet addresses") {
			t.Errorf("%s: error %q", target, res.Error)
		}
	}
	res, _ := fetch(t, r, urlArgs(srv.URL))
	if !strings.Contains(res.Error, "refused to connect to 127.0.0.1: loopback address") {
		t.Errorf("error = %q", res.Error)
	}
	if hits.Load() != 0 {
		t.Fatalf("server was reached %d times", hits.Load())
	}
}

func TestHTTPGetAllowPrivateNetworks(t *testing.T) {
	var gotUA, gotAccept string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUA, gotAccept = r.Header.Get("User-Agent"), r.Header.Get("Accept")
		if r.Method != http.MethodGet {
			t.Errorf("method %s", r.Method)
		}
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/png":
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte("\x89PNG\r\n\x1a\n\x00\x00binary"))
		case "/latin1":
			w.Header().Set("Content-Type", "text/plain; charset=iso-8859-1")
			w.Write([]byte("caf\xe9"))
		case "/sniffed":
			w.Header()["Content-Type"] = nil
			w.Write([]byte("<html><body>hi</body></html>"))
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"ok":true}`)
		}
	}))
	defer srv.Close()
	r := Default(Options{AllowPrivateNetworks: true})

	res, out := fetch(t, r, `{"url": "`+srv.URL+`/data", "headers": {"Accept": "application/json"}}`)
	if res.IsError {
		t.Fatalf("error: %s", res.Error)
	}
	if out.Status != 200 || out.ContentType != "application/json" || out.Body != `{"ok":true}` || out.Truncated || out.FinalURL != srv.URL+"/data" || out.Note != "" {
		t.Errorf("output = %s", res.Output)
	}
	if gotUA != userAgent || gotAccept != "application/json" {
		t.Errorf("headers sent: User-Agent %q, Accept %q", gotUA, gotAccept)
	}

	// A status the model should see is an answer, not a failure of the tool.
	res, out = fetch(t, r, urlArgs(srv.URL+"/missing"))
	if res.IsError || out.Status != 404 || !strings.Contains(out.Body, "404 page not found") {
		t.Errorf("404: %+v %s", res, res.Output)
	}

	res, out = fetch(t, r, urlArgs(srv.URL+"/png"))
	if res.IsError || out.Body != "" || !strings.Contains(out.Note, "image/png content is not text") {
		t.Errorf("png: %+v %s", res, res.Output)
	}

	res, out = fetch(t, r, urlArgs(srv.URL+"/latin1"))
	if res.IsError || out.Body != "café" {
		t.Errorf("latin1: %+v %s", res, res.Output)
	}

	res, out = fetch(t, r, urlArgs(srv.URL+"/sniffed"))
	if res.IsError || out.Body != "<html><body>hi</body></html>" {
		t.Errorf("sniffed: %+v %s", res, res.Output)
	}
}

func TestHTTPGetIgnoresProxyEnvironment(t *testing.T) {
	srv, hits := countingServer(t, "text/plain", "direct")
	// A proxy would dial on the tool's behalf, out of the guard's sight; it must not be used.
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("http_proxy", "http://127.0.0.1:1")
	r := Default(Options{AllowPrivateNetworks: true})
	res, out := fetch(t, r, urlArgs(srv.URL))
	if res.IsError || out.Body != "direct" || hits.Load() != 1 {
		t.Fatalf("result %+v %s, hits %d", res, res.Output, hits.Load())
	}
}

func TestHTTPGetRedirects(t *testing.T) {
	private, privateHits := countingServer(t, "text/plain", "internal secrets")
	privateURL, _ := url.Parse(private.URL)

	var public *httptest.Server
	public = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-private":
			http.Redirect(w, r, private.URL+"/", http.StatusFound)
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/to-mapped":
			http.Redirect(w, r, "http://[::ffff:127.0.0.1]:"+privateURL.Port()+"/", http.StatusFound)
		case "/to-ftp":
			http.Redirect(w, r, "ftp://example.com/file", http.StatusFound)
		case "/to-userinfo":
			http.Redirect(w, r, "http://user:pw@"+r.Host+"/final", http.StatusFound)
		case "/hop":
			n := 0
			fmt.Sscan(r.URL.Query().Get("n"), &n)
			if n > 0 {
				http.Redirect(w, r, fmt.Sprintf("/hop?n=%d", n-1), http.StatusFound)
				return
			}
			fmt.Fprint(w, "arrived")
		default:
			fmt.Fprint(w, "public page")
		}
	}))
	defer public.Close()
	r := registryPretendingPublic(t, public, Options{})

	res, out := fetch(t, r, urlArgs(public.URL+"/plain"))
	if res.IsError || out.Body != "public page" {
		t.Fatalf("the stand-in public server is not reachable: %+v", res)
	}

	res, out = fetch(t, r, urlArgs(public.URL+"/hop?n=3"))
	if res.IsError || out.Body != "arrived" || out.FinalURL != public.URL+"/hop?n=0" {
		t.Errorf("3 redirects: %+v %s", res, res.Output)
	}
	res, _ = fetch(t, r, urlArgs(public.URL+"/hop?n=4"))
	if !res.IsError || !strings.Contains(res.Error, "stopped after 3 redirects") {
		t.Errorf("4 redirects: %+v", res)
	}

	for path, want := range map[string]string{
		"/to-private":  "refused to connect to 127.0.0.1: loopback address (while fetching " + private.URL + "/)",
		"/to-metadata": "refused to connect to 169.254.169.254: link-local address",
		"/to-mapped":   "loopback address",
		"/to-ftp":      `only http and https URLs can be fetched, not "ftp"`,
		"/to-userinfo": "user names or passwords are not allowed",
	} {
		res, _ := fetch(t, r, urlArgs(public.URL+path))
		if !res.IsError || !strings.Contains(res.Error, want) {
			t.Errorf("%s: result %+v, want error containing %q", path, res, want)
		}
	}
	if privateHits.Load() != 0 {
		t.Fatalf("private server reached %d times through redirects", privateHits.Load())
	}
}

func TestHTTPGetTruncation(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch r.URL.Path {
		case "/exact":
			fmt.Fprint(w, strings.Repeat("a", 100))
		case "/utf8":
			fmt.Fprint(w, strings.Repeat("é", 100)) // 2 bytes each; a cut at 101 splits one
		default:
			fmt.Fprint(w, strings.Repeat("a", 1000))
		}
	}))
	defer srv.Close()

	r := Default(Options{AllowPrivateNetworks: true, MaxResponseBytes: 100})
	res, out := fetch(t, r, urlArgs(srv.URL+"/long"))
	if res.IsError || len(out.Body) != 100 || !out.Truncated || !strings.Contains(out.Note, "truncated to the first 100 bytes") {
		t.Errorf("long: %+v %s", res, res.Output)
	}
	res, out = fetch(t, r, urlArgs(srv.URL+"/exact"))
	if res.IsError || len(out.Body) != 100 || out.Truncated || out.Note != "" {
		t.Errorf("exact: %+v %s", res, res.Output)
	}

	r = Default(Options{AllowPrivateNetworks: true, MaxResponseBytes: 101})
	res, out = fetch(t, r, urlArgs(srv.URL+"/utf8"))
	if res.IsError || out.Body != strings.Repeat("é", 50) || !out.Truncated || strings.Contains(out.Note, "invalid UTF-8") {
		t.Errorf("utf8: %+v %s", res, res.Output)
	}

	if got := Default(Options{}).Specs([]string{"http_get"})[0].Description; !strings.Contains(got, "262144 bytes") {
		t.Errorf("default limit not described: %s", got)
	}
}

func TestHTTPGetTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	r := Default(Options{AllowPrivateNetworks: true, HTTPTimeout: 100 * time.Millisecond})
	start := time.Now()
	res, _ := fetch(t, r, urlArgs(srv.URL))
	if time.Since(start) > 3*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
	if !res.IsError || !strings.Contains(res.Error, "timed out after 100ms") {
		t.Fatalf("result = %+v", res)
	}
}

func TestHTTPGetArgumentChecks(t *testing.T) {
	srv, hits := countingServer(t, "text/plain", "x")
	r := Default(Options{AllowPrivateNetworks: true})
	tooMany := map[string]string{}
	for i := range 11 {
		tooMany[fmt.Sprintf("X-H%d", i)] = "v"
	}
	tooManyJSON, _ := json.Marshal(map[string]any{"url": srv.URL, "headers": tooMany})

	tests := []struct{ args, want string }{
		{`{"url": "ftp://example.com/file"}`, `at "/url": 'ftp://example.com/file' does not match pattern`},
		{`{"url": "file:///etc/passwd"}`, `at "/url"`},
		{`{"url": "javascript:alert(1)"}`, `at "/url"`},
		{`{"url": "gopher://127.0.0.1:70/"}`, `at "/url"`},
		{`{"url": "/relative/path"}`, `at "/url"`},
		{`{"url": "http://"}`, `at "/url"`},
		{`{"url": "http://` + strings.Repeat("a", 2048) + `.com/"}`, "string is too long"},
		{`{}`, "missing property 'url'"},
		{`{"url": "` + srv.URL + `", "method": "POST"}`, "'method' not allowed"},
		{`{"url": "` + srv.URL + `", "headers": {"X-A": 1}}`, `at "/headers/X-A": got number, want string`},
		{`{"url": "` + srv.URL + `", "headers": {"bad header": "v"}}`, "'bad header' does not match pattern"},
		{string(tooManyJSON), "object has 11 properties, at most 10 allowed"},
		{`{"url": "` + srv.URL + `", "headers": {"Cookie": "a=b", "authorization": "Bearer x", "HOST": "internal", "Proxy-Authorization": "x", "X-Forwarded-For": "10.0.0.1"}}`,
			"HOST: header HOST may not be set by this tool; headers/Proxy-Authorization: header Proxy-Authorization may not be set by this tool; headers/X-Forwarded-For"},
		{`{"url": "` + srv.URL + `", "headers": {"Cookie": "a=b"}}`, `tool "http_get" failed: headers/Cookie: header Cookie may not be set by this tool`},
		{`{"url": "` + srv.URL + `", "headers": {"X-A": "a\r\nInjected: 1"}}`, "control characters"},
		{`{"url": "http://user:pw@` + strings.TrimPrefix(srv.URL, "http://") + `"}`, "user names or passwords are not allowed"},
	}
	for _, tc := range tests {
		res, _ := fetch(t, r, tc.args)
		if !res.IsError || !strings.Contains(res.Error, tc.want) {
			t.Errorf("%.80s: result %+v, want error containing %q", tc.args, res, tc.want)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("server reached %d times by refused calls", hits.Load())
	}
}
