// Package pipeline holds the pure parts of durable DAG pipelines that do not belong
// in the domain: the expression language of conditions, the JSON Schemas of node configs, the
// routing of a completed node's edges, circuit breakers, backoff and the classification of
// errors as retryable. Nothing here touches the database or the network.
//
// The definition (domain.Pipeline, stream pipeline-<id>) and the run (domain.PipelineRun,
// stream pipeline_run-<id>) are aggregates in package domain. A run records every node attempt
// as pipeline_node.* events, so after a crash it is folded back from the log and goes on where
// it stopped: domain.PipelineRun.Ready never offers a completed node and StartNode refuses one.
//
// The pieces, and how an executor uses them:
//
//   - domain.ValidatePipelineSpec(spec, CheckConfig, CheckCondition) checks a whole definition
//     and lists every problem (CheckConfig: schemas.go; CheckCondition: expr.go).
//   - For each node that run.Ready() returns: run.StartNode(id, attempt); take a Permit from
//     the node's Breaker (Breakers.Get by pipeline and node); do the work on run.NodeInput(id);
//     report the outcome to the permit (Done); then either run.CompleteNode with TakenEdges
//     (routing.go) or run.FailNode with Retryable(err) and, for a retry, Backoff.Delay
//     (backoff.go, retry.go); append run.Advance() (skips, the run's end) after each outcome.
//   - A run past run.Deadline() is ended by run.TimeOut; a cancellation (run.RequestCancel)
//     stops new nodes at once and is forced by run.ForceCancel after run.CancelDeadline().
//
// Package pipeline/executor is that executor: a River job per node attempt, inserted in the
// transaction that makes the node ready or records the failure it retries (scheduled after its
// backoff), deadline jobs for timeouts and forced cancellations, and the node runners that
// reach out (agent turns, HTTP actions, delays); nodes.go here computes the others.
package pipeline
