// Package dictionary is the field dictionary of the Market Price, Market By
// Price, Market By Order, Market Maker, Yield Curve and Symbol List domains: for each field
// name used in a tr_json2 "Fields" object, its field ID (FID), OMM type, the
// field it ripples to and a short meaning.
//
// The FIDs and types are those of LSEG's RDMFieldDictionary (RWF types), for
// the fields that real-time Market Price images and order books carry. The
// table is a subset: a name that is not here is not an error on the wire, it
// is only unknown to this package.
//
// Start with [Default]; look fields up with [Dictionary.ByName] (no
// allocation) or [Dictionary.ByFID].
package dictionary

import (
	"iter"
	"slices"
	"sync"
)

// Def describes one field.
type Def struct {
	Name string // the acronym used as the JSON key, e.g. "TRDPRC_1"
	FID  int16
	Type Type
	// Ripple names the field this one ripples to on update ("TRDPRC_1" →
	// "TRDPRC_2"), or is "" when the field does not ripple.
	Ripple  string
	Meaning string
}

// Dictionary is an immutable, concurrency-safe set of field definitions.
type Dictionary struct {
	defs   []Def // sorted by FID
	byName map[string]int32
}

// New builds a dictionary from defs. Names and FIDs must be unique; New
// panics otherwise, since dictionaries are built from static tables.
func New(defs []Def) *Dictionary {
	d := &Dictionary{defs: slices.Clone(defs), byName: make(map[string]int32, len(defs))}
	slices.SortFunc(d.defs, func(a, b Def) int { return int(a.FID) - int(b.FID) })
	for i := range d.defs {
		if i > 0 && d.defs[i].FID == d.defs[i-1].FID {
			panic("dictionary: duplicate FID " + d.defs[i].Name + " / " + d.defs[i-1].Name)
		}
		if _, dup := d.byName[d.defs[i].Name]; dup {
			panic("dictionary: duplicate name " + d.defs[i].Name)
		}
		d.byName[d.defs[i].Name] = int32(i)
	}
	return d
}

var (
	defaultOnce sync.Once
	defaultDict *Dictionary
)

// Default returns the built-in dictionary. It is built once and shared.
func Default() *Dictionary {
	defaultOnce.Do(func() { defaultDict = New(builtin) })
	return defaultDict
}

// ByName returns the definition of the field called name. It does not allocate.
func (d *Dictionary) ByName(name string) (*Def, bool) {
	i, ok := d.byName[name]
	if !ok {
		return nil, false
	}
	return &d.defs[i], true
}

// ByNameBytes is ByName for a name held in a byte slice (as a decoder
// produces it), without converting it to a string first.
func (d *Dictionary) ByNameBytes(name []byte) (*Def, bool) {
	i, ok := d.byName[string(name)] // the compiler does not allocate for this lookup
	if !ok {
		return nil, false
	}
	return &d.defs[i], true
}

// ByFID returns the definition of the field with ID fid.
func (d *Dictionary) ByFID(fid int16) (*Def, bool) {
	i, ok := slices.BinarySearchFunc(d.defs, fid, func(def Def, f int16) int { return int(def.FID) - int(f) })
	if !ok {
		return nil, false
	}
	return &d.defs[i], true
}

// Len returns the number of fields.
func (d *Dictionary) Len() int { return len(d.defs) }

// All iterates over the definitions in FID order. The definitions must not
// be modified.
func (d *Dictionary) All() iter.Seq[*Def] {
	return func(yield func(*Def) bool) {
		for i := range d.defs {
			if !yield(&d.defs[i]) {
				return
			}
		}
	}
}

// FID returns the field ID of a field name (the server package's
// Dictionary interface).
func (d *Dictionary) FID(name string) (int64, bool) {
	def, ok := d.ByName(name)
	if !ok {
		return 0, false
	}
	return int64(def.FID), true
}

// Name returns the field name of a field ID, given as any integer (as it
// arrives in JSON); IDs outside the int16 range are unknown.
func (d *Dictionary) Name(fid int64) (string, bool) {
	if fid < -32768 || fid > 32767 {
		return "", false
	}
	def, ok := d.ByFID(int16(fid))
	if !ok {
		return "", false
	}
	return def.Name, true
}
