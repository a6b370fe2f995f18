package llm

import "testing"

func TestStem(t *testing.T) {
	cases := map[string]string{
		"sitting": "sit", "running": "run", "stopped": "stop", "falling": "fall", "missed": "miss",
		"played": "play", "adding": "add", "thing": "thing", "sing": "sing", "speed": "speed",
		"agreed": "agreed", "memories": "memory", "studies": "study", "flies": "flies",
		"boxes": "box", "classes": "class", "watches": "watch", "wishes": "wish", "cats": "cat",
		"cases": "case", "class": "class", "status": "status", "analysis": "analysis", "is": "is",
		"gas": "gas", "naïves": "naïve", "1990s": "1990", "deployed": "deploy", "migrations": "migration",
	}
	for in, want := range cases {
		if got := string(stem([]byte(in))); got != want {
			t.Errorf("stem(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLexerWords(t *testing.T) {
	lx := newLexer(16)
	lx.tokenize("The CATS sat, on_the mat! Ünïcode 日本語 don't")
	var got []string
	for i, w := range lx.words {
		s := string(lx.arena[w[0]:w[1]])
		if lx.stop[i] {
			s = "(" + s + ")"
		}
		got = append(got, s)
	}
	want := "(the) cat sat (on) (the) mat ünïcode 日本語 don (t)"
	if s := join(got); s != want {
		t.Errorf("words = %s, want %s", s, want)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
