package domain

import (
	"strings"
	"testing"
	"time"
)

func TestRememberValidatesAndNormalizes(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := &Memory{}
	past := now.Add(-time.Hour)
	_, err := m.Remember(taskOwner, "m1", MemorySpec{Scope: "galaxy", Content: " ", Importance: 2, ExpiresAt: &past}, now)
	e, _ := err.(*Error)
	if e == nil || len(e.Fields) != 4 || e.Fields[0].Field != "content" || e.Fields[1].Field != "scope" ||
		e.Fields[2].Field != "importance" || e.Fields[3].Field != "expires_at" {
		t.Fatalf("validation: %v", err)
	}
	if _, err := m.Remember(taskOwner, "m1", MemorySpec{Scope: "circle", Content: "x"}, now); ErrorCode(err) != CodeInvalid {
		t.Fatalf("circle without id: %v", err)
	}
	ev, err := m.Remember(taskOwner, "m1", MemorySpec{Scope: "Agent", AgentID: "a1", Content: " likes tea ", Tags: []string{"Taste", "taste"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	r := ev[0].(*MemoryRemembered)
	if r.Spec.Scope != "agent" || r.Spec.ScopeID != "a1" || r.Spec.Content != "likes tea" || r.Spec.Importance != DefaultMemoryImportance ||
		len(r.Spec.Tags) != 1 || r.ContentHash != ContentHash("likes tea") {
		t.Fatalf("remembered: %+v", r)
	}
	m.Apply(r)
	if ev, _ := m.RecordEmbedding("offline", 384, r.ContentHash); len(ev) != 1 {
		t.Fatal("first embedding not recorded")
	}
	m.Apply(&MemoryEmbedded{Model: "offline"})
	if ev, _ := m.RecordEmbedding("offline", 384, r.ContentHash); len(ev) != 0 {
		t.Fatal("the same model recorded twice")
	}
	if _, err := m.Forget(Actor{ID: "someone"}, ""); ErrorCode(err) != CodeForbidden {
		t.Fatalf("stranger forgets: %v", err)
	}
	ev, _ = m.Forget(taskOwner, "wrong")
	m.Apply(ev[0])
	if _, err := m.Forget(taskOwner, ""); ErrorCode(err) != CodeNotFound {
		t.Fatalf("forgotten twice: %v", err)
	}
	if ev, err := m.RecordEmbedding("other", 384, r.ContentHash); err != nil || len(ev) != 0 {
		t.Fatal("a forgotten memory was embedded")
	}
}

func TestChunkDocumentOverlapsAndBreaksAtBoundaries(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 60; i++ {
		b.WriteString("Sentence number ")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(" ends here. ")
		if i%10 == 9 {
			b.WriteString("\n\n")
		}
	}
	content := b.String()
	chunks := ChunkDocument("markdown", content)
	if len(chunks) < 2 {
		t.Fatalf("%d chunks", len(chunks))
	}
	runes := []rune(content)
	for i, c := range chunks {
		if c.End-c.Start > KnowledgeChunkRunes || c.Index != i {
			t.Fatalf("chunk %d: %+v", i, c)
		}
		if i > 0 {
			prev := chunks[i-1]
			if c.Start >= prev.End || prev.End-c.Start > KnowledgeChunkOverlap {
				t.Fatalf("chunks %d and %d do not overlap by at most %d: %+v %+v", i-1, i, KnowledgeChunkOverlap, prev, c)
			}
			if r := runes[c.Start-1]; r != ' ' && r != '\n' {
				t.Fatalf("chunk %d starts inside a word", i)
			}
		}
		if c.End < len(runes) && !strings.HasSuffix(string(runes[c.Start:c.End]), " ") && !strings.HasSuffix(string(runes[c.Start:c.End]), "\n") {
			t.Fatalf("chunk %d ends inside a word: %q", i, string(runes[c.End-10:c.End]))
		}
	}
	if last := chunks[len(chunks)-1]; last.End != len(runes) {
		t.Fatalf("the end is not covered: %+v of %d", last, len(runes))
	}
}

func TestChunkCSVKeepsRowsWholeWithTheHeader(t *testing.T) {
	var b strings.Builder
	b.WriteString("name,city\n")
	for i := 0; i < 200; i++ {
		b.WriteString("person")
		b.WriteString(strings.Repeat("a", i%5))
		b.WriteString(",Paris\n")
	}
	content := b.String()
	chunks := ChunkDocument("csv", content)
	if len(chunks) < 2 {
		t.Fatalf("%d chunks", len(chunks))
	}
	for i, c := range chunks {
		text := ChunkText("csv", content, c)
		if !strings.HasPrefix(text, "name,city\nperson") || !strings.HasSuffix(text, ",Paris") {
			t.Fatalf("chunk %d: %q", i, text[:40])
		}
	}
	k := &Knowledge{}
	ev, err := k.Add(taskOwner, "d1", KnowledgeSpec{Title: "People", Format: "CSV", Content: content}, func(i int) string { return "c" + string(rune('a'+i%26)) })
	if err != nil {
		t.Fatal(err)
	}
	added := ev[0].(*KnowledgeAdded)
	if added.Spec.Scope != "global" || len(added.Chunks) != len(chunks) || added.Chunks[0].Hash != ContentHash(ChunkText("csv", content, chunks[0])) {
		t.Fatalf("added: %+v", added.Spec)
	}
	if _, err := (&Knowledge{}).Add(taskOwner, "d2", KnowledgeSpec{Title: "", Format: "pdf", Content: ""}, nil); err == nil ||
		len(err.(*Error).Fields) != 3 {
		t.Fatalf("bad document: %v", err)
	}
}
