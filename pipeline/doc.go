// Package pipeline will run DAG pipelines durably (issue 7). It is empty in this build: no
// pipeline can be defined or run yet. A pipeline will be an event-sourced aggregate, each node
// run a leased job whose result is appended as a pipeline_node.* event, so a run resumes after a
// crash from the log without repeating completed nodes.
package pipeline
