package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gathering/gathering/domain"
	"golang.org/x/text/encoding/htmlindex"
)

const httpMaxRedirects = 3

const httpGetSchema = `{
  "type": "object",
  "properties": {
    "url": {
      "type": "string",
      "format": "uri",
      "maxLength": 2048,
      "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]",
      "description": "Absolute http:// or https:// URL to fetch. Only public internet hosts can be reached."
    },
    "headers": {
      "type": "object",
      "maxProperties": 10,
      "propertyNames": { "pattern": "^[A-Za-z0-9_-]{1,64}$" },
      "additionalProperties": { "type": "string", "maxLength": 1024 },
      "description": "Optional request headers such as Accept or Accept-Language (at most 10). Refused: Host, Cookie, Authorization, Proxy-*, Accept-Encoding, connection-level headers (Connection, Content-Length, Transfer-Encoding, Upgrade, TE, Trailer, Keep-Alive, Expect) and client-address headers (Forwarded, X-Forwarded-*, X-Real-IP)."
    }
  },
  "required": ["url"],
  "additionalProperties": false
}`

// refusedHeaders may not be set by the model, case-insensitively, each for a reason:
//   - Host would point the request at a virtual host other than the URL's, defeating the
//     address check's meaning of "this URL".
//   - Cookie, Authorization and Proxy-Authorization carry credentials. Arguments are recorded
//     in transcripts, and a prompt-injected model could replay secrets it has seen; this tool
//     only fetches what anyone could fetch.
//   - Connection-level headers belong to the transport, which frames and limits the body.
//   - Accept-Encoding would switch off transparent decompression, so the model would get
//     compressed bytes and the size cap would count the compressed size.
//   - Client-address headers could impersonate an internal client to a server that trusts
//     them, reaching through to what the address check keeps out.
var refusedHeaders = map[string]bool{
	"host": true, "cookie": true, "authorization": true, "proxy-authorization": true,
	"connection": true, "content-length": true, "transfer-encoding": true, "upgrade": true,
	"te": true, "trailer": true, "keep-alive": true, "expect": true, "accept-encoding": true,
	"forwarded": true, "x-real-ip": true,
}

func headerRefused(name string) bool {
	n := strings.ToLower(name)
	return refusedHeaders[n] || strings.HasPrefix(n, "proxy-") || strings.HasPrefix(n, "x-forwarded-")
}

const userAgent = "GatheRing-http_get/1.0"

type httpGetOutput struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	Body        string `json:"body"`
	Truncated   bool   `json:"truncated"`
	FinalURL    string `json:"final_url"`
	Note        string `json:"note,omitempty"`
}

type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

// httpGetTool builds http_get. allow exempts exact address:port pairs from the network guard;
// only tests pass it, to let a 127.0.0.1 server play a public one.
func httpGetTool(opts Options, allow func(netip.AddrPort) bool) Tool {
	opts = opts.withDefaults()
	transport := guardedTransport(opts.HTTPTimeout, opts.AllowPrivateNetworks, allow)
	client := &http.Client{
		Transport: transport,
		Timeout:   opts.HTTPTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > httpMaxRedirects {
				return &redirectError{fmt.Sprintf("stopped after %d redirects", httpMaxRedirects)}
			}
			// The new hop's address is checked by the dialer like the first; the URL itself
			// must pass the same rules as one the model wrote.
			if err := checkURL(req.URL); err != nil {
				return &redirectError{fmt.Sprintf("redirect to %s refused: %s", req.URL.Redacted(), domain.ErrorMessage(err))}
			}
			return nil
		},
	}
	maxBytes := opts.MaxResponseBytes

	return Tool{
		Name: "http_get", Permissions: []string{PermNetwork},
		Description: fmt.Sprintf("Fetches a public web page or API with an HTTP GET and returns the status, content type and body as text "+
			"(at most %d bytes; longer bodies are truncated). Follows up to %d redirects. Cannot reach private, local or internal addresses.",
			maxBytes, httpMaxRedirects),
		Schema: json.RawMessage(httpGetSchema),
		// Leave the HTTP client's own timeout room to fire first: its message says more.
		Timeout: opts.HTTPTimeout + 2*time.Second,
		Run: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
			var in struct {
				URL     string            `json:"url"`
				Headers map[string]string `json:"headers"`
			}
			if err := json.Unmarshal(args, &in); err != nil {
				return nil, domain.Errorf(domain.CodeInvalid, "invalid arguments: %v", err)
			}
			u, err := url.Parse(in.URL)
			if err != nil {
				return nil, domain.Errorf(domain.CodeInvalid, "url is not a valid URL: %v", err)
			}
			if err := checkURL(u); err != nil {
				return nil, err
			}
			if err := checkHeaders(in.Headers); err != nil {
				return nil, err
			}

			ctx, cancel := context.WithTimeout(ctx, opts.HTTPTimeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
			if err != nil {
				return nil, domain.Errorf(domain.CodeInvalid, "cannot build the request: %v", err)
			}
			req.Header.Set("User-Agent", userAgent)
			for k, v := range in.Headers {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				return nil, describeFetchError(err, u, opts.HTTPTimeout)
			}
			defer resp.Body.Close()

			// One byte past the limit tells a body of exactly maxBytes from a longer one.
			body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
			if err != nil {
				if ctx.Err() != nil {
					return nil, domain.Errorf(domain.CodeTimeout, "timed out after %s while reading the response body", opts.HTTPTimeout)
				}
				return nil, domain.Errorf(domain.CodeUnavailable, "reading the response body failed: %v", err)
			}
			out := httpGetOutput{
				Status:      resp.StatusCode,
				ContentType: resp.Header.Get("Content-Type"),
				FinalURL:    resp.Request.URL.Redacted(),
			}
			if int64(len(body)) > maxBytes {
				body = body[:maxBytes]
				out.Truncated = true
			}
			out.Body, out.Note = renderBody(body, out.ContentType)
			if out.Truncated {
				out.Note = joinNotes(fmt.Sprintf("body truncated to the first %d bytes", maxBytes), out.Note)
			}
			return json.Marshal(out)
		},
	}
}

