package llm

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultOfflineDimension is the offline embedder's dimension unless told otherwise.
const DefaultOfflineDimension = 384

// offlineEmbedMaxBatch is what the offline embedder reports as MaxBatch; it has no real limit.
const offlineEmbedMaxBatch = 4096

// Feature weights of the offline embedder.
const (
	unigramWeight = 1.0
	bigramWeight  = 0.5
	trigramWeight = 0.3
)

type offlineEmbedder struct {
	dim   int
	model string
}

// NewOfflineEmbedder returns the built-in embedder: no network, no key, and the same vector for
// the same text on every machine. It is LEXICAL, not semantic: texts score close when they share
// words (after light stemming) or pieces of words, not when they mean the same thing in other
// words ("car" and "automobile" are unrelated to it). Use it for tests, demos and offline work;
// use a model (openai:..., ollama:...) for meaning.
//
// A text is lowercased and split into words (runs of Unicode letters, digits and marks); a small
// list of English stop words is dropped (unless nothing else is left); words are lightly
// stemmed (-ing, -ed, -ies→y, -es after s/x/z/ch/sh, -s, when at least three characters
// remain). Its features are the words (weight 1), pairs of adjacent words (0.5) and the
// character trigrams of each word with boundary marks (0.3), each weighted by 1+ln(count). A
// feature is hashed with 64-bit FNV-1a (then mixed by a murmur3 finalizer) to one of dim
// components, with a sign from another bit of the hash; the vector is L2-normalized. A text
// without words (punctuation, symbols) uses its space-separated tokens instead; an empty or
// whitespace-only text gets the fixed unit vector (1, 0, 0, ...).
//
// dim 0 means DefaultOfflineDimension; the model is called "offline-lexical-<dim>".
func NewOfflineEmbedder(dim int) (Embedder, error) {
	if dim == 0 {
		dim = DefaultOfflineDimension
	}
	if err := checkDim(dim); err != nil {
		return nil, err
	}
	return &offlineEmbedder{dim: dim, model: fmt.Sprintf("offline-lexical-%d", dim)}, nil
}

func (e *offlineEmbedder) Name() string   { return "offline" }
func (e *offlineEmbedder) Model() string  { return e.model }
func (e *offlineEmbedder) Dimension() int { return e.dim }
func (e *offlineEmbedder) MaxBatch() int  { return offlineEmbedMaxBatch }

func (e *offlineEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	lx := newLexer(e.dim)
	for i, t := range texts {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, transportError("offline", err, "")
			}
		}
		out[i] = lx.embed(t)
	}
	return out, nil
}

