package record

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/dictionary"
	"github.com/ertkit/ertkit/trjson"
)

// ParquetOptions configure ExportParquet. The zero value uses the
// default field dictionary and row groups of 131,072 rows.
type ParquetOptions struct {
	// Dictionary gives each field's type. Default dictionary.Default().
	Dictionary *dictionary.Dictionary
	// RowGroupRows bounds the rows of one row group. Default 131072.
	RowGroupRows int64
	// Progress, if set, is called now and then with the records done and
	// the total (both passes over the recording count).
	Progress func(done, total int64)
}

// ParquetStats describe an export.
type ParquetStats struct {
	// Rows is the number of messages written, one row each.
	Rows int64
	// Skipped counts the state-change and gap records, which have no row.
	Skipped int64
	// Columns are the field columns and their Parquet types, by name.
	Columns map[string]string
	// AsText names the fields whose values did not all fit the dictionary
	// type (a price sent as a string, say): their column holds every value
	// as text (strings as received, numbers formatted), so that nothing
	// is lost.
	AsText []string
}

// Column types of field columns.
const (
	colInt64  = "INT64"
	colDouble = "DOUBLE"
	colString = "STRING"
	colDate   = "DATE"
	colTime   = "TIME(NANOS)"
)

// fieldCol is what the first pass learns about one field.
type fieldCol struct {
	typ      string // the type chosen from the dictionary (or the values)
	known    bool   // the field is in the dictionary
	ints     bool   // some values are JSON integers
	floats   bool   // some are other numbers
	texts    bool   // some are strings or containers
	misfit   bool   // a value does not convert to typ
	colIndex int
}