func checkURL(u *url.URL) error {
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return domain.Errorf(domain.CodeInvalid, "only http and https URLs can be fetched, not %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return domain.Errorf(domain.CodeInvalid, "url has no host")
	}
	// Credentials in a URL are refused for the same reason as the Authorization header.
	if u.User != nil {
		return domain.Errorf(domain.CodeInvalid, "urls with user names or passwords are not allowed")
	}
	return nil
}

func checkHeaders(h map[string]string) error {
	var v domain.Validation
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if headerRefused(k) {
			v.Add("headers/"+k, "header %s may not be set by this tool", k)
			continue
		}
		if strings.ContainsFunc(h[k], func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			v.Add("headers/"+k, "header value contains control characters")
		}
	}
	return v.Err()
}

func describeFetchError(err error, u *url.URL, timeout time.Duration) error {
	var blocked *blockedError
	var redirect *redirectError
	var dnsErr *net.DNSError
	var uerr *url.Error
	target := u.Redacted()
	if errors.As(err, &uerr) {
		target = uerr.URL
	}
	switch {
	case errors.As(err, &blocked):
		return domain.Errorf(domain.CodeForbidden, "%s (while fetching %s); http_get only reaches public internet addresses", blocked.Error(), target)
	case errors.As(err, &redirect):
		return domain.Errorf(domain.CodeInvalid, "%s (last URL %s)", redirect.msg, target)
	case errors.Is(err, context.DeadlineExceeded) || (uerr != nil && uerr.Timeout()):
		return domain.Errorf(domain.CodeTimeout, "request to %s timed out after %s", target, timeout)
	case errors.As(err, &dnsErr):
		return domain.Errorf(domain.CodeUnavailable, "could not resolve host %q", dnsErr.Name)
	default:
		// The transport's own wording ("connection refused", "certificate signed by unknown
		// authority") is what lets the model decide whether another URL is worth trying.
		inner := err
		if uerr != nil {
			inner = uerr.Err
		}
		return domain.Errorf(domain.CodeUnavailable, "request to %s failed: %v", target, inner)
	}
}

// renderBody turns the body into text the model can read, or explains why it does not. Binary
// bodies are not passed on as base64: it costs the model many tokens and tells it nothing.
func renderBody(body []byte, contentType string) (text, note string) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if contentType == "" || err != nil {
		mediaType, params, _ = mime.ParseMediaType(http.DetectContentType(body))
	}
	if len(body) == 0 {
		return "", ""
	}
	if !isTextType(mediaType) {
		return "", fmt.Sprintf("%s content is not text and is not shown (%d bytes received)", mediaType, len(body))
	}
	cs := strings.ToLower(params["charset"])
	if cs != "" && cs != "utf-8" && cs != "utf8" && cs != "us-ascii" {
		if enc, err := htmlindex.Get(cs); err == nil {
			if decoded, err := enc.NewDecoder().Bytes(body); err == nil {
				return string(decoded), ""
			}
		}
	}
	body = trimPartialRune(body)
	if !utf8.Valid(body) {
		return string(bytes.ToValidUTF8(body, []byte("\uFFFD"))), "invalid UTF-8 sequences were replaced"
	}
	return string(body), ""
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b: a cut at the byte limit
// may split the last character, and its fragment would otherwise become a replacement
// character and an "invalid UTF-8" note about a body that was fine.
func trimPartialRune(b []byte) []byte {
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

func isTextType(mediaType string) bool {
	if strings.HasPrefix(mediaType, "text/") || strings.HasSuffix(mediaType, "+json") || strings.HasSuffix(mediaType, "+xml") {
		return true
	}
	switch mediaType {
	case "application/json", "application/xml", "application/javascript", "application/ecmascript",
		"application/x-javascript", "application/x-ndjson", "application/yaml", "application/x-yaml",
		"application/toml", "application/x-www-form-urlencoded", "application/graphql", "application/csv":
		return true
	}
	return false
}

func joinNotes(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}
