package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/gathering/gathering/domain"
)

// Which edges a completed node takes is decided here, by the executor, and recorded in the
// node's completed event (taken_edges); the domain only folds the booleans.
//
//   - An edge without a condition is taken, except from a condition node (taken when its result
//     is true) and from a filter node (taken when the filter passed).
//   - An edge with a condition is taken when the condition holds, evaluated with output = the
//     source node's output and input = the source node's input. From a condition node this is
//     how the other branch is written: condition "!output.result" (or any other test of the
//     output); from a filter that did not pass, no edge is taken at all.
//   - A condition node's output is {"result": <its expression over its input>, "value": <its
//     input>} (ConditionOutput), so the branch it picks still has the data; a filter's output
//     is its input when it passes (and null when it does not).
//
// An edge whose condition cannot be evaluated (it compares a string with a number, say) fails
// the node for good: the pipeline is wrong, and retrying would not change that.

// DecodeValue decodes JSON into the values expressions work on; empty input is null.
func DecodeValue(raw json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// Env is the environment of an expression: the node's input and output.
func Env(input, output any) map[string]any {
	return map[string]any{"input": input, "output": output}
}

// Gate evaluates the expression of a condition or filter node over the node's input.
func Gate(node domain.PipelineNode, input any) (bool, error) {
	if node.Type != domain.NodeTypeCondition && node.Type != domain.NodeTypeFilter {
		return false, Permanent(fmt.Errorf("node %s is a %s, not a condition or a filter", node.ID, node.Type))
	}
	var cfg struct {
		Expression string `json:"expression"`
	}
	if err := json.Unmarshal(node.Config, &cfg); err != nil {
		return false, Permanent(fmt.Errorf("node %s: config: %w", node.ID, err))
	}
	e, err := ParseCondition(cfg.Expression)
	if err != nil {
		return false, Permanent(fmt.Errorf("node %s: expression: %w", node.ID, err))
	}
	ok, err := e.EvalBool(Env(input, nil))
	if err != nil {
		return false, Permanent(fmt.Errorf("node %s: expression: %w", node.ID, err))
	}
	return ok, nil
}

// ConditionOutput is the output of a condition node: its result, and its input passed on.
func ConditionOutput(result bool, input any) map[string]any {
	return map[string]any{"result": result, "value": input}
}

// TakenEdges decides, for each of node's outgoing edges (edges not leaving node are ignored),
// whether it is taken, keyed by target node id: the map CompleteNode wants. input and output
// are the node's, JSON-decoded (see DecodeValue).
func TakenEdges(node domain.PipelineNode, edges []domain.PipelineEdge, input, output any) (map[string]bool, error) {
	gate := true
	gated := node.Type == domain.NodeTypeCondition || node.Type == domain.NodeTypeFilter
	if gated {
		var err error
		if gate, err = Gate(node, input); err != nil {
			return nil, err
		}
	}
	env := Env(input, output)
	taken := map[string]bool{}
	for _, e := range edges {
		if e.From != node.ID {
			continue
		}
		switch {
		case node.Type == domain.NodeTypeFilter && !gate:
			taken[e.To] = false
		case e.Condition == "":
			taken[e.To] = gate
		default:
			c, err := ParseCondition(e.Condition)
			if err != nil {
				return nil, Permanent(fmt.Errorf("edge %s -> %s: condition: %w", e.From, e.To, err))
			}
			ok, err := c.EvalBool(env)
			if err != nil {
				return nil, Permanent(fmt.Errorf("edge %s -> %s: condition: %w", e.From, e.To, err))
			}
			taken[e.To] = ok
		}
	}
	return taken, nil
}
