package httpapi

import (
	"context"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/gathering/gathering/commands"
	"github.com/gathering/gathering/domain"
	"github.com/gathering/gathering/terminal"
)

// DefaultTerminalIdle closes a terminal nobody typed in for this long.
const DefaultTerminalIdle = 15 * time.Minute

type terminalMessage struct {
	Type    string `json:"type"`
	Data    string `json:"data,omitempty"`
	Cols    uint16 `json:"cols,omitempty"`
	Rows    uint16 `json:"rows,omitempty"`
	Code    *int   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// terminalFeed serves a shell in the project's workspace over a WebSocket, to the project's
// owner or an admin only. Messages are JSON: input and resize from the client; output, exit
// and error from the server. Opening and closing are recorded as workspace events (who, when,
// how it ended); what is typed is not.
func (s *Server) terminalFeed() fiber.Handler {
	ws := websocket.New(func(conn *websocket.Conn) {
		root, _ := conn.Locals("terminal_root").(string)
		projectID, _ := conn.Locals("terminal_project").(string)
		env, _ := conn.Locals("terminal_env").(commands.Envelope)
		s.serveTerminal(conn, root, projectID, env)
	}, wsConfig)
	return func(c *fiber.Ctx) error {
		wsp, projectID, err := s.openWorkspace(c)
		if err != nil {
			return err
		}
		c.Locals("terminal_root", wsp.Root())
		c.Locals("terminal_project", projectID)
		p, _ := principal(c)
		env := envelope(c)
		env.Context["by"] = "user:" + p.UserID
		c.Locals("terminal_env", env)
		return ws(c)
	}
}

func (s *Server) serveTerminal(conn *websocket.Conn, root, projectID string, env commands.Envelope) {
	var writeMu sync.Mutex
	send := func(m terminalMessage) bool {
		writeMu.Lock()
		defer writeMu.Unlock()
		_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return conn.WriteJSON(m) == nil
	}
	session, err := terminal.Start(terminal.Config{Base: s.deps.WorkspacesDir, Dir: root})
	if err != nil {
		send(terminalMessage{Type: "error", Message: "the terminal could not start: " + domain.ErrorMessage(err)})
		return
	}
	// The connection is released when this function returns, so both pumps must have stopped
	// by then: closing the shell ends the output pump, closing the socket the input pump.
	var pumps sync.WaitGroup
	defer func() {
		session.Close()
		_ = conn.Close()
		pumps.Wait()
	}()
	id := uuid.NewString()
	record := func(event string, code int) {
		change := domain.WorkspaceChange{Kind: domain.WorkspaceTerminal, Session: id, Event: event, By: env.Context["by"]}
		if event == "closed" {
			change.ExitCode, change.DurationMS = code, session.Duration().Milliseconds()
		}
		e := env
		e.CommandID = uuid.NewString()
		// The request that opened the socket is long over: the record has its own deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := s.deps.Bus.Send(ctx, &commands.RecordWorkspaceChange{Envelope: e, ProjectID: projectID, Change: change}); err != nil {
			s.deps.Logger.Warn().Err(err).Str("project_id", projectID).Msg("terminal session not recorded")
		}
	}
	record("opened", 0)

	idle := s.deps.TerminalIdle
	if idle <= 0 {
		idle = DefaultTerminalIdle
	}
	activity := make(chan struct{}, 1)
	// Output: the shell's bytes, sent as text (split on rune boundaries so JSON stays valid).
	pumps.Add(2)
	go func() {
		defer pumps.Done()
		buf := make([]byte, 16<<10)
		var carry []byte
		for {
			n, err := session.Read(buf)
			if n > 0 {
				data := append(carry, buf[:n]...)
				cut := len(data)
				for cut > 0 && cut > len(data)-utf8.UTFMax && !utf8.Valid(data[:cut]) {
					cut--
				}
				carry = append([]byte(nil), data[cut:]...)
				if !send(terminalMessage{Type: "output", Data: strings.ToValidUTF8(string(data[:cut]), "\uFFFD")}) {
					session.Close()
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	// Input and resize from the client.
	closed := make(chan struct{})
	go func() {
		defer pumps.Done()
		defer close(closed)
		for {
			var m terminalMessage
			if err := conn.ReadJSON(&m); err != nil {
				return
			}
			select {
			case activity <- struct{}{}:
			default:
			}
			switch m.Type {
			case "input":
				_, _ = session.Write([]byte(m.Data))
			case "resize":
				if m.Cols > 0 && m.Rows > 0 && m.Cols <= 1000 && m.Rows <= 1000 {
					_ = session.Resize(m.Cols, m.Rows)
				}
			}
		}
	}()
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		select {
		case <-activity:
			if !timer.Stop() {
				<-timer.C
			}
			timer.Reset(idle)
		case <-timer.C:
			send(terminalMessage{Type: "error", Message: "closed after " + idle.String() + " without input"})
			session.Close()
			<-session.Done()
			code := session.ExitCode()
			record("closed", code) // before the exit message: a client that saw it can read the record
			send(terminalMessage{Type: "exit", Code: &code})
			return
		case <-session.Done():
			time.Sleep(50 * time.Millisecond) // let the last output reach the client first
			code := session.ExitCode()
			record("closed", code)
			send(terminalMessage{Type: "exit", Code: &code})
			return
		case <-closed:
			session.Close()
			record("closed", session.ExitCode())
			return
		}
	}
}
