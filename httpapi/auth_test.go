package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/gathering/gathering/app"
	"github.com/gathering/gathering/auth"
	"github.com/gathering/gathering/ratelimit"
)

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

func TestTokenLifecycle(t *testing.T) {
	s := start(t)
	if r := s.do("GET", "/auth/me", nil); r.status != 200 || r.json(t)["email"] != adminEmail || r.json(t)["role"] != "admin" {
		t.Fatalf("me: %d %s", r.status, r.body)
	}
	if strings.Contains(string(s.do("GET", "/auth/me", nil).body), "password") {
		t.Fatal("the password hash leaked into /auth/me")
	}
	// Forged, tampered, wrongly addressed and expired tokens are all a 401.
	mint := func(claims jwt.MapClaims, key any, method jwt.SigningMethod) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	me := s.do("GET", "/auth/me", nil).json(t)["id"].(string)
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": me, "role": "admin", "iss": auth.Issuer, "aud": auth.Audience, "jti": uuid.NewString(),
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}
	}
	if r := s.do("GET", "/auth/me", nil, bearer(mint(good(), secret, jwt.SigningMethodHS256))...); r.status != 200 {
		t.Fatalf("a well-formed token is refused: %d %s", r.status, r.body)
	}
	cases := map[string]string{
		"wrong key":      mint(good(), []byte("another-secret-another-secret-another"), jwt.SigningMethodHS256),
		"expired":        mint(func() jwt.MapClaims { c := good(); c["exp"] = time.Now().Add(-time.Hour).Unix(); return c }(), secret, jwt.SigningMethodHS256),
		"no expiry":      mint(func() jwt.MapClaims { c := good(); delete(c, "exp"); return c }(), secret, jwt.SigningMethodHS256),
		"wrong issuer":   mint(func() jwt.MapClaims { c := good(); c["iss"] = "evil"; return c }(), secret, jwt.SigningMethodHS256),
		"wrong audience": mint(func() jwt.MapClaims { c := good(); c["aud"] = "other"; return c }(), secret, jwt.SigningMethodHS256),
		"HS512":          mint(good(), secret, jwt.SigningMethodHS512),
		"alg none":       mint(good(), jwt.UnsafeAllowNoneSignatureType, jwt.SigningMethodNone),
		"tampered":       s.token[:len(s.token)-3] + "abc",
		"garbage":        "not-a-token",
	}
	for name, tok := range cases {
		r := s.do("GET", "/auth/me", nil, bearer(tok)...)
		if r.status != 401 || r.header.Get("WWW-Authenticate") == "" || r.json(t)["error"].(map[string]any)["code"] != "unauthorized" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := s.do("GET", "/auth/me", nil, "Authorization", "Basic YTpi"); r.status != 401 {
		t.Errorf("basic auth: %d", r.status)
	}

	// Logout revokes the token and ends its session.
	tokens := s.login(adminEmail, adminPassword)
	access, refresh := tokens["access_token"].(string), tokens["refresh_token"].(string)
	if r := s.do("POST", "/auth/logout", nil, bearer(access)...); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/auth/me", nil, bearer(access)...); r.status != 401 {
		t.Fatalf("token used after logout: %d", r.status)
	}
	if r := s.do("POST", "/auth/refresh", map[string]any{"refresh_token": refresh}, "Authorization", ""); r.status != 401 {
		t.Fatalf("refresh after logout: %d", r.status)
	}
	// Other sessions are untouched.
	if r := s.do("GET", "/auth/me", nil); r.status != 200 {
		t.Fatalf("another session was ended by logout: %d", r.status)
	}
}

