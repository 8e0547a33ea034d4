package server

import (
	"github.com/ertkit/ertkit/trjson"
)

// Universe is the market data the endpoints serve. The emulator package
// adapts internal/market to it; tests may supply their own.
type Universe interface {
	// Lookup returns the instrument for a name as requested, including a
	// leading "/" (delayed) if present.
	Lookup(name string) (Instrument, bool)
	// Chain returns the constituents of a symbol list (e.g. "0#.DJI").
	Chain(name string) ([]string, bool)
}

// Instrument is one item's data. The Hub serialises every call (one lock
// for the universe), so implementations need not be safe for concurrent
// use. Returned fields must not alias state that later calls change: they
// are shared by every subscriber.
type Instrument interface {
	// Image appends every field of the current image to dst.
	Image(dst []trjson.Field) ([]trjson.Field, int64)
	// Tick advances the instrument by one event and appends the changed
	// fields to dst.
	Tick(dst []trjson.Field) (trjson.UpdateType, []trjson.Field, int64)
	// ApplyPost applies posted fields; it returns the changed fields.
	ApplyPost(fields []trjson.Field) ([]trjson.Field, int64, error)
	// PermData is the item's permission expression (base64).
	PermData() string
	// BookImage and BookTick serve the Map domains MarketByPrice,
	// MarketByOrder and MarketMaker; ok is false when the instrument has
	// no such item (a MarketMaker request for it is then answered "not
	// found").
	BookImage(d trjson.Domain) (m *trjson.Map, seq int64, ok bool)
	BookTick(d trjson.Domain) (m *trjson.Map, seq int64, ok bool)
}

// CurveUniverse is implemented by a Universe that also serves Yield
// Curve items (§34). A curve is an Instrument whose Image and Tick return
// a FieldList (Vector and Array values as trjson.RawField); it is served
// by its own service, Config.CurveService. BookImage and BookTick of a
// curve are not called.
type CurveUniverse interface {
	Curve(name string) (Instrument, bool)
}

// Dictionary resolves field names and FIDs.
type Dictionary interface {
	FID(name string) (int64, bool)
	Name(fid int64) (string, bool)
}
