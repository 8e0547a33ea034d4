package cli

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

func TestConfigFileRefusedWhenReadableByOthersWithSecret(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ert.json")
	if err := os.WriteFile(p, []byte(`{"user":"u","password":"hunter2-secret"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := loadConfigFile(p)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("want refusal naming chmod 600, got %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks the secret: %v", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := loadConfigFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got["user"] != "u" || got["password"] != "hunter2-secret" {
		t.Fatalf("got %v", got)
	}
}

func TestConfigFileWithoutSecretMayBeReadable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ert.json")
	os.WriteFile(p, []byte(`{"region":"eu-west-1","port":443,"hotstandby":true}`), 0o644)
	got, err := loadConfigFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got["region"] != "eu-west-1" || got["port"] != "443" || got["hotstandby"] != "true" {
		t.Fatalf("got %v", got)
	}
}

func TestConfigFileMalformed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ert.json")
	os.WriteFile(p, []byte(`{"user":`), 0o600)
	if _, err := loadConfigFile(p); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Fatalf("want a clear error, got %v", err)
	}
}

func TestCredentialPrecedenceFlagEnvFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ert.json")
	os.WriteFile(p, []byte(`{"user":"file-user","password":"file-pass","clientid":"file-client"}`), 0o600)
	env := &Env{
		Getenv: func(k string) string {
			if k == "ERT_PASSWORD" {
				return "env-pass"
			}
			return ""
		},
		Log:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Args: []string{"stream", "--user", "flag-user"},
	}
	c := connFlags{User: "flag-user", Config: p, Region: "us-east-1"}
	if err := c.complete(env); err != nil {
		t.Fatal(err)
	}
	if c.User != "flag-user" || c.Password != "env-pass" || c.ClientID != "file-client" {
		t.Fatalf("precedence wrong: user=%q password=%q clientid=%q", c.User, c.Password, c.ClientID)
	}
	if c.Region != "us-east-1" {
		t.Fatalf("region default lost: %q", c.Region)
	}
}

func TestSecretOnCommandLineWarns(t *testing.T) {
	var logs bytes.Buffer
	env := &Env{Getenv: func(string) string { return "" }, Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Args: []string{"stream", "--password=s3cr3t-value", "--clientsecret", "other-s3cr3t"}}
	c := connFlags{Password: "s3cr3t-value", ClientSecret: "other-s3cr3t"}
	if err := c.complete(env); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "--password") || !strings.Contains(out, "--clientsecret") {
		t.Fatalf("no warning for secrets on argv: %s", out)
	}
	if strings.Contains(out, "s3cr3t") {
		t.Fatalf("warning leaks the secret: %s", out)
	}
}

func TestAuthKindAndTokenURL(t *testing.T) {
	cases := []struct {
		c    connFlags
		kind authKind
		url  string
	}{
		{connFlags{User: "u", Password: "p"}, authV1Password, defaultAuthURLV1},
		{connFlags{ClientID: "c", ClientSecret: "s"}, authV2Secret, defaultAuthURLV2},
		{connFlags{ClientID: "c", JWKFile: "k.json"}, authV2JWT, defaultAuthURLV2},
		{connFlags{User: "u", AuthHostname: "auth.example", AuthPort: 8443}, authV1Password, "https://auth.example:8443/auth/oauth2/v1/token"},
		{connFlags{ClientSecret: "s", AuthHostname: "::1", AuthPort: 443}, authV2Secret, "https://[::1]:443/auth/oauth2/v2/token"},
		{connFlags{User: "u", AuthURL: "https://x/t"}, authV1Password, "https://x/t"},
	}
	for _, tc := range cases {
		if got := tc.c.authKind(); got != tc.kind {
			t.Errorf("%+v: kind %v, want %v", tc.c, got, tc.kind)
		}
		if got := tc.c.tokenURL(); got != tc.url {
			t.Errorf("%+v: url %q, want %q", tc.c, got, tc.url)
		}
	}
}

func TestViewSpec(t *testing.T) {
	f := itemFlags{View: "BID, ASK"}
	n, fids, err := f.viewSpec()
	if err != nil || len(n) != 2 || n[1] != "ASK" || fids != nil {
		t.Fatalf("names: %v %v %v", n, fids, err)
	}
	f.View = "22,25"
	n, fids, err = f.viewSpec()
	if err != nil || n != nil || len(fids) != 2 || fids[0] != 22 {
		t.Fatalf("fids: %v %v %v", n, fids, err)
	}
	f.View = "BID,25"
	if _, _, err = f.viewSpec(); exitCode(err) != ExitUsage {
		t.Fatalf("mixed view: want usage error, got %v", err)
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:0", "[::1]:8080", "localhost:1", "127.3.4.5:9"} {
		if err := checkLoopback(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"0.0.0.0:1", ":80", "10.0.0.1:1", "example.com:1", "nonsense"} {
		if err := checkLoopback(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestBoardRender(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s := newBoardStore([]string{"BID", "ASK"}, func() time.Time { return now })
	s.add("TRI.N")
	s.add("BAD.RIC")
	refresh := trjson.Msg{Type: trjson.TypeRefresh, HasState: true, State: trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk},
		Fields: []trjson.Field{trjson.Float("BID", 39.7), trjson.Float("ASK", 39.72), trjson.Int("ACVOL_1", 5)}}
	s.apply("TRI.N", &refresh)
	for i := 0; i < 8; i++ {
		now = now.Add(500 * time.Millisecond)
		up := trjson.Msg{Type: trjson.TypeUpdate, Fields: []trjson.Field{trjson.Float("BID", 39.71+float64(i)/100)}}
		s.apply("TRI.N", &up)
	}
	closed := trjson.Msg{Type: trjson.TypeStatus, HasState: true, State: trjson.State{Stream: trjson.StreamClosed, Data: trjson.DataSuspect, Text: "**The record could not be found"}}
	s.apply("BAD.RIC", &closed)
	out := s.render(false)
	for _, want := range []string{"RIC", "BID", "ASK", "STATE", "UPD/S", "TRI.N", "39.78", "39.72", "Open/Ok", "BAD.RIC", "Closed/Suspect", "BAD.RIC: **The record could not be found"} {
		if !strings.Contains(out, want) {
			t.Errorf("board lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ACVOL_1") {
		t.Errorf("board shows a field that is not a column:\n%s", out)
	}
	// Updates at +0.5 s … +4.0 s; the rate counts the 4 full seconds before
	// now (+0 … +3.999): 7 updates, 1.75 per second.
	if !strings.Contains(out, "1.8") {
		t.Errorf("rate not 1.75/s:\n%s", out)
	}
}

func TestPrinters(t *testing.T) {
	m := trjson.Msg{Type: trjson.TypeUpdate, HasSeqNumber: true, SeqNumber: 7,
		Fields: []trjson.Field{trjson.Float("BID", 1.5), trjson.String("QUOTIM", "12:00:01")},
		Raw:    trjson.Raw("{\"ID\":2,\n \"Type\":\"Update\"}")}
	var b bytes.Buffer
	p := newPrinter("jsonl", &b, nil)
	p.Print("X", &m)
	p.Close()
	if b.String() != `{"ID":2,"Type":"Update"}`+"\n" {
		t.Fatalf("jsonl: %q", b.String())
	}
	b.Reset()
	p = newPrinter("csv", &b, []string{"BID", "ASK"})
	p.Print("X", &m)
	p.Close()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || lines[0] != "received,ric,type,seq,state,BID,ASK" || !strings.HasSuffix(lines[1], ",X,Update,7,,1.5,") {
		t.Fatalf("csv wide: %q", b.String())
	}
	b.Reset()
	p = newPrinter("csv", &b, nil)
	p.Print("X", &m)
	p.Close()
	lines = strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[2], ",X,Update,7,,QUOTIM,12:00:01") {
		t.Fatalf("csv long: %q", b.String())
	}
	b.Reset()
	p = newPrinter("pretty", &b, nil)
	p.Print("X", &m)
	p.Close()
	if !strings.Contains(b.String(), "\n  \"Type\": \"Update\"") {
		t.Fatalf("pretty: %q", b.String())
	}
}