func TestRefreshRotatesAndReuseRevokesTheFamily(t *testing.T) {
	s := start(t)
	first := s.login(adminEmail, adminPassword)
	r := s.do("POST", "/auth/refresh", map[string]any{"refresh_token": first["refresh_token"]}, "Authorization", "")
	if r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	second := r.json(t)
	if second["refresh_token"] == first["refresh_token"] || second["access_token"] == first["access_token"] {
		t.Fatal("refresh did not rotate")
	}
	if r := s.do("GET", "/auth/me", nil, bearer(second["access_token"].(string))...); r.status != 200 {
		t.Fatalf("new access token: %d", r.status)
	}
	// The old refresh token comes back: someone copied it. The whole family dies.
	if r := s.do("POST", "/auth/refresh", map[string]any{"refresh_token": first["refresh_token"]}, "Authorization", ""); r.status != 401 {
		t.Fatalf("reuse: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/auth/refresh", map[string]any{"refresh_token": second["refresh_token"]}, "Authorization", ""); r.status != 401 {
		t.Fatalf("the rotated token survived a reuse: %d", r.status)
	}
	if r := s.do("GET", "/auth/me", nil, bearer(second["access_token"].(string))...); r.status != 401 {
		t.Fatalf("an access token of the revoked family still works: %d", r.status)
	}
	if r := s.do("POST", "/auth/refresh", map[string]any{"refresh_token": "made-up"}, "Authorization", ""); r.status != 401 {
		t.Fatalf("unknown refresh token: %d", r.status)
	}
	if r := s.do("POST", "/auth/refresh", map[string]any{}, "Authorization", ""); r.status != 400 {
		t.Fatalf("missing refresh token: %d", r.status)
	}

	// Concurrent use of one refresh token: exactly one wins.
	third := s.login(adminEmail, adminPassword)
	var wg sync.WaitGroup
	statuses := make([]int, 6)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = s.do("POST", "/auth/refresh", map[string]any{"refresh_token": third["refresh_token"]}, "Authorization", "").status
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, st := range statuses {
		if st == 200 {
			ok++
		} else if st != 401 {
			t.Fatalf("concurrent refresh: status %d", st)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent refreshes succeeded, want exactly 1: %v", ok, statuses)
	}
}

func TestDenylistSurvivesRestart(t *testing.T) {
	s := start(t)
	tokens := s.login(adminEmail, adminPassword)
	access := tokens["access_token"].(string)
	if r := s.do("POST", "/auth/logout", nil, bearer(access)...); r.status != 204 {
		t.Fatal(r.status)
	}
	// A second instance on the same database (another server, or this one restarted) has an
	// empty cache and must still refuse the token.
	other := startOn(t, s)
	if r := other.do("GET", "/auth/me", nil, bearer(access)...); r.status != 401 {
		t.Fatalf("revoked token accepted by a fresh instance: %d %s", r.status, r.body)
	}
	if r := other.do("GET", "/auth/me", nil, bearer(s.token)...); r.status != 200 {
		t.Fatalf("a valid token from the first instance is refused by the second: %d", r.status)
	}
}

// startOn starts a second instance on the database of s.
func startOn(t *testing.T, s *server) *server { return startOnWith(t, s) }

func startOnWith(t *testing.T, s *server, opts ...option) *server {
	t.Helper()
	ln, err := newListener()
	if err != nil {
		t.Fatal(err)
	}
	o := app.Options{Logger: zerolog.Nop(), Secret: secret, Limits: unlimited{}}
	for _, opt := range opts {
		opt(&o)
	}
	a, err := app.Start(context.Background(), s.app.DB, ln, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(0, 5*time.Second) })
	return &server{t: t, app: a, base: "http://" + a.Addr(), token: s.token}
}

func TestTokenCheckFailsClosedWhenTheDatabaseIsDown(t *testing.T) {
	s := start(t)
	var dbName string
	_ = s.app.DB.SQL.QueryRow(`SELECT current_database()`).Scan(&dbName)
	admin, err := sqlOpen()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// Cut the database off: no new connections, every existing one killed.
	if _, err := admin.Exec(fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS false`, dbName)); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			_, _ = admin.Exec(fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS true`, dbName))
			restored = true
		}
	}
	defer restore()
	if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, dbName); err != nil {
		t.Fatal(err)
	}
	r := s.do("GET", "/auth/me", nil)
	if r.status != 503 || r.json(t)["error"].(map[string]any)["code"] != "unavailable" {
		t.Fatalf("with the database down a token was not refused: %d %s", r.status, r.body)
	}
	restore()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := s.do("GET", "/auth/me", nil); r.status == 200 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("no recovery after the database came back: %d %s", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// publicRoutes may be called without a token; everything else must answer 401.
var publicRoutes = map[string]bool{
	"GET /health/live": true, "HEAD /health/live": true, "GET /health/ready": true, "HEAD /health/ready": true,
	"POST /auth/login": true, "POST /auth/register": true, "POST /auth/refresh": true,
}

// adminRoutes answer 403 to a member.
var adminRoutes = map[string]bool{
	"GET /users": true, "POST /users": true, "POST /users/:id/role": true,
	"GET /audit": true, "GET /admin/projections": true,
	"GET /events": true,
}

// TestEveryRouteIsProtected walks the router itself, so a route added later without protection
// fails here.
func TestEveryRouteIsProtected(t *testing.T) {
	s := start(t)
	memberToken, _ := s.member("member@example.com")
	routes := s.app.Server.App().GetRoutes(true)
	if len(routes) < 20 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		path := strings.ReplaceAll(rt.Path, ":id", uuid.NewString())
		r := s.do(rt.Method, path, nil, "Authorization", "")
		if publicRoutes[key] {
			if r.status == 401 {
				t.Errorf("%s is public but answered 401", key)
			}
			continue
		}
		if r.status != 401 {
			t.Errorf("%s without a token: %d, want 401", key, r.status)
		}
		if adminRoutes[key] {
			if r := s.do(rt.Method, path, nil, bearer(memberToken)...); r.status != 403 {
				t.Errorf("%s with a member token: %d, want 403", key, r.status)
			}
		}
	}
	for key := range adminRoutes {
		found := false
		for _, rt := range routes {
			found = found || rt.Method+" "+rt.Path == key
		}
		if !found {
			t.Errorf("admin route %s is not registered", key)
		}
	}
	// WebSocket channels: no token is a refused upgrade, and members cannot follow everyone.
	wsURL := "ws" + strings.TrimPrefix(s.base, "http")
	if _, res, err := websocket.DefaultDialer.Dial(wsURL+"/ws?topics=all", nil); err == nil || res.StatusCode != 401 {
		t.Errorf("/ws without a token: %v %v", err, res)
	}
	if _, res, err := websocket.DefaultDialer.Dial(wsURL+"/ws?topics=all&access_token="+memberToken, nil); err == nil || res.StatusCode != 403 {
		t.Errorf("/ws?topics=all as a member: %v %v", err, res)
	}
	// Browsers carry the token in the query or as a subprotocol.
	conn, _, err := websocket.DefaultDialer.Dial(wsURL+"/ws?topics=all&access_token="+url.QueryEscape(s.token), nil)
	if err != nil {
		t.Fatalf("token in the query: %v", err)
	}
	conn.Close()
	d := websocket.Dialer{Subprotocols: []string{"gathering.bearer", s.token}}
	conn, res, err := d.Dial(wsURL+"/ws?topics=all", nil)
	if err != nil || res.Header.Get("Sec-WebSocket-Protocol") != "gathering.bearer" {
		t.Fatalf("token as a subprotocol: %v %v", err, res)
	}
	conn.Close()
}

