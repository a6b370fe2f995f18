package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gathering/gathering/llm"
)

func TestCurrentTime(t *testing.T) {
	// 2024-07-01 is a Monday; Paris is on summer time (+02:00), New York on EDT (-04:00), and
	// 02:30 UTC is still Sunday evening in New York.
	fixed := time.Date(2024, 7, 1, 2, 30, 0, 0, time.UTC)
	r := Default(Options{Now: func() time.Time { return fixed }})

	tests := []struct {
		args                    string
		time, timezone, weekday string
	}{
		{`{}`, "2024-07-01T02:30:00Z", "UTC", "Monday"},
		{``, "2024-07-01T02:30:00Z", "UTC", "Monday"},
		{`{"timezone": "UTC"}`, "2024-07-01T02:30:00Z", "UTC", "Monday"},
		{`{"timezone": "Europe/Paris"}`, "2024-07-01T04:30:00+02:00", "Europe/Paris", "Monday"},
		{`{"timezone": "America/New_York"}`, "2024-06-30T22:30:00-04:00", "America/New_York", "Sunday"},
	}
	for _, tc := range tests {
		res := r.Call(context.Background(), llm.ToolCall{ID: "t", Name: "current_time", Arguments: json.RawMessage(tc.args)}, []string{"current_time"})
		if res.IsError {
			t.Errorf("%s: %s", tc.args, res.Error)
			continue
		}
		var out struct {
			Time     string `json:"time"`
			Timezone string `json:"timezone"`
			Unix     int64  `json:"unix"`
			Weekday  string `json:"weekday"`
		}
		if err := json.Unmarshal(res.Output, &out); err != nil {
			t.Fatal(err)
		}
		if out.Time != tc.time || out.Timezone != tc.timezone || out.Weekday != tc.weekday || out.Unix != fixed.Unix() {
			t.Errorf("%s: got %s", tc.args, res.Output)
		}
	}
}

func TestCurrentTimeErrors(t *testing.T) {
	r := Default(Options{Now: func() time.Time { return time.Unix(0, 0) }})
	tests := []struct{ args, want string }{
		{`{"timezone": "Mars/Olympus_Mons"}`, `unknown time zone "Mars/Olympus_Mons"`},
		{`{"timezone": "Local"}`, `unknown time zone "Local"`},
		{`{"timezone": "../../etc/passwd"}`, `unknown time zone "../../etc/passwd"`},
		{`{"timezone": ""}`, "string is too short"},
		{`{"timezone": 1}`, "got number, want string"},
		{`{"zone": "UTC"}`, "'zone' not allowed"},
	}
	for _, tc := range tests {
		res := r.Call(context.Background(), llm.ToolCall{ID: "t", Name: "current_time", Arguments: json.RawMessage(tc.args)}, []string{"current_time"})
		if !res.IsError || !strings.Contains(res.Error, tc.want) {
			t.Errorf("%s: result %+v, want error containing %q", tc.args, res, tc.want)
		}
	}
}
