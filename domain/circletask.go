package domain

import (
	"cmp"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A circle task is work a circle takes on: routed to the member who fits it best, claimed or
// refused, submitted, reviewed by another member and approved, sent back for another
// iteration, or rejected and escalated to people. The original kept these in memory and lost
// them on restart; here every step is an event on the task's stream and the circle's feed.
const (
	StreamTypeCircleTask = "circle_task"

	EventCircleTaskCreated          = "circle.task_created"
	EventCircleTaskOffered          = "circle.task_offered"
	EventCircleTaskUnrouted         = "circle.task_unrouted"
	EventCircleTaskClaimed          = "circle.task_claimed"
	EventCircleTaskRefused          = "circle.task_refused"
	EventCircleTaskSubmitted        = "circle.task_submitted"
	EventCircleTaskApproved         = "circle.task_approved"
	EventCircleTaskChangesRequested = "circle.task_changes_requested"
	EventCircleTaskRejected         = "circle.task_rejected"
	EventCircleTaskCompleted        = "circle.task_completed"
	EventCircleTaskCancelled        = "circle.task_cancelled"
	EventCircleEscalationRaised     = "circle.escalation_raised"
	EventCircleFileClaimed          = "circle.file_claimed"
	EventCircleFileReleased         = "circle.file_released"
	EventCircleFileConflict         = "circle.file_conflict"

	MaxTaskTitleLen       = 200
	MaxTaskDescriptionLen = 10000
	MaxTaskResultLen      = 50000
	MaxTaskPathLen        = 500
	DefaultTaskPriority   = 5
	// MaxTaskIterations bounds review rounds: asking for changes once more escalates instead,
	// so a task cannot ping-pong between author and reviewer for ever.
	MaxTaskIterations = 5
	// FullWorkload is the number of open tasks at which a member counts as fully busy.
	FullWorkload = 5
)

// CircleTaskStatus is where a task stands.
type CircleTaskStatus string

const (
	CircleTaskStatusPending    CircleTaskStatus = "pending"     // nobody fits or everyone refused; a person re-routes it
	CircleTaskStatusOffered    CircleTaskStatus = "offered"     // offered to one member, who claims or refuses
	CircleTaskStatusInProgress CircleTaskStatus = "in_progress" // claimed (or sent back with changes)
	CircleTaskStatusInReview   CircleTaskStatus = "in_review"   // submitted, waiting for its reviewer
	CircleTaskStatusCompleted  CircleTaskStatus = "completed"
	CircleTaskStatusBlocked    CircleTaskStatus = "blocked" // rejected and escalated
	CircleTaskStatusCancelled  CircleTaskStatus = "cancelled"
)

// ReviewDecision is a reviewer's verdict.
type ReviewDecision string

const (
	ReviewApprove        ReviewDecision = "approve"
	ReviewRequestChanges ReviewDecision = "request_changes"
	ReviewReject         ReviewDecision = "reject"
)

// CircleTaskStreamID returns the log stream of one circle task.
func CircleTaskStreamID(id string) string { return "circle_task-" + id }

// CircleTaskSpec is what a person asks for.
type CircleTaskSpec struct {
	CircleID             string   `json:"circle_id"`
	ProjectID            string   `json:"project_id,omitempty"`
	Title                string   `json:"title"`
	Description          string   `json:"description"`
	RequiredCompetencies []string `json:"required_competencies"`
	// Priority runs from 1 (most urgent) to 10.
	Priority       int  `json:"priority"`
	RequiresReview bool `json:"requires_review"`
}

// Candidate is a member as routing sees it: what it can do, how busy it is and how its
// reviewed work fared.
type Candidate struct {
	AgentID      string
	Role         MemberRole
	Competencies []string
	// Workload is the member's open tasks (offered or in progress) in every circle.
	Workload int
	// Approved and Reviewed count its reviewed submissions.
	Approved, Reviewed int
}

// RouteScore explains one candidate's score; the offer event records them all, so anyone can
// see afterwards why a task went where it went.
type RouteScore struct {
	AgentID      string  `json:"agent_id"`
	Score        float64 `json:"score"`
	Match        float64 `json:"match"`
	Availability float64 `json:"availability"`
	ApprovalRate float64 `json:"approval_rate"`
}

// RankCandidates orders the members who can take a task, best first. Observers never work and
// a member needs at least one of the required competencies. The score weighs the share of
// required competencies covered (0.5), availability, 1 - workload/FullWorkload (0.3), and the
// approval rate (0.2). The rate is smoothed as (approved+1)/(reviewed+2), so a newcomer starts
// at one half rather than at a perfect or a zero record. Ties go to the lower agent id, so the
// same state always routes the same way.
func RankCandidates(required []string, candidates []Candidate) []RouteScore {
	out := make([]RouteScore, 0, len(candidates))
	for _, c := range candidates {
		if c.Role == "observer" {
			continue
		}
		match := 1.0
		if len(required) > 0 {
			has := map[string]bool{}
			for _, comp := range c.Competencies {
				has[comp] = true
			}
			n := 0
			for _, r := range required {
				if has[r] {
					n++
				}
			}
			if n == 0 {
				continue
			}
			match = float64(n) / float64(len(required))
		}
		avail := max(0, 1-float64(c.Workload)/FullWorkload)
		rate := float64(c.Approved+1) / float64(c.Reviewed+2)
		score := match*0.5 + avail*0.3 + rate*0.2
		out = append(out, RouteScore{AgentID: c.AgentID, Score: round4(score), Match: round4(match), Availability: round4(avail), ApprovalRate: round4(rate)})
	}
	sortRouteScores(out)
	return out
}

func round4(f float64) float64 { return float64(int64(f*10000+0.5)) / 10000 }

func sortRouteScores(s []RouteScore) {
	slices.SortStableFunc(s, func(a, b RouteScore) int {
		switch {
		case a.Score != b.Score:
			return cmp.Compare(b.Score, a.Score)
		case a.Match != b.Match:
			return cmp.Compare(b.Match, a.Match)
		}
		return strings.Compare(a.AgentID, b.AgentID)
	})
}

// ReviewLoad is a possible reviewer with the reviews waiting for it.
type ReviewLoad struct {
	AgentID string
	Role    MemberRole
	Pending int
}

// PickReviewer chooses who reviews author's work: a reviewer or lead if there is one, else any
// other working member, the least loaded first. It returns "" when nobody but the author could,
// and then a person (the circle's owner) reviews.
func PickReviewer(author string, members []ReviewLoad) string {
	best, bestRank, bestPending := "", 3, 0
	for _, m := range members {
		if m.AgentID == author || m.Role == "observer" {
			continue
		}
		rank := 2
		if m.Role == "reviewer" || m.Role == "lead" {
			rank = 1
		}
		if best == "" || rank < bestRank || rank == bestRank && (m.Pending < bestPending || m.Pending == bestPending && m.AgentID < best) {
			best, bestRank, bestPending = m.AgentID, rank, m.Pending
		}
	}
	return best
}

// CircleTask is the aggregate.
type CircleTask struct {
	ID         string
	Owner      string
	Spec       CircleTaskSpec
	Status     CircleTaskStatus
	OfferedTo  string
	AssigneeID string
	ReviewerID string
	Iteration  int
	Refused    map[string]bool
	Result     string
	// Files are the paths the assignee holds; another agent touching one is a conflict.
	Files   map[string]bool
	Version int64
}

// Apply folds one event into the task.
func (t *CircleTask) Apply(e Event) {
	t.Version++
	switch ev := e.(type) {
	case *CircleTaskCreated:
		t.ID, t.Owner, t.Spec, t.Status, t.Iteration = ev.ID, ev.Owner, ev.Spec, CircleTaskStatusPending, 1
		t.Refused, t.Files = map[string]bool{}, map[string]bool{}
	case *CircleTaskOffered:
		t.Status, t.OfferedTo = CircleTaskStatusOffered, ev.AgentID
	case *CircleTaskUnrouted:
		t.Status, t.OfferedTo = CircleTaskStatusPending, ""
	case *CircleTaskClaimed:
		t.Status, t.AssigneeID, t.OfferedTo = CircleTaskStatusInProgress, ev.AgentID, ""
	case *CircleTaskRefused:
		t.Refused[ev.AgentID] = true
		t.Status, t.OfferedTo = CircleTaskStatusPending, ""
	case *CircleTaskSubmitted:
		t.Status, t.Result, t.ReviewerID = CircleTaskStatusInReview, ev.Result, ev.ReviewerID
	case *CircleTaskChangesRequested:
		t.Status, t.Iteration = CircleTaskStatusInProgress, ev.Iteration
	case *CircleTaskRejected:
		t.Status = CircleTaskStatusBlocked
	case *CircleTaskCompleted:
		t.Status = CircleTaskStatusCompleted
	case *CircleTaskCancelled:
		t.Status = CircleTaskStatusCancelled
	case *CircleFileClaimed:
		t.Files[ev.Path] = true
	case *CircleFileReleased:
		delete(t.Files, ev.Path)
	}
}

// Open reports whether work on the task may still happen.
func (t *CircleTask) Open() bool {
	return t.Status != CircleTaskStatusCompleted && t.Status != CircleTaskStatusCancelled
}

// Create decides whether a task may be created with this spec and offers it to the best of
// ranking (RankCandidates over the circle's members).
func (t *CircleTask) Create(actor Actor, id string, s CircleTaskSpec, ranking []RouteScore) ([]Event, error) {
	if t.Version > 0 {
		return nil, Errorf(CodeConflict, "task %s already exists", id)
	}
	s.Title = strings.TrimSpace(s.Title)
	s.Description = strings.TrimSpace(s.Description)
	if s.Priority == 0 {
		s.Priority = DefaultTaskPriority
	}
	var v Validation
	if s.CircleID == "" {
		v.Add("circle", "is required")
	}
	switch n := utf8.RuneCountInString(s.Title); {
	case n == 0:
		v.Add("title", "is required")
	case n > MaxTaskTitleLen:
		v.Add("title", "must be at most %d characters (got %d)", MaxTaskTitleLen, n)
	}
	if n := utf8.RuneCountInString(s.Description); n > MaxTaskDescriptionLen {
		v.Add("description", "must be at most %d characters (got %d)", MaxTaskDescriptionLen, n)
	}
	if s.Priority < 1 || s.Priority > 10 {
		v.Add("priority", "must be between 1 (most urgent) and 10 (got %d)", s.Priority)
	}
	s.RequiredCompetencies = normalizeCompetencies(&v, "required_competencies", s.RequiredCompetencies)
	if err := v.Err(); err != nil {
		return nil, err
	}
	created := &CircleTaskCreated{ID: id, Owner: actor.ID, Spec: s}
	return append([]Event{created}, route(ranking, nil, "")...), nil
}

// normalizeCompetencies lowercases, trims and dedupes competencies, reporting bad ones on field.
func normalizeCompetencies(v *Validation, field string, comps []string) []string {
	if len(comps) > MaxCompetencies {
		v.Add(field, "at most %d (got %d)", MaxCompetencies, len(comps))
		return nil
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(comps))
	for i, comp := range comps {
		comp = strings.ToLower(strings.TrimSpace(comp))
		if comp == "" || utf8.RuneCountInString(comp) > 40 {
			v.Add(field+"["+strconv.Itoa(i)+"]", "must be 1 to 40 characters")
		} else if !seen[comp] {
			seen[comp] = true
			out = append(out, comp)
		}
	}
	return out
}

// route offers the task to the best candidate not excluded, or records that nobody fits.
func route(ranking []RouteScore, exclude map[string]bool, also string) []Event {
	var left []RouteScore
	for _, r := range ranking {
		if !exclude[r.AgentID] && r.AgentID != also {
			left = append(left, r)
		}
	}
	if len(left) == 0 {
		reason := "no member has any of the required competencies"
		if len(ranking) > 0 {
			reason = "every member who fits has refused it"
		}
		return []Event{&CircleTaskUnrouted{Reason: reason}}
	}
	return []Event{&CircleTaskOffered{AgentID: left[0].AgentID, Scores: left}}
}

func (t *CircleTask) authorize(actor Actor) error {
	if t.Version == 0 {
		return Errorf(CodeNotFound, "task not found")
	}
	if !actor.IsAdmin() && actor.ID != t.Owner {
		return Errorf(CodeForbidden, "only the circle's owner or an admin may act on its tasks")
	}
	return nil
}

func (t *CircleTask) requireStatus(want ...CircleTaskStatus) error {
	for _, s := range want {
		if t.Status == s {
			return nil
		}
	}
	return Errorf(CodeConflict, "the task is %s", t.Status)
}

// requireHolder checks that the task is in status and that agentID is the agent it is with
// (offered to or assigned to) in that status.
func (t *CircleTask) requireHolder(status CircleTaskStatus, holder, agentID string) error {
	if err := t.requireStatus(status); err != nil {
		return err
	}
	if agentID != holder {
		return Errorf(CodeConflict, "the task is with %s, not %s", holder, agentID)
	}
	return nil
}

// Route offers the task again, to agentID if given (a person's choice, which must be in the
// ranking: a working member) or to the best candidate. Refusals are forgotten on a manual
// re-route only for the agent named.
func (t *CircleTask) Route(actor Actor, agentID string, ranking []RouteScore) ([]Event, error) {
	if err := t.authorize(actor); err != nil {
		return nil, err
	}
	if err := t.requireStatus(CircleTaskStatusPending, CircleTaskStatusOffered, CircleTaskStatusBlocked); err != nil {
		return nil, err
	}
	if agentID == "" {
		return route(ranking, t.Refused, ""), nil
	}
	for _, r := range ranking {
		if r.AgentID == agentID {
			return []Event{&CircleTaskOffered{AgentID: agentID, Scores: []RouteScore{r}, Manual: true}}, nil
		}
	}
	return nil, &Error{Code: CodeInvalid, Message: "agent_id: is not a working member of the circle with a required competency",
		Fields: []FieldError{{Field: "agent_id", Message: "is not a working member of the circle with a required competency"}}}
}

// Claim is agentID taking the task it was offered.
func (t *CircleTask) Claim(actor Actor, agentID string) ([]Event, error) {
	if err := t.authorize(actor); err != nil {
		return nil, err
	}
	if t.Status == CircleTaskStatusInProgress && t.AssigneeID == agentID {
		return nil, nil
	}
	if err := t.requireHolder(CircleTaskStatusOffered, t.OfferedTo, agentID); err != nil {
		return nil, err
	}
	return []Event{&CircleTaskClaimed{AgentID: agentID}}, nil
}

// Refuse is agentID declining its offer; the task goes to the next best candidate who has not
// refused it.
func (t *CircleTask) Refuse(actor Actor, agentID, reason string, ranking []RouteScore) ([]Event, error) {
	if err := t.authorize(actor); err != nil {
		return nil, err
	}
	if err := t.requireHolder(CircleTaskStatusOffered, t.OfferedTo, agentID); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > 2000 {
		return nil, fieldErr("reason", "must be at most 2000 characters")
	}
	return append([]Event{&CircleTaskRefused{AgentID: agentID, Reason: reason}}, route(ranking, t.Refused, agentID)...), nil
}

// Submit hands in the assignee's result: to reviewerID when the task needs review (""
// meaning a person reviews), else it is completed at once.
func (t *CircleTask) Submit(actor Actor, agentID, result, reviewerID string) ([]Event, error) {
	if err := t.authorize(actor); err != nil {
		return nil, err
	}
	if err := t.requireHolder(CircleTaskStatusInProgress, t.AssigneeID, agentID); err != nil {
		return nil, err
	}
	result = strings.TrimSpace(result)
	if n := utf8.RuneCountInString(result); n == 0 || n > MaxTaskResultLen {
		return nil, fieldErr("result", "must be 1 to 50000 characters")
	}
	if !t.Spec.RequiresReview {
		return append([]Event{&CircleTaskSubmitted{AgentID: agentID, Result: result, Iteration: t.Iteration},
			&CircleTaskCompleted{}}, t.releaseAll()...), nil
	}
	return []Event{&CircleTaskSubmitted{AgentID: agentID, Result: result, Iteration: t.Iteration, ReviewerID: reviewerID}}, nil
}

// Review records reviewer's verdict on the submitted work. reviewer is the assigned reviewer
// agent, or "" for a person (the circle's owner) reviewing. Approval completes the task;
// changes send it back for another iteration (past MaxTaskIterations they escalate instead);
// rejection blocks it and raises an escalation to people.
func (t *CircleTask) Review(actor Actor, reviewer string, decision ReviewDecision, comments string) ([]Event, error) {
	if err := t.authorize(actor); err != nil {
		return nil, err
	}
	if err := t.requireStatus(CircleTaskStatusInReview); err != nil {
		return nil, err
	}
	if reviewer != "" && reviewer == t.AssigneeID {
		return nil, fieldErr("reviewer_id", "the author cannot review their own work")
	}
	if t.ReviewerID != "" && reviewer != "" && reviewer != t.ReviewerID {
		return nil, fieldErr("reviewer_id", "the task is assigned to reviewer "+t.ReviewerID)
	}
	comments = strings.TrimSpace(comments)
	if utf8.RuneCountInString(comments) > MaxTaskDescriptionLen {
		return nil, fieldErr("comments", "must be at most 10000 characters")
	}
	by := reviewer
	if by == "" {
		by = "user:" + actor.ID
	}
	switch decision {
	case ReviewApprove:
		return append([]Event{&CircleTaskApproved{ReviewerID: by, AuthorID: t.AssigneeID, Iteration: t.Iteration, Comments: comments},
			&CircleTaskCompleted{}}, t.releaseAll()...), nil
	case ReviewRequestChanges:
		if comments == "" {
			return nil, fieldErr("comments", "say what should change")
		}
		if t.Iteration >= MaxTaskIterations {
			return t.reject(by, comments, "still not accepted after "+strconv.Itoa(t.Iteration)+" iterations"), nil
		}
		return []Event{&CircleTaskChangesRequested{ReviewerID: by, AuthorID: t.AssigneeID, Iteration: t.Iteration + 1, Comments: comments}}, nil
	case ReviewReject:
		if comments == "" {
			return nil, fieldErr("comments", "say why the work is rejected")
		}
		return t.reject(by, comments, "rejected by its reviewer"), nil
	}
	return nil, fieldErr("decision", "must be approve, request_changes or reject")
}

func (t *CircleTask) reject(by, comments, why string) []Event {
	return append([]Event{
		&CircleTaskRejected{ReviewerID: by, AuthorID: t.AssigneeID, Iteration: t.Iteration, Comments: comments},
		&CircleEscalationRaised{Severity: "high", Reason: why, Detail: comments, AgentID: t.AssigneeID},
	}, t.releaseAll()...)
}

// Cancel drops the task.
func (t *CircleTask) Cancel(actor Actor, reason string) ([]Event, error) {
	if err := t.authorize(actor); err != nil {
		return nil, err
	}
	if !t.Open() {
		return nil, Errorf(CodeConflict, "the task is %s", t.Status)
	}
	return append([]Event{&CircleTaskCancelled{Reason: strings.TrimSpace(reason)}}, t.releaseAll()...), nil
}

// CleanTaskPath normalizes a workspace-relative path, so that "src/./a.go" and "src/a.go"
// collide as they should.
func CleanTaskPath(p string) (string, error) {
	p = strings.TrimSpace(strings.ReplaceAll(p, "\\", "/"))
	if p == "" || utf8.RuneCountInString(p) > MaxTaskPathLen || strings.ContainsRune(p, 0) {
		return "", fieldErr("path", "must be 1 to 500 characters")
	}
	if strings.HasPrefix(p, "/") {
		return "", fieldErr("path", "must be relative to the workspace")
	}
	c := path.Clean(p)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", fieldErr("path", "must stay inside the workspace")
	}
	return c, nil
}

