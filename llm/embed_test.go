package llm_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/gathering/gathering/llm"
	"github.com/gathering/gathering/llm/llmtest"
)

func offline(t testing.TB, dim int) llm.Embedder {
	t.Helper()
	e, err := llm.NewOfflineEmbedder(dim)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func embed(t testing.TB, e llm.Embedder, texts ...string) [][]float32 {
	t.Helper()
	vecs, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(vecs), len(texts))
	}
	for i, v := range vecs {
		if len(v) != e.Dimension() {
			t.Fatalf("vector %d has %d dimensions, want %d", i, len(v), e.Dimension())
		}
		if n := norm(v); math.Abs(n-1) > 1e-5 {
			t.Fatalf("vector %d (%q) has length %v, want 1", i, texts[i], n)
		}
	}
	return vecs
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// sameVectors checks that got are want in the same order, up to the rounding of a JSON round
// trip and a second normalization.
func sameVectors(t *testing.T, got, want [][]float32) {
	t.Helper()
	for i := range want {
		if c := cosine(got[i], want[i]); c < 1-1e-6 {
			t.Fatalf("vector %d differs from the expected one (cosine %v): order not preserved?", i, c)
		}
	}
}

func cosine(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s / (norm(a) * norm(b))
}

func sentences(n int) []string {
	subjects := []string{"the cat", "a developer", "our team", "the database", "my neighbour", "the agent"}
	verbs := []string{"reviewed", "is writing", "deployed", "forgot", "explains", "measured"}
	objects := []string{"the quarterly report", "a new migration", "the mat", "tests for the parser",
		"an embedding cache", "the release notes"}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %s %s on day %d", subjects[i%6], verbs[(i/6)%6], objects[(i/36)%6], i)
	}
	return out
}

// --- offline ---

func TestOfflineEmbedDeterministic(t *testing.T) {
	texts := []string{"The cat sat on the mat.", "Quarterly revenue grew by 12%", "Ünïcödé wörds and 日本語のテキスト", "🙂 !!!", ""}
	a := embed(t, offline(t, 0), texts...)
	b := embed(t, offline(t, 0), texts...)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same texts gave different vectors")
	}
	// Texts embedded alone or in a batch get the same vector.
	for i, text := range texts {
		if one := embed(t, offline(t, 0), text); !reflect.DeepEqual(one[0], a[i]) {
			t.Errorf("%q alone differs from %q in a batch", text, text)
		}
	}
	// Changing the algorithm changes every stored offline vector: do it on purpose only.
	h := sha256.New()
	for _, v := range a {
		for _, x := range v {
			_ = binary.Write(h, binary.LittleEndian, math.Float32bits(x))
		}
	}
	if got, want := hex.EncodeToString(h.Sum(nil))[:16], offlineGolden; got != want {
		t.Errorf("offline vectors changed: digest %s, want %s", got, want)
	}
}

const offlineGolden = "12edb4eb022e1031"

func TestOfflineEmbedUnitLength(t *testing.T) {
	e := offline(t, 0)
	if e.Name() != "offline" || e.Model() != "offline-lexical-384" || e.Dimension() != 384 || e.MaxBatch() <= 0 {
		t.Fatalf("embedder = %s %s %d %d", e.Name(), e.Model(), e.Dimension(), e.MaxBatch())
	}
	texts := []string{"", "   \t\n", "the", "a the of", "x", "!!!", "🙂", "日本語", "naïve café", strings.Repeat("word ", 2000),
		"supercalifragilisticexpialidocious", "1234 5678"}
	vecs := embed(t, e, texts...)
	for i := 0; i < 2; i++ {
		if vecs[i][0] != 1 {
			t.Errorf("blank text %q: first component %v, want the fixed unit vector", texts[i], vecs[i][0])
		}
	}
	if reflect.DeepEqual(vecs[5], vecs[6]) || vecs[5][0] == 1 && vecs[6][0] == 1 {
		t.Error("texts without words should still get their own vectors")
	}
	if reflect.DeepEqual(vecs[2], vecs[3]) {
		t.Error("texts of stop words only should still differ")
	}
	if got, err := e.Embed(context.Background(), nil); err != nil || len(got) != 0 {
		t.Errorf("Embed(nil) = %v, %v", got, err)
	}
}

