package pipeline

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := DecodeValue(json.RawMessage(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestExprEvaluates(t *testing.T) {
	env := Env(
		mustDecode(t, `{"n": 3, "tags": ["a", "b"], "user": {"name": "Zoë"}}`),
		mustDecode(t, `{"score": 0.7, "status": "ok", "items": [{"name": "a"}, {"name": "b"}], "weird key": 1,
			"a": true, "b": false, "c": true, "s": "text", "nothing": null, "tags": ["a", "b"], "obj": {"x": [1, {"y": null}]}}`),
	)
	cases := []struct {
		src  string
		want any
	}{
		{`output.score > 0.5`, true},
		{`output.score <= 0.5`, false},
		{`output.status == "ok"`, true},
		{`output.status == 'ok'`, true},
		{`output.status != "ok"`, false},
		{`true`, true},
		{`null`, nil},
		{`12`, 12.0},
		{`-1.5e2`, -150.0},
		{`"a\"b\u00e9\n"`, "a\"bé\n"},
		{`'it\'s'`, "it's"},
		{`output.missing == null`, true},
		{`output.nothing == null`, true},
		{`output.missing.deeper[3].x == null`, true},
		{`output.score.x == null`, true}, // a field of a number is null
		{`output.items[1].name == "b"`, true},
		{`output.items[9] == null`, true},
		{`output["weird key"] == 1`, true},
		{`output['weird key']`, 1.0},
		{`output.obj.x[1].y == null && output.obj.x[0] == 1`, true},
		{`input.user.name == "Zoë"`, true},
		{`input.n >= -2 && input.n < 3.5`, true},
		{`-input.n == -3`, true},
		{`!(output.a && output.b) || output.c`, true},
		{`true || false && false`, true}, // && binds tighter
		{`(true || false) && false`, false},
		{`!!true`, true},
		{`1 == 1.0`, true},
		{`"1" != 1`, true},
		{`null == false`, false},
		{`input.tags == output.tags`, true},
		{`output.items == output.tags`, false},
		{`output.obj == output.obj`, true},
		{`"abc" < "abd"`, true},
		{`false && output.s > 1`, false}, // short-circuit: the bad comparison is never made
		{`true || output.s > 1`, true},
		{`output.score > 0.5 == true`, true}, // comparison binds tighter than ==
	}
	for _, c := range cases {
		e, err := ParseExpr(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		got, err := e.Eval(env)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if !equal(got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.src, got, c.want)
		}
		if e.String() != c.src {
			t.Errorf("String() = %q", e.String())
		}
	}
}

func TestExprAcceptsGoNumbers(t *testing.T) {
	e, err := ParseExpr(`output.n == 3 && output.f > 1 && output.j < 10 && output.list[0] == 1`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.EvalBool(map[string]any{"output": map[string]any{"n": 3, "f": float32(1.5), "j": json.Number("7"), "list": []any{int64(1)}}})
	if err != nil || !got {
		t.Fatalf("%v %v", got, err)
	}
}

func TestExprParseErrorsNameThePosition(t *testing.T) {
	cases := []struct{ src, want string }{
		{``, `at position 1: the expression is empty`},
		{`   `, `at position 4: the expression is empty`},
		{`output.score >`, `at position 15: expected a value (a number, a string, true, false, null, a path or "("), found end of expression`},
		{`output.score = 1`, `at position 14: unexpected "="; compare with ==`},
		{`output.a & true`, `at position 10: unexpected "&"; use && for and`},
		{`output.a | true`, `at position 10: unexpected "|"; use || for or`},
		{`(output.a == 1`, `at position 15: expected ")" to close the "(" at position 1, found end of expression`},
		{`foo == 1`, `at position 1: unknown name "foo"; a path starts with input or output`},
		{`output. == 1`, `at position 9: expected a field name after ".", found "=="`},
		{`output[1.5]`, `at position 8: expected an index (a whole number or a string) after "[", found number 1.5`},
		{`output[1`, `at position 9: expected "]", found end of expression`},
		{`output.s == "abc`, `at position 13: unterminated string: add the closing "`},
		{`output.s == 'a\x'`, `at position 15: invalid escape \x in string`},
		{`1. == 1`, `at position 1: malformed number "1.": a digit must follow the decimal point`},
		{`1e == 1`, `at position 1: malformed number "1e": the exponent needs digits`},
		{`12abc`, `at position 1: malformed number: "12a" runs into a name`},
		{`1e999`, `at position 1: number 1e999 is out of range`},
		{`output.a == 1 output.b`, `at position 15: unexpected name "output" after a complete expression`},
		{`output.a == 1 )`, `at position 15: unexpected ")" after a complete expression`},
		{`output.x # 1`, `at position 10: unexpected character '#'`},
		{`"é" == output.x ]`, `at position 17: unexpected "]" after a complete expression`},
		{`1 && true`, `at position 3: && needs true or false on both sides, not a number`},
		{`output.a || "yes"`, `at position 10: || needs true or false on both sides, not a string`},
		{`"a" < 1`, `at position 5: < cannot compare a string with a number`},
		{`true < output.x`, `at position 6: < compares numbers or strings, not a boolean`},
		{`!"x"`, `at position 1: ! needs a boolean, not a string`},
		{`-true`, `at position 1: - needs a number, not a boolean`},
	}
	for _, c := range cases {
		_, err := ParseExpr(c.src)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.src, err, c.want)
		}
		var ee *ExprError
		if err != nil && !errors.As(err, &ee) {
			t.Errorf("%s: %T is not an *ExprError", c.src, err)
		}
	}
}

func TestExprIsBounded(t *testing.T) {
	long := "output.a == " + strings.Repeat("1", MaxExprLen)
	if _, err := ParseExpr(long); err == nil || err.Error() != "at position 1: the expression is 512 characters long; at most 500 are allowed" {
		t.Fatalf("long: %v", err)
	}
	// The bound is in characters, as the domain's: 480 two-byte characters fit.
	if _, err := ParseExpr(`output.s == "` + strings.Repeat("é", 480) + `"`); err != nil {
		t.Fatalf("non-ASCII: %v", err)
	}
	if _, err := ParseExpr(strings.Repeat("é", 5*MaxExprLen)); err == nil || !strings.Contains(err.Error(), "bytes long") {
		t.Fatalf("huge: %v", err)
	}
	if _, err := ParseExpr(strings.Repeat("(", MaxExprDepth) + "true" + strings.Repeat(")", MaxExprDepth)); err != nil {
		t.Fatalf("%d levels are allowed: %v", MaxExprDepth, err)
	}
	deep := strings.Repeat("(", MaxExprDepth+1) + "true" + strings.Repeat(")", MaxExprDepth+1)
	if _, err := ParseExpr(deep); err == nil || err.Error() != "at position 33: the expression nests deeper than 32 levels" {
		t.Fatalf("deep: %v", err)
	}
	if _, err := ParseExpr(strings.Repeat("!", MaxExprDepth+1) + "true"); err == nil || !strings.Contains(err.Error(), "nests deeper") {
		t.Fatalf("deep negation: %v", err)
	}
	// A long flat chain is fine: only nesting is bounded.
	flat := "true" + strings.Repeat(" && true", 60)
	if e, err := ParseExpr(flat); err != nil {
		t.Fatal(err)
	} else if ok, err := e.EvalBool(nil); !ok || err != nil {
		t.Fatalf("%v %v", ok, err)
	}
	if _, err := ParseExpr("output.a == \"\xff\""); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("invalid UTF-8: %v", err)
	}
}

