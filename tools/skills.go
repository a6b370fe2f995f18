package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/gathering/gathering/sandbox"
	"github.com/gathering/gathering/workspace"
)

// Skills are tools that act in the calling agent's own workspace (<WorkspacesDir>/agents/<id>):
// files, git, code execution and an allowlisted shell. Each declares the permissions it needs;
// an agent has a skill only when its spec grants it by name, and every call is checked against
// the skill's JSON Schema before it runs (Registry.Call) and recorded by the chat that made it.
// Every path goes through package workspace (pathsafe and os.Root), code runs in package
// sandbox (own uid and namespaces, kernel limits, no network unless the instance allows it).

// Permissions a skill may need.
const (
	PermRead    = "read"
	PermWrite   = "write"
	PermExecute = "execute"
	PermNetwork = "network"
	PermGit     = "git"
)

type callerKey struct{}

// Caller is the agent a tool call is made for.
type Caller struct {
	AgentID string
}

// WithCaller tells the tools which agent calls them (the chat turn sets it).
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerOf(ctx context.Context) (Caller, error) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	if !ok || c.AgentID == "" {
		return Caller{}, errors.New("this skill works in an agent's workspace, and no agent is calling")
	}
	return c, nil
}

// SkillOptions configure the skills.
type SkillOptions struct {
	// WorkspacesDir holds the agents' workspaces (under agents/); empty leaves the skills out.
	WorkspacesDir string
	// Sandbox runs code; nil leaves run_code and shell out.
	Sandbox *sandbox.Sandbox
	// CodeNetwork lets executed code reach the network (off by default).
	CodeNetwork bool
	// HTTP is the client of the network skills (web_fetch, notify); nil means the guarded client
	// that refuses private and internal addresses.
	HTTP *http.Client
	// SandboxGID is the sandbox's group (sandbox.Config.GID; 0 means its default), which is
	// given access to the workspace code runs in.
	SandboxGID uint32
}

// agentWorkspace opens (creating it on first use) the calling agent's workspace.
func agentWorkspace(ctx context.Context, dir string) (*workspace.Workspace, error) {
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(c.AgentID) {
		return nil, fmt.Errorf("agent id %q is not a uuid", c.AgentID)
	}
	return workspace.Create(filepath.Join(dir, "agents", c.AgentID))
}

type toolError struct{ msg string }

func (e *toolError) Error() string { return e.msg }

func out(v any) (json.RawMessage, error) { return json.Marshal(v) }

// RegisterSkills adds the skills to r.
func RegisterSkills(r *Registry, o SkillOptions) error {
	client := o.HTTP
	if client == nil {
		client = GuardedClient(15*time.Second, false)
	}
	skills := []Tool{webFetchTool(client), notifyTool(client)}
	if o.WorkspacesDir != "" {
		skills = append(skills, workspaceSkills(o)...)
	}
	for _, s := range skills {
		if err := r.Register(s); err != nil {
			return err
		}
	}
	return nil
}