func TestOfflineEmbedSimilarity(t *testing.T) {
	e := offline(t, 0)
	cases := []struct{ a, near, far string }{
		{"the cat sat on the mat", "a cat sitting on a mat", "quarterly revenue grew"},
		{"Deploy the database migration tonight", "the database migrations were deployed", "my favourite pasta recipe"},
		{"memories of the summer holidays", "a summer holiday memory", "kernel scheduler latency"},
		{"Rust borrow checker errors", "errors from the borrow checker in Rust", "a cat sitting on a mat"},
	}
	for _, c := range cases {
		v := embed(t, e, c.a, c.near, c.far)
		near, far := cosine(v[0], v[1]), cosine(v[0], v[2])
		if near < 0.3 || far > 0.15 || near-far < 0.25 {
			t.Errorf("%q: cosine with %q = %.3f, with %q = %.3f", c.a, c.near, near, c.far, far)
		}
	}
	// Case and punctuation do not matter.
	v := embed(t, e, "The Cat, sat on the MAT!", "the cat sat on the mat")
	if c := cosine(v[0], v[1]); c < 0.9999 {
		t.Errorf("case/punctuation changed the vector: cosine %v", c)
	}
}

func TestOfflineEmbedDimension(t *testing.T) {
	for _, dim := range []int{8, 64, 1024, 1536} {
		e := offline(t, dim)
		if e.Dimension() != dim || e.Model() != fmt.Sprintf("offline-lexical-%d", dim) {
			t.Errorf("dim %d: %s %d", dim, e.Model(), e.Dimension())
		}
		embed(t, e, "the cat sat on the mat", "", "x")
	}
	for _, dim := range []int{-1, llm.MaxEmbeddingDimension + 1} {
		if _, err := llm.NewOfflineEmbedder(dim); err == nil {
			t.Errorf("dimension %d accepted", dim)
		}
	}
}

func TestOfflineEmbedCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := offline(t, 0).Embed(ctx, []string{"x"})
	wantKind(t, err, llm.ErrTimeout)
}

func TestOfflineEmbedConcurrent(t *testing.T) {
	e := offline(t, 0)
	texts := sentences(200)
	want := embed(t, e, texts...)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := e.Embed(context.Background(), texts)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("concurrent Embed differs (err %v)", err)
			}
		})
	}
	wg.Wait()
}

