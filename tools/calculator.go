package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gathering/gathering/domain"
)

// Limits of the calculator. They keep one call cheap and its answer meaningful: float64 has
// no useful precision left far beyond 1e100, and deeper nesting or bigger powers than these are
// not arithmetic a model needs help with.
const (
	calcMaxLength    = 1000
	calcMaxDepth     = 100
	calcMaxExponent  = 1000
	calcMaxMagnitude = 1e100
)

const calculatorSchema = `{
  "type": "object",
  "properties": {
    "expression": {
      "type": "string",
      "minLength": 1,
      "maxLength": 1000,
      "description": "Arithmetic expression, e.g. \"(2 + 3) * sqrt(16) / 2 ^ 3\". Operators: + - * / % ^ (power, right-associative), unary minus, parentheses. Functions: sqrt abs ln log10 log2 exp sin cos tan (radians) floor ceil round, min max (any number of arguments). Constants: pi, e. Numbers may use decimals and exponents such as 1.5e3."
    }
  },
  "required": ["expression"],
  "additionalProperties": false
}`

func calculatorTool() Tool {
	return Tool{
		Name:        "calculator",
		Description: "Evaluates an arithmetic expression exactly as written and returns the numeric result. Use it instead of doing arithmetic in your head.",
		Schema:      json.RawMessage(calculatorSchema),
		Timeout:     2 * time.Second,
		Run: func(_ context.Context, args json.RawMessage) (json.RawMessage, error) {
			var in struct {
				Expression string `json:"expression"`
			}
			if err := json.Unmarshal(args, &in); err != nil {
				return nil, domain.Errorf(domain.CodeInvalid, "invalid arguments: %v", err)
			}
			v, err := evaluate(in.Expression)
			if err != nil {
				return nil, err
			}
			return json.Marshal(struct {
				Result     float64 `json:"result"`
				Expression string  `json:"expression"`
			}{v, in.Expression})
		},
	}
}

// evaluate computes an arithmetic expression in the calculator's grammar:
//
//	expr    = term { ("+" | "-") term }
//	term    = unary { ("*" | "/" | "%") unary }
//	unary   = ("-" | "+") unary | power
//	power   = primary [ "^" unary ]
//	primary = number | constant | function "(" expr { "," expr } ")" | "(" expr ")"
//
// Unary minus binds looser than ^, so -2^2 is -4 as in written mathematics, while 2^-1 is 0.5.
// Errors are *domain.Error values whose message is meant for the model.
func evaluate(expr string) (float64, error) {
	if len(expr) > calcMaxLength {
		return 0, domain.Errorf(domain.CodeInvalid, "expression is too long: %d characters, limit %d", len(expr), calcMaxLength)
	}
	if strings.TrimSpace(expr) == "" {
		return 0, domain.Errorf(domain.CodeInvalid, "expression is empty")
	}
	p := &parser{src: expr}
	v, err := p.expr()
	if err != nil {
		return 0, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return 0, p.errorf("unexpected %s", p.describe())
	}
	return tidy(v), nil
}

// tidy rounds to 15 significant digits, the precision float64 can promise, so 0.1+0.2 answers
// 0.3 instead of showing binary rounding noise that models tend to copy into their replies.
func tidy(v float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 15, 64), 64)
	if err != nil {
		return v
	}
	if r == 0 {
		return 0 // no "-0" in answers
	}
	return r
}

type parser struct {
	src   string
	pos   int
	depth int
}

func (p *parser) errorf(format string, args ...any) error {
	return domain.Errorf(domain.CodeInvalid, "syntax error at position %d: %s", p.pos+1, fmt.Sprintf(format, args...))
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (p *parser) peek() byte {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return 0
	}
	return p.src[p.pos]
}

func (p *parser) describe() string {
	if p.pos >= len(p.src) {
		return "end of expression"
	}
	r := []rune(p.src[p.pos:])[0]
	return strconv.QuoteRune(r)
}

func (p *parser) expr() (float64, error) {
	left, err := p.term()
	if err != nil {
		return 0, err
	}
	for {
		op := p.peek()
		if op != '+' && op != '-' {
			return left, nil
		}
		p.pos++
		right, err := p.term()
		if err != nil {
			return 0, err
		}
		if op == '+' {
			left, err = checked(left + right)
		} else {
			left, err = checked(left - right)
		}
		if err != nil {
			return 0, err
		}
	}
}

func (p *parser) term() (float64, error) {
	left, err := p.unary()
	if err != nil {
		return 0, err
	}
	for {
		op := p.peek()
		if op != '*' && op != '/' && op != '%' {
			return left, nil
		}
		p.pos++
		right, err := p.unary()
		if err != nil {
			return 0, err
		}
		switch op {
		case '*':
			left, err = checked(left * right)
		case '/':
			left, err = checked(left / right)
		default:
			left, err = checked(math.Mod(left, right))
		}
		if err != nil {
			return 0, err
		}
	}
}

// unary is where every level of nesting passes (parentheses, function arguments, chains of
// signs and powers), so the depth limit is enforced here and bounds the Go stack.
func (p *parser) unary() (float64, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > calcMaxDepth {
		return 0, domain.Errorf(domain.CodeInvalid, "expression is nested too deeply (limit %d levels)", calcMaxDepth)
	}
	switch p.peek() {
	case '-':
		p.pos++
		v, err := p.unary()
		return -v, err
	case '+':
		p.pos++
		return p.unary()
	}
	return p.power()
}

func (p *parser) power() (float64, error) {
	base, err := p.primary()
	if err != nil {
		return 0, err
	}
	if p.peek() != '^' {
		return base, nil
	}
	p.pos++
	exp, err := p.unary()
	if err != nil {
		return 0, err
	}
	if math.Abs(exp) > calcMaxExponent {
		return 0, domain.Errorf(domain.CodeInvalid, "exponent %g is out of range (limit ±%d)", exp, calcMaxExponent)
	}
	return checked(math.Pow(base, exp))
}

