package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// Embedder turns texts into vectors of one model.
//
// Every implementation is safe for concurrent use. Embed accepts any number of texts and sends
// them in requests of at most MaxBatch texts each, one after the other. Texts that are empty or
// only whitespace have no meaning to embed: every embedder gives them the fixed unit vector
// (1, 0, 0, ...) without asking the provider (OpenAI refuses empty inputs). Failures are *Error
// values classified like chat calls (ErrMissingKey, ErrAuth, ErrRateLimited, ErrBadRequest,
// ErrUnavailable, ErrTimeout); no vector is returned when any request fails.
type Embedder interface {
	// Name is the provider: openai, ollama, offline.
	Name() string
	// Model is the embedding model, e.g. text-embedding-3-small, nomic-embed-text,
	// offline-lexical-384.
	Model() string
	// Dimension is the vector length, known up front (for Ollama configured, and checked
	// against each response).
	Dimension() int
	// MaxBatch is how many texts one request to the provider carries; Embed splits larger
	// inputs itself.
	MaxBatch() int
	// Embed returns one vector per text, in order, each L2-normalized to unit length.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// DefaultEmbedderSpec is the embedder NewEmbedder builds for an empty spec: the offline one.
const DefaultEmbedderSpec = "offline"

// MaxEmbeddingDimension bounds the dimension any embedder accepts.
const MaxEmbeddingDimension = 1 << 16

// ErrEmbedderSpec is wrapped by the errors of NewEmbedder.
var ErrEmbedderSpec = errors.New("invalid embedder spec")

// OpenAI's embedding models and their native dimensions. The text-embedding-3 models take a
// smaller dimension through the API's dimensions parameter; ada-002 has a fixed one.
var openAIEmbeddingDims = map[string]int{
	openai.EmbeddingModelTextEmbedding3Small: 1536,
	openai.EmbeddingModelTextEmbedding3Large: 3072,
	openai.EmbeddingModelTextEmbeddingAda002: 1536,
}

// Dimensions of common Ollama embedding models, only used to suggest a spec in an error.
var ollamaEmbeddingDims = map[string]int{
	"nomic-embed-text":  768,
	"mxbai-embed-large": 1024,
	"all-minilm":        384,
	"bge-m3":            1024,
	"embeddinggemma":    768,
}

// NewEmbedder builds the embedder a configuration spec names:
//
//	""  or "offline"        the built-in lexical embedder, 384 dimensions (no key, no network)
//	"offline:<dim>"         the same with dim dimensions
//	"openai:<model>"        text-embedding-3-small (1536), text-embedding-3-large (3072) or
//	                        text-embedding-ada-002 (1536)
//	"openai:<model>:<dim>"  a text-embedding-3 model shortened to dim through the API's dimensions
//	                        parameter; for another model (an OpenAI-compatible server at
//	                        cfg.OpenAIBaseURL), the dimension it produces (required)
//	"ollama:<model>:<dim>"  an Ollama model and the dimension it produces, e.g.
//	                        ollama:nomic-embed-text:768, ollama:all-minilm:384; the model may carry
//	                        a tag (ollama:qwen3-embedding:0.6b:1024)
//
// Keys, base URLs, the timeout and the retries come from cfg. As with chat providers, a missing
// OpenAI key is not an error here: Embed then fails with ErrMissingKey. Errors wrap
// ErrEmbedderSpec and quote spec.
func NewEmbedder(spec string, cfg Config) (Embedder, error) {
	e, err := newEmbedder(spec, cfg)
	if err != nil {
		return nil, fmt.Errorf("llm: %w %q: %s", ErrEmbedderSpec, spec, strings.TrimPrefix(err.Error(), "llm: "))
	}
	return e, nil
}

func newEmbedder(spec string, cfg Config) (Embedder, error) {
	s := strings.TrimSpace(spec)
	if s == "" {
		s = DefaultEmbedderSpec
	}
	provider, rest, hasRest := strings.Cut(s, ":")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(strings.TrimSpace(provider)) {
	case "offline":
		dim := 0
		if hasRest {
			var err error
			if dim, err = parseDim(rest); err != nil {
				return nil, err
			}
		}
		return NewOfflineEmbedder(dim)
	case "openai":
		model, dimText, hasDim := cutLast(rest)
		if model == "" {
			return nil, errors.New("no model; want openai:<model>[:<dim>], e.g. openai:text-embedding-3-small")
		}
		dim := 0
		if hasDim {
			var err error
			if dim, err = parseDim(dimText); err != nil {
				return nil, err
			}
		}
		return NewOpenAIEmbedder(OpenAIConfig{
			APIKey: cfg.OpenAIKey, BaseURL: cfg.OpenAIBaseURL, Timeout: cfg.Timeout, MaxRetries: cfg.MaxRetries,
		}, model, dim)
	case "ollama":
		model, dimText, hasDim := cutLast(rest)
		if hasDim && !looksLikeDim(dimText) {
			// ollama:<model>:<tag> without a dimension
			model, hasDim = rest, false
		}
		if model == "" {
			return nil, errors.New("no model; want ollama:<model>:<dim>, e.g. ollama:nomic-embed-text:768")
		}
		if !hasDim {
			example := "ollama:nomic-embed-text:768"
			if d, ok := ollamaEmbeddingDims[strings.TrimSuffix(model, ":latest")]; ok {
				example = fmt.Sprintf("ollama:%s:%d", model, d)
			}
			return nil, fmt.Errorf("an Ollama embedder needs the model's dimension: ollama:<model>:<dim>, e.g. %s", example)
		}
		dim, err := parseDim(dimText)
		if err != nil {
			return nil, err
		}
		return NewOllamaEmbedder(OllamaConfig{
			BaseURL: cfg.OllamaBaseURL, Timeout: cfg.Timeout, MaxRetries: cfg.MaxRetries,
		}, model, dim)
	default:
		return nil, fmt.Errorf("unknown provider %q; want offline[:<dim>], openai:<model>[:<dim>] or ollama:<model>:<dim>", provider)
	}
}

// EmbedderSpec is the spec NewEmbedder turns back into e's provider, model and dimension
// ("offline:384", "openai:text-embedding-3-small:1536", "ollama:nomic-embed-text:768"). Store it
// with vectors to notice when the configured embedder changes. (An embedder made with
// NewOpenAIEmbedder under another Name gives a spec NewEmbedder does not know.)
func EmbedderSpec(e Embedder) string {
	if e.Name() == "offline" {
		return fmt.Sprintf("offline:%d", e.Dimension())
	}
	return fmt.Sprintf("%s:%s:%d", e.Name(), e.Model(), e.Dimension())
}

// cutLast splits "model:dim" at its last colon.
func cutLast(s string) (before, after string, found bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return strings.TrimSpace(s), "", false
	}
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:]), true
}