// ClaimFile is the assignee declaring it works on path. The caller has checked, in the same
// transaction, that no other task of the circle holds it (FileConflict records when one does).
func (t *CircleTask) ClaimFile(actor Actor, agentID, p string) ([]Event, error) {
	if err := t.authorize(actor); err != nil {
		return nil, err
	}
	if err := t.requireHolder(CircleTaskStatusInProgress, t.AssigneeID, agentID); err != nil {
		return nil, err
	}
	if t.Files[p] {
		return nil, nil
	}
	return []Event{&CircleFileClaimed{AgentID: agentID, Path: p}}, nil
}

// FileConflict records that agentID, working on this task, wanted a path another task holds.
func (t *CircleTask) FileConflict(agentID, p, holderTask, holderAgent string) ([]Event, error) {
	if t.Version == 0 {
		return nil, Errorf(CodeNotFound, "task not found")
	}
	return []Event{&CircleFileConflict{AgentID: agentID, Path: p, HolderTaskID: holderTask, HolderAgentID: holderAgent}}, nil
}

// ReleaseFile frees a path the task holds.
func (t *CircleTask) ReleaseFile(actor Actor, p string) ([]Event, error) {
	if err := t.authorize(actor); err != nil {
		return nil, err
	}
	if !t.Files[p] {
		return nil, Errorf(CodeNotFound, "the task does not hold %s", p)
	}
	return []Event{&CircleFileReleased{AgentID: t.AssigneeID, Path: p}}, nil
}

