package pipeline

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The expression language of edge conditions and of condition, filter and transform nodes.
// It is deliberately tiny and safe: no assignment, no calls, no loops, bounded in length and
// nesting, so evaluating one is cheap and cannot fail in a surprising way.
//
//	expr       = or
//	or         = and { "||" and }
//	and        = equality { "&&" equality }
//	equality   = comparison { ("==" | "!=") comparison }
//	comparison = unary { ("<" | "<=" | ">" | ">=") unary }
//	unary      = ("!" | "-") unary | primary
//	primary    = literal | path | "(" expr ")"
//	literal    = number | string | "true" | "false" | "null"
//	path       = ("output" | "input") { "." name | "[" integer "]" | "[" string "]" }
//
// Numbers are decimal (12, 0.5, 1e3); strings are in double or single quotes with JSON's
// escapes (\" \' \\ \/ \b \f \n \r \t \uXXXX). Values are JSON values: a path into something
// that is not there (a missing key, an index out of range, a field of a number) is null.
// == and != compare any two values, deeply (1 == 1.0; "1" != 1). < <= > >= compare two numbers
// or two strings and are an error otherwise. && || and ! take booleans only and short-circuit.
// An expression is at most MaxExprLen characters and nests at most MaxExprDepth levels.
const (
	MaxExprLen   = 500
	MaxExprDepth = 32
)

// ExprRoots are the names an expression may start a path with.
var ExprRoots = []string{"input", "output"}

// ExprError is a parse or evaluation error at a position of the expression (in characters,
// from 1).
type ExprError struct {
	Pos int
	Msg string
}

func (e *ExprError) Error() string { return fmt.Sprintf("at position %d: %s", e.Pos, e.Msg) }

// Expr is a parsed expression; it is immutable and safe for concurrent use.
type Expr struct {
	src  string
	root exprNode
}

// String returns the source of the expression.
func (e *Expr) String() string { return e.src }

// ParseExpr parses src.
func ParseExpr(src string) (*Expr, error) {
	if len(src) > utf8.UTFMax*MaxExprLen {
		return nil, &ExprError{Pos: 1, Msg: fmt.Sprintf("the expression is %d bytes long; at most %d characters are allowed", len(src), MaxExprLen)}
	}
	if !utf8.ValidString(src) {
		return nil, &ExprError{Pos: 1, Msg: "the expression is not valid UTF-8"}
	}
	if n := utf8.RuneCountInString(src); n > MaxExprLen {
		return nil, &ExprError{Pos: 1, Msg: fmt.Sprintf("the expression is %d characters long; at most %d are allowed", n, MaxExprLen)}
	}
	p := &parser{lx: lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, p.errAt(p.tok.pos, "the expression is empty")
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errAt(p.tok.pos, "unexpected %s after a complete expression", p.tok.describe())
	}
	return &Expr{src: src, root: root}, nil
}

// ParseCondition parses src as a condition: an expression that can be true or false (a bare
// number, string or null cannot).
func ParseCondition(src string) (*Expr, error) {
	e, err := ParseExpr(src)
	if err != nil {
		return nil, err
	}
	if k := e.root.kind(); k != kindBool && k != kindAny {
		what := "a " + k.String()
		if k == kindNull {
			what = "null"
		}
		return nil, &ExprError{Pos: 1, Msg: "a condition must be true or false, and this is always " + what}
	}
	return e, nil
}

// CheckCondition returns why src is not a valid condition, or nil. It is the domain's
// ConditionChecker.
func CheckCondition(src string) error {
	_, err := ParseCondition(src)
	return err
}