// workspaceSkills act in the calling agent's workspace.
func workspaceSkills(o SkillOptions) []Tool {
	dir := o.WorkspacesDir
	skills := []Tool{
		{Name: "fs_list", Permissions: []string{PermRead},
			Description: "Lists the files and folders of a folder in your workspace (path relative to it; \".\" for its top).",
			Schema: json.RawMessage(`{"type":"object","additionalProperties":false,"properties":{
				"path":{"type":"string","maxLength":1000},"depth":{"type":"integer","minimum":1,"maximum":8}}}`),
			Run: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
				var a struct {
					Path  string `json:"path"`
					Depth int    `json:"depth"`
				}
				_ = json.Unmarshal(args, &a)
				ws, err := agentWorkspace(ctx, dir)
				if err != nil {
					return nil, err
				}
				if a.Path == "" {
					a.Path = "."
				}
				if a.Depth == 0 {
					a.Depth = 2
				}
				entries, truncated, err := ws.Tree(a.Path, a.Depth, 500)
				if err != nil {
					return nil, err
				}
				return out(map[string]any{"entries": entries, "truncated": truncated})
			}},
		{Name: "fs_read", Permissions: []string{PermRead},
			Description: "Reads a text file of your workspace (at most 64 KiB from offset).",
			Schema: json.RawMessage(`{"type":"object","additionalProperties":false,"required":["path"],"properties":{
				"path":{"type":"string","minLength":1,"maxLength":1000},"offset":{"type":"integer","minimum":0}}}`),
			Run: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
				var a struct {
					Path   string `json:"path"`
					Offset int64  `json:"offset"`
				}
				_ = json.Unmarshal(args, &a)
				ws, err := agentWorkspace(ctx, dir)
				if err != nil {
					return nil, err
				}
				data, entry, err := ws.Read(a.Path, a.Offset, 64<<10)
				if err != nil {
					return nil, err
				}
				if entry.Binary {
					return nil, &toolError{msg: fmt.Sprintf("%s is a binary file (%d bytes)", entry.Path, entry.Size)}
				}
				return out(map[string]any{"path": entry.Path, "size": entry.Size, "offset": a.Offset, "content": string(data)})
			}},
		{Name: "fs_write", Permissions: []string{PermWrite},
			Description: "Writes a text file in your workspace, replacing it if it exists (parent folders are created).",
			Schema: json.RawMessage(`{"type":"object","additionalProperties":false,"required":["path","content"],"properties":{
				"path":{"type":"string","minLength":1,"maxLength":1000},"content":{"type":"string","maxLength":1048576}}}`),
			Run: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
				var a struct {
					Path    string `json:"path"`
					Content string `json:"content"`
				}
				_ = json.Unmarshal(args, &a)
				ws, err := agentWorkspace(ctx, dir)
				if err != nil {
					return nil, err
				}
				entry, hash, err := ws.Write(a.Path, strings.NewReader(a.Content), 1<<20, "")
				if err != nil {
					return nil, err
				}
				return out(map[string]any{"path": entry.Path, "size": entry.Size, "sha256": hash})
			}},
		{Name: "fs_search", Permissions: []string{PermRead},
			Description: "Finds the lines of your workspace's files that contain a text (case-insensitive).",
			Schema: json.RawMessage(`{"type":"object","additionalProperties":false,"required":["query"],"properties":{
				"query":{"type":"string","minLength":1,"maxLength":200},"glob":{"type":"string","maxLength":200}}}`),
			Run: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
				var a struct {
					Query string `json:"query"`
					Glob  string `json:"glob"`
				}
				_ = json.Unmarshal(args, &a)
				ws, err := agentWorkspace(ctx, dir)
				if err != nil {
					return nil, err
				}
				matches, truncated, err := ws.Search(ctx, ".", a.Query, a.Glob, 100)
				if err != nil {
					return nil, err
				}
				return out(map[string]any{"matches": matches, "truncated": truncated})
			}},
		{Name: "git_status", Permissions: []string{PermGit, PermRead},
			Description: "Shows your workspace repository's branch, the changed files, and the diff of one file or of everything.",
			Schema: json.RawMessage(`{"type":"object","additionalProperties":false,"properties":{
				"diff_path":{"type":"string","maxLength":1000},"with_diff":{"type":"boolean"}}}`),
			Timeout: 40 * time.Second,
			Run: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
				var a struct {
					DiffPath string `json:"diff_path"`
					WithDiff bool   `json:"with_diff"`
				}
				_ = json.Unmarshal(args, &a)
				ws, err := agentWorkspace(ctx, dir)
				if err != nil {
					return nil, err
				}
				st, err := ws.GitStatus(ctx)
				if err != nil {
					return nil, err
				}
				result := map[string]any{"status": st}
				if a.WithDiff || a.DiffPath != "" {
					diff, truncated, err := ws.GitDiff(ctx, a.DiffPath, false)
					if err != nil {
						return nil, err
					}
					result["diff"], result["diff_truncated"] = diff, truncated
				}
				log, err := ws.GitLog(ctx, 5)
				if err == nil {
					result["recent_commits"] = log
				}
				return out(result)
			}},
		{Name: "git_commit", Permissions: []string{PermGit, PermWrite},
			Description: "Commits every change in your workspace with a message (the repository is created on first use).",
			Schema: json.RawMessage(`{"type":"object","additionalProperties":false,"required":["message"],"properties":{
				"message":{"type":"string","minLength":1,"maxLength":5000}}}`),
			Timeout: 40 * time.Second,
			Run: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
				var a struct {
					Message string `json:"message"`
				}
				_ = json.Unmarshal(args, &a)
				ws, err := agentWorkspace(ctx, dir)
				if err != nil {
					return nil, err
				}
				if _, err := ws.GitStatus(ctx); err != nil {
					if err := ws.GitInit(ctx); err != nil {
						return nil, err
					}
				}
				if err := ws.GitStage(ctx, []string{"."}); err != nil {
					return nil, err
				}
				c, _ := callerOf(ctx)
				commit, err := ws.GitCommit(ctx, a.Message, "agent "+c.AgentID, "agent-"+c.AgentID+"@gathering.invalid")
				if err != nil {
					return nil, err
				}
				return out(map[string]any{"commit": commit.Hash, "subject": commit.Subject})
			}},
	}
	if o.Sandbox != nil {
		skills = append(skills, codeSkill(dir, o), shellSkill(dir, o))
	}
	return skills
}