// looksLikeDim: s is an integer, so a dimension rather than an Ollama tag.
func looksLikeDim(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func parseDim(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("dimension %q is not a positive integer", s)
	}
	if n > MaxEmbeddingDimension {
		return 0, fmt.Errorf("dimension %d is larger than %d", n, MaxEmbeddingDimension)
	}
	return n, nil
}

func checkDim(dim int) error {
	if dim <= 0 || dim > MaxEmbeddingDimension {
		return fmt.Errorf("llm: embedding dimension %d is not between 1 and %d", dim, MaxEmbeddingDimension)
	}
	return nil
}

// Normalize scales v in place to unit L2 length and returns it. A vector without a direction
// (all zeros, or holding NaN or an infinity) is returned unchanged.
func Normalize(v []float32) []float32 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 || math.IsNaN(sum) || math.IsInf(sum, 0) {
		return v
	}
	inv := 1 / math.Sqrt(sum)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
	return v
}

// blankVector is the vector of a text with nothing to embed: (1, 0, 0, ...).
func blankVector(dim int) []float32 {
	v := make([]float32, dim)
	v[0] = 1
	return v
}

func isBlank(s string) bool { return strings.TrimFunc(s, unicode.IsSpace) == "" }

// embedBatches is the common part of the remote embedders: blank texts get blankVector, the
// others go to call in batches of at most maxBatch texts and (when maxBytes > 0) maxBytes
// bytes, a longer text going alone. Each vector call returns is checked (count, dimension,
// direction) and normalized.
func embedBatches(ctx context.Context, provider, model string, dim, maxBatch, maxBytes int, texts []string,
	call func(ctx context.Context, batch []string) ([][]float32, error),
) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var (
		batch []string
		index []int // index[i] is where batch[i] came from
		size  int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		vecs, err := call(ctx, batch)
		if err != nil {
			return err
		}
		if len(vecs) != len(batch) {
			return &Error{Provider: provider, Kind: ErrUnavailable,
				Message: fmt.Sprintf("the provider returned %d embeddings for %d texts", len(vecs), len(batch))}
		}
		for i, v := range vecs {
			if len(v) != dim {
				return &Error{Provider: provider, Kind: ErrBadRequest, Message: fmt.Sprintf(
					"model %s returned %d-dimensional embeddings, but the embedder is configured for %d dimensions (fix the dimension in the embedder spec)",
					model, len(v), dim)}
			}
			if Normalize(v); !isUnit(v) {
				return &Error{Provider: provider, Kind: ErrUnavailable,
					Message: fmt.Sprintf("model %s returned an embedding without a direction (all zeros) for text %d", model, index[i])}
			}
			out[index[i]] = v
		}
		batch, index, size = batch[:0], index[:0], 0
		return nil
	}
	for i, t := range texts {
		if isBlank(t) {
			out[i] = blankVector(dim)
			continue
		}
		if len(batch) > 0 && (len(batch) >= maxBatch || (maxBytes > 0 && size+len(t) > maxBytes)) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		batch = append(batch, t)
		index = append(index, i)
		size += len(t)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func isUnit(v []float32) bool {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	return math.Abs(sum-1) < 1e-3
}

// --- OpenAI ---

const (
	// openAIEmbedMaxBatch is how many texts one request carries (OpenAI accepts 2048).
	openAIEmbedMaxBatch = 512
	// openAIEmbedMaxBytes bounds the text of one request: OpenAI allows 300,000 tokens per
	// request, and a token of its byte-level BPE covers at least one byte.
	openAIEmbedMaxBytes = 300_000
)

type openAIEmbedder struct {
	cfg   OpenAIConfig
	svc   openai.EmbeddingService
	model string
	dim   int
	// sendDim: the request carries dimensions (a text-embedding-3 model shortened).
	sendDim bool
}

// NewOpenAIEmbedder returns an embedder for OpenAI's embeddings API (or a compatible server at
// cfg.BaseURL) through openai-go. dim 0 means the model's native dimension, which only the
// OpenAI models are known to have (text-embedding-3-small 1536, text-embedding-3-large 3072,
// text-embedding-ada-002 1536); a text-embedding-3 model given a smaller dim is asked for it
// with the dimensions parameter; for any other model dim is required and is what the model is
// expected to return (no dimensions parameter is sent). Each request carries at most 512 texts
// and about 300 kB of text. Without a key, Embed fails with ErrMissingKey and sends nothing.
func NewOpenAIEmbedder(cfg OpenAIConfig, model string, dim int) (Embedder, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultOpenAIBaseURL
	}
	if cfg.Name == "" {
		cfg.Name = "openai"
	}
	if cfg.KeyEnv == "" {
		cfg.KeyEnv = "OPENAI_API_KEY"
	}
	model = strings.TrimSpace(model)
	if model == "" {
		return nil, errors.New("llm: no embedding model given")
	}
	native, known := openAIEmbeddingDims[model]
	e := &openAIEmbedder{cfg: cfg, model: model, dim: dim}
	switch {
	case dim == 0 && !known:
		return nil, fmt.Errorf("llm: the dimension of embedding model %q is unknown; give it (e.g. openai:%s:1024)", model, model)
	case dim == 0:
		e.dim = native
	case checkDim(dim) != nil:
		return nil, checkDim(dim)
	case known && dim > native:
		return nil, fmt.Errorf("llm: %s has at most %d dimensions, not %d", model, native, dim)
	case known && dim < native:
		if model == openai.EmbeddingModelTextEmbeddingAda002 {
			return nil, fmt.Errorf("llm: %s has a fixed dimension of %d", model, native)
		}
		e.sendDim = true
	}
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
	e.svc = openai.NewEmbeddingService(opts...)
	return e, nil
}