func (p *parser) primary() (float64, error) {
	c := p.peek()
	switch {
	case c == '(':
		p.pos++
		v, err := p.expr()
		if err != nil {
			return 0, err
		}
		if p.peek() != ')' {
			return 0, p.errorf("expected ')' but found %s", p.describe())
		}
		p.pos++
		return v, nil
	case isDigit(c) || c == '.':
		return p.number()
	case isLetter(c):
		return p.identifier()
	case c == 0:
		return 0, p.errorf("expression ends where a number was expected")
	default:
		return 0, p.errorf("expected a number, name or '(' but found %s", p.describe())
	}
}

func (p *parser) number() (float64, error) {
	start := p.pos
	digits := 0
	for p.pos < len(p.src) && isDigit(p.src[p.pos]) {
		p.pos++
		digits++
	}
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		for p.pos < len(p.src) && isDigit(p.src[p.pos]) {
			p.pos++
			digits++
		}
	}
	if digits == 0 {
		p.pos = start
		return 0, p.errorf("malformed number")
	}
	// An exponent only counts when digits follow, so "2e" stays a number followed by the
	// constant e and is reported as a syntax error rather than silently misread.
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		q := p.pos + 1
		if q < len(p.src) && (p.src[q] == '+' || p.src[q] == '-') {
			q++
		}
		if q < len(p.src) && isDigit(p.src[q]) {
			for q < len(p.src) && isDigit(p.src[q]) {
				q++
			}
			p.pos = q
		}
	}
	text := p.src[start:p.pos]
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, domain.Errorf(domain.CodeInvalid, "number %s is out of range", text)
	}
	return checked(v)
}

var constants = map[string]float64{"pi": math.Pi, "e": math.E}

type function struct {
	arity int // -1: one or more
	fn    func(args []float64) float64
}

func unaryFn(f func(float64) float64) function {
	return function{arity: 1, fn: func(a []float64) float64 { return f(a[0]) }}
}

var functions = map[string]function{
	"sqrt":  unaryFn(math.Sqrt),
	"abs":   unaryFn(math.Abs),
	"ln":    unaryFn(math.Log),
	"log10": unaryFn(math.Log10),
	"log2":  unaryFn(math.Log2),
	"exp":   unaryFn(math.Exp),
	"sin":   unaryFn(math.Sin),
	"cos":   unaryFn(math.Cos),
	"tan":   unaryFn(math.Tan),
	"floor": unaryFn(math.Floor),
	"ceil":  unaryFn(math.Ceil),
	"round": unaryFn(math.Round),
	"min": {arity: -1, fn: func(a []float64) float64 {
		m := a[0]
		for _, v := range a[1:] {
			m = math.Min(m, v)
		}
		return m
	}},
	"max": {arity: -1, fn: func(a []float64) float64 {
		m := a[0]
		for _, v := range a[1:] {
			m = math.Max(m, v)
		}
		return m
	}},
}

func functionNames() string {
	names := make([]string, 0, len(functions))
	for n := range functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (p *parser) identifier() (float64, error) {
	start := p.pos
	for p.pos < len(p.src) && (isLetter(p.src[p.pos]) || isDigit(p.src[p.pos]) || p.src[p.pos] == '_') {
		p.pos++
	}
	// Models write PI and Sqrt as often as pi and sqrt; case carries no meaning here.
	raw := p.src[start:p.pos]
	name := strings.ToLower(raw)
	if p.peek() != '(' {
		if v, ok := constants[name]; ok {
			return v, nil
		}
		if _, ok := functions[name]; ok {
			return 0, domain.Errorf(domain.CodeInvalid, "function %s needs its arguments in parentheses, e.g. %s(2)", name, name)
		}
		return 0, domain.Errorf(domain.CodeInvalid, "unknown name %q; the only constants are pi and e", raw)
	}
	f, ok := functions[name]
	if !ok {
		if _, isConst := constants[name]; isConst {
			return 0, domain.Errorf(domain.CodeInvalid, "%s is a constant, not a function; write * to multiply", name)
		}
		return 0, domain.Errorf(domain.CodeInvalid, "unknown function %q; known functions: %s", raw, functionNames())
	}
	p.pos++ // '('
	var args []float64
	if p.peek() != ')' {
		for {
			v, err := p.expr()
			if err != nil {
				return 0, err
			}
			args = append(args, v)
			if p.peek() != ',' {
				break
			}
			p.pos++
		}
	}
	if p.peek() != ')' {
		return 0, p.errorf("expected ',' or ')' in the arguments of %s but found %s", name, p.describe())
	}
	p.pos++
	switch {
	case f.arity == -1 && len(args) == 0:
		return 0, domain.Errorf(domain.CodeInvalid, "function %s needs at least 1 argument", name)
	case f.arity >= 0 && len(args) != f.arity:
		return 0, domain.Errorf(domain.CodeInvalid, "function %s takes exactly %d argument, got %d", name, f.arity, len(args))
	}
	return checked(f.fn(args))
}

// checked rejects results a float64 cannot answer honestly. Every intermediate value passes
// here, so an overflow cannot hide behind a later operation (1e308*10-1e308 is not 0).
func checked(v float64) (float64, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, domain.Errorf(domain.CodeInvalid, "result is not a finite number")
	}
	// The slack admits 10^100, which math.Pow computes one ulp above 1e100.
	if math.Abs(v) > calcMaxMagnitude*(1+1e-15) {
		return 0, domain.Errorf(domain.CodeInvalid, "value %g is out of range (magnitude limit 1e100)", v)
	}
	return v, nil
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