func TestExprRuntimeErrorsNameThePosition(t *testing.T) {
	env := Env(nil, mustDecode(t, `{"s": "text", "n": 3, "list": [1]}`))
	cases := []struct{ src, want string }{
		{`output.s > 1`, `at position 10: > cannot compare the string "text" with the number 1`},
		{`output.list < 1`, `at position 13: < compares numbers or strings, got an array and the number 1`},
		{`output.n && true`, `at position 10: the left side of && is the number 3, not true or false`},
		{`true && output.s`, `at position 6: the right side of && is the string "text", not true or false`},
		{`!output.n`, `at position 1: ! needs true or false, got the number 3`},
		{`-output.s == 1`, `at position 1: - needs a number, got the string "text"`},
		{`output.missing > 1`, `at position 16: > compares numbers or strings, got null and the number 1`},
	}
	for _, c := range cases {
		e, err := ParseExpr(c.src)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		_, err = e.Eval(env)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.src, err, c.want)
		}
	}
	e, _ := ParseExpr(`output.s`)
	if _, err := e.EvalBool(env); err == nil || err.Error() != `at position 1: the condition gave the string "text", not true or false` {
		t.Fatalf("EvalBool: %v", err)
	}
}

func TestCheckConditionWantsABooleanExpression(t *testing.T) {
	for _, ok := range []string{`true`, `output.ok`, `output.score > 0.5`, `!output.result`, `output.status == "ok" || input.force`} {
		if err := CheckCondition(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for src, want := range map[string]string{
		`1`:          "always a number",
		`"yes"`:      "always a string",
		`null`:       "always null",
		`-output.x`:  "always a number",
		`output.x >`: "at position 11",
	} {
		if err := CheckCondition(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
}