// releaseAll frees every held path, in a stable order, when the task's work is over.
func (t *CircleTask) releaseAll() []Event {
	paths := make([]string, 0, len(t.Files))
	for p := range t.Files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	out := make([]Event, len(paths))
	for i, p := range paths {
		out[i] = &CircleFileReleased{AgentID: t.AssigneeID, Path: p}
	}
	return out
}

func fieldErr(field, msg string) *Error {
	return &Error{Code: CodeInvalid, Message: field + ": " + msg, Fields: []FieldError{{Field: field, Message: msg}}}
}

type CircleTaskCreated struct {
	ID    string         `json:"id"`
	Owner string         `json:"owner"`
	Spec  CircleTaskSpec `json:"spec"`
}

func (*CircleTaskCreated) EventType() string { return EventCircleTaskCreated }

type CircleTaskOffered struct {
	AgentID string       `json:"agent_id"`
	Scores  []RouteScore `json:"scores"`
	Manual  bool         `json:"manual,omitempty"`
}

func (*CircleTaskOffered) EventType() string { return EventCircleTaskOffered }

type CircleTaskUnrouted struct {
	Reason string `json:"reason"`
}

func (*CircleTaskUnrouted) EventType() string { return EventCircleTaskUnrouted }

type CircleTaskClaimed struct {
	AgentID string `json:"agent_id"`
}

