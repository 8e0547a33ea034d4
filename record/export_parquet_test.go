package record

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/trjson"
)

// parquetRow is how a reader sees the export's typed columns.
type parquetRow struct {
	Time       time.Time `parquet:"time,timestamp(nanosecond)"`
	RIC        string    `parquet:"ric"`
	Domain     string    `parquet:"domain"`
	MsgType    string    `parquet:"msg_type"`
	UpdateType *string   `parquet:"update_type,optional"`
	SeqNumber  *int64    `parquet:"seq_number,optional"`
	BID        *float64  `parquet:"BID,optional"`
	ASK        *float64  `parquet:"ASK,optional"`
	BIDSIZE    *float64  `parquet:"BIDSIZE,optional"`  // Real in the dictionary
	ASKTime    *int64    `parquet:"ASK_TIME,optional"` // TIME(NANOS): ns since midnight
}

func exportTo(t *testing.T, paths []string) ([]byte, ParquetStats) {
	t.Helper()
	var files []*Reader
	for _, p := range paths {
		rd, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		files = append(files, rd)
	}
	var buf bytes.Buffer
	var calls int
	st, err := ExportParquet(context.Background(), &buf, files, ParquetOptions{Progress: func(done, total int64) {
		calls++
		if done > total {
			t.Errorf("progress %d of %d", done, total)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Error("no progress reported")
	}
	return buf.Bytes(), st
}

// parquetRows is the size of TestExportParquetTyped: 1,000,000 updates,
// 100,000 under the race detector (CI's `go test -race`; BenchmarkExportParquet
// exports and checks 1,000,000 in CI's benchmark smoke), or ERT_PARQUET_ROWS.
func parquetRows(t testing.TB) int {
	if s := os.Getenv("ERT_PARQUET_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("ERT_PARQUET_ROWS=%q", s)
		}
		return n
	}
	if raceEnabled {
		return 100_000
	}
	return 1_000_000
}

func TestExportParquetTyped(t *testing.T) {
	n := parquetRows(t)
	msgs := synthMsgs(n, []string{"TRI.N", "EUR=", "VOD.L"}, time.Unix(1_700_000_000, 0), time.Microsecond)
	path := writeRecording(t, msgs, Options{QueueBlocks: lossless})
	data, st := exportTo(t, []string{path})
	if st.Rows != int64(n) || len(st.AsText) != 0 {
		t.Fatalf("stats %+v", st)
	}
	for name, want := range map[string]string{"BID": colDouble, "ASK": colDouble, "BIDSIZE": colDouble, "ASK_TIME": colTime} {
		if st.Columns[name] != want {
			t.Fatalf("column %s: %s, want %s (all %v)", name, st.Columns[name], want, st.Columns)
		}
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if f.NumRows() != int64(n) {
		t.Fatalf("%d rows", f.NumRows())
	}
	for _, c := range []struct {
		col  string
		kind parquet.Kind
	}{{"BID", parquet.Double}, {"BIDSIZE", parquet.Double}, {"time", parquet.Int64}, {"ric", parquet.ByteArray}} {
		leaf, ok := f.Schema().Lookup(c.col)
		if !ok || leaf.Node.Type().Kind() != c.kind {
			t.Fatalf("column %s: %v", c.col, leaf.Node)
		}
	}
	for _, rg := range f.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			if cc.MetaData.Codec.String() != "ZSTD" {
				t.Fatalf("column %v compressed with %s", cc.MetaData.PathInSchema, cc.MetaData.Codec)
			}
		}
	}
	r := parquet.NewGenericReader[parquetRow](bytes.NewReader(data))
	defer r.Close()
	var d trjson.Decoder
	buf := make([]parquetRow, 4096)
	i := 0
	for {
		k, err := r.Read(buf)
		for _, row := range buf[:k] {
			want := msgs[i]
			ms, derr := d.Decode(want.raw)
			if derr != nil {
				t.Fatal(derr)
			}
			m := &ms[0]
			bid, _ := m.Field("BID").AsFloat()
			ask, _ := m.Field("ASK").AsFloat()
			tod, _ := consumer.ParseTimeOfDay(m.Field("ASK_TIME").Str)
			todNs := int64(tod.Hour)*3600e9 + int64(tod.Minute)*60e9 + int64(tod.Second)*1e9 + int64(tod.Nanos)
			if row.Time.UnixNano() != want.t || row.RIC != want.name || row.Domain != "MarketPrice" || row.MsgType != "Update" ||
				row.UpdateType == nil || *row.UpdateType != "Quote" || row.SeqNumber == nil || *row.SeqNumber != m.SeqNumber ||
				row.BID == nil || *row.BID != bid || row.ASK == nil || *row.ASK != ask ||
				row.BIDSIZE == nil || *row.BIDSIZE != float64(m.Field("BIDSIZE").Int) || row.ASKTime == nil || *row.ASKTime != todNs {
				t.Fatalf("row %d: %+v, message %s", i, row, want.raw)
			}
			i++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if i != n {
		t.Fatalf("read %d rows of %d", i, n)
	}
}

func TestExportParquetMisfitsAndUnknownFields(t *testing.T) {
	raws := []string{
		`{"ID":2,"Type":"Refresh","Key":{"Name":"X"},"State":{"Stream":"Open","Data":"Ok"},"Fields":{"BID":"n/a","MY_FIELD":3,"MY_FLOAT":1,"MY_TEXT":"a","TRADE_DATE":"2026-12-04"}}`,
		`{"ID":2,"Type":"Update","Fields":{"BID":1.5,"MY_FIELD":4,"MY_FLOAT":2.5,"MY_TEXT":null,"TRADE_DATE":null}}`,
	}
	path := filepath.Join(t.TempDir(), "m.ert.zst")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range raws {
		w.Handle(&consumer.Msg{Name: "X", Raw: []byte(raw), Received: time.Unix(int64(i), 0)})
	}
	w.Event(consumer.Event{Kind: consumer.EventItemState, Item: &consumer.Item{Name: "X"}, State: trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataSuspect}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, st := exportTo(t, []string{path})
	if st.Rows != 2 || st.Skipped != 1 || len(st.AsText) != 1 || st.AsText[0] != "BID" {
		t.Fatalf("stats %+v", st)
	}
	want := map[string]string{"BID": colString, "MY_FIELD": colInt64, "MY_FLOAT": colDouble, "MY_TEXT": colString, "TRADE_DATE": colDate}
	for k, v := range want {
		if st.Columns[k] != v {
			t.Fatalf("column %s: %s, want %s", k, st.Columns[k], v)
		}
	}
	type row struct {
		BID       *string  `parquet:"BID,optional"`
		MyFloat   *float64 `parquet:"MY_FLOAT,optional"`
		MyText    *string  `parquet:"MY_TEXT,optional"`
		TradeDate *int32   `parquet:"TRADE_DATE,optional,date"`
		Type      string   `parquet:"msg_type"`
	}
	rows, err := parquet.Read[row](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	days := int32(time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	if len(rows) != 2 || *rows[0].BID != "n/a" || *rows[1].BID != "1.5" || *rows[0].MyFloat != 1 || *rows[1].MyFloat != 2.5 ||
		*rows[0].MyText != "a" || rows[1].MyText != nil || *rows[0].TradeDate != days || rows[1].TradeDate != nil || rows[0].Type != "Refresh" {
		t.Fatalf("rows %+v", rows)
	}
}

func TestExportJSONL(t *testing.T) {
	msgs := synthMsgs(3000, []string{"A", `B"`}, time.Unix(1_700_000_000, 0), time.Millisecond)
	path := writeRecording(t, msgs, Options{BlockSize: 8 << 10, QueueBlocks: lossless})
	rd, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var all, only bytes.Buffer
	n, err := ExportJSONL(context.Background(), &all, []*Reader{rd}, JSONLOptions{})
	if err != nil || n != 3000 {
		t.Fatalf("%d lines, %v", n, err)
	}
	if _, err := ExportJSONL(context.Background(), &only, []*Reader{rd}, JSONLOptions{MessagesOnly: true}); err != nil {
		t.Fatal(err)
	}
	var wantAll, wantOnly []byte
	for _, m := range msgs {
		wantAll = appendMessageLine(wantAll, m.t, m.name, m.raw)
		wantOnly = append(append(wantOnly, m.raw...), '\n')
	}
	if !bytes.Equal(all.Bytes(), wantAll) || !bytes.Equal(only.Bytes(), wantOnly) {
		t.Fatal("jsonl export differs from the recorded lines")
	}
}

// BenchmarkExportParquet exports a recording of 1,000,000 updates and
// reads the table back (row count and typed columns checked): rows/s of
// the export alone.
func BenchmarkExportParquet(b *testing.B) {
	n := parquetRows(b)
	msgs := synthMsgs(n, []string{"TRI.N", "EUR=", "VOD.L"}, time.Unix(1_700_000_000, 0), time.Microsecond)
	path := writeRecording(b, msgs, Options{QueueBlocks: lossless})
	rd, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	var out bytes.Buffer
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out.Reset()
		if _, err := ExportParquet(context.Background(), &out, []*Reader{rd}, ParquetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(out.Len())/float64(n), "B/row")
	f, err := parquet.OpenFile(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		b.Fatal(err)
	}
	if f.NumRows() != int64(n) {
		b.Fatalf("%d rows of %d", f.NumRows(), n)
	}
	if leaf, ok := f.Schema().Lookup("BID"); !ok || leaf.Node.Type().Kind() != parquet.Double {
		b.Fatal("BID is not a DOUBLE column")
	}
}