func (e *openAIEmbedder) Name() string   { return e.cfg.Name }
func (e *openAIEmbedder) Model() string  { return e.model }
func (e *openAIEmbedder) Dimension() int { return e.dim }
func (e *openAIEmbedder) MaxBatch() int  { return openAIEmbedMaxBatch }

func (e *openAIEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	if e.cfg.APIKey == "" {
		return nil, missingKeyError(e.cfg.Name, e.cfg.KeyEnv)
	}
	if err := ctx.Err(); err != nil {
		return nil, transportError(e.cfg.Name, err, e.cfg.APIKey)
	}
	return embedBatches(ctx, e.cfg.Name, e.model, e.dim, openAIEmbedMaxBatch, openAIEmbedMaxBytes, texts, e.call)
}

func (e *openAIEmbedder) call(ctx context.Context, batch []string) ([][]float32, error) {
	params := openai.EmbeddingNewParams{
		Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: batch},
		Model:          e.model,
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat,
	}
	if e.sendDim {
		params.Dimensions = openai.Int(int64(e.dim))
	}
	res, err := e.svc.New(ctx, params)
	if err != nil {
		return nil, (&openAIProvider{cfg: e.cfg}).mapError(err)
	}
	vecs := make([][]float32, len(batch))
	for _, d := range res.Data {
		i := int(d.Index)
		if i < 0 || i >= len(vecs) || vecs[i] != nil {
			return nil, &Error{Provider: e.cfg.Name, Kind: ErrUnavailable,
				Message: fmt.Sprintf("the provider returned an embedding with index %d for %d texts", d.Index, len(batch))}
		}
		v := make([]float32, len(d.Embedding))
		for j, x := range d.Embedding {
			v[j] = float32(x)
		}
		vecs[i] = v
	}
	if slices.ContainsFunc(vecs, func(v []float32) bool { return v == nil }) {
		return nil, &Error{Provider: e.cfg.Name, Kind: ErrUnavailable,
			Message: fmt.Sprintf("the provider returned %d embeddings for %d texts", len(res.Data), len(batch))}
	}
	return vecs, nil
}

