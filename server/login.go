package server

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/ertkit/ertkit/server/tokens"
	"github.com/ertkit/ertkit/trjson"
)

type tokensEvent = tokens.Event

type tokensPrincipal = tokens.Principal

// loginAttrs are the Login request's Key.Elements the endpoint uses.
type loginAttrs struct {
	appID, position, token string
}

// parseLoginElements reads Key.Elements (cold path: encoding/json),
// unwrapping typed {"Type":…,"Data":…} values.
func parseLoginElements(raw trjson.Raw) loginAttrs {
	var a loginAttrs
	if len(raw) == 0 {
		return a
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return a
	}
	str := func(k string) string {
		v, ok := m[k]
		if !ok {
			return ""
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		var w struct{ Data json.RawMessage }
		if json.Unmarshal(v, &w) == nil && json.Unmarshal(w.Data, &s) == nil {
			return s
		}
		return strings.Trim(string(v), `"`)
	}
	a.appID, a.position, a.token = str("ApplicationId"), str("Position"), str("AuthenticationToken")
	return a
}

func (c *conn) handleLogin(m *trjson.Msg) {
	if c.loggedIn.Load() {
		if m.ID != c.loginID.Load() {
			c.push(out{m: c.loginStatus(m.ID, trjson.StreamClosed, trjson.DataSuspect, trjson.CodeUsageError, "Login already open on stream "+strconv.FormatInt(c.loginID.Load(), 10))})
			return
		}
		c.loginReissue(m)
		return
	}
	if c.h.takeRefusal() {
		c.failLogin(m.ID, trjson.CodeNotEntitled, "Login rejected. Already pending login.")
		return
	}
	a := parseLoginElements(m.Key.Elements)
	switch {
	case m.Key.NameType == "AuthnToken":
		p, exp, err := c.validate(a.token)
		if err != nil {
			c.failLogin(m.ID, trjson.CodeNotEntitled, loginFailText(err))
			return
		}
		c.acceptLogin(m.ID, p.Name(), a, true, m.WantsRefresh(), func() {
			c.h.setToken(c, a.token)
			c.armExpiry(p, exp)
		})
	case c.cfg.ADSMode && m.Key.Name != "":
		if c.cfg.CheckUser != nil {
			if err := c.cfg.CheckUser(m.Key.Name); err != nil {
				c.failLogin(m.ID, trjson.CodeUserUnknownToPermSys, err.Error())
				return
			}
		}
		c.acceptLogin(m.ID, m.Key.Name, a, false, m.WantsRefresh(), nil)
	default:
		c.failLogin(m.ID, trjson.CodeUserUnknownToPermSys, "Login requires Key.NameType \"AuthnToken\" and an AuthenticationToken")
	}
}

func (c *conn) validate(tok string) (tokens.Principal, time.Time, error) {
	if tok == "" {
		return tokens.Principal{}, time.Time{}, errNoToken
	}
	if c.cfg.Store == nil {
		return tokens.Principal{}, time.Time{}, tokens.ErrUnknown
	}
	return c.cfg.Store.Validate(tok)
}

var errNoToken = errors.New("no AuthenticationToken")

func loginFailText(err error) string {
	switch {
	case errors.Is(err, tokens.ErrExpired):
		return "Authentication failed: the access token has expired."
	case errors.Is(err, tokens.ErrRevoked):
		return "Authentication failed: the access token has been revoked."
	case errors.Is(err, errNoToken):
		return "Authentication failed: no AuthenticationToken in the Login request."
	}
	return "Authentication failed: the access token is not valid."
}

// acceptLogin opens the session. register (token bookkeeping) runs after
// the session is marked open and before the refresh goes out, so that a
// revocation right after the client sees the refresh still finds it.
func (c *conn) acceptLogin(id int64, name string, a loginAttrs, tokenLogin, refresh bool, register func()) {
	c.loginName, c.appID, c.position, c.tokenLike = name, a.appID, a.position, tokenLogin
	c.user.Store(&name)
	c.loginID.Store(id)
	c.loggedIn.Store(true)
	if register != nil {
		register()
	}
	c.srv.logins.Add(1)
	if refresh {
		c.push(out{m: c.loginRefresh(id)})
	}
}

func (c *conn) failLogin(id int64, code trjson.StateCode, text string) {
	c.srv.loginFailures.Add(1)
	c.push(out{m: c.loginStatus(id, trjson.StreamClosed, trjson.DataSuspect, code, text)})
	c.reason.CompareAndSwap(nil, ptr(ReasonSessionEnded))
	c.push(out{ctl: ctlClose, code: 1008})
}

// loginReissue handles a Login request on the open Login stream: a new
// token (renewal), pause/resume of everything, optional refresh.
func (c *conn) loginReissue(m *trjson.Msg) {
	if m.Key.NameType == "AuthnToken" {
		a := parseLoginElements(m.Key.Elements)
		p, exp, err := c.validate(a.token)
		if err != nil {
			c.endSessionWith(trjson.CodeNotEntitled, loginFailText(err))
			return
		}
		c.h.setToken(c, a.token)
		c.armExpiry(p, exp)
		if a.position != "" {
			c.position = a.position
		}
	}
	c.pausedAll.Store(m.Pause)
	if m.WantsRefresh() {
		c.push(out{m: c.loginRefresh(m.ID)})
	} else {
		c.push(out{}) // wake an idle load-mode writer
	}
}

// armExpiry schedules the end of the session at token expiry when the
// policy for the token's auth version requires a renewal.
func (c *conn) armExpiry(p tokens.Principal, exp time.Time) {
	gen := c.expGen.Add(1)
	closeAt := sessionEndsAtExpiry(c.cfg, p)
	c.expMu.Lock()
	defer c.expMu.Unlock()
	if c.expTimer != nil {
		c.expTimer.Stop()
		c.expTimer = nil
	}
	if !closeAt || c.isDone() {
		return
	}
	c.expTimer = time.AfterFunc(max(exp.Sub(c.cfg.Now()), 0), func() {
		if c.expGen.Load() == gen {
			c.endSession("Login token expired without renewal.")
		}
	})
}

// endSession closes the Login stream with reason and disconnects (token
// revoked or expired). Safe from any goroutine.
func (c *conn) endSession(reason string) { c.endSessionWith(trjson.CodeNotEntitled, reason) }

func (c *conn) endSessionWith(code trjson.StateCode, reason string) {
	if !c.loggedIn.Load() {
		return
	}
	c.push(out{m: c.loginStatus(c.loginID.Load(), trjson.StreamClosed, trjson.DataSuspect, code, reason)})
	c.reason.CompareAndSwap(nil, ptr(ReasonSessionEnded))
	c.push(out{ctl: ctlClose, code: 1008})
}

// closeLogin handles a Login Close: every stream ends silently; the
// socket stays open.
func (c *conn) closeLogin() {
	for _, s := range c.allSubs() {
		c.closeStream(s.id)
	}
	c.loggedIn.Store(false)
	c.expGen.Add(1)
	c.h.setToken(c, "")
}

func (c *conn) loginStatus(id int64, ss trjson.StreamState, ds trjson.DataState, code trjson.StateCode, text string) *trjson.Msg {
	return &trjson.Msg{Type: trjson.TypeStatus, ID: id, Domain: trjson.DomainLogin,
		State: trjson.State{Stream: ss, Data: ds, Code: code, Text: text}, HasState: true}
}

// loginRefresh builds the Login refresh of §3.1 / §5.3.2.
func (c *conn) loginRefresh(id int64) *trjson.Msg {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var b strings.Builder
	b.WriteString(`{"AllowSuspectData":1,"ApplicationId":`)
	b.WriteString(q(orDefault(c.appID, "256")))
	b.WriteString(`,"ApplicationName":"ADS"`)
	if c.tokenLike {
		b.WriteString(`,"AuthenticationErrorCode":0,"AuthenticationErrorText":"Success"`)
	}
	b.WriteString(`,"Position":`)
	b.WriteString(q(c.position))
	// SupportBatchRequests bits: 0x1 batch request, 0x2 batch reissue,
	// 0x4 batch close; DisableBatch keeps batch close (harmless to serve).
	batch, viewOK := "7", "1"
	if c.cfg.DisableBatch {
		batch = "4"
	}
	if c.cfg.DisableView {
		viewOK = "0"
	}
	b.WriteString(`,"ProvidePermissionExpressions":1,"ProvidePermissionProfile":0,"SingleOpen":1,` +
		`"SupportBatchRequests":` + batch + `,"SupportEnhancedSymbolList":1,"SupportOMMPost":1,` +
		`"SupportOptimizedPauseResume":1,"SupportPauseResume":1,"SupportStandby":0,"SupportViewRequests":` + viewOK + `}`)
	top := `{"MaxMsgSize":` + strconv.Itoa(c.cfg.MaxMsgSize) + `,"PingTimeout":` + strconv.Itoa(max(1, int((c.cfg.PingTimeout+time.Second-1)/time.Second))) + `}`
	return &trjson.Msg{Type: trjson.TypeRefresh, ID: id, Domain: trjson.DomainLogin,
		Elements: trjson.Raw(top),
		Key:      trjson.Key{Name: c.loginName, Elements: trjson.Raw(b.String())}, HasKey: true,
		State: trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk, Text: "Login accepted by host."}, HasState: true}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// cookieLogin is the automatic login of §5.1 from upgrade cookies.
type cookieLogin struct {
	token, position, appID string
}

func (c *conn) cookieLogin() {
	const id = -1
	a := loginAttrs{appID: c.cookie.appID, position: c.cookie.position, token: c.cookie.token}
	p, exp, err := c.validate(a.token)
	// An ADS accepts any cookie token, unless logins are checked
	// (Config.CheckUser: a gateway with an access list).
	if err != nil && !(c.cfg.ADSMode && a.token != "" && c.cfg.CheckUser == nil) {
		c.failLogin(id, trjson.CodeNotEntitled, loginFailText(err))
		return
	}
	name := p.Name()
	if err != nil {
		name = "user"
	}
	c.acceptLogin(id, name, a, true, true, func() {
		if err == nil {
			c.h.setToken(c, a.token)
			c.armExpiry(p, exp)
		}
	})
}
