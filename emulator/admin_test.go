package emulator_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ertkit/ertkit/emulator"
)

// TestAdminRefusesBrowserRequests: what a web page could send to the
// admin API on 127.0.0.1 (a form post, a cross-origin fetch, a
// DNS-rebound host name) is refused and injects no fault; the same fault
// posted as the ert CLI posts it is applied.
func TestAdminRefusesBrowserRequests(t *testing.T) {
	emu, hc := start(t, emulator.Config{PlainWS: true})
	in := emu.Info()
	url := in.AdminURL + "faults/gateway"
	host := strings.TrimSuffix(strings.TrimPrefix(in.AdminURL, "http://"), "/admin/")
	body := `{"target":"token_v2","status":503,"count":1}`
	for _, tc := range []struct {
		name   string
		ctype  string
		header map[string]string
		host   string
		want   int
	}{
		{name: "form post (no preflight)", ctype: "application/x-www-form-urlencoded", want: http.StatusUnsupportedMediaType},
		{name: "text/plain post (no preflight)", ctype: "text/plain", want: http.StatusUnsupportedMediaType},
		{name: "no content type", ctype: "", want: http.StatusUnsupportedMediaType},
		{name: "cross-origin fetch", ctype: "application/json", header: map[string]string{"Origin": "https://evil.example"}, want: http.StatusForbidden},
		{name: "other loopback port's page", ctype: "application/json", header: map[string]string{"Origin": "http://127.0.0.1:1"}, want: http.StatusForbidden},
		{name: "Sec-Fetch-Site cross-site", ctype: "application/json", header: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: http.StatusForbidden},
		{name: "DNS rebinding", ctype: "application/json", host: "evil.example:80", want: http.StatusForbidden},
		{name: "the CLI's post", ctype: "application/json", want: http.StatusOK},
		{name: "same origin", ctype: "application/json; charset=utf-8", header: map[string]string{"Origin": "http://" + host}, want: http.StatusOK},
		{name: "localhost", ctype: "application/json", host: "localhost", want: http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tc.want)
			}
		})
	}
	// Only the three accepted posts reached the emulator.
	pending := 0
	for _, f := range emu.State().Gateway.Faults.Status {
		pending += f.Count
	}
	if pending != 3 {
		t.Errorf("%d gateway faults pending, want 3 (the accepted posts only)", pending)
	}
	// Reading the state through a rebound name is refused too.
	req, _ := http.NewRequest(http.MethodGet, in.AdminURL+"state", nil)
	req.Host = "evil.example"
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("state read through a rebound name: %d", resp.StatusCode)
	}
}

// TestAPIIdleTimeout: a keep-alive connection to the API listener that
// sends nothing after its request is closed by the emulator.
func TestAPIIdleTimeout(t *testing.T) {
	emu, _ := start(t, emulator.Config{PlainWS: true, APIIdleTimeout: 200 * time.Millisecond})
	addr := strings.TrimSuffix(strings.TrimPrefix(emu.Info().AdminURL, "http://"), "/admin/")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /admin/state HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Now idle: the server must close within the deadline (EOF), not the
	// deadline expire.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection not closed by the server: %v", err)
	}
}