func (*CircleTaskClaimed) EventType() string { return EventCircleTaskClaimed }

type CircleTaskRefused struct {
	AgentID string `json:"agent_id"`
	Reason  string `json:"reason,omitempty"`
}

func (*CircleTaskRefused) EventType() string { return EventCircleTaskRefused }

type CircleTaskSubmitted struct {
	AgentID    string `json:"agent_id"`
	Result     string `json:"result"`
	Iteration  int    `json:"iteration"`
	ReviewerID string `json:"reviewer_id,omitempty"`
}

func (*CircleTaskSubmitted) EventType() string { return EventCircleTaskSubmitted }

type CircleTaskApproved struct {
	ReviewerID string `json:"reviewer_id"`
	AuthorID   string `json:"author_id"`
	Iteration  int    `json:"iteration"`
	Comments   string `json:"comments,omitempty"`
}

func (*CircleTaskApproved) EventType() string { return EventCircleTaskApproved }

type CircleTaskChangesRequested struct {
	ReviewerID string `json:"reviewer_id"`
	AuthorID   string `json:"author_id"`
	// Iteration is the one the author works on now.
	Iteration int    `json:"iteration"`
	Comments  string `json:"comments"`
}

func (*CircleTaskChangesRequested) EventType() string { return EventCircleTaskChangesRequested }

