package market

import (
	"errors"
	"fmt"
	"math"

	"github.com/ertkit/ertkit/dictionary"
	"github.com/ertkit/ertkit/trjson"
)

// ErrCrossed is matched (errors.Is) by a PostError for a post that sets
// BID at or above ASK.
var ErrCrossed = errors.New("bid at or above ask")

// PostError is why a posted update was refused. Err is a
// *dictionary.UnknownFieldError, a *dictionary.ValueError or ErrCrossed, so
// errors.Is(err, dictionary.ErrUnknownField) and friends work.
type PostError struct {
	Item  string
	Field string
	Err   error
}

func (e *PostError) Error() string { return fmt.Sprintf("post to %s: %v", e.Item, e.Err) }

// Unwrap returns the cause.
func (e *PostError) Unwrap() error { return e.Err }

// NakCode is the Ack NakCode that answers this error.
func (e *PostError) NakCode() trjson.NakCode { return trjson.NakInvalidContent }

// ApplyPost applies a posted update: every field must be in the dictionary
// and its value must fit the field's type, or nothing changes and the error
// is a *PostError. On success the instrument's sequence number grows by one
// and changed holds the fields as stored (string values copied), plus any
// side the instrument moved to keep BID below ASK. Fields the item did not
// carry are added to its image.
func (in *Instrument) ApplyPost(fields []trjson.Field) (changed []trjson.Field, seq int64, err error) {
	return in.AppendPost(nil, fields)
}

// AppendPost is ApplyPost appending the changed fields to dst[:0]; it does
// not allocate for numeric fields when dst has capacity.
func (in *Instrument) AppendPost(dst, fields []trjson.Field) ([]trjson.Field, int64, error) {
	d := dictionary.Default()
	for i := range fields {
		if err := d.Check(&fields[i]); err != nil {
			return dst[:0], in.LastSeq(), &PostError{Item: in.Name, Field: fields[i].Name, Err: err}
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(fields) == 0 {
		return dst[:0], in.seq, nil
	}
	// Resolve the quote first so that a crossed post is refused whole.
	bid, ask := in.bid, in.ask
	bidSet, askSet := false, false
	for i := range fields {
		f := &fields[i]
		if v, ok := f.AsFloat(); ok && f.Kind != trjson.KindNull && !math.IsNaN(v) && !math.IsInf(v, 0) {
			switch f.Name {
			case "BID":
				bid, bidSet = in.toTicks(v), true
			case "ASK":
				ask, askSet = in.toTicks(v), true
			}
		}
	}
	if bidSet && askSet && bid >= ask {
		return dst[:0], in.seq, &PostError{Item: in.Name, Field: "BID", Err: ErrCrossed}
	}
	dst = dst[:0]
	for i := range fields {
		f := fields[i].Clone() // posted bytes alias the decoder's buffers
		dst = append(dst, f)
		in.store(f)
		v, numeric := f.AsFloat()
		numeric = numeric && f.Kind != trjson.KindNull && !math.IsNaN(v) && !math.IsInf(v, 0)
		if !numeric {
			continue
		}
		switch f.Name {
		case "TRDPRC_1":
			in.last = in.toTicks(v)
		case "ACVOL_1":
			in.acvol = int64(v)
		}
	}
	s := &in.lay.slots
	switch {
	case bidSet && !askSet && bid >= in.ask:
		ask = bid + 1
		dst = in.setFloat(dst, s.ask, in.price(ask))
	case askSet && !bidSet && ask <= in.bid:
		if ask < 2 {
			ask = 2
			dst = in.setFloat(dst, s.ask, in.price(ask))
		}
		bid = ask - 1
		dst = in.setFloat(dst, s.bid, in.price(bid))
	}
	in.bid, in.ask = bid, ask
	in.seq++
	return dst, in.seq, nil
}

// toTicks rounds a price to the nearest tick (at least one tick).
func (in *Instrument) toTicks(v float64) int64 {
	t := int64(math.Round(v * float64(in.spec.denom) / float64(in.spec.tickUnits)))
	return max(t, 1)
}

// store puts f into its image slot, or into the extra fields.
func (in *Instrument) store(f trjson.Field) {
	if i, ok := in.lay.index[f.Name]; ok {
		in.img[i] = f
		return
	}
	for i := range in.extra {
		if in.extra[i].Name == f.Name {
			in.extra[i] = f
			return
		}
	}
	in.extra = append(in.extra, f)
}