// Speed is measured by BenchmarkOfflineEmbed (make bench), never by a timed test.
func BenchmarkOfflineEmbed(b *testing.B) {
	e := offline(b, 0)
	texts := sentences(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Embed(context.Background(), texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/text")
}

func TestNormalize(t *testing.T) {
	v := llm.Normalize([]float32{3, 4})
	if math.Abs(float64(v[0])-0.6) > 1e-7 || math.Abs(float64(v[1])-0.8) > 1e-7 {
		t.Errorf("Normalize(3,4) = %v", v)
	}
	if z := llm.Normalize([]float32{0, 0}); z[0] != 0 || z[1] != 0 {
		t.Errorf("Normalize(0,0) = %v", z)
	}
	if n := llm.Normalize(nil); len(n) != 0 {
		t.Errorf("Normalize(nil) = %v", n)
	}
}

// --- OpenAI ---

func openAIEmbedder(t *testing.T, fake *llmtest.Server, spec string) llm.Embedder {
	t.Helper()
	e, err := llm.NewEmbedder(spec, llm.Config{OpenAIKey: llmtest.Key, OpenAIBaseURL: fake.BaseURL(), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func inputs(r llmtest.Request) []string {
	list, _ := r.Body["input"].([]any)
	out := make([]string, len(list))
	for i, x := range list {
		out[i], _ = x.(string)
	}
	return out
}

func TestOpenAIEmbedBatches(t *testing.T) {
	fake := llmtest.NewOpenAI(t)
	// 256 dimensions rather than 1536 keep the test fast under the race detector.
	e := openAIEmbedder(t, fake, "openai:text-embedding-3-small:256")
	if e.Name() != "openai" || e.Model() != "text-embedding-3-small" || e.Dimension() != 256 || e.MaxBatch() != 512 {
		t.Fatalf("embedder = %s %s %d %d", e.Name(), e.Model(), e.Dimension(), e.MaxBatch())
	}
	texts := sentences(600)
	got := embed(t, e, texts...)
	if fake.EmbedCalls() != 2 || fake.EmbeddedTexts() != 600 {
		t.Errorf("calls = %d, texts = %d; want 2, 600", fake.EmbedCalls(), fake.EmbeddedTexts())
	}
	reqs := fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, want := range [][]string{texts[:512], texts[512:]} {
		r := reqs[i]
		expect(t, "path", r.Path, "/v1/embeddings")
		expect(t, "Authorization", r.Header.Get("Authorization"), "Bearer "+llmtest.Key)
		expect(t, "model", r.Body["model"], "text-embedding-3-small")
		expect(t, "encoding_format", r.Body["encoding_format"], "float")
		expect(t, "dimensions", r.Body["dimensions"], 256.0)
		if !reflect.DeepEqual(inputs(r), want) {
			t.Errorf("request %d carried %d texts, not the expected %d in order", i, len(inputs(r)), len(want))
		}
	}
	// The fake's vectors are the offline embedder's: order is preserved.
	sameVectors(t, got, embed(t, offline(t, 256), texts...))
}

func TestOpenAIEmbedDimensions(t *testing.T) {
	fake := llmtest.NewOpenAI(t)
	small := openAIEmbedder(t, fake, "openai:text-embedding-3-small")
	if small.Dimension() != 1536 {
		t.Fatalf("dimension = %d", small.Dimension())
	}
	v := embed(t, small, "the cat sat on the mat")
	if _, ok := fake.Last().Body["dimensions"]; ok {
		t.Errorf("dimensions sent for the native size: %v", fake.Last().Body["dimensions"])
	}
	sameVectors(t, v, embed(t, offline(t, 1536), "the cat sat on the mat"))

	e := openAIEmbedder(t, fake, "openai:text-embedding-3-small:64")
	if e.Dimension() != 64 {
		t.Fatalf("dimension = %d", e.Dimension())
	}
	embed(t, e, "the cat sat on the mat")
	expect(t, "dimensions", fake.Last().Body["dimensions"], 64.0)

	large := openAIEmbedder(t, fake, "openai:text-embedding-3-large")
	if large.Dimension() != 3072 {
		t.Fatalf("large dimension = %d", large.Dimension())
	}
	embed(t, large, "x")

	ada := openAIEmbedder(t, fake, "openai:text-embedding-ada-002")
	embed(t, ada, "x")
	if _, ok := fake.Last().Body["dimensions"]; ok {
		t.Error("dimensions sent to ada-002")
	}

	// Another model (an OpenAI-compatible server): the spec says what it returns; no
	// dimensions parameter is sent, and the answer is checked.
	fake.EmbeddingDimension(1024)
	custom := openAIEmbedder(t, fake, "openai:bge-large:1024")
	embed(t, custom, "x")
	if _, ok := fake.Last().Body["dimensions"]; ok {
		t.Error("dimensions sent to a model that may not know it")
	}
	wrong := openAIEmbedder(t, fake, "openai:bge-large:768")
	_, err := wrong.Embed(context.Background(), []string{"x"})
	wantKind(t, err, llm.ErrBadRequest)
	if !strings.Contains(err.Error(), "1024") || !strings.Contains(err.Error(), "768") {
		t.Errorf("error does not name both dimensions: %v", err)
	}
}

func TestOpenAIEmbedBlankAndBytes(t *testing.T) {
	fake := llmtest.NewOpenAI(t)
	e := openAIEmbedder(t, fake, "openai:text-embedding-3-small")
	vecs := embed(t, e, "", "the cat", "  \n")
	if vecs[0][0] != 1 || vecs[2][0] != 1 {
		t.Error("blank texts should get the fixed unit vector")
	}
	expect(t, "inputs", inputs(fake.Last()), []string{"the cat"})

	// A request carries at most about 300 kB of text (OpenAI's 300k tokens per request).
	big := strings.Repeat("lorem ipsum ", 100_000/12)
	embed(t, e, big, big, big, big)
	if fake.EmbedCalls() != 3 {
		t.Errorf("4 texts of 100 kB took %d calls, want 2", fake.EmbedCalls()-1)
	}
	if got, err := e.Embed(context.Background(), nil); err != nil || len(got) != 0 || fake.EmbedCalls() != 3 {
		t.Errorf("Embed(nil) = %v, %v", got, err)
	}
}

func TestOpenAIEmbedIgnoresChatScript(t *testing.T) {
	fake := llmtest.NewOpenAI(t)
	fake.Reply("hello")
	e := openAIEmbedder(t, fake, "openai:text-embedding-3-small")
	embed(t, e, "a", "b")
	if fake.Pending() != 1 {
		t.Fatalf("embedding consumed the chat script (pending %d)", fake.Pending())
	}
	p := llm.NewOpenAI(llm.OpenAIConfig{APIKey: llmtest.Key, BaseURL: fake.BaseURL()})
	resp, err := p.Complete(context.Background(), llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
	if err != nil || resp.Content != "hello" {
		t.Fatalf("chat after embedding = %q, %v", resp.Content, err)
	}
}

func TestOpenAIEmbedAuth(t *testing.T) {
	const secret = "sk-wrong-secret-0123456789"
	fake := llmtest.NewOpenAI(t)
	e, err := llm.NewEmbedder("openai:text-embedding-3-small", llm.Config{OpenAIKey: secret, OpenAIBaseURL: fake.BaseURL()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Embed(context.Background(), []string{"x"})
	wantKind(t, err, llm.ErrAuth)
	if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "401") {
		t.Errorf("error = %v", err)
	}
	if fake.EmbedCalls() != 0 || len(fake.Requests()) != 1 {
		t.Errorf("an auth failure was retried or answered: %d requests", len(fake.Requests()))
	}

	// The right key, refused anyway.
	fake.FailEmbeddings(http.StatusUnauthorized)
	_, err = openAIEmbedder(t, fake, "openai:text-embedding-3-small").Embed(context.Background(), []string{"x"})
	wantKind(t, err, llm.ErrAuth)
	if strings.Contains(err.Error(), llmtest.Key) {
		t.Errorf("error shows the key: %v", err)
	}

	// No key: nothing is sent.
	before := len(fake.Requests())
	noKey, err := llm.NewEmbedder("openai:text-embedding-3-small", llm.Config{OpenAIBaseURL: fake.BaseURL()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = noKey.Embed(context.Background(), []string{"x"})
	wantKind(t, err, llm.ErrMissingKey)
	if len(fake.Requests()) != before {
		t.Error("a request was sent without a key")
	}
}

func TestOpenAIEmbedFailures(t *testing.T) {
	fake := llmtest.NewOpenAI(t)
	e := openAIEmbedder(t, fake, "openai:text-embedding-3-small")
	fake.FailEmbeddings(http.StatusTooManyRequests)
	_, err := e.Embed(context.Background(), []string{"x"})
	wantKind(t, err, llm.ErrRateLimited)
	fake.FailEmbeddings(http.StatusBadRequest)
	_, err = e.Embed(context.Background(), []string{"x"})
	wantKind(t, err, llm.ErrBadRequest)
	fake.FailEmbeddings(http.StatusServiceUnavailable)
	got, err := e.Embed(context.Background(), sentences(700))
	wantKind(t, err, llm.ErrUnavailable)
	if got != nil || fake.EmbedCalls() != 0 {
		t.Errorf("vectors returned with an error, or a batch sent after a failed one (%d calls)", fake.EmbedCalls())
	}
}

// --- Ollama ---

func ollamaEmbedder(t *testing.T, fake *llmtest.Server, spec string) llm.Embedder {
	t.Helper()
	e, err := llm.NewEmbedder(spec, llm.Config{OllamaBaseURL: fake.BaseURL(), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestOllamaEmbedBatches(t *testing.T) {
	fake := llmtest.NewOllama(t)
	e := ollamaEmbedder(t, fake, "ollama:nomic-embed-text:768")
	if e.Name() != "ollama" || e.Model() != "nomic-embed-text" || e.Dimension() != 768 || e.MaxBatch() != 256 {
		t.Fatalf("embedder = %s %s %d %d", e.Name(), e.Model(), e.Dimension(), e.MaxBatch())
	}
	texts := sentences(300)
	got := embed(t, e, texts...)
	if fake.EmbedCalls() != 2 || fake.EmbeddedTexts() != 300 {
		t.Errorf("calls = %d, texts = %d; want 2, 300", fake.EmbedCalls(), fake.EmbeddedTexts())
	}
	reqs := fake.Requests()
	for i, want := range [][]string{texts[:256], texts[256:]} {
		expect(t, "path", reqs[i].Path, "/api/embed")
		expect(t, "model", reqs[i].Body["model"], "nomic-embed-text")
		if !reflect.DeepEqual(inputs(reqs[i]), want) {
			t.Errorf("request %d carried %d texts, not the expected %d in order", i, len(inputs(reqs[i])), len(want))
		}
	}
	sameVectors(t, got, embed(t, offline(t, 768), texts...))

	// A tagged model and another dimension.
	fake.EmbeddingDimension(384)
	small := ollamaEmbedder(t, fake, "ollama:all-minilm:l6-v2:384")
	if small.Model() != "all-minilm:l6-v2" {
		t.Errorf("model = %q", small.Model())
	}
	embed(t, small, "x")
	expect(t, "model", fake.Last().Body["model"], "all-minilm:l6-v2")
}

func TestOllamaEmbedDimensionMismatch(t *testing.T) {
	fake := llmtest.NewOllama(t) // answers 768 dimensions
	e := ollamaEmbedder(t, fake, "ollama:all-minilm:384")
	_, err := e.Embed(context.Background(), []string{"x"})
	wantKind(t, err, llm.ErrBadRequest)
	if !strings.Contains(err.Error(), "768") || !strings.Contains(err.Error(), "384") || !strings.Contains(err.Error(), "all-minilm") {
		t.Errorf("error = %v", err)
	}
}

func TestOllamaEmbedFailures(t *testing.T) {
	fake := llmtest.NewOllama(t)
	e := ollamaEmbedder(t, fake, "ollama:nomic-embed-text:768")
	fake.FailEmbeddings(http.StatusNotFound)
	_, err := e.Embed(context.Background(), []string{"x"})
	wantKind(t, err, llm.ErrBadRequest)
	if !strings.Contains(err.Error(), "try pulling it first") {
		t.Errorf("error = %v", err)
	}

	// A passing outage is retried.
	retrying, err := llm.NewEmbedder("ollama:nomic-embed-text:768", llm.Config{OllamaBaseURL: fake.BaseURL(), MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	fake.FailEmbeddings(http.StatusInternalServerError)
	before := len(fake.Requests())
	embed(t, retrying, "x")
	if n := len(fake.Requests()) - before; n != 2 {
		t.Errorf("%d requests, want 2 (one retry)", n)
	}

	// An Ollama behind a proxy that wants a key.
	const secret = "ollama-secret-0123456789"
	fake.RequireKey("right-key")
	withKey, err := llm.NewOllamaEmbedder(llm.OllamaConfig{BaseURL: fake.BaseURL(), APIKey: secret}, "nomic-embed-text", 768)
	if err != nil {
		t.Fatal(err)
	}
	_, err = withKey.Embed(context.Background(), []string{"x"})
	wantKind(t, err, llm.ErrAuth)
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the key: %v", err)
	}
	expect(t, "Authorization", fake.Last().Header.Get("Authorization"), "Bearer "+secret)

	// Nobody listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	gone, _ := llm.NewOllamaEmbedder(llm.OllamaConfig{BaseURL: "http://" + addr, MaxRetries: -1}, "m", 8)
	_, err = gone.Embed(context.Background(), []string{"x"})
	wantKind(t, err, llm.ErrUnavailable)
	if !strings.Contains(err.Error(), "is it running") {
		t.Errorf("error = %v", err)
	}
}

func TestOllamaEmbedTimeout(t *testing.T) {
	fake := llmtest.NewOllama(t)
	e, err := llm.NewEmbedder("ollama:nomic-embed-text:768", llm.Config{OllamaBaseURL: fake.BaseURL()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.Embed(ctx, []string{"x"})
	wantKind(t, err, llm.ErrTimeout)
}

// --- specs ---

func TestNewEmbedderSpecs(t *testing.T) {
	cfg := llm.Config{OpenAIKey: "k"}
	good := []struct {
		spec, name, model string
		dim               int
		canonical         string
	}{
		{"", "offline", "offline-lexical-384", 384, "offline:384"},
		{"offline", "offline", "offline-lexical-384", 384, "offline:384"},
		{" Offline:128 ", "offline", "offline-lexical-128", 128, "offline:128"},
		{"openai:text-embedding-3-small", "openai", "text-embedding-3-small", 1536, "openai:text-embedding-3-small:1536"},
		{"openai:text-embedding-3-large", "openai", "text-embedding-3-large", 3072, "openai:text-embedding-3-large:3072"},
		{"openai:text-embedding-ada-002", "openai", "text-embedding-ada-002", 1536, "openai:text-embedding-ada-002:1536"},
		{"openai:text-embedding-3-large:1024", "openai", "text-embedding-3-large", 1024, "openai:text-embedding-3-large:1024"},
		{"openai:text-embedding-3-small:1536", "openai", "text-embedding-3-small", 1536, "openai:text-embedding-3-small:1536"},
		{"openai:nomic-embed-text-v1.5:768", "openai", "nomic-embed-text-v1.5", 768, "openai:nomic-embed-text-v1.5:768"},
		{"ollama:nomic-embed-text:768", "ollama", "nomic-embed-text", 768, "ollama:nomic-embed-text:768"},
		{"ollama:all-minilm:384", "ollama", "all-minilm", 384, "ollama:all-minilm:384"},
		{"ollama:qwen3-embedding:0.6b:1024", "ollama", "qwen3-embedding:0.6b", 1024, "ollama:qwen3-embedding:0.6b:1024"},
	}
	for _, g := range good {
		e, err := llm.NewEmbedder(g.spec, cfg)
		if err != nil {
			t.Errorf("%q: %v", g.spec, err)
			continue
		}
		if e.Name() != g.name || e.Model() != g.model || e.Dimension() != g.dim {
			t.Errorf("%q = %s %s %d, want %s %s %d", g.spec, e.Name(), e.Model(), e.Dimension(), g.name, g.model, g.dim)
		}
		if s := llm.EmbedderSpec(e); s != g.canonical {
			t.Errorf("EmbedderSpec(%q) = %q, want %q", g.spec, s, g.canonical)
		}
		again, err := llm.NewEmbedder(llm.EmbedderSpec(e), cfg)
		if err != nil || again.Model() != e.Model() || again.Dimension() != e.Dimension() {
			t.Errorf("%q does not round-trip: %v", llm.EmbedderSpec(e), err)
		}
	}

	bad := []struct{ spec, hint string }{
		{"offline:0", "positive"},
		{"offline:abc", "positive"},
		{"offline:100000", "larger"},
		{"openai", "model"},
		{"openai:", "model"},
		{"openai:my-embedder", "unknown"},
		{"openai:text-embedding-3-small:4096", "at most 1536"},
		{"openai:text-embedding-ada-002:512", "fixed"},
		{"openai:text-embedding-3-small:x", "positive"},
		{"ollama", "model"},
		{"ollama:nomic-embed-text", "ollama:nomic-embed-text:768"},
		{"ollama:nomic-embed-text:latest", "ollama:nomic-embed-text:latest:768"},
		{"ollama:some-model", "dimension"},
		{"ollama:some-model:-5", "positive"},
		{"cohere:embed-v4", "unknown provider"},
		{"anthropic:x:1", "unknown provider"},
	}
	for _, b := range bad {
		_, err := llm.NewEmbedder(b.spec, cfg)
		if err == nil {
			t.Errorf("%q accepted", b.spec)
			continue
		}
		if !errors.Is(err, llm.ErrEmbedderSpec) || !strings.Contains(err.Error(), fmt.Sprintf("%q", b.spec)) ||
			!strings.Contains(err.Error(), b.hint) {
			t.Errorf("%q: error %q should wrap ErrEmbedderSpec, quote the spec and mention %q", b.spec, err, b.hint)
		}
	}
}

// TestFakeEmbeddingWire checks the fakes' answers against the documented shapes, for tests that
// talk to them without this package's clients.
func TestFakeEmbeddingWire(t *testing.T) {
	post := func(url, key, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, out
	}

	oa := llmtest.NewOpenAI(t)
	oa.Reply("unused")
	status, out := post(oa.BaseURL()+"/embeddings", llmtest.Key,
		`{"model":"text-embedding-3-small","input":["a cat","a dog"],"dimensions":8}`)
	expect(t, "status", status, 200)
	expect(t, "object", out["object"], "list")
	expect(t, "model", out["model"], "text-embedding-3-small")
	expect(t, "data[1].object", get(out, "data", 1, "object"), "embedding")
	expect(t, "data[1].index", get(out, "data", 1, "index"), 1.0)
	if emb, _ := get(out, "data", 0, "embedding").([]any); len(emb) != 8 {
		t.Errorf("embedding = %v", get(out, "data", 0, "embedding"))
	}
	expectJSON(t, "usage", out["usage"], `{"prompt_tokens":4,"total_tokens":4}`)

	status, out = post(oa.BaseURL()+"/embeddings", llmtest.Key,
		`{"model":"text-embedding-3-small","input":"a cat","dimensions":4,"encoding_format":"base64"}`)
	raw, err := base64.StdEncoding.DecodeString(fmt.Sprint(get(out, "data", 0, "embedding")))
	if status != 200 || err != nil || len(raw) != 16 {
		t.Errorf("base64 answer: %d %v %d bytes", status, err, len(raw))
	}
	status, out = post(oa.BaseURL()+"/embeddings", llmtest.Key, `{"model":"text-embedding-3-small","input":[""]}`)
	expect(t, "empty input status", status, 400)
	expect(t, "empty input error type", get(out, "error", "type"), "invalid_request_error")
	status, _ = post(oa.BaseURL()+"/embeddings", llmtest.Key, `{"model":"text-embedding-ada-002","input":"x","dimensions":8}`)
	expect(t, "ada-002 dimensions status", status, 400)
	status, out = post(oa.BaseURL()+"/embeddings", "wrong", `{"model":"text-embedding-3-small","input":"x"}`)
	expect(t, "wrong key status", status, 401)
	expect(t, "wrong key code", get(out, "error", "code"), "invalid_api_key")
	oa.FailEmbeddings(http.StatusTooManyRequests)
	status, out = post(oa.BaseURL()+"/embeddings", llmtest.Key, `{"model":"text-embedding-3-small","input":"x"}`)
	expect(t, "scripted status", status, 429)
	expect(t, "scripted code", get(out, "error", "code"), "rate_limit_exceeded")
	if oa.Pending() != 1 || oa.EmbedCalls() != 2 || oa.EmbeddedTexts() != 3 {
		t.Errorf("pending %d, calls %d, texts %d", oa.Pending(), oa.EmbedCalls(), oa.EmbeddedTexts())
	}

	ol := llmtest.NewOllama(t).EmbeddingDimension(16)
	status, out = post(ol.BaseURL()+"/api/embed", "", `{"model":"all-minilm","input":"a cat"}`)
	expect(t, "status", status, 200)
	expect(t, "model", out["model"], "all-minilm")
	if embs, _ := out["embeddings"].([]any); len(embs) != 1 || len(embs[0].([]any)) != 16 {
		t.Errorf("embeddings = %v", out["embeddings"])
	}
	ol.FailEmbeddings(http.StatusNotFound)
	status, out = post(ol.BaseURL()+"/api/embed", "", `{"model":"all-minilm","input":["x"]}`)
	expect(t, "scripted status", status, 404)
	expect(t, "scripted error", out["error"], `model "all-minilm" not found, try pulling it first`)
	if len(ol.Requests()) != 2 || ol.EmbedCalls() != 1 {
		t.Errorf("requests %d, calls %d", len(ol.Requests()), ol.EmbedCalls())
	}
}
