package httpapi

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/memory"
)

type rememberInput struct {
	Content    string     `json:"content"`
	Scope      string     `json:"scope"`
	ScopeID    string     `json:"scope_id"`
	AgentID    string     `json:"agent_id"`
	Tags       []string   `json:"tags"`
	Importance float64    `json:"importance"`
	ExpiresAt  *time.Time `json:"expires_at"`
}

type recallInput struct {
	Query     string   `json:"query"`
	AgentID   string   `json:"agent_id"`
	Mode      string   `json:"mode"`
	Scopes    []string `json:"scopes"`
	ScopeID   string   `json:"scope_id"`
	Kinds     []string `json:"kinds"`
	Tags      []string `json:"tags"`
	Limit     int      `json:"limit"`
	Threshold *float64 `json:"threshold"`
}

type knowledgeInput struct {
	Title   string `json:"title"`
	Format  string `json:"format"`
	Scope   string `json:"scope"`
	ScopeID string `json:"scope_id"`
	Content string `json:"content"`
}

func (s *Server) remember(c *fiber.Ctx) error {
	var in rememberInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Scope == "" {
		in.Scope = "agent"
		if in.AgentID == "" {
			in.Scope = "global"
		}
	}
	id := uuid.NewString()
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.Remember{Envelope: envelope(c), MemoryID: id, Spec: domain.MemorySpec{
		Scope: in.Scope, ScopeID: in.ScopeID, AgentID: in.AgentID, Content: in.Content, Tags: in.Tags, Importance: in.Importance,
		ExpiresAt: in.ExpiresAt}})
	if err != nil {
		return err
	}
	if err := s.waitFor(c, "memory", res); err != nil {
		return err
	}
	item, err := s.deps.MemoryItems.Get(c.UserContext(), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/memory/"+id)
	// The vector is computed by a job; until it is recorded the memory is found by its words.
	return c.Status(http.StatusCreated).JSON(fiber.Map{"memory": item, "embedding": embeddingState(item)})
}

func embeddingState(item memory.Item) string {
	if item.Model == "" {
		return "pending"
	}
	return "done"
}

// visibleItem returns an item the caller owns (an admin: any).
func (s *Server) visibleItem(c *fiber.Ctx) (memory.Item, error) {
	item, err := s.deps.MemoryItems.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return item, err
	}
	if p, _ := principal(c); !p.Actor().IsAdmin() && item.Owner != p.UserID {
		return item, domain.Errorf(domain.CodeNotFound, "memory %s not found", c.Params("id"))
	}
	return item, nil
}

func (s *Server) getMemory(c *fiber.Ctx) error {
	item, err := s.visibleItem(c)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"memory": item, "embedding": embeddingState(item)})
}

func (s *Server) forget(c *fiber.Ctx) error {
	if _, err := uuid.Parse(c.Params("id")); err != nil {
		return domain.Errorf(domain.CodeNotFound, "memory %s not found", c.Params("id"))
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.Forget{Envelope: envelope(c), MemoryID: c.Params("id"), Reason: c.Query("reason")})
	if err != nil {
		return err
	}
	if err := s.waitFor(c, "memory", res); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// recall searches what the caller (or one of its agents) may see.
func (s *Server) recall(kinds []string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var in recallInput
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		p, _ := principal(c)
		q := memory.Query{Owner: p.UserID, Text: strings.TrimSpace(in.Query), Mode: in.Mode, Scopes: in.Scopes, ScopeID: in.ScopeID,
			Kinds: in.Kinds, Tags: in.Tags, Limit: in.Limit, Threshold: 0, Now: time.Now()}
		if kinds != nil {
			q.Kinds = kinds
		}
		if q.Mode == "" {
			q.Mode = memory.ModeHybrid
		}
		if in.Threshold != nil {
			q.Threshold = *in.Threshold
		}
		if q.Text == "" {
			return invalid("query", "is required")
		}
		if in.AgentID != "" {
			// Recall as that agent: the search sees what the agent may see, and the caller
			// must be allowed to use the agent.
			a, err := s.deps.Agents.Get(c.UserContext(), in.AgentID)
			if domain.ErrorCode(err) == domain.CodeNotFound {
				return invalid("agent_id", "no such agent")
			}
			if err != nil {
				return err
			}
			if !p.Actor().IsAdmin() && a.CreatedBy != p.UserID {
				return domain.Errorf(domain.CodeForbidden, "this agent is not yours")
			}
			q.AgentID = in.AgentID
		}
		if q.Mode != memory.ModeText {
			vecs, err := s.deps.Embeddings.Embed(c.UserContext(), []string{q.Text})
			if err != nil {
				return err
			}
			q.Vector, q.Model = vecs[0], s.deps.Embeddings.Model()
		}
		hits, err := s.deps.MemorySearch.Search(c.UserContext(), q)
		if err != nil {
			return err
		}
		if hits == nil {
			hits = []memory.Hit{} // nothing found is an empty list, not null
		}
		return c.JSON(fiber.Map{"items": hits, "mode": q.Mode, "path": s.deps.MemorySearch.Path(), "model": s.deps.Embeddings.Model()})
	}
}