// stopWords are dropped before features are taken. Negations are kept: they matter.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but if then else of to in on at by for with
		from into onto as about than is are was were be been being am it its it's this that these
		those there here i me my mine you your yours he him his she her hers we us our ours they
		them their theirs do does did done have has had having will would shall should can could
		may might must so such too very just also s t d ll m re ve what which who whom whose when
		where why how all any each some other own same only`) {
		m[w] = true
	}
	return m
}()

// lexer computes offline embeddings. It reuses its buffers from text to text; one is used by one
// goroutine at a time.
type lexer struct {
	dim   int
	arena []byte   // the lowercased, stemmed words of the text, one after the other
	words [][2]int // [start, end) of each word in arena
	stop  []bool   // stop[i]: words[i] is a stop word
	sel   [][2]int // the words features are taken from
	runes []int    // scratch: rune offsets of a padded word
	pad   []byte   // scratch: a padded word
	index map[uint64]int32
	feats []feature
}

type feature struct {
	hash   uint64
	weight float64
	count  float64
}

func newLexer(dim int) *lexer {
	return &lexer{dim: dim, index: make(map[uint64]int32, 64)}
}

// Boundary marks around a word for its trigrams; they are not word characters.
const (
	wordStart = 0x02
	wordEnd   = 0x03
)

// Kinds of features, hashed first so that a word and an identical trigram differ.
const (
	kindUnigram = 'u'
	kindBigram  = 'b'
	kindTrigram = 'c'
)

func (lx *lexer) embed(text string) []float32 {
	v := make([]float32, lx.dim)
	lx.tokenize(text)
	if len(lx.words) == 0 {
		// No letters or digits: take the tokens between spaces (punctuation, emoji).
		for _, f := range strings.Fields(text) {
			start := len(lx.arena)
			lx.arena = append(lx.arena, strings.ToLower(f)...)
			lx.words = append(lx.words, [2]int{start, len(lx.arena)})
			lx.stop = append(lx.stop, false)
		}
	}
	if len(lx.words) == 0 {
		v[0] = 1
		return v
	}
	lx.sel = lx.sel[:0]
	for i, w := range lx.words {
		if !lx.stop[i] {
			lx.sel = append(lx.sel, w)
		}
	}
	if len(lx.sel) == 0 {
		lx.sel = append(lx.sel, lx.words...) // only stop words: they are all there is
	}

	clear(lx.index)
	lx.feats = lx.feats[:0]
	for i, w := range lx.sel {
		word := lx.arena[w[0]:w[1]]
		lx.add(fnvBytes(fnvByte(fnvOffset, kindUnigram), word), unigramWeight)
		if i > 0 {
			p := lx.sel[i-1]
			h := fnvBytes(fnvByte(fnvOffset, kindBigram), lx.arena[p[0]:p[1]])
			h = fnvBytes(fnvByte(h, 0), word)
			lx.add(h, bigramWeight)
		}
		lx.trigrams(word)
	}
	// Features are added in text order, so the float sums are the same on every run.
	for _, f := range lx.feats {
		h := fmix64(f.hash)
		idx := int(((h >> 32) * uint64(lx.dim)) >> 32)
		x := float32(f.weight * (1 + math.Log(f.count)))
		if h&1 == 1 {
			x = -x
		}
		v[idx] += x
	}
	if !isUnit(Normalize(v)) {
		// Every feature cancelled out (likely only with a tiny dimension).
		clear(v)
		v[0] = 1
	}
	return v
}

func (lx *lexer) add(hash uint64, weight float64) {
	if i, ok := lx.index[hash]; ok {
		lx.feats[i].count++
		return
	}
	lx.index[hash] = int32(len(lx.feats))
	lx.feats = append(lx.feats, feature{hash: hash, weight: weight, count: 1})
}

// trigrams adds the character trigrams of word marked with its boundaries ("cat": ^ca, cat, at$).
func (lx *lexer) trigrams(word []byte) {
	lx.pad = append(append(append(lx.pad[:0], wordStart), word...), wordEnd)
	lx.runes = lx.runes[:0]
	for i := 0; i < len(lx.pad); {
		lx.runes = append(lx.runes, i)
		_, size := utf8.DecodeRune(lx.pad[i:])
		i += size
	}
	lx.runes = append(lx.runes, len(lx.pad))
	n := len(lx.runes) - 1 // runes in pad
	for i := 0; i+3 <= n; i++ {
		lx.add(fnvBytes(fnvByte(fnvOffset, kindTrigram), lx.pad[lx.runes[i]:lx.runes[i+3]]), trigramWeight)
	}
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) }

// tokenize fills arena, words and stop with the lowercased, stemmed words of text.
func (lx *lexer) tokenize(text string) {
	lx.arena, lx.words, lx.stop = lx.arena[:0], lx.words[:0], lx.stop[:0]
	start := -1
	end := func() {
		if start < 0 {
			return
		}
		w := lx.arena[start:]
		stop := stopWords[string(w)]
		n := len(stem(w))
		lx.arena = lx.arena[:start+n]
		lx.words = append(lx.words, [2]int{start, start + n})
		lx.stop = append(lx.stop, stop)
		start = -1
	}
	for _, r := range text {
		if !isWordRune(r) {
			end()
			continue
		}
		if start < 0 {
			start = len(lx.arena)
		}
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			lx.arena = append(lx.arena, byte(r))
		} else {
			lx.arena = utf8.AppendRune(lx.arena, unicode.ToLower(r))
		}
	}
	end()
}

// stem strips one common English suffix from the lowercased word w, in place, when at least three
// characters remain: -ing and -ed (undoubling a final consonant: sitting→sit, stopped→stop),
// -ies→y (memories→memory), -es after s, x, z, ch or sh (boxes→box), and -s except after s, u or
// i (cats→cat, class, status, analysis). It returns the stem (a prefix of w's memory).
func stem(w []byte) []byte {
	rest := func(n int) ([]byte, bool) {
		r := w[:len(w)-n]
		return r, utf8.RuneCount(r) >= 3
	}
	switch {
	case hasSuffix(w, "ing"):
		if r, ok := rest(3); ok {
			return undouble(r)
		}
	case hasSuffix(w, "eed"):
		// speed, agreed, need: not a past tense to strip
	case hasSuffix(w, "ed"):
		if r, ok := rest(2); ok {
			return undouble(r)
		}
	case hasSuffix(w, "ies"):
		if r, ok := rest(3); ok {
			r = w[:len(r)+1]
			r[len(r)-1] = 'y'
			return r
		}
	case hasSuffix(w, "sses"), hasSuffix(w, "xes"), hasSuffix(w, "zes"), hasSuffix(w, "ches"), hasSuffix(w, "shes"):
		if r, ok := rest(2); ok {
			return r
		}
	case hasSuffix(w, "ss"), hasSuffix(w, "us"), hasSuffix(w, "is"):
	case hasSuffix(w, "s"):
		if r, ok := rest(1); ok {
			return r
		}
	}
	return w
}

func hasSuffix(w []byte, s string) bool {
	return len(w) >= len(s) && string(w[len(w)-len(s):]) == s
}

// undouble drops the second of two equal final consonants (sitt→sit, stopp→stop) in stems of
// four letters or more, except ll, ss and zz (fall, miss, buzz).
func undouble(w []byte) []byte {
	n := len(w)
	if n < 4 || w[n-1] != w[n-2] || w[n-1] >= utf8.RuneSelf {
		return w
	}
	switch c := w[n-1]; {
	case c < 'a' || c > 'z', strings.IndexByte("aeiouylsz", c) >= 0:
		return w
	}
	return w[:n-1]
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

// fmix64 is murmur3's finalizer: FNV-1a's low bits depend on few input bits, this spreads them.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9a63f1bb6e5
	h ^= h >> 33
	return h
}
