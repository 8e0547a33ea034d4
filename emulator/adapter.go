package emulator

import (
	"encoding/base64"

	"github.com/ertkit/ertkit/internal/market"
	"github.com/ertkit/ertkit/server"
	"github.com/ertkit/ertkit/trjson"
)

// The streaming endpoints see the market and the dictionary through small
// interfaces (server.Universe, server.Dictionary); these adapters connect
// the real packages.

type universe struct{ u *market.Universe }

func (a universe) Lookup(name string) (server.Instrument, bool) {
	in, ok := a.u.Lookup(name)
	if !ok {
		return nil, false
	}
	return instrument{in}, true
}

func (a universe) Chain(name string) ([]string, bool) { return a.u.Chain(name) }

// Curve serves the Yield Curve items (server.CurveUniverse).
func (a universe) Curve(name string) (server.Instrument, bool) {
	c, ok := a.u.Curve(name)
	if !ok {
		return nil, false
	}
	return curve{c}, true
}

// curve is a Yield Curve item: a FieldList, no Map domains.
type curve struct{ *market.Curve }

func (curve) BookImage(trjson.Domain) (*trjson.Map, int64, bool) { return nil, 0, false }
func (curve) BookTick(trjson.Domain) (*trjson.Map, int64, bool)  { return nil, 0, false }

// instrument is comparable (one pointer): the hub keys items by it.
type instrument struct{ *market.Instrument }

func (i instrument) BookImage(d trjson.Domain) (*trjson.Map, int64, bool) {
	m, seq := i.Instrument.BookImage(d)
	return m, seq, m != nil
}

func (i instrument) BookTick(d trjson.Domain) (*trjson.Map, int64, bool) {
	m, seq := i.Instrument.BookTick(d)
	return m, seq, m != nil
}

// PermData derives a stable permission expression from PROD_PERM: the
// emulator has no DACS, clients only need an opaque base64 value.
func (i instrument) PermData() string {
	fields, _ := i.Image(nil)
	var perm int64
	for _, f := range fields {
		if f.Name == "PROD_PERM" {
			perm, _ = f.AsInt()
		}
	}
	return base64.StdEncoding.EncodeToString([]byte{0x03, 0x01, byte(perm >> 8), byte(perm), 0xC0})
}