func (s *Server) memoryStats(c *fiber.Ctx) error {
	owner := ""
	if p, _ := principal(c); !p.Actor().IsAdmin() {
		owner = p.UserID
	}
	counts, err := s.deps.MemoryItems.Counts(c.UserContext(), owner)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"counts": counts, "search_path": s.deps.MemorySearch.Path(), "embeddings": s.deps.Embeddings.Stats()})
}

// addKnowledge takes a document as JSON or as a multipart upload (field "file", plus title,
// format, scope, scope_id); the format defaults from the file's extension.
func (s *Server) addKnowledge(c *fiber.Ctx) error {
	var in knowledgeInput
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm) {
		fh, err := c.FormFile("file")
		if err != nil {
			return invalid("file", "a file is required")
		}
		if fh.Size > domain.MaxKnowledgeBytes {
			return invalid("file", "must be at most 2 MiB")
		}
		f, err := fh.Open()
		if err != nil {
			return err
		}
		defer f.Close()
		body, err := io.ReadAll(io.LimitReader(f, domain.MaxKnowledgeBytes+1))
		if err != nil {
			return err
		}
		in = knowledgeInput{Title: c.FormValue("title"), Format: c.FormValue("format"), Scope: c.FormValue("scope"),
			ScopeID: c.FormValue("scope_id"), Content: string(body)}
		if in.Title == "" {
			in.Title = fh.Filename
		}
		if in.Format == "" {
			switch strings.ToLower(filepath.Ext(fh.Filename)) {
			case ".md", ".markdown":
				in.Format = "markdown"
			case ".txt", ".text":
				in.Format = "text"
			case ".csv":
				in.Format = "csv"
			default:
				return invalid("file", "must be a .md, .markdown, .txt or .csv file (or give format)")
			}
		}
	} else if err := decodeJSON(c, &in); err != nil {
		return err
	}
	id := uuid.NewString()
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.AddKnowledge{Envelope: envelope(c), DocumentID: id, Spec: domain.KnowledgeSpec{
		Title: in.Title, Format: in.Format, Scope: in.Scope, ScopeID: in.ScopeID, Content: in.Content}})
	if err != nil {
		return err
	}
	if err := s.waitFor(c, "memory", res); err != nil {
		return err
	}
	d, err := s.deps.MemoryItems.Document(c.UserContext(), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/knowledge/"+id)
	return c.Status(http.StatusCreated).JSON(d)
}

func (s *Server) listKnowledge(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	owner := ""
	if p, _ := principal(c); !p.Actor().IsAdmin() {
		owner = p.UserID
	}
	docs, err := s.deps.MemoryItems.Documents(c.UserContext(), owner, c.Query("scope"), limit)
	if err != nil {
		return err
	}
	if docs == nil {
		docs = []memory.Document{}
	}
	return c.JSON(fiber.Map{"items": docs})
}

func (s *Server) removeKnowledge(c *fiber.Ctx) error {
	if _, err := uuid.Parse(c.Params("id")); err != nil {
		return domain.Errorf(domain.CodeNotFound, "document %s not found", c.Params("id"))
	}
	res, err := s.deps.Bus.Send(c.UserContext(), &commands.RemoveKnowledge{Envelope: envelope(c), DocumentID: c.Params("id")})
	if err != nil {
		return err
	}
	if err := s.waitFor(c, "memory", res); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}