// codeSkill runs a program in the sandbox, in the agent's workspace.
func codeSkill(dir string, o SkillOptions) Tool {
	return Tool{Name: "run_code", Permissions: []string{PermExecute},
		Description: "Runs a short Python, JavaScript or shell program in your workspace, isolated, with limits (5 s of CPU, " +
			"256 MiB, 64 KiB of output, 10 s in all" + map[bool]string{true: ")", false: ", no network)"}[o.CodeNetwork] + ".",
		Schema: json.RawMessage(`{"type":"object","additionalProperties":false,"required":["language","code"],"properties":{
			"language":{"enum":["python","javascript","shell"]},"code":{"type":"string","minLength":1,"maxLength":100000},
			"stdin":{"type":"string","maxLength":100000}}}`),
		Timeout: 30 * time.Second,
		Run: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
			var a struct {
				Language string `json:"language"`
				Code     string `json:"code"`
				Stdin    string `json:"stdin"`
			}
			_ = json.Unmarshal(args, &a)
			return runSandboxed(ctx, dir, o, sandbox.Language(a.Language), a.Code, a.Stdin)
		}}
}

// shellAllowed are the commands the shell skill runs: reading and transforming text, listing
// files. Anything that installs, fetches, escalates or destroys is not among them.
var shellAllowed = map[string]bool{"ls": true, "cat": true, "head": true, "tail": true, "wc": true, "grep": true, "sort": true,
	"uniq": true, "cut": true, "tr": true, "sed": true, "awk": true, "find": true, "echo": true, "printf": true, "date": true,
	"diff": true, "pwd": true, "mkdir": true, "touch": true, "cp": true, "mv": true, "git": true, "python3": true, "node": true,
	"jq": true, "true": true, "false": true, "test": true, "basename": true, "dirname": true, "stat": true, "du": true}

// shellBlocked are patterns refused whatever the command: they leave the workspace, reach the
// network or the system, or hide a command the allowlist would not see.
var shellBlocked = regexp.MustCompile(`(^|[\s;&|(])(sudo|su|curl|wget|nc|ncat|ssh|scp|rm\s+-[a-z]*r[a-z]*\s+/|mkfs|dd|chmod\s+[0-7]*7[0-7]*\s+/|chown|mount|kill|pkill|reboot|shutdown)\b|` +
	"`" + `|\$\(|>\s*/|\.\./|/etc/|/proc/|/sys/|/root|~`)

// shellCheck refuses a command line the shell skill does not run, saying why.
func shellCheck(line string) error {
	if shellBlocked.MatchString(line) {
		return &toolError{msg: "this command is not allowed: it reaches outside your workspace or the system, or runs a forbidden program"}
	}
	for _, part := range regexp.MustCompile(`&&|\|\||[;|]`).Split(line, -1) {
		fields := strings.Fields(part)
		if len(fields) == 0 {
			continue
		}
		if !shellAllowed[fields[0]] {
			return &toolError{msg: fmt.Sprintf("%q is not an allowed command; allowed: ls, cat, grep, sed, awk, find, git, python3, node and other text tools", fields[0])}
		}
	}
	return nil
}

func shellSkill(dir string, o SkillOptions) Tool {
	return Tool{Name: "shell", Permissions: []string{PermExecute},
		Description: "Runs a shell command line in your workspace: allowlisted text and file tools only (ls, cat, grep, sed, awk, find, git, …), isolated and limited.",
		Schema: json.RawMessage(`{"type":"object","additionalProperties":false,"required":["command"],"properties":{
			"command":{"type":"string","minLength":1,"maxLength":4000}}}`),
		Timeout: 30 * time.Second,
		Run: func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
			var a struct {
				Command string `json:"command"`
			}
			_ = json.Unmarshal(args, &a)
			if err := shellCheck(a.Command); err != nil {
				return nil, err
			}
			return runSandboxed(ctx, dir, o, sandbox.Shell, a.Command, "")
		}}
}

func runSandboxed(ctx context.Context, dir string, o SkillOptions, lang sandbox.Language, code, stdin string) (json.RawMessage, error) {
	ws, err := agentWorkspace(ctx, dir)
	if err != nil {
		return nil, err
	}
	if err := sandbox.OpenTo(dir, ws.Root(), o.SandboxGID); err != nil {
		return nil, err
	}
	res, err := o.Sandbox.Run(ctx, sandbox.Request{Language: lang, Code: code, Stdin: stdin, Dir: ws.Root(),
		Limits: sandbox.Limits{Network: o.CodeNetwork}})
	if err != nil {
		return nil, err
	}
	result := map[string]any{"exit_code": res.ExitCode, "stdout": res.Stdout, "stderr": res.Stderr, "truncated": res.Truncated,
		"duration_ms": res.Duration.Milliseconds()}
	if res.Reason != "" {
		result["stopped"] = res.Reason
		return nil, &toolError{msg: fmt.Sprintf("the program was stopped (%s limit); stdout: %q stderr: %q", res.Reason,
			clip(res.Stdout), clip(res.Stderr))}
	}
	return out(result)
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}