type CircleTaskRejected struct {
	ReviewerID string `json:"reviewer_id"`
	AuthorID   string `json:"author_id"`
	Iteration  int    `json:"iteration"`
	Comments   string `json:"comments"`
}

func (*CircleTaskRejected) EventType() string { return EventCircleTaskRejected }

type CircleTaskCompleted struct{}

func (*CircleTaskCompleted) EventType() string { return EventCircleTaskCompleted }

type CircleTaskCancelled struct {
	Reason string `json:"reason,omitempty"`
}

func (*CircleTaskCancelled) EventType() string { return EventCircleTaskCancelled }

// CircleEscalationRaised asks people to step in.
type CircleEscalationRaised struct {
	Severity string `json:"severity"`
	Reason   string `json:"reason"`
	Detail   string `json:"detail,omitempty"`
	AgentID  string `json:"agent_id,omitempty"`
}

func (*CircleEscalationRaised) EventType() string { return EventCircleEscalationRaised }

type CircleFileClaimed struct {
	AgentID string `json:"agent_id"`
	Path    string `json:"path"`
}

func (*CircleFileClaimed) EventType() string { return EventCircleFileClaimed }

type CircleFileReleased struct {
	AgentID string `json:"agent_id"`
	Path    string `json:"path"`
}

func (*CircleFileReleased) EventType() string { return EventCircleFileReleased }

