package trjson_test

import (
	"fmt"

	"github.com/ertkit/ertkit/trjson"
)

// Decode a frame as the ADS sends it and read typed fields.
func ExampleDecoder_Decode() {
	frame := []byte(`[{"ID":2,"Type":"Update","UpdateType":"Quote","Key":{"Service":"ELEKTRON_DD","Name":"TRI.N"},
		"Fields":{"BID":39.72,"BIDSIZE":10,"ASK":null,"DSPLY_NAME":"THOMSON REUTERS"}},{"Type":"Ping"}]`)
	var d trjson.Decoder // reuse one Decoder per connection
	msgs, err := d.Decode(frame)
	if err != nil {
		fmt.Println("bad frame:", err)
		return
	}
	for i := range msgs {
		m := &msgs[i]
		switch m.Type {
		case trjson.TypeUpdate:
			bid, _ := m.Field("BID").AsFloat()
			fmt.Println(m.ID, m.Key.Name, m.UpdateType, bid, m.Field("ASK").IsBlank(), string(m.Field("DSPLY_NAME").Str))
		case trjson.TypePing:
			fmt.Println("ping: answer with a Pong")
		}
	}
	// Output:
	// 2 TRI.N Quote 39.72 true THOMSON REUTERS
	// ping: answer with a Pong
}

// Encode a login and an item request into one frame.
func ExampleFrameBuilder() {
	login := trjson.Msg{ID: 1, Domain: trjson.DomainLogin,
		Key: trjson.Key{Name: "user", Elements: trjson.AppendElements(nil, []trjson.Field{
			trjson.String("ApplicationId", "256"), trjson.String("Position", "127.0.0.1")})}}
	req := trjson.Msg{ID: 2, Key: trjson.Key{Name: "TRI.N"}, View: []string{"BID", "ASK"}}
	var fb trjson.FrameBuilder
	fb.Add(&login, 0)
	fb.Add(&req, 0)
	fmt.Println(string(fb.Frame()))
	// Output:
	// [{"ID":1,"Domain":"Login","Key":{"Name":"user","Elements":{"ApplicationId":"256","Position":"127.0.0.1"}}},{"ID":2,"Key":{"Name":"TRI.N"},"View":["BID","ASK"]}]
}

// An emulator answers a message that is JSON but not tr_json2 with the
// ADS's error text (spec §22).
func ExampleMsgError() {
	var d trjson.Decoder
	msgs, _ := d.Decode([]byte(`{"ID":"2","Key":{"Name":"TRI.N"}}`))
	if e := msgs[0].Err; e != nil {
		reply := trjson.Msg{ID: e.ID, Type: trjson.TypeError, Text: e.Text}
		fmt.Println(string(trjson.AppendMsg(nil, &reply)))
	}
	// Output:
	// {"ID":0,"Type":"Error","Text":"JSON Converter Token Type error: Expected 'PRIMITIVE' for key 'ID' Received 'STRING'"}
}
