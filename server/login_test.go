package server

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/ertkit/ertkit/server/tokens"
)

// Scenario 1: token login OK — Login Refresh as checklist §3.1.
func TestLoginRefreshShape(t *testing.T) {
	e := newEnv(t, Config{}, 1, true)
	c := dial(e, 0)
	got := c.login(e.token(1, time.Minute))
	want := `{"ID":1,"Type":"Refresh","Domain":"Login",
	  "Elements":{"MaxMsgSize":61440,"PingTimeout":30},
	  "Key":{"Name":"GE-A-1","Elements":{
	     "AllowSuspectData":1,"ApplicationId":"256","ApplicationName":"ADS",
	     "AuthenticationErrorCode":0,"AuthenticationErrorText":"Success",
	     "Position":"127.0.0.1/test","ProvidePermissionExpressions":1,"ProvidePermissionProfile":0,
	     "SingleOpen":1,"SupportBatchRequests":7,"SupportEnhancedSymbolList":1,"SupportOMMPost":1,
	     "SupportOptimizedPauseResume":1,"SupportPauseResume":1,"SupportStandby":0,"SupportViewRequests":1}},
	  "State":{"Stream":"Open","Data":"Ok","Text":"Login accepted by host."}}`
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w) {
		t.Fatalf("login refresh\n got %s\nwant %s", mustJSON(got), mustJSON(w))
	}
}

func TestLoginV2NameIsClientID(t *testing.T) {
	e := newEnv(t, Config{}, 1, false)
	c := dial(e, 0)
	if n := obj(c.login(e.token(2, time.Minute)), "Key", "Name"); n != "app" {
		t.Fatalf("Key.Name = %v", n)
	}
}

// Scenario 2: bad / expired / revoked token → Login Status Closed/Suspect
// NotEntitled, then the connection is closed.
func TestLoginRejected(t *testing.T) {
	e := newEnv(t, Config{}, 1, false)
	expired := e.token(1, time.Nanosecond)
	revoked := e.token(1, time.Minute)
	e.store.RevokeAll("test")
	for name, tok := range map[string]string{"unknown": "nope", "expired": expired, "revoked": revoked, "empty": ""} {
		t.Run(name, func(t *testing.T) {
			c := dial(e, 0)
			c.send(`{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"ApplicationId":"256","Position":"p","AuthenticationToken":"` + tok + `"}}}`)
			m := c.next()
			if m["Type"] != "Status" || m["Domain"] != "Login" || obj(m, "State", "Stream") != "Closed" ||
				obj(m, "State", "Data") != "Suspect" || obj(m, "State", "Code") != "NotEntitled" || obj(m, "State", "Text") == "" {
				t.Fatalf("got %s", mustJSON(m))
			}
			c.expectClosed()
		})
	}
}

func TestLoginByNameNeedsADSMode(t *testing.T) {
	e := newEnv(t, Config{}, 1, false)
	c := dial(e, 0)
	c.send(`{"ID":1,"Domain":"Login","Key":{"Name":"user","Elements":{"ApplicationId":"256","Position":"127.0.0.1"}}}`)
	if m := c.next(); obj(m, "State", "Stream") != "Closed" {
		t.Fatalf("got %s", mustJSON(m))
	}

	e2 := newEnv(t, Config{ADSMode: true}, 1, false)
	c2 := dial(e2, 0)
	c2.send(`{"ID":1,"Domain":"Login","Key":{"Name":"user","Elements":{"ApplicationId":"256","Position":"127.0.0.1"}}}`)
	m := c2.next()
	if m["Type"] != "Refresh" || obj(m, "Key", "Name") != "user" || obj(m, "Key", "Elements", "AuthenticationErrorCode") != nil {
		t.Fatalf("got %s", mustJSON(m))
	}
}

// Scenario 3: reissue with Refresh:false → nothing; with Refresh → Login Refresh.
func TestLoginReissue(t *testing.T) {
	e := newEnv(t, Config{}, 1, false)
	c := dial(e, 0)
	c.login(e.token(1, time.Minute))
	c.send(`{"ID":1,"Domain":"Login","Refresh":false,"Key":{"NameType":"AuthnToken","Elements":{"ApplicationId":"256","Position":"p","AuthenticationToken":"` + e.token(1, time.Minute) + `"}}}`)
	if got := c.sync(); len(got) != 0 {
		t.Fatalf("reissue Refresh:false answered: %s", mustJSON(got))
	}
	c.send(`{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"ApplicationId":"256","Position":"p","AuthenticationToken":"` + e.token(1, time.Minute) + `"}}}`)
	if m := c.next(); m["Type"] != "Refresh" || obj(m, "State", "Text") != "Login accepted by host." {
		t.Fatalf("got %s", mustJSON(m))
	}
	// A reissue with a bad token ends the session.
	c.send(`{"ID":1,"Domain":"Login","Refresh":false,"Key":{"NameType":"AuthnToken","Elements":{"AuthenticationToken":"bad"}}}`)
	if m := c.next(); m["Type"] != "Status" || obj(m, "State", "Stream") != "Closed" {
		t.Fatalf("got %s", mustJSON(m))
	}
	c.expectClosed()
}