func TestMembersOnlyReachWhatTheyOwn(t *testing.T) {
	s := start(t)
	aliceToken, aliceID := s.member("alice@example.com")
	bobToken, _ := s.member("bob@example.com")
	r := s.do("POST", "/agents", map[string]any{"name": "Alice's"}, bearer(aliceToken)...)
	if r.status != 201 || r.json(t)["created_by"] != aliceID {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	s.do("POST", "/agents", map[string]any{"name": "Bob's"}, bearer(bobToken)...)

	if r := s.do("GET", "/agents/"+id, nil, bearer(bobToken)...); r.status != 403 {
		t.Fatalf("bob reads alice's agent: %d", r.status)
	}
	if r := s.do("PATCH", "/agents/"+id, map[string]any{"name": "Mine now"}, bearer(bobToken)...); r.status != 403 {
		t.Fatalf("bob changes alice's agent: %d", r.status)
	}
	if r := s.do("DELETE", "/agents/"+id, nil, bearer(bobToken)...); r.status != 403 {
		t.Fatalf("bob deletes alice's agent: %d", r.status)
	}
	list := s.do("GET", "/agents", nil, bearer(bobToken)...).json(t)["items"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "Bob's" {
		t.Fatalf("bob's list: %v", list)
	}
	if r := s.do("GET", "/agents/"+id, nil, bearer(aliceToken)...); r.status != 200 {
		t.Fatalf("alice reads her agent: %d", r.status)
	}
	if all := s.do("GET", "/agents", nil).json(t)["items"].([]any); len(all) != 2 {
		t.Fatalf("admin sees %d agents, want 2", len(all))
	}
	wsURL := "ws" + strings.TrimPrefix(s.base, "http")
	if _, res, err := websocket.DefaultDialer.Dial(wsURL+"/ws/agents/"+id, http.Header{"Authorization": {"Bearer " + bobToken}}); err == nil || res.StatusCode != 403 {
		t.Fatalf("bob follows alice's agent: %v %v", err, res)
	}
	conn, _, err := websocket.DefaultDialer.Dial(wsURL+"/ws?topics=agents:"+id, http.Header{"Authorization": {"Bearer " + aliceToken}})
	if err != nil {
		t.Fatalf("alice follows her agent: %v", err)
	}
	defer conn.Close()
	var hello map[string]any
	_ = conn.ReadJSON(&hello)
	_ = conn.WriteJSON(map[string]any{"action": "subscribe", "topics": []string{"all"}})
	var reply map[string]any
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := conn.ReadJSON(&reply); err != nil || reply["type"] != "error" {
		t.Fatalf("a member subscribing to all: %v %v", reply, err)
	}
}

func TestRegistrationPasswordsAndDeactivation(t *testing.T) {
	s := start(t)
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"email": "not-an-email", "password": "long enough password"}, "email"},
		{map[string]any{"email": "short@example.com", "password": "short"}, "password"},
		{map[string]any{"email": "long@example.com", "password": strings.Repeat("x", 73)}, "password"},
		{map[string]any{"email": "self@example.com", "password": "self@example.com"}, "password"},
		{map[string]any{"email": "boss@example.com", "password": "long enough password", "role": "admin"}, "role"},
	} {
		r := s.do("POST", "/auth/register", c.body, "Authorization", "")
		if r.status != 400 || r.json(t)["error"].(map[string]any)["field"] != c.field {
			t.Errorf("%v: %d %s", c.body, r.status, r.body)
		}
	}
	token, id := s.member("carol@example.com")
	if r := s.do("POST", "/auth/register", map[string]any{"email": "CAROL@example.com", "password": "another password 1"}, "Authorization", ""); r.status != 409 {
		t.Fatalf("duplicate email: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/auth/login", map[string]any{"email": "carol@example.com", "password": "wrong password!!"}, "Authorization", ""); r.status != 401 {
		t.Fatalf("wrong password: %d", r.status)
	}
	if r := s.do("POST", "/auth/login", map[string]any{"email": "nobody@example.com", "password": "whatever password"}, "Authorization", ""); r.status != 401 {
		t.Fatalf("unknown email: %d", r.status)
	}
	// The OAuth2 password form works too.
	form := url.Values{"grant_type": {"password"}, "username": {"carol@example.com"}, "password": {"member password 123"}}
	r := s.do("POST", "/auth/login", form.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Authorization", "")
	if r.status != 200 || r.json(t)["token_type"] != "Bearer" {
		t.Fatalf("form login: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/auth/password", map[string]any{"current_password": "nope nope nope", "new_password": "brand new password"}, bearer(token)...); r.status != 403 {
		t.Fatalf("wrong current password: %d", r.status)
	}
	if r := s.do("POST", "/auth/password", map[string]any{"current_password": "member password 123", "new_password": "brand new password"}, bearer(token)...); r.status != 204 {
		t.Fatalf("change password: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/auth/me", nil, bearer(token)...); r.status != 401 {
		t.Fatalf("sessions survive a password change: %d", r.status)
	}
	newToken := s.login("carol@example.com", "brand new password")["access_token"].(string)
	// A member cannot deactivate someone else; an admin can, and the tokens die at once.
	other, otherID := s.member("dave@example.com")
	if r := s.do("POST", "/users/"+otherID+"/deactivate", nil, bearer(newToken)...); r.status != 403 {
		t.Fatalf("member deactivates another: %d", r.status)
	}
	if r := s.do("POST", "/users/"+id+"/deactivate", map[string]any{"reason": "left"}); r.status != 204 {
		t.Fatalf("admin deactivates: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/auth/me", nil, bearer(newToken)...); r.status != 401 {
		t.Fatalf("a deactivated user's token works: %d", r.status)
	}
	if r := s.do("POST", "/auth/login", map[string]any{"email": "carol@example.com", "password": "brand new password"}, "Authorization", ""); r.status != 403 {
		t.Fatalf("a deactivated user logs in: %d", r.status)
	}
	if r := s.do("POST", "/users/"+otherID+"/role", map[string]any{"role": "admin"}); r.status != 200 || r.json(t)["role"] != "admin" {
		t.Fatalf("role change: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/users", nil, bearer(other)...); r.status != 401 {
		t.Fatalf("a token issued before a role change keeps working: %d", r.status)
	}
	users := s.do("GET", "/users", nil).json(t)["items"].([]any)
	if len(users) != 3 || strings.Contains(fmt.Sprint(users), "$2a$") {
		t.Fatalf("users: %v", users)
	}
}

func TestRegistrationCanBeClosed(t *testing.T) {
	s := start(t, func(o *app.Options) { o.AllowRegistration = false })
	if r := s.do("POST", "/auth/register", map[string]any{"email": "x@example.com", "password": "long enough password"}, "Authorization", ""); r.status != 403 {
		t.Fatalf("closed registration: %d", r.status)
	}
	if r := s.do("POST", "/users", map[string]any{"email": "x@example.com", "password": "long enough password", "role": "admin"}); r.status != 201 || r.json(t)["role"] != "admin" {
		t.Fatalf("admin creates a user: %d %s", r.status, r.body)
	}
}

func TestAuditTrail(t *testing.T) {
	s := start(t)
	s.do("POST", "/auth/login", map[string]any{"email": adminEmail, "password": "wrong password here"}, "Authorization", "", "User-Agent", "audit-test/1.0")
	s.do("POST", "/auth/login", map[string]any{"email": "ghost@example.com", "password": "wrong password here"}, "Authorization", "")
	token, id := s.member("erin@example.com")
	tokens := s.login("erin@example.com", "member password 123")
	s.do("POST", "/auth/refresh", map[string]any{"refresh_token": tokens["refresh_token"]}, "Authorization", "")
	s.do("POST", "/auth/refresh", map[string]any{"refresh_token": tokens["refresh_token"]}, "Authorization", "") // reuse
	s.do("POST", "/auth/password", map[string]any{"current_password": "member password 123", "new_password": "a changed password"}, bearer(token)...)
	t2 := s.login("erin@example.com", "a changed password")["access_token"].(string)
	s.do("POST", "/auth/logout", nil, bearer(t2)...)
	s.do("POST", "/users/"+id+"/deactivate", nil)

	type entry struct {
		Type      string          `json:"type"`
		UserID    string          `json:"user_id"`
		Actor     string          `json:"actor"`
		IP        string          `json:"ip"`
		UserAgent string          `json:"user_agent"`
		RequestID string          `json:"request_id"`
		Details   json.RawMessage `json:"details"`
	}
	var page struct{ Entries []entry }
	deadline := time.Now().Add(5 * time.Second)
	want := []string{"user.registered", "auth.login_succeeded", "auth.token_refreshed", "auth.refresh_reuse_detected",
		"user.password_changed", "auth.logged_out", "user.deactivated"}
	for {
		r := s.do("GET", "/audit?user="+id, nil)
		_ = json.Unmarshal(r.body, &page)
		seen := map[string]bool{}
		for _, e := range page.Entries {
			seen[e.Type] = true
		}
		missing := []string{}
		for _, w := range want {
			if !seen[w] {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit for %s lacks %v: %+v", id, missing, page.Entries)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, e := range page.Entries {
		if e.IP == "" || e.RequestID == "" || e.UserAgent == "" {
			t.Errorf("entry without ip, user agent or request id: %+v", e)
		}
		if bytes.Contains(e.Details, []byte("$2a$")) {
			t.Errorf("a password hash reached the audit trail: %s", e.Details)
		}
	}
	failed := s.do("GET", "/audit?type=auth.login_failed", nil).json(t)["entries"].([]any)
	if len(failed) != 2 {
		t.Fatalf("failed logins: %v", failed)
	}
	reasons := fmt.Sprint(failed)
	if !strings.Contains(reasons, "wrong_password") || !strings.Contains(reasons, "unknown_email") || !strings.Contains(reasons, "audit-test/1.0") {
		t.Fatalf("failed login entries: %s", reasons)
	}
	// The admin's deactivation is an admin action by the admin.
	if r := s.do("GET", "/audit?type=user.deactivated", nil); !strings.Contains(string(r.body), `"actor":"`) {
		t.Fatalf("%s", r.body)
	}
	if r := s.do("GET", "/audit?since=yesterday", nil); r.status != 400 {
		t.Fatalf("bad since: %d", r.status)
	}
	if r := s.do("GET", "/audit?until="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), nil); len(r.json(t)["entries"].([]any)) != 0 {
		t.Fatalf("until filter: %s", r.body)
	}
}

// lockedBuffer collects log output from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestSecretsNeverReachTheLogs(t *testing.T) {
	var logs lockedBuffer
	s := start(t, func(o *app.Options) { o.Logger = zerolog.New(&logs).Level(zerolog.TraceLevel) })
	tokens := s.login(adminEmail, adminPassword)
	s.do("POST", "/auth/login", map[string]any{"email": adminEmail, "password": "a wrong password 42"}, "Authorization", "")
	s.do("POST", "/auth/refresh", map[string]any{"refresh_token": tokens["refresh_token"]}, "Authorization", "")
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.base, "http")+"/ws?topics=all&access_token="+tokens["access_token"].(string), nil)
	if err == nil {
		conn.Close()
	}
	out := logs.String()
	if !strings.Contains(out, `"path":"/auth/login"`) {
		t.Fatalf("the capture saw no login request:\n%s", out)
	}
	for _, secretValue := range []string{adminPassword, "a wrong password 42", tokens["access_token"].(string),
		tokens["refresh_token"].(string), string(secret), adminHash} {
		if strings.Contains(out, secretValue) {
			t.Errorf("a secret reached the logs: %q", secretValue[:8])
		}
	}
}

func TestRateLimitTiers(t *testing.T) {
	s := start(t, func(o *app.Options) { o.Limits = ratelimit.NewMemory(1000) })
	var last response
	for i := 0; i < 6; i++ {
		last = s.do("POST", "/auth/login", map[string]any{"email": "x@example.com", "password": "nope nope nope"}, "Authorization", "")
	}
	// start() already logged in once from this address, so the sixth attempt is over 5/min.
	if last.status != 429 || last.header.Get("Retry-After") == "" || last.header.Get("X-RateLimit-Limit") != "5" ||
		last.header.Get("X-RateLimit-Remaining") != "0" || last.header.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("auth tier: %d %v %s", last.status, last.header, last.body)
	}
	if last.json(t)["error"].(map[string]any)["code"] != "rate_limited" {
		t.Fatalf("%s", last.body)
	}
	// Other tiers are untouched by an exhausted auth tier.
	r := s.do("GET", "/health/live", nil)
	if r.status != 200 || r.header.Get("X-RateLimit-Limit") != "300" {
		t.Fatalf("health tier: %d %v", r.status, r.header)
	}
	r = s.do("GET", "/agents", nil)
	if r.status != 200 || r.header.Get("X-RateLimit-Limit") != "120" {
		t.Fatalf("read tier: %d %v", r.status, r.header)
	}
	for i := 0; i < 30; i++ {
		r = s.do("POST", "/agents", map[string]any{"name": fmt.Sprintf("w%d", i)})
	}
	if r.status != 201 || r.header.Get("X-RateLimit-Limit") != "30" || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("30th write: %d %v", r.status, r.header)
	}
	if r := s.do("POST", "/agents", map[string]any{"name": "one too many"}); r.status != 429 {
		t.Fatalf("31st write: %d", r.status)
	}
}

func TestRateLimitsSharedThroughRedis(t *testing.T) {
	redisURL := "redis://127.0.0.1:6379/0"
	if u := testRedisURL(); u != "" {
		redisURL = u
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v (run scripts/ensure-redis.sh)", redisURL, err)
	}
	prefix := "test:" + uuid.NewString()
	defer func() {
		keys, _ := client.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(context.Background(), keys...)
		}
	}()
	shared := func(o *app.Options) { o.Limits = ratelimit.NewRedis(client, prefix) }
	a := start(t, shared)
	b := startOnWith(t, a, shared)
	// Both instances count the same anonymous client (127.0.0.1) in Redis: a's start() used
	// one auth request; together they admit four more.
	statuses := []int{}
	for i := 0; i < 3; i++ {
		for _, srv := range []*server{a, b} {
			r := srv.do("POST", "/auth/refresh", map[string]any{"refresh_token": "x"}, "Authorization", "")
			statuses = append(statuses, r.status)
		}
	}
	limited := 0
	for _, st := range statuses {
		if st == 429 {
			limited++
		}
	}
	if limited != 2 {
		t.Fatalf("statuses %v: want 4 answered and 2 limited across the two instances", statuses)
	}
}