// CircleFileConflict is two agents wanting the same file; the later one was refused.
type CircleFileConflict struct {
	AgentID       string `json:"agent_id"`
	Path          string `json:"path"`
	HolderTaskID  string `json:"holder_task_id"`
	HolderAgentID string `json:"holder_agent_id"`
}

func (*CircleFileConflict) EventType() string { return EventCircleFileConflict }

func circleTaskEventSpecs() []EventSpec {
	spec := func(t string, f func() Event) EventSpec { return EventSpec{Type: t, Version: 1, New: f} }
	return []EventSpec{
		spec(EventCircleTaskCreated, func() Event { return &CircleTaskCreated{} }),
		spec(EventCircleTaskOffered, func() Event { return &CircleTaskOffered{} }),
		spec(EventCircleTaskUnrouted, func() Event { return &CircleTaskUnrouted{} }),
		spec(EventCircleTaskClaimed, func() Event { return &CircleTaskClaimed{} }),
		spec(EventCircleTaskRefused, func() Event { return &CircleTaskRefused{} }),
		spec(EventCircleTaskSubmitted, func() Event { return &CircleTaskSubmitted{} }),
		spec(EventCircleTaskApproved, func() Event { return &CircleTaskApproved{} }),
		spec(EventCircleTaskChangesRequested, func() Event { return &CircleTaskChangesRequested{} }),
		spec(EventCircleTaskRejected, func() Event { return &CircleTaskRejected{} }),
		spec(EventCircleTaskCompleted, func() Event { return &CircleTaskCompleted{} }),
		spec(EventCircleTaskCancelled, func() Event { return &CircleTaskCancelled{} }),
		spec(EventCircleEscalationRaised, func() Event { return &CircleEscalationRaised{} }),
		spec(EventCircleFileClaimed, func() Event { return &CircleFileClaimed{} }),
		spec(EventCircleFileReleased, func() Event { return &CircleFileReleased{} }),
		spec(EventCircleFileConflict, func() Event { return &CircleFileConflict{} }),
	}
}