func TestSecondLoginOtherIDRejected(t *testing.T) {
	e := newEnv(t, Config{}, 1, false)
	c := dial(e, 0)
	c.login(e.token(1, time.Minute))
	c.send(`{"ID":5,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"AuthenticationToken":"x"}}}`)
	if m := c.next(); m["ID"] != 5.0 || obj(m, "State", "Code") != "UsageError" {
		t.Fatalf("got %s", mustJSON(m))
	}
}

// Token expiry: v1 sessions are closed, v2 sessions are not (default policy).
func TestTokenExpiryPolicy(t *testing.T) {
	e := newEnv(t, Config{}, 1, false)
	v2 := dial(e, 0)
	v2.login(e.token(2, 300*time.Millisecond))
	v1 := dial(e, 0)
	v1.login(e.token(1, 300*time.Millisecond))
	m := v1.until(func(m map[string]any) bool { return m["Type"] == "Status" })
	if m["Domain"] != "Login" || obj(m, "State", "Stream") != "Closed" || obj(m, "State", "Code") != "NotEntitled" {
		t.Fatalf("got %s", mustJSON(m))
	}
	v1.expectClosed()
	// The v1 token has expired by now, and so has the v2 one: the v2
	// session is still usable.
	if got := v2.sync(); len(got) != 0 {
		for _, m := range got {
			if m["Type"] != "Ping" {
				t.Fatalf("v2 session got %s", mustJSON(m))
			}
		}
	}
}

func TestTokenExpiryReissueKeepsSession(t *testing.T) {
	e := newEnv(t, Config{CloseV2SessionsAtExpiry: true}, 1, false)
	c := dial(e, 0)
	c.login(e.token(2, 400*time.Millisecond))
	c.send(`{"ID":1,"Domain":"Login","Refresh":false,"Key":{"NameType":"AuthnToken","Elements":{"AuthenticationToken":"` + e.token(2, time.Minute) + `"}}}`)
	c.sync()
	// A second session without a reissue ends; by then the first token has expired.
	d := dial(e, 0)
	d.login(e.token(2, 400*time.Millisecond))
	d.until(func(m map[string]any) bool { return m["Type"] == "Status" })
	d.expectClosed()
	if got := c.sync(); len(got) != 0 {
		t.Fatalf("renewed session got %s", mustJSON(got))
	}
}

// Revocation (exclusive sign-on, RevokeAll) ends the session with the reason.
func TestTokenRevokedEndsSession(t *testing.T) {
	e := newEnv(t, Config{}, 1, false)
	c := dial(e, 0)
	c.login(e.token(1, time.Minute))
	e.store.RevokeAll("revoked by test")
	m := c.until(func(m map[string]any) bool { return m["Type"] == "Status" })
	if obj(m, "State", "Text") != "revoked by test" || obj(m, "State", "Stream") != "Closed" {
		t.Fatalf("got %s", mustJSON(m))
	}
	c.expectClosed()
}

func TestRefuseLogins(t *testing.T) {
	e := newEnv(t, Config{}, 1, false)
	e.hub.RefuseLogins(1)
	c := dial(e, 0)
	c.send(`{"ID":1,"Domain":"Login","Key":{"NameType":"AuthnToken","Elements":{"AuthenticationToken":"` + e.token(1, time.Minute) + `"}}}`)
	if m := c.next(); obj(m, "State", "Text") != "Login rejected. Already pending login." {
		t.Fatalf("got %s", mustJSON(m))
	}
	c.expectClosed()
	dial(e, 0).login(e.token(1, time.Minute))
}

// Scenario 17: cookie login → Login Refresh on ID -1.
func TestCookieLogin(t *testing.T) {
	e := newEnv(t, Config{}, 1, false)
	c, err := dialOpts(e, 0, []string{"tr_json2"}, map[string]string{"Cookie": "AuthToken=" + e.token(1, time.Minute) + ";AuthPosition=10.0.0.1;applicationId=555;"})
	if err != nil {
		t.Fatal(err)
	}
	m := c.next()
	if m["ID"] != -1.0 || m["Type"] != "Refresh" || obj(m, "Key", "Elements", "ApplicationId") != "555" || obj(m, "Key", "Elements", "Position") != "10.0.0.1" {
		t.Fatalf("got %s", mustJSON(m))
	}
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	c.until(isType("Refresh", 2))
	c.send(`{"ID":-1,"Domain":"Login","Type":"Close"}`)
	c.sync()
}

