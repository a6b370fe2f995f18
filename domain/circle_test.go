package domain

import "testing"

func TestCircleRules(t *testing.T) {
	owner := Actor{ID: "u1", Role: RoleMember}
	var c Circle
	evs, err := c.Create(owner, "c1", "  Design-Team ", "")
	if err != nil {
		t.Fatal(err)
	}
	c.Apply(evs[0])
	if c.Name != "design-team" || c.Status != CircleStatusCreated {
		t.Fatalf("%+v", c)
	}
	if _, err := c.Start(owner); ErrorCode(err) != CodeConflict {
		t.Fatalf("start without members: %v", err)
	}
	if _, err := c.AddMember(Actor{ID: "u2", Role: RoleMember}, Member{AgentID: "a1"}); ErrorCode(err) != CodeForbidden {
		t.Fatalf("a stranger adds a member: %v", err)
	}
	evs, err = c.AddMember(owner, Member{AgentID: "a1", Competencies: []string{" Go ", "go", "SQL"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Apply(evs[0])
	if m := c.Members["a1"]; m.Role != "member" || len(m.Competencies) != 2 {
		t.Fatalf("member %+v", m)
	}
	evs, _ = c.Start(owner)
	c.Apply(evs[0])
	if again, err := c.Start(owner); err != nil || len(again) != 0 {
		t.Fatalf("starting a running circle records nothing: %v %v", again, err)
	}
	evs, _ = c.Archive(Actor{ID: "root", Role: RoleAdmin})
	c.Apply(evs[0])
	if _, err := c.RemoveMember(owner, "a1"); ErrorCode(err) != CodeConflict {
		t.Fatalf("change an archived circle: %v", err)
	}
}