func TestSecurityHeadersAndCORS(t *testing.T) {
	s := start(t, func(o *app.Options) { o.CORSOrigins = []string{"https://console.example.com"} })
	r := s.do("GET", "/health/live", nil, "Origin", "https://console.example.com")
	h := r.header
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" ||
		h.Get("Referrer-Policy") == "" || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("security headers: %v", h)
	}
	if h.Get("Strict-Transport-Security") != "" {
		t.Fatal("HSTS over plain HTTP")
	}
	if h.Get("Access-Control-Allow-Origin") != "https://console.example.com" {
		t.Fatalf("allowed origin: %v", h)
	}
	if r := s.do("GET", "/health/live", nil, "Origin", "https://evil.example.com"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a foreign origin was allowed: %v", r.header)
	}
	// Over the 3 MiB limit the server answers 413 and closes; a client still sending may see
	// the reset instead. Either way nothing is appended and the server carries on.
	big := strings.Repeat("x", 4<<20)
	req, _ := http.NewRequest("POST", s.base+"/agents", strings.NewReader(`{"name":"`+big+`"}`))
	req.Header.Set("Authorization", "Bearer "+s.token)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		if res.StatusCode != 413 {
			t.Fatalf("oversized body: %d", res.StatusCode)
		}
	} else if !strings.Contains(err.Error(), "reset") && !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("oversized body: %v", err)
	}
	if r := s.do("GET", "/agents", nil); r.status != 200 || len(r.json(t)["items"].([]any)) != 0 {
		t.Fatalf("after an oversized body: %d %s", r.status, r.body)
	}
}
