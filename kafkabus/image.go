package kafkabus

import (
	"github.com/ertkit/ertkit/trjson"
)

// Image is an item's last value: the fields of its Refresh with every
// later Update applied, its state and its latest SeqNumber.
type Image struct {
	ItemKey
	State  trjson.State
	Seq    int64
	HasSeq bool
	// Fields in the order they first appeared.
	Fields []trjson.Field
	// Received is when the SDK read the last message merged into the
	// image, Unix nanoseconds.
	Received int64
}

// Field returns the named field, nil when absent.
func (im *Image) Field(name string) *trjson.Field {
	for i := range im.Fields {
		if im.Fields[i].Name == name {
			return &im.Fields[i]
		}
	}
	return nil
}

// fieldImage is a merged field list that owns its bytes: a field's Str
// buffer is reused when the next value fits, so steady updates do not
// allocate.
type fieldImage struct {
	fields []trjson.Field
	index  map[string]int
	// next is where the field after the last one merged sits: updates
	// list their fields in a stable order, so a name compare (the
	// decoder interns names: often a pointer compare) mostly saves the
	// map lookup.
	next int
}

func (f *fieldImage) reset() {
	f.fields = f.fields[:0]
	clear(f.index)
	f.next = 0
}

// merge applies fields (which may alias a decoder's buffers).
func (f *fieldImage) merge(fields []trjson.Field) {
	if f.index == nil {
		f.index = make(map[string]int, len(fields))
	}
	for _, nf := range fields {
		i := f.next
		if i >= len(f.fields) || f.fields[i].Name != nf.Name {
			var ok bool
			if i, ok = f.index[nf.Name]; !ok {
				i = len(f.fields)
				f.index[nf.Name] = i
				f.fields = append(f.fields, trjson.Field{Name: nf.Name})
			}
		}
		f.next = i + 1
		dst := &f.fields[i]
		buf := dst.Str[:0]
		*dst = nf
		if nf.Str != nil {
			dst.Str = append(buf, nf.Str...)
		}
	}
}

// snapshot copies the fields out (for Image).
func (f *fieldImage) snapshot() []trjson.Field {
	out := make([]trjson.Field, len(f.fields))
	for i, fl := range f.fields {
		out[i] = fl.Clone()
	}
	return out
}
