package memory

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/google/uuid"
)

func TestValidateDefaults(t *testing.T) {
	p, err := validate(Query{AgentID: "a1000000-0000-4000-8000-000000000001", Vector: []float32{1, 0}, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != ModeVector || p.Limit != DefaultLimit || p.n != DefaultLimit || p.dim != 2 || p.Now.IsZero() {
		t.Fatalf("defaults: %+v", p)
	}
	p, err = validate(Query{Owner: "u", Text: " words ", Limit: 5})
	if err != nil || p.Mode != ModeText || p.Text != "words" || p.dim != 0 {
		t.Fatalf("text: %+v %v", p, err)
	}
	p, err = validate(Query{Owner: "u", Text: "w", Vector: []float32{1}, Model: "m", Limit: 30})
	if err != nil || p.Mode != ModeHybrid || p.n != 120 {
		t.Fatalf("hybrid: %+v %v", p, err)
	}
	if p, _ = validate(Query{Owner: "u", Text: "w", Vector: []float32{1}, Model: "m", Limit: 3}); p.n != minHybridCandidates {
		t.Fatalf("hybrid candidates for k=3: %d", p.n)
	}
}

func TestFuse(t *testing.T) {
	h := func(id string, sim, rank float64) Hit {
		return Hit{Item: Item{ID: id}, Similarity: sim, TextRank: rank}
	}
	p := plan{Query: Query{Limit: 10}}
	vec := []Hit{h("b", 0.8, 0), h("a", 0.9, 0), h("c", 0.1, 0)}
	text := []Hit{h("c", 0, 0.5), h("d", 0, 0.2)}
	got := fuse(p, vec, text)
	want := map[string]float64{"a": 1.0 / 61, "b": 1.0 / 62, "c": 1.0/63 + 1.0/61, "d": 1.0 / 62}
	if len(got) != 4 || got[0].ID != "c" {
		t.Fatalf("fused: %+v", got)
	}
	for _, x := range got {
		if math.Abs(x.Score-want[x.ID]) > 1e-15 {
			t.Fatalf("%s: %v, want %v", x.ID, x.Score, want[x.ID])
		}
	}
	// Ties on score: higher similarity first, then id.
	if got[1].ID != "a" || got[2].ID != "b" || got[3].ID != "d" {
		t.Fatalf("order: %+v", got)
	}
	// The threshold takes c out of the vector list; the words keep it, with its similarity.
	p.Threshold = 0.5
	got = fuse(p, vec, text)
	for _, x := range got {
		if x.ID == "c" && (x.Score != 1.0/61 || x.Similarity != 0.1) {
			t.Fatalf("c over the threshold: %+v", x)
		}
	}
	p.Limit = 1
	if got = fuse(p, vec, text); len(got) != 1 {
		t.Fatalf("limit: %d", len(got))
	}
}

func TestRecallAtK(t *testing.T) {
	hs := func(ids ...string) []Hit {
		out := make([]Hit, len(ids))
		for i, id := range ids {
			out[i].ID = id
		}
		return out
	}
	for _, c := range []struct {
		exact, approx []Hit
		want          float64
	}{
		{nil, nil, 1},
		{hs("a", "b"), hs("b", "a"), 1},
		{hs("a", "b"), hs("a", "c", "b"), 0.5}, // only the first len(exact) count
		{hs("a", "b", "c", "d"), hs("d"), 0.25},
		{hs("a"), nil, 0},
	} {
		if got := RecallAtK(c.exact, c.approx); got != c.want {
			t.Errorf("RecallAtK(%v, %v) = %v, want %v", c.exact, c.approx, got, c.want)
		}
	}
}

func TestDotBinaryAndTopK(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	q := []float32{0.5, -0.25, 1}
	enc := func(v []float32) []byte {
		b := binary.BigEndian.AppendUint32(nil, 1)
		b = binary.BigEndian.AppendUint32(b, 0)
		b = binary.BigEndian.AppendUint32(b, 700) // float4
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = binary.BigEndian.AppendUint32(b, 1)
		for _, x := range v {
			b = binary.BigEndian.AppendUint32(b, 4)
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(x))
		}
		return b
	}
	if got, err := dotBinary(enc([]float32{2, 4, 1}), q); err != nil || got != 1 {
		t.Fatalf("dot = %v, %v", got, err)
	}
	if _, err := dotBinary(enc([]float32{2, 4}), q); err == nil {
		t.Fatal("a shorter vector was accepted")
	}
	bad := enc([]float32{2, 4, 1})
	binary.BigEndian.PutUint32(bad[20:], 0xffffffff) // a NULL element
	if _, err := dotBinary(bad, q); err == nil {
		t.Fatal("a null element was accepted")
	}

	type c struct {
		id  uuid.UUID
		sim float64
	}
	var all []c
	top := &topK{k: 7}
	for i := 0; i < 200; i++ {
		x := c{uuid.New(), float64(r.IntN(50)) / 50} // many ties
		all = append(all, x)
		top.offer(x.id, x.sim)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].sim != all[j].sim {
			return all[i].sim > all[j].sim
		}
		return all[i].id.String() < all[j].id.String()
	})
	got := top.sorted()
	for i := range got {
		if got[i].id != all[i].id || got[i].sim != all[i].sim {
			t.Fatalf("top %d: %v, want %v", i, got[i], all[i])
		}
	}
}

func TestVersionAtLeast(t *testing.T) {
	for v, want := range map[string]bool{"0.8.0": true, "0.8.7": true, "0.7.4": false, "1.0": true, "0.8": true, "0.10.1": true, "0.5.1": false, "x": false} {
		if got := versionAtLeast(v, 0, 8, 0); got != want {
			t.Errorf("versionAtLeast(%q) = %v", v, got)
		}
	}
}
