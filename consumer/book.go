package consumer

import (
	"sort"

	"github.com/ertkit/ertkit/trjson"
)

// book is an order book (or symbol list, or directory) assembled from Map
// payloads: Add inserts or replaces, Update merges, Delete removes, Summary
// updates book-level fields (§14.1).
type book struct {
	summary  map[string]trjson.Field
	entries  map[string]map[string]trjson.Field
	complete bool
}

func newBook() *book {
	return &book{summary: map[string]trjson.Field{}, entries: map[string]map[string]trjson.Field{}}
}

func (b *book) reset() {
	clear(b.summary)
	clear(b.entries)
	b.complete = false
}

func (b *book) apply(raw trjson.Raw) error {
	mp, err := trjson.DecodeMap(raw)
	if err != nil {
		return err
	}
	for _, f := range mp.Summary {
		b.summary[f.Name] = f.Clone()
	}
	for _, e := range mp.Entries {
		switch e.Action {
		case trjson.MapDelete:
			delete(b.entries, e.Key)
		case trjson.MapAdd:
			fs := make(map[string]trjson.Field, len(e.Fields))
			for _, f := range e.Fields {
				fs[f.Name] = f.Clone()
			}
			b.entries[e.Key] = fs
		case trjson.MapUpdate:
			fs := b.entries[e.Key]
			if fs == nil {
				fs = make(map[string]trjson.Field, len(e.Fields))
				b.entries[e.Key] = fs
			}
			for _, f := range e.Fields {
				fs[f.Name] = f.Clone()
			}
		}
	}
	return nil
}

func (b *book) image() *BookImage {
	bi := &BookImage{Summary: make(map[string]trjson.Field, len(b.summary)),
		Entries: make(map[string]map[string]trjson.Field, len(b.entries)), Complete: b.complete}
	for k, f := range b.summary {
		bi.Summary[k] = f.Clone()
	}
	for k, fs := range b.entries {
		c := make(map[string]trjson.Field, len(fs))
		for n, f := range fs {
			c[n] = f.Clone()
		}
		bi.Entries[k] = c
	}
	return bi
}

// BookImage is a copy of an assembled Map: an order book keyed by price
// or order id, a symbol list keyed by RIC, or a directory keyed by service id.
type BookImage struct {
	Summary  map[string]trjson.Field
	Entries  map[string]map[string]trjson.Field
	Complete bool // the (multi-part) refresh is complete
}

// Keys returns the entry keys in sorted order (for a SymbolList: the RICs).
func (b *BookImage) Keys() []string {
	ks := make([]string, 0, len(b.Entries))
	for k := range b.Entries {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