func TestLoginCloseEndsStreams(t *testing.T) {
	e := newEnv(t, Config{Rate: 50}, 1, false)
	c := dial(e, 0)
	c.login(e.token(1, time.Minute))
	c.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	c.until(isType("Update", 2))
	c.send(`{"ID":1,"Domain":"Login","Type":"Close"}`)
	c.sync() // updates queued before the close may still arrive
	c.send(`{"ID":3,"Key":{"Name":"TRI.N"}}`)
	if m := c.until(func(m map[string]any) bool { return m["ID"] == 3.0 }); obj(m, "State", "Code") != "NotOpen" {
		t.Fatalf("got %s", mustJSON(m))
	}
	if got := c.sync(); len(got) != 0 {
		t.Fatalf("stream still open after Login Close: %s", mustJSON(got))
	}
}

// Exclusive sign-on: a client that signed on again itself (LSEG's v1 flow
// at the end of a refresh session) keeps its session by reissuing its
// Login with the new token within the grace; a session left on the old
// token is signed out when the grace ends.
func TestExclusiveSignOnGrace(t *testing.T) {
	e := newEnv(t, Config{ExclusiveSignOnGrace: 300 * time.Millisecond}, 1, false)
	p := tokens.Principal{Version: 1, User: "GE-A-1", ClientID: "app"}
	first := e.store.Issue(p, time.Minute, time.Hour, true).Access
	keeper, victim := dial(e, 0), dial(e, 0)
	keeper.login(first)
	victim.login(first)
	second := e.store.Issue(p, time.Minute, time.Hour, true).Access
	keeper.send(`{"ID":1,"Domain":"Login","Refresh":false,"Key":{"NameType":"AuthnToken","Elements":{"AuthenticationToken":"` + second + `"}}}`)
	keeper.sync()
	m := victim.until(func(m map[string]any) bool { return m["Type"] == "Status" })
	if obj(m, "State", "Stream") != "Closed" || !strings.Contains(obj(m, "State", "Text").(string), "exclusive sign-on") {
		t.Fatalf("victim got %s", mustJSON(m))
	}
	victim.expectClosed()
	// The victim was closed after the grace; the keeper is still logged in.
	if got := keeper.sync(); len(got) != 0 {
		t.Fatalf("keeper got %s", mustJSON(got))
	}
	keeper.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	if m := keeper.until(func(m map[string]any) bool { return m["ID"] == 2.0 }); m["Type"] != "Refresh" {
		t.Fatalf("keeper's item request: %s", mustJSON(m))
	}
}

// A Close frame from the client is answered with a Close frame (RFC 6455
// §5.5.1) before the connection goes.
func TestClientCloseIsAnswered(t *testing.T) {
	e := newEnv(t, Config{}, 1, false)
	c := dial(e, 0)
	c.login(e.token(1, time.Minute))
	if err := ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")))); err != nil {
		t.Fatal(err)
	}
	if code := c.expectClosed(); code != ws.StatusNormalClosure {
		t.Fatalf("close code %d, want 1000", code)
	}
}

// Sessions on an ADS authentication token (/getToken cookie) are not RTO
// sessions: they outlive the token by default, and close at expiry only
// with CloseADSSessionsAtExpiry. A plain v1 session on the same endpoint
// still ends at expiry (the v1 policy is untouched).
func TestADSTokenExpiryPolicy(t *testing.T) {
	adsToken := func(e *env, lifetime time.Duration) string {
		return e.store.Issue(tokens.Principal{Version: 1, User: "user", ADS: true}, lifetime, 0, false).Access
	}
	cookie := func(tok string) map[string]string {
		return map[string]string{"Cookie": "AuthToken=" + tok + ";AuthPosition=10.0.0.1;applicationId=256;"}
	}

	e := newEnv(t, Config{}, 1, false)
	ads, err := dialOpts(e, 0, []string{"tr_json2"}, cookie(adsToken(e, 300*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	if m := ads.next(); m["Type"] != "Refresh" || m["ID"] != -1.0 {
		t.Fatalf("cookie login: %s", mustJSON(m))
	}
	v1 := dial(e, 0)
	v1.login(e.token(1, 300*time.Millisecond))
	// The v1 session ends at expiry; by then the ADS token has expired too.
	v1.until(func(m map[string]any) bool { return m["Type"] == "Status" })
	v1.expectClosed()
	ads.send(`{"ID":2,"Key":{"Name":"TRI.N"}}`)
	if m := ads.until(func(m map[string]any) bool { return m["ID"] == 2.0 || m["Domain"] == "Login" }); m["Type"] != "Refresh" || m["ID"] != 2.0 {
		t.Fatalf("ADS session after token expiry: %s", mustJSON(m))
	}

	e2 := newEnv(t, Config{CloseADSSessionsAtExpiry: true}, 1, false)
	closing, err := dialOpts(e2, 0, []string{"tr_json2"}, cookie(adsToken(e2, 300*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	closing.next()
	m := closing.until(func(m map[string]any) bool { return m["Type"] == "Status" })
	if m["Domain"] != "Login" || obj(m, "State", "Stream") != "Closed" {
		t.Fatalf("got %s", mustJSON(m))
	}
	closing.expectClosed()
}