// Eval evaluates the expression. env maps the roots ("input", "output") to JSON-decoded values:
// nil, bool, float64 (or any Go integer or float, or json.Number), string, []any and
// map[string]any.
func (e *Expr) Eval(env map[string]any) (any, error) {
	v, err := e.root.eval(e, env)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// EvalBool evaluates a condition; a result that is not a boolean is an error.
func (e *Expr) EvalBool(env map[string]any) (bool, error) {
	v, err := e.Eval(env)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, &ExprError{Pos: 1, Msg: fmt.Sprintf("the condition gave %s, not true or false", describeValue(v))}
	}
	return b, nil
}

// pos turns a byte offset into a character position from 1.
func (e *Expr) pos(off int) int { return utf8.RuneCountInString(e.src[:off]) + 1 }

func (e *Expr) errAt(off int, format string, args ...any) error {
	return &ExprError{Pos: e.pos(off), Msg: fmt.Sprintf(format, args...)}
}

// --- lexer

type tokKind int

const (
	tokEOF tokKind = iota
	tokNumber
	tokString
	tokIdent
	tokOp
)

type token struct {
	kind tokKind
	pos  int    // byte offset
	text string // the operator, the identifier, or the number's source
	str  string // a string literal's value
	num  float64
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of expression"
	case tokNumber:
		return "number " + t.text
	case tokString:
		return "string " + strconv.Quote(t.str)
	case tokIdent:
		return "name " + strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

type lexer struct {
	src string
	off int
}

func (lx *lexer) errAt(off int, format string, args ...any) error {
	return &ExprError{Pos: utf8.RuneCountInString(lx.src[:off]) + 1, Msg: fmt.Sprintf(format, args...)}
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

func (lx *lexer) next() (token, error) {
	s := lx.src
	for lx.off < len(s) && strings.IndexByte(" \t\r\n", s[lx.off]) >= 0 {
		lx.off++
	}
	start := lx.off
	if start == len(s) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := s[start]
	switch {
	case isDigit(c):
		return lx.number()
	case c == '"' || c == '\'':
		return lx.string(c)
	case isIdentStart(c):
		for lx.off < len(s) && isIdentChar(s[lx.off]) {
			lx.off++
		}
		return token{kind: tokIdent, pos: start, text: s[start:lx.off]}, nil
	}
	for _, op := range []string{"==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", ".", "[", "]", "-"} {
		if strings.HasPrefix(s[start:], op) {
			lx.off += len(op)
			return token{kind: tokOp, pos: start, text: op}, nil
		}
	}
	switch c {
	case '=':
		return token{}, lx.errAt(start, "unexpected \"=\"; compare with ==")
	case '&':
		return token{}, lx.errAt(start, "unexpected \"&\"; use && for and")
	case '|':
		return token{}, lx.errAt(start, "unexpected \"|\"; use || for or")
	}
	r, _ := utf8.DecodeRuneInString(s[start:])
	return token{}, lx.errAt(start, "unexpected character %q", r)
}

func (lx *lexer) number() (token, error) {
	s, start := lx.src, lx.off
	digits := func() int {
		n := 0
		for lx.off < len(s) && isDigit(s[lx.off]) {
			lx.off++
			n++
		}
		return n
	}
	digits()
	if lx.off < len(s) && s[lx.off] == '.' {
		lx.off++
		if digits() == 0 {
			return token{}, lx.errAt(start, "malformed number %q: a digit must follow the decimal point", s[start:lx.off])
		}
	}
	if lx.off < len(s) && (s[lx.off] == 'e' || s[lx.off] == 'E') {
		lx.off++
		if lx.off < len(s) && (s[lx.off] == '+' || s[lx.off] == '-') {
			lx.off++
		}
		if digits() == 0 {
			return token{}, lx.errAt(start, "malformed number %q: the exponent needs digits", s[start:lx.off])
		}
	}
	if lx.off < len(s) && isIdentChar(s[lx.off]) {
		return token{}, lx.errAt(start, "malformed number: %q runs into a name", s[start:lx.off+1])
	}
	text := s[start:lx.off]
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return token{}, lx.errAt(start, "number %s is out of range", text)
	}
	return token{kind: tokNumber, pos: start, text: text, num: f}, nil
}

func (lx *lexer) string(quote byte) (token, error) {
	s, start := lx.src, lx.off
	lx.off++
	var b strings.Builder
	for {
		if lx.off >= len(s) {
			return token{}, lx.errAt(start, "unterminated string: add the closing %c", quote)
		}
		c := s[lx.off]
		switch {
		case c == quote:
			lx.off++
			return token{kind: tokString, pos: start, str: b.String()}, nil
		case c == '\\':
			if lx.off+1 >= len(s) {
				return token{}, lx.errAt(start, "unterminated string: add the closing %c", quote)
			}
			esc := s[lx.off+1]
			simple := map[byte]string{'"': "\"", '\'': "'", '\\': "\\", '/': "/", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t"}
			if r, ok := simple[esc]; ok {
				b.WriteString(r)
				lx.off += 2
				continue
			}
			if esc == 'u' && lx.off+6 <= len(s) {
				if n, err := strconv.ParseUint(s[lx.off+2:lx.off+6], 16, 16); err == nil {
					b.WriteRune(rune(n))
					lx.off += 6
					continue
				}
			}
			return token{}, lx.errAt(lx.off, "invalid escape \\%c in string", esc)
		default:
			b.WriteByte(c)
			lx.off++
		}
	}
}

// --- parser

type parser struct {
	lx    lexer
	tok   token
	depth int
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errAt(off int, format string, args ...any) error {
	return p.lx.errAt(off, format, args...)
}

func (p *parser) isOp(ops ...string) bool {
	if p.tok.kind != tokOp {
		return false
	}
	for _, op := range ops {
		if p.tok.text == op {
			return true
		}
	}
	return false
}

func (p *parser) enter(off int) error {
	p.depth++
	if p.depth > MaxExprDepth {
		return p.errAt(off, "the expression nests deeper than %d levels", MaxExprDepth)
	}
	return nil
}

// binary parses one left-associative level of binary operators.
func (p *parser) binary(next func() (exprNode, error), ops ...string) (exprNode, error) {
	left, err := next()
	if err != nil {
		return nil, err
	}
	for p.isOp(ops...) {
		op := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := next()
		if err != nil {
			return nil, err
		}
		n := &binaryNode{op: op.text, pos: op.pos, l: left, r: right}
		if err := n.check(p); err != nil {
			return nil, err
		}
		left = n
	}
	return left, nil
}

func (p *parser) parseOr() (exprNode, error)  { return p.binary(p.parseAnd, "||") }
func (p *parser) parseAnd() (exprNode, error) { return p.binary(p.parseEquality, "&&") }
func (p *parser) parseEquality() (exprNode, error) {
	return p.binary(p.parseComparison, "==", "!=")
}
func (p *parser) parseComparison() (exprNode, error) {
	return p.binary(p.parseUnary, "<", "<=", ">", ">=")
}

func (p *parser) parseUnary() (exprNode, error) {
	if !p.isOp("!", "-") {
		return p.parsePrimary()
	}
	op := p.tok
	if err := p.enter(op.pos); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	p.depth--
	n := &unaryNode{op: op.text, pos: op.pos, x: x}
	want := kindBool
	if op.text == "-" {
		want = kindNumber
	}
	if k := x.kind(); k != want && k != kindAny {
		return nil, p.errAt(op.pos, "%s needs a %s, not a %s", op.text, want, k)
	}
	return n, nil
}

func (p *parser) parsePrimary() (exprNode, error) {
	t := p.tok
	switch t.kind {
	case tokNumber:
		return &litNode{v: t.num}, p.advance()
	case tokString:
		return &litNode{v: t.str}, p.advance()
	case tokIdent:
		switch t.text {
		case "true":
			return &litNode{v: true}, p.advance()
		case "false":
			return &litNode{v: false}, p.advance()
		case "null":
			return &litNode{v: nil}, p.advance()
		case "input", "output":
			return p.parsePath()
		}
		return nil, p.errAt(t.pos, "unknown name %q; a path starts with %s", t.text, strings.Join(ExprRoots, " or "))
	case tokOp:
		if t.text == "(" {
			if err := p.enter(t.pos); err != nil {
				return nil, err
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			x, err := p.parseOr()
			if err != nil {
				return nil, err
			}
			if !p.isOp(")") {
				return nil, p.errAt(p.tok.pos, "expected \")\" to close the \"(\" at position %d, found %s", utf8.RuneCountInString(p.lx.src[:t.pos])+1, p.tok.describe())
			}
			p.depth--
			return x, p.advance()
		}
	}
	return nil, p.errAt(t.pos, "expected a value (a number, a string, true, false, null, a path or \"(\"), found %s", t.describe())
}

func (p *parser) parsePath() (exprNode, error) {
	n := &pathNode{root: p.tok.text, pos: p.tok.pos}
	if err := p.advance(); err != nil {
		return nil, err
	}
	for p.isOp(".", "[") {
		op := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		if op.text == "." {
			if p.tok.kind != tokIdent {
				return nil, p.errAt(p.tok.pos, "expected a field name after \".\", found %s", p.tok.describe())
			}
			n.steps = append(n.steps, pathStep{key: p.tok.text})
		} else {
			switch t := p.tok; {
			case t.kind == tokString:
				n.steps = append(n.steps, pathStep{key: t.str})
			case t.kind == tokNumber && t.num == math.Trunc(t.num) && t.num < 1<<31 && !strings.ContainsAny(t.text, ".eE"):
				n.steps = append(n.steps, pathStep{index: int(t.num), isIndex: true})
			default:
				return nil, p.errAt(t.pos, "expected an index (a whole number or a string) after \"[\", found %s", t.describe())
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			if !p.isOp("]") {
				return nil, p.errAt(p.tok.pos, "expected \"]\", found %s", p.tok.describe())
			}
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// --- nodes

// valueKind is what the parser knows of a value's type before evaluation.
type valueKind int

const (
	kindAny valueKind = iota // a path: known only when evaluated
	kindBool
	kindNumber
	kindString
	kindNull
)

func (k valueKind) String() string {
	return [...]string{"value", "boolean", "number", "string", "null"}[k]
}

type exprNode interface {
	eval(e *Expr, env map[string]any) (any, error)
	kind() valueKind
}

type litNode struct{ v any }

func (n *litNode) eval(*Expr, map[string]any) (any, error) { return n.v, nil }

func (n *litNode) kind() valueKind {
	switch n.v.(type) {
	case bool:
		return kindBool
	case float64:
		return kindNumber
	case string:
		return kindString
	}
	return kindNull
}

type pathStep struct {
	key     string
	index   int
	isIndex bool
}

type pathNode struct {
	root  string
	pos   int
	steps []pathStep
}

func (n *pathNode) kind() valueKind { return kindAny }

func (n *pathNode) eval(_ *Expr, env map[string]any) (any, error) {
	v := env[n.root]
	for _, s := range n.steps {
		switch x := v.(type) {
		case map[string]any:
			if s.isIndex {
				v = x[strconv.Itoa(s.index)]
			} else {
				v = x[s.key]
			}
		case []any:
			if s.isIndex && s.index < len(x) {
				v = x[s.index]
			} else {
				v = nil
			}
		default:
			v = nil
		}
		if v == nil {
			return nil, nil
		}
	}
	return normalize(v), nil
}

type unaryNode struct {
	op  string
	pos int
	x   exprNode
}

func (n *unaryNode) kind() valueKind {
	if n.op == "-" {
		return kindNumber
	}
	return kindBool
}

func (n *unaryNode) eval(e *Expr, env map[string]any) (any, error) {
	v, err := n.x.eval(e, env)
	if err != nil {
		return nil, err
	}
	if n.op == "-" {
		f, ok := v.(float64)
		if !ok {
			return nil, e.errAt(n.pos, "- needs a number, got %s", describeValue(v))
		}
		return -f, nil
	}
	b, ok := v.(bool)
	if !ok {
		return nil, e.errAt(n.pos, "! needs true or false, got %s", describeValue(v))
	}
	return !b, nil
}

type binaryNode struct {
	op   string
	pos  int
	l, r exprNode
}

func (n *binaryNode) kind() valueKind { return kindBool }

// check refuses, while parsing, what can never evaluate: && on a number, "a" < 1.
func (n *binaryNode) check(p *parser) error {
	lk, rk := n.l.kind(), n.r.kind()
	switch n.op {
	case "&&", "||":
		for _, k := range []valueKind{lk, rk} {
			if k != kindBool && k != kindAny {
				return p.errAt(n.pos, "%s needs true or false on both sides, not a %s", n.op, k)
			}
		}
	case "<", "<=", ">", ">=":
		for _, k := range []valueKind{lk, rk} {
			if k == kindBool || k == kindNull {
				return p.errAt(n.pos, "%s compares numbers or strings, not a %s", n.op, k)
			}
		}
		if lk != kindAny && rk != kindAny && lk != rk {
			return p.errAt(n.pos, "%s cannot compare a %s with a %s", n.op, lk, rk)
		}
	}
	return nil
}

func (n *binaryNode) eval(e *Expr, env map[string]any) (any, error) {
	l, err := n.l.eval(e, env)
	if err != nil {
		return nil, err
	}
	if n.op == "&&" || n.op == "||" {
		lb, ok := l.(bool)
		if !ok {
			return nil, e.errAt(n.pos, "the left side of %s is %s, not true or false", n.op, describeValue(l))
		}
		if lb == (n.op == "||") { // true || ..., false && ...
			return lb, nil
		}
		r, err := n.r.eval(e, env)
		if err != nil {
			return nil, err
		}
		rb, ok := r.(bool)
		if !ok {
			return nil, e.errAt(n.pos, "the right side of %s is %s, not true or false", n.op, describeValue(r))
		}
		return rb, nil
	}
	r, err := n.r.eval(e, env)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "==":
		return equal(l, r), nil
	case "!=":
		return !equal(l, r), nil
	}
	var c int
	switch a := l.(type) {
	case float64:
		b, ok := r.(float64)
		if !ok {
			return nil, e.errAt(n.pos, "%s cannot compare %s with %s", n.op, describeValue(l), describeValue(r))
		}
		c = compareFloat(a, b)
	case string:
		b, ok := r.(string)
		if !ok {
			return nil, e.errAt(n.pos, "%s cannot compare %s with %s", n.op, describeValue(l), describeValue(r))
		}
		c = strings.Compare(a, b)
	default:
		return nil, e.errAt(n.pos, "%s compares numbers or strings, got %s and %s", n.op, describeValue(l), describeValue(r))
	}
	switch n.op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	}
	return c >= 0, nil
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// normalize turns the numbers a Go caller may put in an environment into float64, the one
// number type of the language; other values pass unchanged (maps and slices are normalized
// when they are compared or walked into).
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int8:
		return float64(x)
	case int16:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case uint:
		return float64(x)
	case uint8:
		return float64(x)
	case uint16:
		return float64(x)
	case uint32:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	}
	return v
}

// equal compares two JSON values deeply.
func equal(a, b any) bool {
	a, b = normalize(a), normalize(b)
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, present := y[k]
			if !present || !equal(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// describeValue names a value for an error message, briefly.
func describeValue(v any) string {
	switch x := normalize(v).(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return "the number " + strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		if r := []rune(x); len(r) > 40 {
			x = string(r[:40]) + "…"
		}
		return "the string " + strconv.Quote(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}
