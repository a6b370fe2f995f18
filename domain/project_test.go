package domain

import (
	"strings"
	"testing"
)

func TestProjectCreateNormalizesAndValidates(t *testing.T) {
	owner := Actor{ID: "u1", Role: RoleMember}
	var p Project
	evs, err := p.Create(owner, "p1", ProjectSpec{Name: "  GatheRing ", RepositoryURL: " https://github.com/gathering/gathering ",
		TechStack: []string{" Go ", "go", "PostgreSQL"}, Languages: nil})
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(evs[0])
	if p.Name != "gathering" || p.DisplayName != "gathering" || p.DefaultBranch != "main" || p.Owner != "u1" ||
		p.Status != ProjectStatusActive || strings.Join(p.TechStack, ",") != "go,postgresql" || p.Languages == nil {
		t.Fatalf("%+v", p)
	}
	if _, err := p.Create(owner, "p1", ProjectSpec{Name: "again"}); ErrorCode(err) != CodeConflict {
		t.Fatalf("create twice: %v", err)
	}

	long := func(n int) string { return strings.Repeat("x", n) }
	tags := make([]string, MaxProjectTags+1)
	for i := range tags {
		tags[i] = "t" + long(i%3)
	}
	for _, c := range []struct {
		spec  ProjectSpec
		field string
	}{
		{ProjectSpec{Name: "x"}, "name"},
		{ProjectSpec{Name: "has space"}, "name"},
		{ProjectSpec{Name: "-dash"}, "name"},
		{ProjectSpec{Name: "ok", DisplayName: long(121)}, "display_name"},
		{ProjectSpec{Name: "ok", DisplayName: "a\x00b"}, "display_name"},
		{ProjectSpec{Name: "ok", Description: long(2001)}, "description"},
		{ProjectSpec{Name: "ok", RepositoryURL: "ftp://example.com/x"}, "repository_url"},
		{ProjectSpec{Name: "ok", RepositoryURL: "https://"}, "repository_url"},
		{ProjectSpec{Name: "ok", RepositoryURL: "https://user:token@github.com/x/y"}, "repository_url"},
		{ProjectSpec{Name: "ok", RepositoryURL: "git@github.com"}, "repository_url"},
		{ProjectSpec{Name: "ok", RepositoryURL: "https://example.com/" + long(500)}, "repository_url"},
		{ProjectSpec{Name: "ok", DefaultBranch: "feature..x"}, "default_branch"},
		{ProjectSpec{Name: "ok", DefaultBranch: "main.lock"}, "default_branch"},
		{ProjectSpec{Name: "ok", DefaultBranch: "-x"}, "default_branch"},
		{ProjectSpec{Name: "ok", DefaultBranch: "a b"}, "default_branch"},
		{ProjectSpec{Name: "ok", DefaultBranch: long(101)}, "default_branch"},
		{ProjectSpec{Name: "ok", TechStack: tags}, "tech_stack"},
		{ProjectSpec{Name: "ok", Languages: []string{"go", " "}}, "languages[1]"},
		{ProjectSpec{Name: "ok", Frameworks: []string{long(41)}}, "frameworks[0]"},
		{ProjectSpec{Name: "ok", Conventions: long(5001)}, "conventions"},
	} {
		var fresh Project
		_, err := fresh.Create(owner, "p2", c.spec)
		if ErrorCode(err) != CodeInvalid || len(fieldsOf(err)) != 1 || fieldsOf(err)[0] != c.field {
			t.Errorf("%+v: %v, want field %s", c.spec, err, c.field)
		}
	}
	var fresh Project
	_, err = fresh.Create(owner, "p3", ProjectSpec{Name: "x", DefaultBranch: "..", Languages: []string{""}})
	if got := strings.Join(fieldsOf(err), ","); got != "name,default_branch,languages[0]" {
		t.Fatalf("every broken rule is reported: %s", got)
	}
	for _, ok := range []string{"https://github.com/a/b.git", "http://git.local:8080/x", "git@github.com:gathering/gathering.git"} {
		var q Project
		if _, err := q.Create(owner, "p4", ProjectSpec{Name: "ok", RepositoryURL: ok, DefaultBranch: "release/v1.2"}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestProjectRules(t *testing.T) {
	owner := Actor{ID: "u1", Role: RoleMember}
	stranger := Actor{ID: "u2", Role: RoleMember}
	admin := Actor{ID: "root", Role: RoleAdmin}
	var p Project
	if _, err := p.Update(owner, ProjectPatch{}); ErrorCode(err) != CodeNotFound {
		t.Fatalf("update before create: %v", err)
	}
	evs, _ := p.Create(owner, "p1", ProjectSpec{Name: "site", Languages: []string{"go"}})
	p.Apply(evs[0])

	desc, langs := "The web site", []string{"Go", "TypeScript"}
	if _, err := p.Update(stranger, ProjectPatch{Description: &desc}); ErrorCode(err) != CodeForbidden {
		t.Fatalf("a stranger updates: %v", err)
	}
	evs, err := p.Update(owner, ProjectPatch{Description: &desc, Languages: &langs})
	if err != nil || len(evs) != 1 {
		t.Fatalf("update: %v %v", evs, err)
	}
	if u := evs[0].(*ProjectUpdated); strings.Join(u.Changed, ",") != "description,languages" || u.Name != "site" {
		t.Fatalf("updated %+v", u)
	}
	p.Apply(evs[0])
	if p.Description != desc || strings.Join(p.Languages, ",") != "go,typescript" || p.Version != 2 {
		t.Fatalf("%+v", p)
	}
	same, sameLangs := " The web site ", []string{"go", "TYPESCRIPT"}
	if evs, err := p.Update(owner, ProjectPatch{Description: &same, Languages: &sameLangs}); err != nil || len(evs) != 0 {
		t.Fatalf("a patch that changes nothing records nothing: %v %v", evs, err)
	}
	name, sameName := "other", "SITE"
	if _, err := p.Update(owner, ProjectPatch{Name: &name}); ErrorCode(err) != CodeInvalid || fieldsOf(err)[0] != "name" {
		t.Fatalf("rename: %v", err)
	}
	if evs, err := p.Update(owner, ProjectPatch{Name: &sameName}); err != nil || len(evs) != 0 {
		t.Fatalf("the same name is no change: %v %v", evs, err)
	}
	bad := "nope://x"
	if _, err := p.Update(admin, ProjectPatch{RepositoryURL: &bad}); ErrorCode(err) != CodeInvalid || fieldsOf(err)[0] != "repository_url" {
		t.Fatalf("bad url: %v", err)
	}

	if _, err := p.LinkCircle(stranger, "c1"); ErrorCode(err) != CodeForbidden {
		t.Fatalf("a stranger links: %v", err)
	}
	evs, _ = p.LinkCircle(owner, "c1")
	p.Apply(evs[0])
	if again, err := p.LinkCircle(owner, "c1"); err != nil || len(again) != 0 {
		t.Fatalf("linking twice records nothing: %v %v", again, err)
	}
	if _, err := p.UnlinkCircle(owner, "c2"); ErrorCode(err) != CodeNotFound {
		t.Fatalf("unlink a circle that is not linked: %v", err)
	}
	evs, _ = p.UnlinkCircle(admin, "c1")
	p.Apply(evs[0])
	if len(p.Circles) != 0 {
		t.Fatalf("circles %v", p.Circles)
	}
	for i := 0; i < MaxProjectCircles; i++ {
		evs, _ := p.LinkCircle(owner, "c"+strings.Repeat("x", i))
		p.Apply(evs[0])
	}
	if _, err := p.LinkCircle(owner, "one-too-many"); ErrorCode(err) != CodeInvalid {
		t.Fatalf("too many circles: %v", err)
	}

	if _, err := p.Archive(stranger); ErrorCode(err) != CodeForbidden {
		t.Fatalf("a stranger archives: %v", err)
	}
	evs, _ = p.Archive(owner)
	p.Apply(evs[0])
	if _, err := p.Update(admin, ProjectPatch{Description: &desc}); ErrorCode(err) != CodeConflict {
		t.Fatalf("change an archived project: %v", err)
	}
	if _, err := p.LinkCircle(owner, "c9"); ErrorCode(err) != CodeConflict {
		t.Fatalf("link to an archived project: %v", err)
	}
	if _, err := p.Archive(owner); ErrorCode(err) != CodeConflict {
		t.Fatalf("archive twice: %v", err)
	}
}

func TestProjectEventsRoundTrip(t *testing.T) {
	in := &ProjectCreated{ID: "p1", Owner: "u1", ProjectSpec: ProjectSpec{Name: "site", DefaultBranch: "main", TechStack: []string{"go"}}}
	typ, version, payload, err := Events.Encode(in)
	if err != nil || typ != EventProjectCreated || version != 1 {
		t.Fatalf("%s v%d %v", typ, version, err)
	}
	if !strings.Contains(string(payload), `"name":"site"`) || !strings.Contains(string(payload), `"owner":"u1"`) {
		t.Fatalf("payload is flat: %s", payload)
	}
	out, err := Events.Decode(typ, version, payload)
	if err != nil || out.(*ProjectCreated).Name != "site" || out.(*ProjectCreated).TechStack[0] != "go" {
		t.Fatalf("%+v %v", out, err)
	}
}
