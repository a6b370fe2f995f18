package memory

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gathering/gathering/domain"
)

// ContextBuilder picks the long-term memories and knowledge most relevant to a turn, as the
// agent may see them, within a token budget. The short-term context (the session's recent
// messages) is already in the prompt; this adds what the agent would otherwise not know.
type ContextBuilder struct {
	Search     Searcher
	Embeddings *Embeddings
	// Budget bounds the block in tokens (estimated at four characters each; default 600).
	Budget int
	// Limit is how many items are considered (default 8); MinScore drops weak vector hits.
	Limit    int
	MinScore float64
	Now      func() time.Time
}

// ContextHeader opens the block in the system prompt.
const ContextHeader = "What you remember and know that may help (most relevant first):"

// For returns the context of agentID's turn about text; nil when nothing relevant was found.
func (b *ContextBuilder) For(ctx context.Context, agentID, text string) (*domain.InjectedContext, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	budget, limit := b.Budget, b.Limit
	if budget <= 0 {
		budget = 600
	}
	if limit <= 0 {
		limit = 8
	}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	vecs, err := b.Embeddings.Embed(ctx, []string{text})
	if err != nil {
		return nil, err
	}
	hits, err := b.Search.Search(ctx, Query{AgentID: agentID, Vector: vecs[0], Model: b.Embeddings.Model(), Text: firstWords(text, 40),
		Mode: ModeHybrid, Limit: limit, Threshold: b.MinScore, Now: now()})
	if err != nil {
		return nil, err
	}
	var block strings.Builder
	block.WriteString(ContextHeader)
	used := estimateTokens(ContextHeader)
	out := &domain.InjectedContext{}
	for _, h := range hits {
		line := "\n- " + h.Content
		if h.Kind == KindKnowledge {
			line = fmt.Sprintf("\n- [%s] %s", h.Source, h.Content)
		}
		cost := estimateTokens(line)
		if used+cost > budget {
			continue // a shorter item further down may still fit
		}
		used += cost
		block.WriteString(line)
		out.Items = append(out.Items, domain.ContextItem{ID: h.ID, Kind: h.Kind, Source: h.Source, Score: h.Score})
	}
	if len(out.Items) == 0 {
		return nil, nil
	}
	out.Block, out.Tokens = block.String(), used
	return out, nil
}

func estimateTokens(s string) int { return (utf8.RuneCountInString(s) + 3) / 4 }

// firstWords keeps a long message's full-text query to its first n words.
func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}
