package emulator_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"

	"github.com/ertkit/ertkit/emulator"
)

// A deployed ADS with its authentication server, as LSEG's
// market_price_authentication examples use it: POST /getToken over
// HTTPS, then ws:// with the AuthToken cookie, and the Login Refresh
// arrives on ID -1 without a Login request (spec §5.4).
func Example_adsGetToken() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	emu, err := emulator.Start(ctx, emulator.Config{PlainStream: true, StreamAddrs: []string{"127.0.0.1:0"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emu.Close()
	info := emu.Info()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(info.CAPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()

	resp, err := hc.PostForm(info.GetTokenURL, url.Values{"username": {info.User}, "password": {info.Password}})
	if err != nil {
		fmt.Println(err)
		return
	}
	var auth struct{ Success bool }
	_ = json.NewDecoder(resp.Body).Decode(&auth)
	resp.Body.Close()
	var token string
	for _, c := range resp.Cookies() {
		if c.Name == "AuthToken" {
			token = c.Value
		}
	}
	fmt.Println("success:", auth.Success, "cookie:", token != "")

	ws, _, err := websocket.Dial(ctx, info.Endpoints[0].URL, &websocket.DialOptions{
		Subprotocols: []string{"tr_json2"},
		HTTPHeader:   http.Header{"Cookie": {"AuthToken=" + token + ";AuthPosition=127.0.0.1;applicationId=555;"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.CloseNow()
	_, frame, err := ws.Read(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	var msgs []struct {
		ID     int
		Type   string
		Domain string
		Key    struct{ Name string }
	}
	_ = json.Unmarshal(frame, &msgs)
	fmt.Println(msgs[0].Type, msgs[0].Domain, msgs[0].ID, msgs[0].Key.Name)
	// Output:
	// success: true cookie: true
	// Refresh Login -1 GE-A-00000000-1-0000
}
