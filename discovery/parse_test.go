package discovery

import (
	"errors"
	"testing"
)

func TestParseServices(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		n       int
		skipped int
		ok      bool
	}{
		{"sample", sampleBody, 3, 0, true},
		{"empty list", `{"services":[]}`, 0, 0, true},
		{"port missing → 443", `{"services":[{"endpoint":"h","location":["us-east-1a"]}]}`, 1, 0, true},
		{"port as string skipped", `{"services":[{"endpoint":"h","port":"443","location":["us-east-1a"]}]}`, 0, 1, true},
		{"port fraction skipped", `{"services":[{"endpoint":"h","port":443.5,"location":["us-east-1a"]}]}`, 0, 1, true},
		{"port out of range skipped", `{"services":[{"endpoint":"h","port":70000,"location":["us-east-1a"]}]}`, 0, 1, true},
		{"no location skipped", `{"services":[{"endpoint":"h","port":443,"location":[]}]}`, 0, 1, true},
		{"bad host skipped", `{"services":[{"endpoint":"h/../x","port":443,"location":["us-east-1a"]}]}`, 0, 1, true},
		{"unknown fields ignored", `{"services":[{"endpoint":"h","port":443,"location":["us-east-1a"],"x":1}],"other":true}`, 1, 0, true},
		{"no services", `{}`, 0, 0, false},
		{"services not a list", `{"services":{}}`, 0, 0, false},
		{"location not strings", `{"services":[{"endpoint":"h","port":443,"location":[1]}]}`, 0, 0, false},
		{"trailing data", `{"services":[]} {}`, 0, 0, false},
		{"not JSON", `<html>`, 0, 0, false},
	}
	for _, c := range cases {
		eps, skipped, err := parseServices([]byte(c.body))
		if c.ok != (err == nil) {
			t.Errorf("%s: err = %v", c.name, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrResponse) {
				t.Errorf("%s: %v is not ErrResponse", c.name, err)
			}
			continue
		}
		if len(eps) != c.n || skipped != c.skipped {
			t.Errorf("%s: %d endpoints, %d skipped", c.name, len(eps), skipped)
		}
		for _, e := range eps {
			if e.Port != 443 {
				t.Errorf("%s: port %d", c.name, e.Port)
			}
		}
	}
}

func FuzzParseServices(f *testing.F) {
	for _, s := range []string{
		sampleBody, `{"services":[]}`, `{"services":[{"endpoint":"::1","port":15000,"location":["us-east-1a","us-east-1b"]}]}`,
		`{"services":[{"endpoint":"h","port":"443","location":["x"]}]}`, `{}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		eps, _, err := parseServices(body)
		if err != nil {
			if !errors.Is(err, ErrResponse) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, e := range eps {
			if !validHost(e.Host) || e.Port < 1 || e.Port > 65535 || len(e.Locations) == 0 {
				t.Fatalf("accepted unusable endpoint %+v", e)
			}
			back, err := ParseEndpoint(e.Address())
			if err != nil || back.Port != e.Port {
				t.Fatalf("Address %q does not parse back: %v", e.Address(), err)
			}
		}
		for _, hs := range []bool{false, true} {
			sel, err := Select(eps, "", hs)
			if err == nil && len(sel.Primary) == 0 {
				t.Fatal("selection without primary")
			}
		}
	})
}
