package pipeline

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gathering/gathering/domain"
)

// The node types that need nothing but their input are computed here; agent, action and delay
// nodes reach out (a model, the network, the clock) and run in package pipeline/executor.

// Template is text with {{ expression }} placeholders, as in a transform's template or an agent
// node's prompt. Each placeholder is an expression over input (see expr.go); a string value is
// inserted as it is, null as nothing, anything else as compact JSON.
type Template struct {
	text  []string // text[i] comes before exprs[i]; one more text than exprs
	exprs []*Expr
}

// ParseTemplate parses src; an unclosed placeholder or a bad expression is an error naming its
// position.
func ParseTemplate(src string) (*Template, error) {
	t := &Template{}
	rest, offset := src, 0
	for {
		open := strings.Index(rest, "{{")
		if open < 0 {
			t.text = append(t.text, rest)
			return t, nil
		}
		end := strings.Index(rest[open+2:], "}}")
		if end < 0 {
			return nil, fmt.Errorf("at position %d: the placeholder is not closed with }}", offset+open+1)
		}
		e, err := ParseExpr(strings.TrimSpace(rest[open+2 : open+2+end]))
		if err != nil {
			return nil, fmt.Errorf("in the placeholder at position %d: %w", offset+open+1, err)
		}
		t.text = append(t.text, rest[:open])
		t.exprs = append(t.exprs, e)
		cut := open + 2 + end + 2
		rest, offset = rest[cut:], offset+cut
	}
}

// Render fills the placeholders from env.
func (t *Template) Render(env map[string]any) (string, error) {
	var b strings.Builder
	for i, e := range t.exprs {
		b.WriteString(t.text[i])
		v, err := e.Eval(env)
		if err != nil {
			return "", err
		}
		switch v := v.(type) {
		case nil:
		case string:
			b.WriteString(v)
		default:
			raw, err := json.Marshal(normalize(v))
			if err != nil {
				return "", err
			}
			b.Write(raw)
		}
	}
	b.WriteString(t.text[len(t.text)-1])
	return b.String(), nil
}

// RenderTemplate parses and renders src over input in one go.
func RenderTemplate(src string, input any) (string, error) {
	t, err := ParseTemplate(src)
	if err != nil {
		return "", err
	}
	return t.Render(Env(input, nil))
}

// Compute runs a node whose output depends on its input only: condition ({"result", "value"}),
// filter, merge and trigger (their input, unchanged; a filter's verdict routes its edges, see
// TakenEdges), and transform (its template rendered to a string, or its mapping evaluated to an
// object). Any error is permanent: the same input would fail the same way again.
func Compute(node domain.PipelineNode, input any) (any, error) {
	switch node.Type {
	case domain.NodeTypeCondition:
		ok, err := Gate(node, input)
		if err != nil {
			return nil, err
		}
		return ConditionOutput(ok, input), nil
	case domain.NodeTypeFilter, domain.NodeTypeMerge, domain.NodeTypeTrigger:
		return input, nil
	case domain.NodeTypeTransform:
		var cfg struct {
			Template string            `json:"template"`
			Mapping  map[string]string `json:"mapping"`
		}
		if err := json.Unmarshal(node.Config, &cfg); err != nil {
			return nil, Permanent(fmt.Errorf("node %s: config: %w", node.ID, err))
		}
		if cfg.Mapping == nil {
			out, err := RenderTemplate(cfg.Template, input)
			if err != nil {
				return nil, Permanent(fmt.Errorf("node %s: template: %w", node.ID, err))
			}
			return out, nil
		}
		out := make(map[string]any, len(cfg.Mapping))
		env := Env(input, nil)
		for k, src := range cfg.Mapping {
			e, err := ParseExpr(src)
			if err != nil {
				return nil, Permanent(fmt.Errorf("node %s: mapping.%s: %w", node.ID, k, err))
			}
			v, err := e.Eval(env)
			if err != nil {
				return nil, Permanent(fmt.Errorf("node %s: mapping.%s: %w", node.ID, k, err))
			}
			out[k] = normalize(v)
		}
		return out, nil
	}
	return nil, Permanent(fmt.Errorf("node %s: a %s node is not computed from its input alone", node.ID, node.Type))
}