// --- Ollama ---

// ollamaEmbedMaxBatch is how many texts one /api/embed request carries.
const ollamaEmbedMaxBatch = 256

type ollamaEmbedder struct {
	cfg    OllamaConfig
	client *http.Client
	model  string
	dim    int
}

// NewOllamaEmbedder returns an embedder for Ollama's POST /api/embed, which takes a batch of
// texts. dim is the dimension the model produces (Ollama does not say until it answers); an
// answer of another dimension fails with ErrBadRequest naming both. Each request carries at
// most 256 texts; Ollama truncates a text longer than the model's context.
func NewOllamaEmbedder(cfg OllamaConfig, model string, dim int) (Embedder, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultOllamaBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	model = strings.TrimSpace(model)
	if model == "" {
		return nil, errors.New("llm: no embedding model given")
	}
	if err := checkDim(dim); err != nil {
		return nil, err
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	return &ollamaEmbedder{cfg: cfg, client: client, model: model, dim: dim}, nil
}

func (e *ollamaEmbedder) Name() string   { return "ollama" }
func (e *ollamaEmbedder) Model() string  { return e.model }
func (e *ollamaEmbedder) Dimension() int { return e.dim }
func (e *ollamaEmbedder) MaxBatch() int  { return ollamaEmbedMaxBatch }

func (e *ollamaEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, transportError("ollama", err, e.cfg.APIKey)
	}
	return embedBatches(ctx, "ollama", e.model, e.dim, ollamaEmbedMaxBatch, 0, texts, e.call)
}

// Wire format of https://github.com/ollama/ollama/blob/main/docs/api.md#generate-embeddings

type ollamaEmbedRequest struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type ollamaEmbedResponse struct {
	Model      string      `json:"model"`
	Embeddings [][]float32 `json:"embeddings"`
}

// call sends one batch, retrying rate limits, outages and connection failures like chat calls.
func (e *ollamaEmbedder) call(ctx context.Context, batch []string) ([][]float32, error) {
	body, err := json.Marshal(ollamaEmbedRequest{Model: e.model, Input: batch})
	if err != nil {
		return nil, badRequest("ollama", "cannot encode the request: "+err.Error())
	}
	retries := retriesOf(e.cfg.MaxRetries)
	for attempt := 0; ; attempt++ {
		vecs, f := e.attempt(ctx, body)
		if f == nil {
			return vecs, nil
		}
		if !f.retry || attempt >= retries || ctx.Err() != nil {
			return nil, f.err
		}
		wait := backoff(attempt)
		if f.retryAfter >= 0 {
			if f.retryAfter > maxRetryAfter {
				return nil, f.err
			}
			wait = f.retryAfter
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return nil, transportError("ollama", err, e.cfg.APIKey)
		}
	}
}

func (e *ollamaEmbedder) attempt(ctx context.Context, body []byte) ([][]float32, *failure) {
	if e.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.cfg.Timeout)
		defer cancel()
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.BaseURL+"/api/embed", bytes.NewReader(body))
	if err != nil {
		return nil, failFinal(badRequest("ollama", "invalid base URL: "+err.Error()))
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	if e.cfg.APIKey != "" {
		hr.Header.Set("Authorization", "Bearer "+e.cfg.APIKey)
	}
	res, err := e.client.Do(hr)
	if err != nil {
		te := transportError("ollama", err, e.cfg.APIKey)
		if te.Kind == ErrUnavailable {
			te.Message = fmt.Sprintf("cannot reach Ollama at %s (is it running?): %v", e.cfg.BaseURL, redact(err.Error(), e.cfg.APIKey))
		}
		return nil, fail(te)
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
		if res.StatusCode == http.StatusNotFound && strings.Contains(msg, "page not found") {
			msg += " (this Ollama has no /api/embed; it needs Ollama 0.3 or later)"
		}
		ra, ok := parseRetryAfter(res.Header, time.Now())
		f := fail(statusError("ollama", res.StatusCode, msg, ra, e.cfg.APIKey))
		if ok {
			f.retryAfter = ra
		}
		return nil, f
	}
	var out ollamaEmbedResponse
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		te := transportError("ollama", err, e.cfg.APIKey)
		if te.Kind == ErrUnavailable {
			te.Message = "cannot read Ollama's answer: " + redact(err.Error(), e.cfg.APIKey)
		}
		return nil, fail(te)
	}
	return out.Embeddings, nil
}
