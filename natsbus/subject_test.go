package natsbus

import (
	"errors"
	"strings"
	"testing"

	"github.com/ertkit/ertkit/trjson"
)

func TestEncodeExamples(t *testing.T) {
	for _, c := range []struct{ ric, token string }{
		{"EUR=", "EUR="},
		{"0#.FTSE", "0_23_2EFTSE"},
		{"TRI.N", "TRI_2EN"},
		{"/TRI.N", "/TRI_2EN"},
		{".DJI", "_2EDJI"},
		{"ESc1", "ESc1"},
		{"A*B>C", "A_2AB_3EC"},
		{"BRK A", "BRK_20A"},
		{"X_Y", "X_5FY"},
		{"é", "_C3_A9"},
	} {
		got, err := Encode(c.ric)
		if err != nil || got != c.token {
			t.Errorf("Encode(%q) = %q, %v; want %q", c.ric, got, err, c.token)
		}
		back, err := Decode(c.token)
		if err != nil || back != c.ric {
			t.Errorf("Decode(%q) = %q, %v; want %q", c.token, back, err, c.ric)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tok := range []string{"", "A.B", "A*", ">", "a b", "_", "_2", "_2e", "_41", "_ZZ", "x_", "\x00", "ab_2EDJI_"} {
		if got, err := Decode(tok); !errors.Is(err, ErrName) {
			t.Errorf("Decode(%q) = %q, %v; want ErrName", tok, got, err)
		}
	}
	if _, err := Encode(""); !errors.Is(err, ErrName) {
		t.Errorf("Encode(\"\") err = %v", err)
	}
}

// validToken reports whether tok is one NATS subject token that is also a
// JetStream key-value key token: printable ASCII, no '.', '*', '>' or
// white space, within [-/_=a-zA-Z0-9].
func validToken(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' {
			return false
		}
		if !(literal(c) || c == '_') {
			return false
		}
	}
	return true
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"EUR=", "0#.FTSE", "TRI.N", "/TRI.N", ".DJI", "ESc1", "a b\tc", "_2E", "*>", "\xff\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Encode(s)
		if s == "" {
			if err == nil {
				t.Fatal("empty name encoded")
			}
			return
		}
		if err != nil {
			t.Fatalf("Encode(%q): %v", s, err)
		}
		if !validToken(tok) {
			t.Fatalf("Encode(%q) = %q: not one valid subject token", s, tok)
		}
		back, err := Decode(tok)
		if err != nil || back != s {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", s, back, err)
		}
	})
}

// FuzzDecode checks that whatever Decode accepts re-encodes to the same
// token (one encoding per name) and that it never panics.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"EUR=", "0_23_2EFTSE", "_41", "_2e", "_", "a.b", "_C3_A9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		name, err := Decode(tok)
		if err != nil {
			return
		}
		again, err := Encode(name)
		if err != nil || again != tok {
			t.Fatalf("Encode(Decode(%q)) = %q, %v", tok, again, err)
		}
	})
}

func TestSubjects(t *testing.T) {
	var s Streams
	k := Key{Service: "ELEKTRON_DD", Domain: trjson.DomainMarketByPrice, Name: "0#.FTSE"}
	us, err := s.UpdateSubject(k)
	if err != nil || us != "ert.ELEKTRON_5FDD.MarketByPrice.0_23_2EFTSE" {
		t.Fatalf("UpdateSubject = %q, %v", us, err)
	}
	ls, _ := s.LastSubject(k)
	if ls != "ert_last.ELEKTRON_5FDD.MarketByPrice.0_23_2EFTSE" {
		t.Fatalf("LastSubject = %q", ls)
	}
	for _, subj := range []string{us, ls} {
		got, err := s.KeyOf(subj)
		if err != nil || got != k {
			t.Errorf("KeyOf(%q) = %v, %v", subj, got, err)
		}
	}
	for _, bad := range []string{"other.A.MarketPrice.X", "ert.A.NoSuchDomain.X", "ert.A.MarketPrice", "ert.A.MarketPrice.X.Y", "ert.A.Login.X", "ert.A.MarketPrice._41"} {
		if _, err := s.KeyOf(bad); !errors.Is(err, ErrName) {
			t.Errorf("KeyOf(%q) err = %v, want ErrName", bad, err)
		}
	}
	for _, k := range []Key{{Service: "", Domain: trjson.DomainMarketPrice, Name: "X"}, {Service: "S", Name: "X"}, {Service: "S", Domain: trjson.DomainMarketPrice}} {
		if _, err := s.UpdateSubject(k); !errors.Is(err, ErrName) {
			t.Errorf("UpdateSubject(%+v) err = %v", k, err)
		}
	}
	for _, p := range []string{"a..b", "a b", "a.*", "x>"} {
		s := Streams{Prefix: p}
		if err := s.defaults(); err == nil || !strings.Contains(err.Error(), "prefix") {
			t.Errorf("prefix %q accepted: %v", p, err)
		}
	}
	s2 := Streams{Prefix: "acme.md-1"}
	if s2.UpdatesStream() != "ACME_MD_1_UPDATES" || s2.LastStream() != "ACME_MD_1_LAST" {
		t.Errorf("stream names %s %s", s2.UpdatesStream(), s2.LastStream())
	}
}