// ExportParquet writes the messages of a recording (its files in order)
// to out as one Parquet table: one row per message with the columns time
// (TIMESTAMP ns, UTC), ric, domain, msg_type, update_type, seq_number
// and one column per field seen, typed from the dictionary (INT64,
// DOUBLE, DATE, TIME(NANOS) or STRING), every column compressed with
// zstd. It reads the recording twice: once to learn the columns, once to
// write. Map payloads (order books) are not exported.
func ExportParquet(ctx context.Context, out io.Writer, files []*Reader, opts ParquetOptions) (ParquetStats, error) {
	if opts.Dictionary == nil {
		opts.Dictionary = dictionary.Default()
	}
	if opts.RowGroupRows <= 0 {
		opts.RowGroupRows = 131072
	}
	var total int64
	for _, f := range files {
		total += 2 * f.Records()
	}
	var done int64
	progress := func() {
		if opts.Progress != nil && done%65536 == 0 {
			opts.Progress(done, total)
		}
	}
	st := ParquetStats{Columns: map[string]string{}}
	cols := map[string]*fieldCol{}
	var dec trjson.Decoder

	// Pass 1: the columns and their types.
	err := eachMessage(ctx, files, &dec, func(_ *Record, m *trjson.Msg) error {
		done++
		progress()
		if m == nil {
			return nil
		}
		for i := range m.Fields {
			f := &m.Fields[i]
			c := cols[f.Name]
			if c == nil {
				c = &fieldCol{}
				if def, ok := opts.Dictionary.ByName(f.Name); ok {
					c.known, c.typ = true, typeFor(def.Type)
				}
				cols[f.Name] = c
			}
			switch f.Kind {
			case trjson.KindNull:
			case trjson.KindInt:
				c.ints = true
			case trjson.KindFloat:
				c.floats = true
			default:
				c.texts = true
			}
			if c.known && f.Kind != trjson.KindNull && !fits(c.typ, f) {
				c.misfit = true
			}
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	names := make([]string, 0, len(cols))
	for name, c := range cols {
		switch {
		case c.known && c.misfit:
			c.typ = colString
			st.AsText = append(st.AsText, name)
		case !c.known && c.texts:
			c.typ = colString
		case !c.known && c.floats:
			c.typ = colDouble
		case !c.known:
			c.typ = colInt64
		}
		names = append(names, name)
		st.Columns[name] = c.typ
	}
	slices.Sort(st.AsText)

	group := parquet.Group{
		"time":        parquet.Timestamp(parquet.Nanosecond),
		"ric":         parquet.String(),
		"domain":      parquet.String(),
		"msg_type":    parquet.String(),
		"update_type": parquet.Optional(parquet.String()),
		"seq_number":  parquet.Optional(parquet.Int(64)),
	}
	colName := map[string]string{} // field name → column name
	for _, name := range names {
		cn := name
		if _, taken := group[cn]; taken {
			cn = "field_" + name
		}
		colName[name] = cn
		var node parquet.Node
		switch cols[name].typ {
		case colInt64:
			node = parquet.Int(64)
		case colDouble:
			node = parquet.Leaf(parquet.DoubleType)
		case colDate:
			node = parquet.Date()
		case colTime:
			node = parquet.Time(parquet.Nanosecond)
		default:
			node = parquet.String()
		}
		group[cn] = parquet.Optional(node)
	}
	schema := parquet.NewSchema("ert_recording", group)
	index := func(name string) int {
		leaf, ok := schema.Lookup(name)
		if !ok {
			panic("record: parquet column " + name + " missing from its own schema")
		}
		return leaf.ColumnIndex
	}
	iTime, iRIC, iDomain, iType, iUpd, iSeq := index("time"), index("ric"), index("domain"), index("msg_type"), index("update_type"), index("seq_number")
	for name, c := range cols {
		c.colIndex = index(colName[name])
	}
	ncol := len(schema.Columns())

	// Pass 2: the rows.
	pw := parquet.NewWriter(out, schema, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(opts.RowGroupRows))
	rows := make([]parquet.Row, 0, 1024)
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		_, err := pw.WriteRows(rows)
		rows = rows[:0]
		return err
	}
	err = eachMessage(ctx, files, &dec, func(r *Record, m *trjson.Msg) error {
		done++
		progress()
		if m == nil {
			st.Skipped++
			return nil
		}
		row := make(parquet.Row, ncol)
		for i := range row {
			row[i] = parquet.NullValue().Level(0, 0, i)
		}
		row[iTime] = parquet.Int64Value(r.Time).Level(0, 0, iTime)
		row[iRIC] = parquet.ByteArrayValue([]byte(r.Name)).Level(0, 0, iRIC)
		row[iDomain] = parquet.ByteArrayValue([]byte(m.Domain.String())).Level(0, 0, iDomain)
		row[iType] = parquet.ByteArrayValue([]byte(m.Type.String())).Level(0, 0, iType)
		if m.Type == trjson.TypeUpdate {
			row[iUpd] = parquet.ByteArrayValue([]byte(m.UpdateType.String())).Level(0, 1, iUpd)
		}
		if m.HasSeqNumber {
			row[iSeq] = parquet.Int64Value(m.SeqNumber).Level(0, 1, iSeq)
		}
		for i := range m.Fields {
			f := &m.Fields[i]
			if f.Kind == trjson.KindNull {
				continue
			}
			c := cols[f.Name]
			row[c.colIndex] = fieldValue(c.typ, f).Level(0, 1, c.colIndex)
		}
		rows = append(rows, row)
		st.Rows++
		if len(rows) == cap(rows) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if cerr := pw.Close(); err == nil {
		err = cerr
	}
	if opts.Progress != nil {
		opts.Progress(done, total)
	}
	if err != nil {
		return st, fmt.Errorf("record: parquet export: %w", err)
	}
	return st, nil
}

// eachMessage calls fn for every record of files with its decoded message
// (nil for state and gap records).
func eachMessage(ctx context.Context, files []*Reader, dec *trjson.Decoder, fn func(*Record, *trjson.Msg) error) error {
	for _, f := range files {
		it := f.Iter(0)
		for n := 0; it.Next(); n++ {
			if n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			r := it.Record()
			if r.Kind != KindMessage {
				if err := fn(r, nil); err != nil {
					return err
				}
				continue
			}
			ms, err := dec.Decode(r.Msg)
			if err != nil || len(ms) != 1 {
				return fmt.Errorf("record: %s: message at %s does not decode: %w", f.name, r.When().UTC().Format(time.RFC3339Nano), err)
			}
			if err := fn(r, &ms[0]); err != nil {
				return err
			}
		}
		if err := it.Err(); err != nil {
			return err
		}
	}
	return nil
}

func typeFor(t dictionary.Type) string {
	switch t {
	case dictionary.Int, dictionary.UInt, dictionary.Enum:
		return colInt64
	case dictionary.Real, dictionary.Float, dictionary.Double:
		return colDouble
	case dictionary.Date:
		return colDate
	case dictionary.Time:
		return colTime
	}
	return colString
}

// fits reports whether f converts to a column of type typ.
func fits(typ string, f *trjson.Field) bool {
	switch typ {
	case colInt64:
		return f.Kind == trjson.KindInt
	case colDouble:
		// Real fields may carry the strings "NaN", "Inf" and "-Inf" (§10).
		_, ok := f.AsFloat()
		return f.Kind == trjson.KindInt || f.Kind == trjson.KindFloat ||
			f.Kind == trjson.KindString && ok && (string(f.Str) == "NaN" || string(f.Str) == "Inf" || string(f.Str) == "-Inf")
	case colDate:
		_, ok := consumer.ParseDate(f.Str)
		return f.Kind == trjson.KindString && ok
	case colTime:
		_, ok := consumer.ParseTimeOfDay(f.Str)
		return f.Kind == trjson.KindString && ok
	}
	return true
}

// fieldValue converts f (which fits typ) to a Parquet value.
func fieldValue(typ string, f *trjson.Field) parquet.Value {
	switch typ {
	case colInt64:
		return parquet.Int64Value(f.Int)
	case colDouble:
		v, _ := f.AsFloat()
		return parquet.DoubleValue(v)
	case colDate:
		d, _ := consumer.ParseDate(f.Str)
		days := time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400
		return parquet.Int32Value(int32(days))
	case colTime:
		t, _ := consumer.ParseTimeOfDay(f.Str)
		ns := int64(t.Hour)*int64(time.Hour) + int64(t.Minute)*int64(time.Minute) + int64(t.Second)*int64(time.Second) + int64(t.Nanos)
		return parquet.Int64Value(ns)
	}
	switch f.Kind {
	case trjson.KindString, trjson.KindRaw:
		return parquet.ByteArrayValue(f.Str)
	case trjson.KindInt:
		return parquet.ByteArrayValue(strconv.AppendInt(nil, f.Int, 10))
	case trjson.KindFloat:
		return parquet.ByteArrayValue(strconv.AppendFloat(nil, f.Float, 'g', -1, 64))
	case trjson.KindBool:
		return parquet.ByteArrayValue([]byte(strconv.FormatBool(f.Int != 0)))
	}
	return parquet.ByteArrayValue(f.Str)
}
