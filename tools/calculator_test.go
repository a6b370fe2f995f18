package tools

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/llm"
)

func TestEvaluate(t *testing.T) {
	tests := []struct {
		expr string
		want float64
	}{
		{"1+2", 3},
		{"  7  ", 7},
		{"2+3*4", 14},
		{"(2+3)*4", 20},
		{"10-4-3", 3},
		{"100/10/5", 2},
		{"7%3", 1},
		{"-7%3", -1},
		{"2*3%4", 2},
		{"2^3", 8},
		{"2^3^2", 512},
		{"(2^3)^2", 64},
		{"-2^2", -4},
		{"(-2)^2", 4},
		{"2^-1", 0.5},
		{"-3", -3},
		{"--3", 3},
		{"+3", 3},
		{"2*-3", -6},
		{"-(1+2)*3", -9},
		{"1.5", 1.5},
		{".5+.25", 0.75},
		{"3.", 3},
		{"1e3", 1000},
		{"1.5E-2", 0.015},
		{"2e+2", 200},
		{"0.1+0.2", 0.3},
		{"pi", math.Pi},
		{"PI", math.Pi},
		{"e", math.E},
		{"2*pi", 2 * math.Pi},
		{"sqrt(16)", 4},
		{"Sqrt(2)^2", 2},
		{"abs(-3.5)", 3.5},
		{"ln(e)", 1},
		{"log10(1000)", 3},
		{"log2(1024)", 10},
		{"exp(0)", 1},
		{"sin(0)", 0},
		{"cos(pi)", -1},
		{"tan(pi/4)", 1},
		{"floor(-2.5)", -3},
		{"ceil(2.1)", 3},
		{"round(2.5)", 3},
		{"round(-2.5)", -3},
		{"min(3)", 3},
		{"min(3, 1, 2)", 1},
		{"max(3, 1+9, 2)", 10},
		{"max(min(1,2), sqrt(9))", 3},
		{"sin(pi)", 1.22464679914735e-16},
		{"10^100", 1e100},
		{"-10^100", -1e100},
		{"1e100", 1e100},
		{"2^-1000", 9.33263618503219e-302},
		{strings.Repeat("(", 99) + "1" + strings.Repeat(")", 99), 1},
	}
	for _, tc := range tests {
		got, err := evaluate(tc.expr)
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		if got != tc.want && math.Abs(got-tc.want) > 1e-12*math.Max(1, math.Abs(tc.want)) {
			t.Errorf("%q = %v, want %v", tc.expr, got, tc.want)
		}
	}
	if got, _ := evaluate("-0"); math.Signbit(got) {
		t.Errorf("-0 answered with a negative zero")
	}
}

func TestEvaluateErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", "expression is empty"},
		{"   ", "expression is empty"},
		{"2*(3+", "syntax error at position 6"},
		{"(1+2", "expected ')'"},
		{"1+2)", `unexpected ')'`},
		{"1 2", `unexpected '2'`},
		{"2e", `unexpected 'e'`},
		{"2pi", `unexpected 'p'`},
		{"1..2", `unexpected '.'`},
		{".", "malformed number"},
		{"3 $ 4", `unexpected '$'`},
		{"2 * é", `found 'é'`},
		{"*3", "expected a number"},
		{"foo(1)", `unknown function "foo"`},
		{"x + 1", `unknown name "x"`},
		{"sqrt", "needs its arguments in parentheses"},
		{"pi(2)", "is a constant, not a function"},
		{"sqrt(1, 2)", "takes exactly 1 argument, got 2"},
		{"sqrt()", "takes exactly 1 argument, got 0"},
		{"max()", "needs at least 1 argument"},
		{"max(1,", "expression ends"},
		{"max(1 2)", "expected ',' or ')'"},
		{"1/0", "result is not a finite number"},
		{"0/0", "result is not a finite number"},
		{"5%0", "result is not a finite number"},
		{"sqrt(-1)", "result is not a finite number"},
		{"ln(0)", "result is not a finite number"},
		{"(-8)^(1/3)", "result is not a finite number"},
		{"1e308*10", "out of range (magnitude limit 1e100)"},
		{"10^400", "result is not a finite number"},
		{"1e100^4", "result is not a finite number"},
		{"1e100*1e100", "out of range (magnitude limit 1e100)"},
		{"2^1001", "exponent 1001 is out of range"},
		{"2^-1001", "exponent -1001 is out of range"},
		{"10^101", "out of range (magnitude limit 1e100)"},
		{"1e101", "out of range (magnitude limit 1e100)"},
		{"1e999", "number 1e999 is out of range"},
		{"exp(1000)", "result is not a finite number"},
		{"1e100*10-1e100*9", "out of range"},
		{strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), "nested too deeply"},
		{strings.Repeat("-", 200) + "1", "nested too deeply"},
		{strings.Repeat("2^", 150) + "1", "nested too deeply"},
		{strings.Repeat("1+", 500) + "11", "too long"},
	}
	for _, tc := range tests {
		_, err := evaluate(tc.expr)
		if err == nil {
			t.Errorf("%q: no error, want %q", tc.expr, tc.want)
			continue
		}
		if domain.ErrorCode(err) != domain.CodeInvalid {
			t.Errorf("%q: code %s, want invalid", tc.expr, domain.ErrorCode(err))
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q, want it to contain %q", tc.expr, err, tc.want)
		}
	}
}

func TestCalculatorTool(t *testing.T) {
	r := Default(Options{})
	allowed := []string{"calculator"}
	call := func(args string) Result {
		return r.Call(context.Background(), llm.ToolCall{ID: "c", Name: "calculator", Arguments: json.RawMessage(args)}, allowed)
	}

	res := call(`{"expression": "(2 + 3) * sqrt(16) / 2 ^ 3"}`)
	if res.IsError {
		t.Fatalf("error: %s", res.Error)
	}
	var out struct {
		Result     float64 `json:"result"`
		Expression string  `json:"expression"`
	}
	if err := json.Unmarshal(res.Output, &out); err != nil {
		t.Fatal(err)
	}
	if out.Result != 2.5 || out.Expression != "(2 + 3) * sqrt(16) / 2 ^ 3" {
		t.Errorf("output = %s", res.Output)
	}

	res = call(`{"expression": "1/0"}`)
	if !res.IsError || res.Error != `tool "calculator" failed: result is not a finite number` {
		t.Errorf("division by zero = %+v", res)
	}

	// Over-long and missing input is stopped by the schema before the parser sees it.
	res = call(`{"expression": "` + strings.Repeat("1", 1001) + `"}`)
	if !res.IsError || !strings.Contains(res.Error, `at "/expression": string is too long: 1001 characters, at most 1000 allowed`) {
		t.Errorf("too long = %+v", res)
	}
	res = call(`{"expression": 42}`)
	if !res.IsError || !strings.Contains(res.Error, "got number, want string") {
		t.Errorf("wrong type = %+v", res)
	}
	res = call(`{"expr": "1+1"}`)
	if !res.IsError || !strings.Contains(res.Error, "missing property 'expression'") || !strings.Contains(res.Error, "'expr' not allowed") {
		t.Errorf("wrong property = %+v", res)
	}
}
