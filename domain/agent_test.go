package domain

import (
	"encoding/json"
	"strings"
	"testing"
)

func fieldsOf(err error) []string {
	e, ok := err.(*Error)
	if !ok {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestCreateAgentAppliesDefaults(t *testing.T) {
	events, err := CreateAgent("a1", AgentSpec{Name: "  Ada  ", Provider: "OpenAI"}, "u1")
	if err != nil {
		t.Fatal(err)
	}
	c := events[0].(*AgentCreated)
	if c.Name != "Ada" || c.Provider != ProviderOpenAI || c.Model != "gpt-4o-mini" || c.Role != DefaultAgentRole ||
		c.Personality.MaxTokens != DefaultMaxTokens || c.Tools == nil {
		t.Fatalf("normalised to %+v", c)
	}
}

func TestAgentValidationNamesEveryField(t *testing.T) {
	cases := []struct {
		spec  AgentSpec
		field string
	}{
		{AgentSpec{Name: ""}, "name"},
		{AgentSpec{Name: strings.Repeat("é", MaxAgentNameLen+1)}, "name"},
		{AgentSpec{Name: "bad\x00name"}, "name"},
		{AgentSpec{Name: "A", Role: strings.Repeat("r", MaxAgentRoleLen+1)}, "role"},
		{AgentSpec{Name: "A", Provider: "skynet"}, "provider"},
		{AgentSpec{Name: "A", Model: "has space"}, "model"},
		{AgentSpec{Name: "A", Personality: Personality{Temperature: 2.01}}, "personality.temperature"},
		{AgentSpec{Name: "A", Personality: Personality{Temperature: -0.1}}, "personality.temperature"},
		{AgentSpec{Name: "A", Personality: Personality{MaxTokens: MaxMaxTokens + 1}}, "personality.max_tokens"},
		{AgentSpec{Name: "A", Personality: Personality{Traits: []string{"kind", "Kind"}}}, "personality.traits[1]"},
		{AgentSpec{Name: "A", Personality: Personality{Traits: []string{""}}}, "personality.traits[0]"},
		{AgentSpec{Name: "A", Personality: Personality{CommunicationStyle: strings.Repeat("s", MaxStyleLen+1)}}, "personality.communication_style"},
		{AgentSpec{Name: "A", SystemPrompt: strings.Repeat("p", MaxSystemPromptLen+1)}, "system_prompt"},
		{AgentSpec{Name: "A", Tools: []string{"calculator", "calculator"}}, "tools[1]"},
		{AgentSpec{Name: "A", Tools: []string{"Rm -rf"}}, "tools[0]"},
		{AgentSpec{Name: "A", Tools: make([]string, MaxTools+1)}, "tools"},
	}
	for _, c := range cases {
		_, err := CreateAgent("id", c.spec, "")
		if ErrorCode(err) != CodeInvalid {
			t.Errorf("%+v: want invalid, got %v", c.spec, err)
			continue
		}
		found := false
		for _, f := range fieldsOf(err) {
			found = found || f == c.field
		}
		if !found {
			t.Errorf("%+v: fields %v do not name %s", c.spec, fieldsOf(err), c.field)
		}
	}
	_, err := CreateAgent("id", AgentSpec{Name: "", Provider: "x", Personality: Personality{Temperature: 9}}, "")
	if got := fieldsOf(err); len(got) != 3 {
		t.Fatalf("want all three errors at once, got %v", got)
	}
}

func TestAgentLifecycle(t *testing.T) {
	var a Agent
	events, err := a.Create("a1", AgentSpec{Name: "Ada"}, "u1")
	if err != nil {
		t.Fatal(err)
	}
	a.Apply(events[0])
	if _, err := a.Create("a1", AgentSpec{Name: "Again"}, "u1"); ErrorCode(err) != CodeConflict {
		t.Fatalf("second create: %v", err)
	}
	same := "Ada"
	if events, err := a.Update(System, AgentPatch{Name: &same}); err != nil || len(events) != 0 {
		t.Fatalf("no-op update recorded %v %v", events, err)
	}
	temp, provider := 1.2, ProviderAnthropic
	events, err = a.Update(System, AgentPatch{Temperature: &temp, Provider: &provider})
	if err != nil {
		t.Fatal(err)
	}
	u := events[0].(*AgentUpdated)
	if u.Model != DefaultModel(ProviderAnthropic) || strings.Join(u.Changed, ",") != "provider,model,personality.temperature" {
		t.Fatalf("update: %+v", u)
	}
	a.Apply(u)
	if a.Version != 2 || a.Spec.Personality.Temperature != 1.2 {
		t.Fatalf("aggregate: %+v", a)
	}
	bad := 5.0
	if _, err := a.Update(System, AgentPatch{Temperature: &bad}); ErrorCode(err) != CodeInvalid {
		t.Fatalf("invalid update: %v", err)
	}
	events, _ = a.Delete(System)
	a.Apply(events[0])
	if _, err := a.Delete(System); ErrorCode(err) != CodeNotFound {
		t.Fatalf("delete twice: %v", err)
	}
	if _, err := a.Update(System, AgentPatch{Name: &same}); ErrorCode(err) != CodeNotFound {
		t.Fatalf("update deleted: %v", err)
	}
}

func TestRegistryUpcastsAndRoundTrips(t *testing.T) {
	v1, _ := json.Marshal(AgentCreatedV1{ID: "a", Name: "Old", Provider: ProviderOllama, Model: "llama3.2", Temperature: 0.9})
	payload, version, err := Events.Upcast(EventAgentCreated, 1, v1)
	if err != nil || version != 2 {
		t.Fatal(version, err)
	}
	var v2 AgentCreated
	if err := json.Unmarshal(payload, &v2); err != nil || v2.Personality.Temperature != 0.9 || v2.Personality.Traits == nil {
		t.Fatalf("%+v %v", v2, err)
	}
	if _, _, err := Events.Upcast(EventAgentCreated, 3, v1); err == nil {
		t.Fatal("a version newer than the build must be refused")
	}
	if p, v, err := Events.Upcast("circle.created", 1, []byte(`{}`)); err != nil || v != 1 || string(p) != `{}` {
		t.Fatal("unknown types must pass through")
	}
	typ, ver, raw, err := Events.Encode(&AgentDeleted{ID: "a"})
	if err != nil || typ != EventAgentDeleted || ver != 1 {
		t.Fatal(typ, ver, err)
	}
	back, err := Events.Decode(typ, ver, raw)
	if err != nil || back.(*AgentDeleted).ID != "a" {
		t.Fatal(back, err)
	}
}

func TestOnlyOwnersAndAdminsChangeAnAgent(t *testing.T) {
	var a Agent
	events, _ := a.Create("a1", AgentSpec{Name: "Mine"}, "alice")
	a.Apply(events[0])
	name := "Theirs"
	if _, err := a.Update(Actor{ID: "bob", Role: RoleMember}, AgentPatch{Name: &name}); ErrorCode(err) != CodeForbidden {
		t.Fatalf("another member: %v", err)
	}
	if _, err := a.Delete(Actor{ID: "bob", Role: RoleMember}); ErrorCode(err) != CodeForbidden {
		t.Fatalf("another member deletes: %v", err)
	}
	if _, err := a.Update(Actor{ID: "alice", Role: RoleMember}, AgentPatch{Name: &name}); err != nil {
		t.Fatalf("owner: %v", err)
	}
	if _, err := a.Update(Actor{ID: "root", Role: RoleAdmin}, AgentPatch{Name: &name}); err != nil {
		t.Fatalf("admin: %v", err)
	}
	var legacy Agent
	events, _ = legacy.Create("a2", AgentSpec{Name: "Old"}, "")
	legacy.Apply(events[0])
	if legacy.AccessibleBy(Actor{ID: "", Role: RoleMember}) {
		t.Fatal("an ownerless agent must be admin-only")
	}
}

func TestEveryPersonaIsAValidAgent(t *testing.T) {
	for _, p := range Personas {
		spec := p.Spec
		spec.Name = p.DisplayName
		if _, err := CreateAgent("id", spec, "u"); err != nil {
			t.Errorf("persona %s: %v", p.ID, err)
		}
	}
	if _, ok := PersonaByID("reviewer"); !ok {
		t.Fatal("reviewer persona missing")
	}
}
