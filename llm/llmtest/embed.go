package llmtest

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/gathering/gathering/llm"
)

// Native dimensions of OpenAI's embedding models, as the API reports them.
var openAIEmbeddingDims = map[string]int{
	"text-embedding-3-small": 1536,
	"text-embedding-3-large": 3072,
	"text-embedding-ada-002": 1536,
}

const (
	defaultOpenAIEmbedDim = 1536
	defaultOllamaEmbedDim = 768
	openAIMaxEmbedInputs  = 2048
)

// serveOpenAIEmbeddings answers POST /v1/embeddings as documented at
// https://platform.openai.com/docs/api-reference/embeddings/create.
func serveOpenAIEmbeddings(s *Server, w http.ResponseWriter, r *http.Request, rec Request) {
	if key := s.requiredKey(); key != "" && r.Header.Get("Authorization") != "Bearer "+key {
		openAIFailure(w, http.StatusUnauthorized)
		return
	}
	if rec.Body == nil {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "", "We could not parse the JSON body of your request.")
		return
	}
	invalid := func(msg string) {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "", msg)
	}
	model, _ := rec.Body["model"].(string)
	if model == "" {
		invalid("you must provide a model parameter")
		return
	}
	texts, ok := stringInputs(rec.Body["input"])
	if !ok || len(texts) == 0 {
		invalid("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
		return
	}
	for _, t := range texts {
		if t == "" {
			invalid("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
			return
		}
	}
	if len(texts) > openAIMaxEmbedInputs {
		invalid(fmt.Sprintf("'$.input' is too long. Maximum length is %d, but got %d items.", openAIMaxEmbedInputs, len(texts)))
		return
	}
	native, known := openAIEmbeddingDims[model]
	dim := native
	if !known {
		dim = s.embedDimension(defaultOpenAIEmbedDim)
	}
	if d, set := rec.Body["dimensions"]; set && d != nil {
		n, isNum := d.(float64)
		switch {
		case model == "text-embedding-ada-002":
			invalid("This model does not support specifying dimensions.")
			return
		case !isNum || n != math.Trunc(n) || n < 1 || (known && int(n) > native):
			invalid(fmt.Sprintf("Invalid value for 'dimensions' = %v. Must be an integer between 1 and %d.", d, dim))
			return
		}
		dim = int(n)
	}
	format := "float"
	if f, set := rec.Body["encoding_format"]; set && f != nil {
		format, _ = f.(string)
		if format != "float" && format != "base64" {
			invalid(fmt.Sprintf("Invalid value for 'encoding_format' = %v. Must be 'float' or 'base64'.", f))
			return
		}
	}
	if status := s.nextEmbedFailure(); status > 0 {
		openAIFailure(w, status)
		return
	}
	vecs, err := fakeVectors(dim, texts)
	if err != nil {
		invalid(err.Error())
		return
	}
	data := make([]any, len(vecs))
	tokens := 0
	for i, v := range vecs {
		var emb any = v
		if format == "base64" {
			raw := make([]byte, 4*len(v))
			for j, x := range v {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(x))
			}
			emb = base64.StdEncoding.EncodeToString(raw)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
		tokens += textTokens(texts[i])
	}
	s.countEmbedding(len(texts))
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list", "data": data, "model": model,
		"usage": map[string]any{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

// serveOllamaEmbed answers POST /api/embed as documented at
// https://github.com/ollama/ollama/blob/main/docs/api.md#generate-embeddings.
func serveOllamaEmbed(s *Server, w http.ResponseWriter, r *http.Request, rec Request) {
	if key := s.requiredKey(); key != "" && r.Header.Get("Authorization") != "Bearer "+key {
		ollamaFailure(w, http.StatusUnauthorized, "")
		return
	}
	if rec.Body == nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid character in request body"})
		return
	}
	model, _ := rec.Body["model"].(string)
	if model == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "model is required"})
		return
	}
	texts, ok := stringInputs(rec.Body["input"])
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid input type"})
		return
	}
	dim := s.embedDimension(defaultOllamaEmbedDim)
	if d, isNum := rec.Body["dimensions"].(float64); isNum && d >= 1 && d == math.Trunc(d) {
		dim = int(d)
	}
	if status := s.nextEmbedFailure(); status > 0 {
		ollamaFailure(w, status, model)
		return
	}
	vecs, err := fakeVectors(dim, texts)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	tokens := 0
	for _, t := range texts {
		tokens += textTokens(t)
	}
	s.countEmbedding(len(texts))
	writeJSON(w, http.StatusOK, map[string]any{
		"model": model, "embeddings": vecs,
		"total_duration": 1_000_000, "load_duration": 1_000, "prompt_eval_count": tokens,
	})
}

// stringInputs reads an "input" that is a string or an array of strings.
func stringInputs(v any) ([]string, bool) {
	switch x := v.(type) {
	case string:
		return []string{x}, true
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

// fakeVectors embeds texts with the offline embedder at dim.
func fakeVectors(dim int, texts []string) ([][]float32, error) {
	e, err := llm.NewOfflineEmbedder(dim)
	if err != nil {
		return nil, err
	}
	return e.Embed(context.Background(), texts)
}

// textTokens is the usage the fakes report for a text: its words, at least one.
func textTokens(t string) int { return max(1, len(strings.Fields(t))) }
