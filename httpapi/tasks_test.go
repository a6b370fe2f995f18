package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type taskResp struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Result  string `json:"result"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Steps   []struct {
		Number    int    `json:"number"`
		Output    string `json:"output"`
		ToolCalls []struct {
			Name string `json:"name"`
		} `json:"tool_calls"`
		ModelCalls []json.RawMessage `json:"model_calls"`
	} `json:"steps"`
	Usage struct {
		Steps int `json:"steps"`
	} `json:"usage"`
}

func (s *server) task(id string) taskResp {
	s.t.Helper()
	var t taskResp
	r := s.do("GET", "/tasks/"+id, nil)
	if r.status != 200 {
		s.t.Fatalf("task: %d %s", r.status, r.body)
	}
	_ = json.Unmarshal(r.body, &t)
	return t
}

func (s *server) waitTask(id string, done func(taskResp) bool) taskResp {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		t := s.task(id)
		if done(t) {
			return t
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("task never got there: %+v", t)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func ended(t taskResp) bool {
	return t.Status == "completed" || t.Status == "failed" || t.Status == "cancelled"
}

func TestBackgroundTaskCompletesWithAResult(t *testing.T) {
	s := start(t)
	agent := s.offlineAgent("calculator")
	r := s.do("POST", "/agents/"+agent+"/tasks", map[string]any{"goal": "Report that everything is fine.\n/tool finish_task {\"result\":\"all fine\"}"})
	if r.status != 202 || r.json(t)["status"] != "running" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	done := s.waitTask(id, ended)
	if done.Status != "completed" || done.Result != "all fine" || len(done.Steps) != 1 || done.Steps[0].ToolCalls[0].Name != "finish_task" ||
		len(done.Steps[0].ModelCalls) != 2 || done.Usage.Steps != 2 {
		t.Fatalf("%+v", done)
	}
}

func TestBackgroundTaskStopsAtItsStepLimit(t *testing.T) {
	s := start(t)
	agent := s.offlineAgent()
	r := s.do("POST", "/agents/"+agent+"/tasks", map[string]any{"goal": "Keep thinking.", "max_steps": 3})
	id := r.json(t)["id"].(string)
	done := s.waitTask(id, ended)
	if done.Status != "failed" || done.Reason != "step_limit" || len(done.Steps) != 3 {
		t.Fatalf("%+v", done)
	}
	for i, st := range done.Steps {
		if st.Number != i+1 || !strings.HasPrefix(st.Output, "[offline model]") {
			t.Fatalf("step %d: %+v", i, st)
		}
	}
}

func TestBackgroundTaskPauseResumeCancel(t *testing.T) {
	s := start(t)
	agent := s.offlineAgent()
	r := s.do("POST", "/agents/"+agent+"/tasks", map[string]any{"goal": "Work for a long time.", "max_steps": 100})
	id := r.json(t)["id"].(string)
	if r := s.do("POST", "/tasks/"+id+"/pause", nil); r.status != 200 || r.json(t)["status"] != "paused" {
		t.Fatalf("pause: %d %s", r.status, r.body)
	}
	paused := len(s.task(id).Steps)
	time.Sleep(300 * time.Millisecond)
	if n := len(s.task(id).Steps); n != paused {
		t.Fatalf("a paused task went on: %d steps, then %d", paused, n)
	}
	if r := s.do("POST", "/tasks/"+id+"/pause", nil); r.status != 409 {
		t.Fatalf("pause twice: %d", r.status)
	}
	if r := s.do("POST", "/tasks/"+id+"/resume", nil); r.status != 200 || r.json(t)["status"] != "running" {
		t.Fatalf("resume: %d %s", r.status, r.body)
	}
	s.waitTask(id, func(t taskResp) bool { return len(t.Steps) > paused })
	if r := s.do("POST", "/tasks/"+id+"/cancel", nil); r.status != 200 || r.json(t)["status"] != "cancelled" {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	cancelled := len(s.task(id).Steps)
	time.Sleep(300 * time.Millisecond)
	if after := s.task(id); after.Status != "cancelled" || len(after.Steps) != cancelled {
		t.Fatalf("after cancel: %+v", after)
	}
	if r := s.do("POST", "/tasks/"+id+"/resume", nil); r.status != 409 {
		t.Fatalf("resume a cancelled task: %d", r.status)
	}
}

func TestBackgroundTaskInputAndAccess(t *testing.T) {
	s := start(t)
	agent := s.offlineAgent()
	before := s.eventCount()
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"goal": ""}, "goal"},
		{map[string]any{"goal": "x", "max_steps": -1}, "max_steps"},
		{map[string]any{"goal": "x", "max_steps": 101}, "max_steps"},
		{map[string]any{"goal": "x", "timeout_seconds": 86401}, "timeout_seconds"},
		{map[string]any{"goal": "x", "steps": 3}, "steps"},
	} {
		r := s.do("POST", "/agents/"+agent+"/tasks", c.body)
		if r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != c.field {
			t.Errorf("%v: %d %s", c.body, r.status, r.body)
		}
	}
	if s.eventCount() != before {
		t.Fatal("invalid tasks appended events")
	}
	r := s.do("POST", "/agents/"+agent+"/tasks", map[string]any{"goal": "Mine.", "max_steps": 1})
	id := r.json(t)["id"].(string)
	other, _ := s.member("eve@example.com")
	if r := s.do("GET", "/tasks/"+id, nil, bearer(other)...); r.status != 403 {
		t.Fatalf("another member reads the task: %d", r.status)
	}
	if r := s.do("POST", "/tasks/"+id+"/cancel", nil, bearer(other)...); r.status != 403 {
		t.Fatalf("another member cancels the task: %d", r.status)
	}
	if r := s.do("GET", "/tasks/not-a-task", nil); r.status != 404 {
		t.Fatalf("unknown task: %d", r.status)
	}
}
