package domain

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A project is a piece of work (usually a code repository) that circles take on: it records what
// the work is built with and how, so the agents of its circles share that context.
const (
	StreamTypeProject = "project"

	EventProjectCreated        = "project.created"
	EventProjectUpdated        = "project.updated"
	EventProjectCircleLinked   = "project.circle_linked"
	EventProjectCircleUnlinked = "project.circle_unlinked"
	EventProjectArchived       = "project.archived"

	MaxProjectDisplayNameLen = 120
	MaxProjectDescriptionLen = 2000
	MaxRepositoryURLLen      = 500
	MaxDefaultBranchLen      = 100
	MaxProjectTags           = 20 // per list: tech_stack, languages, frameworks
	MaxProjectTagLen         = 40
	MaxConventionsLen        = 5000
	MaxProjectCircles        = 50
	DefaultProjectBranch     = "main"
)

// ProjectStatus is a project's lifecycle state.
type ProjectStatus string

const (
	ProjectStatusActive   ProjectStatus = "active"
	ProjectStatusArchived ProjectStatus = "archived"
)

var (
	// projectNamePattern is the circles' rule, for the same reasons: names appear in URLs and
	// in mentions.
	projectNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,62}$`)
	branchPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)
	gitSSHPattern      = regexp.MustCompile(`^git@[A-Za-z0-9][A-Za-z0-9.-]*:[A-Za-z0-9._~/-]+$`)
)

// ProjectStreamID returns the log stream of one project.
func ProjectStreamID(id string) string { return "project-" + id }

// ProjectSpec is everything a person decides about a project.
type ProjectSpec struct {
	Name          string   `json:"name"`
	DisplayName   string   `json:"display_name"`
	Description   string   `json:"description"`
	RepositoryURL string   `json:"repository_url"`
	DefaultBranch string   `json:"default_branch"`
	TechStack     []string `json:"tech_stack"`
	Languages     []string `json:"languages"`
	Frameworks    []string `json:"frameworks"`
	Conventions   string   `json:"conventions"`
}

// ProjectPatch changes some fields of a project; nil means "leave as is".
type ProjectPatch struct {
	Name          *string   `json:"name,omitempty"`
	DisplayName   *string   `json:"display_name,omitempty"`
	Description   *string   `json:"description,omitempty"`
	RepositoryURL *string   `json:"repository_url,omitempty"`
	DefaultBranch *string   `json:"default_branch,omitempty"`
	TechStack     *[]string `json:"tech_stack,omitempty"`
	Languages     *[]string `json:"languages,omitempty"`
	Frameworks    *[]string `json:"frameworks,omitempty"`
	Conventions   *string   `json:"conventions,omitempty"`
}

// Project is the aggregate.
type Project struct {
	ID string
	ProjectSpec
	Owner   string
	Status  ProjectStatus
	Circles map[string]bool // linked circle ids
	Version int64
}

// Apply folds one event into the project.
func (p *Project) Apply(e Event) {
	p.Version++
	switch ev := e.(type) {
	case *ProjectCreated:
		p.ID, p.ProjectSpec, p.Owner, p.Status, p.Circles = ev.ID, ev.ProjectSpec, ev.Owner, ProjectStatusActive, map[string]bool{}
	case *ProjectUpdated:
		p.ProjectSpec = ev.ProjectSpec
	case *ProjectCircleLinked:
		p.Circles[ev.CircleID] = true
	case *ProjectCircleUnlinked:
		delete(p.Circles, ev.CircleID)
	case *ProjectArchived:
		p.Status = ProjectStatusArchived
	}
}

// Create decides whether a project may be founded.
func (p *Project) Create(actor Actor, id string, spec ProjectSpec) ([]Event, error) {
	if p.Version > 0 {
		return nil, Errorf(CodeConflict, "project %s already exists", id)
	}
	spec.Name = strings.ToLower(strings.TrimSpace(spec.Name))
	if strings.TrimSpace(spec.DisplayName) == "" {
		spec.DisplayName = spec.Name
	}
	spec, err := normalizeProjectSpec(spec)
	if err != nil {
		return nil, err
	}
	return []Event{&ProjectCreated{ID: id, Owner: actor.ID, ProjectSpec: spec}}, nil
}

// AccessibleBy reports whether actor may see and change the project: its owner or an admin.
func (p *Project) AccessibleBy(actor Actor) bool { return actor.IsAdmin() || actor.ID == p.Owner }

func (p *Project) authorize(actor Actor) error {
	if p.Version == 0 {
		return Errorf(CodeNotFound, "project not found")
	}
	if !p.AccessibleBy(actor) {
		return Errorf(CodeForbidden, "only the project's owner or an admin may change it")
	}
	if p.Status == ProjectStatusArchived {
		return Errorf(CodeConflict, "the project is archived")
	}
	return nil
}

// Update applies a patch. A patch that changes nothing records nothing.
func (p *Project) Update(actor Actor, patch ProjectPatch) ([]Event, error) {
	if err := p.authorize(actor); err != nil {
		return nil, err
	}
	// The name is claimed once, when the project is created: freeing it on a rename would let
	// another project take it in a transaction the projections may apply first.
	if patch.Name != nil && strings.ToLower(strings.TrimSpace(*patch.Name)) != p.Name {
		var v Validation
		v.Add("name", "cannot be changed")
		return nil, v.Err()
	}
	next := p.ProjectSpec
	set(&next.DisplayName, patch.DisplayName)
	set(&next.Description, patch.Description)
	set(&next.RepositoryURL, patch.RepositoryURL)
	set(&next.DefaultBranch, patch.DefaultBranch)
	set(&next.TechStack, patch.TechStack)
	set(&next.Languages, patch.Languages)
	set(&next.Frameworks, patch.Frameworks)
	set(&next.Conventions, patch.Conventions)
	next, err := normalizeProjectSpec(next)
	if err != nil {
		return nil, err
	}
	changed := diffProjectSpec(p.ProjectSpec, next)
	if len(changed) == 0 {
		return nil, nil
	}
	return []Event{&ProjectUpdated{ID: p.ID, Changed: changed, ProjectSpec: next}}, nil
}

// LinkCircle links a circle (which the caller has checked the actor may use) to the project.
// Linking it again records nothing.
func (p *Project) LinkCircle(actor Actor, circleID string) ([]Event, error) {
	if err := p.authorize(actor); err != nil {
		return nil, err
	}
	if strings.TrimSpace(circleID) == "" {
		var v Validation
		v.Add("circle", "is required")
		return nil, v.Err()
	}
	if p.Circles[circleID] {
		return nil, nil
	}
	if len(p.Circles) >= MaxProjectCircles {
		var v Validation
		v.Add("circle", "the project already has %d circles", MaxProjectCircles)
		return nil, v.Err()
	}
	return []Event{&ProjectCircleLinked{CircleID: circleID}}, nil
}

// UnlinkCircle takes a circle off the project.
func (p *Project) UnlinkCircle(actor Actor, circleID string) ([]Event, error) {
	if err := p.authorize(actor); err != nil {
		return nil, err
	}
	if !p.Circles[circleID] {
		return nil, Errorf(CodeNotFound, "circle %s is not linked to this project", circleID)
	}
	return []Event{&ProjectCircleUnlinked{CircleID: circleID}}, nil
}

// Archive retires the project for good; its history stays in the log.
func (p *Project) Archive(actor Actor) ([]Event, error) {
	if err := p.authorize(actor); err != nil {
		return nil, err
	}
	return []Event{&ProjectArchived{}}, nil
}

// normalizeProjectSpec trims, lowercases and de-duplicates what is stored, and reports every
// rule the result breaks, so that what is validated is what is stored.
func normalizeProjectSpec(s ProjectSpec) (ProjectSpec, error) {
	var v Validation
	s.DisplayName = strings.TrimSpace(s.DisplayName)
	s.Description = strings.TrimSpace(s.Description)
	s.RepositoryURL = strings.TrimSpace(s.RepositoryURL)
	s.DefaultBranch = strings.TrimSpace(s.DefaultBranch)
	s.Conventions = strings.TrimSpace(s.Conventions)
	if s.DefaultBranch == "" {
		s.DefaultBranch = DefaultProjectBranch
	}
	if !projectNamePattern.MatchString(s.Name) {
		v.Add("name", "must be 2 to 63 characters: lowercase letters, digits, - and _, starting with a letter or digit")
	}
	switch n := utf8.RuneCountInString(s.DisplayName); {
	case n > MaxProjectDisplayNameLen:
		v.Add("display_name", "must be at most %d characters (got %d)", MaxProjectDisplayNameLen, n)
	case hasControl(s.DisplayName):
		v.Add("display_name", "must not contain control characters")
	}
	if n := utf8.RuneCountInString(s.Description); n > MaxProjectDescriptionLen {
		v.Add("description", "must be at most %d characters (got %d)", MaxProjectDescriptionLen, n)
	}
	if s.RepositoryURL != "" {
		if n := utf8.RuneCountInString(s.RepositoryURL); n > MaxRepositoryURLLen {
			v.Add("repository_url", "must be at most %d characters (got %d)", MaxRepositoryURLLen, n)
		} else if msg := checkRepositoryURL(s.RepositoryURL); msg != "" {
			v.Add("repository_url", "%s", msg)
		}
	}
	if n := len(s.DefaultBranch); n > MaxDefaultBranchLen {
		v.Add("default_branch", "must be at most %d characters (got %d)", MaxDefaultBranchLen, n)
	} else if !validBranch(s.DefaultBranch) {
		v.Add("default_branch", "must be a git branch name (letters, digits and . _ / -, no .. or //)")
	}
	s.TechStack = normalizeTags(&v, "tech_stack", s.TechStack)
	s.Languages = normalizeTags(&v, "languages", s.Languages)
	s.Frameworks = normalizeTags(&v, "frameworks", s.Frameworks)
	if n := utf8.RuneCountInString(s.Conventions); n > MaxConventionsLen {
		v.Add("conventions", "must be at most %d characters (got %d)", MaxConventionsLen, n)
	}
	return s, v.Err()
}

// normalizeTags lowercases and de-duplicates a list; errors name the item's index as given.
func normalizeTags(v *Validation, field string, tags []string) []string {
	if len(tags) > MaxProjectTags {
		v.Add(field, "at most %d (got %d)", MaxProjectTags, len(tags))
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(tags))
	for i, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if n := utf8.RuneCountInString(t); n == 0 || n > MaxProjectTagLen || hasControl(t) {
			v.Add(field+"["+strconv.Itoa(i)+"]", "must be 1 to %d characters", MaxProjectTagLen)
		} else if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// checkRepositoryURL returns why raw is not a repository address, or "".
func checkRepositoryURL(raw string) string {
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "must not contain spaces or control characters"
	}
	if strings.HasPrefix(raw, "git@") {
		if !gitSSHPattern.MatchString(raw) {
			return "must look like git@host:owner/repo.git"
		}
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an http(s) URL or a git@host:path address"
	}
	// The log keeps payloads forever: a token written into a URL could never be taken back.
	if u.User != nil {
		return "must not carry credentials"
	}
	return ""
}

func validBranch(b string) bool {
	return branchPattern.MatchString(b) && !strings.Contains(b, "..") && !strings.Contains(b, "//") &&
		!strings.Contains(b, "/.") && !strings.HasSuffix(b, "/") && !strings.HasSuffix(b, ".") && !strings.HasSuffix(b, ".lock")
}

func diffProjectSpec(a, b ProjectSpec) []string {
	var changed []string
	add := func(cond bool, name string) {
		if cond {
			changed = append(changed, name)
		}
	}
	add(a.DisplayName != b.DisplayName, "display_name")
	add(a.Description != b.Description, "description")
	add(a.RepositoryURL != b.RepositoryURL, "repository_url")
	add(a.DefaultBranch != b.DefaultBranch, "default_branch")
	add(!equalStrings(a.TechStack, b.TechStack), "tech_stack")
	add(!equalStrings(a.Languages, b.Languages), "languages")
	add(!equalStrings(a.Frameworks, b.Frameworks), "frameworks")
	add(a.Conventions != b.Conventions, "conventions")
	return changed
}

type ProjectCreated struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
	ProjectSpec
}

func (*ProjectCreated) EventType() string { return EventProjectCreated }

// ProjectUpdated carries the project's whole new spec plus the fields that changed, so that a
// projection needs no earlier event to apply it and an auditor sees what moved.
type ProjectUpdated struct {
	ID      string   `json:"id"`
	Changed []string `json:"changed"`
	ProjectSpec
}

func (*ProjectUpdated) EventType() string { return EventProjectUpdated }

type ProjectCircleLinked struct {
	CircleID string `json:"circle_id"`
}

func (*ProjectCircleLinked) EventType() string { return EventProjectCircleLinked }

type ProjectCircleUnlinked struct {
	CircleID string `json:"circle_id"`
}

func (*ProjectCircleUnlinked) EventType() string { return EventProjectCircleUnlinked }

type ProjectArchived struct{}

func (*ProjectArchived) EventType() string { return EventProjectArchived }

func projectEventSpecs() []EventSpec {
	spec := func(t string, f func() Event) EventSpec { return EventSpec{Type: t, Version: 1, New: f} }
	return []EventSpec{
		spec(EventProjectCreated, func() Event { return &ProjectCreated{} }),
		spec(EventProjectUpdated, func() Event { return &ProjectUpdated{} }),
		spec(EventProjectCircleLinked, func() Event { return &ProjectCircleLinked{} }),
		spec(EventProjectCircleUnlinked, func() Event { return &ProjectCircleUnlinked{} }),
		spec(EventProjectArchived, func() Event { return &ProjectArchived{} }),
	}
}
