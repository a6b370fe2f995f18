package tools

import (
	"context"
	"encoding/json"
	"time"
	// Embedded so zone names resolve the same on a minimal container image without
	// /usr/share/zoneinfo as on a developer machine.
	_ "time/tzdata"

	"github.com/gathering/gathering/domain"
)

const currentTimeSchema = `{
  "type": "object",
  "properties": {
    "timezone": {
      "type": "string",
      "minLength": 1,
      "maxLength": 64,
      "description": "IANA time zone name such as \"Europe/Paris\" or \"America/New_York\". Defaults to \"UTC\"."
    }
  },
  "additionalProperties": false
}`

func currentTimeTool(opts Options) Tool {
	now := opts.Now
	return Tool{
		Name:        "current_time",
		Description: "Returns the current date and time in a time zone. Use it whenever the answer depends on today's date or the time of day.",
		Schema:      json.RawMessage(currentTimeSchema),
		Timeout:     2 * time.Second,
		Run: func(_ context.Context, args json.RawMessage) (json.RawMessage, error) {
			var in struct {
				Timezone string `json:"timezone"`
			}
			if err := json.Unmarshal(args, &in); err != nil {
				return nil, domain.Errorf(domain.CodeInvalid, "invalid arguments: %v", err)
			}
			if in.Timezone == "" {
				in.Timezone = "UTC"
			}
			loc, err := loadZone(in.Timezone)
			if err != nil {
				return nil, err
			}
			t := now().In(loc)
			return json.Marshal(struct {
				Time     string `json:"time"`
				Timezone string `json:"timezone"`
				Unix     int64  `json:"unix"`
				Weekday  string `json:"weekday"`
			}{t.Format(time.RFC3339), loc.String(), t.Unix(), t.Weekday().String()})
		},
	}
}

func loadZone(name string) (*time.Location, error) {
	// "Local" is accepted by time.LoadLocation but is the server's zone, not an IANA name; it
	// would leak the host's configuration and mean something different on every deployment.
	if name == "Local" {
		return nil, unknownZone(name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, unknownZone(name)
	}
	return loc, nil
}

func unknownZone(name string) error {
	return domain.Errorf(domain.CodeInvalid, "unknown time zone %q; use an IANA name such as \"UTC\", \"Europe/Paris\" or \"America/New_York\"", name)
}
