// Package consumer is the ertkit SDK: a long-running consumer of LSEG
// Real-Time -- Optimized (or a deployed ADS) over the tr_json2 WebSocket API.
//
// Call [Dial] with a [Config] naming the endpoints and a [TokenSource] (an
// *auth.Manager fits); then [Client.Subscribe] for streaming items,
// [Client.Snapshot] for images, [Client.Post] to contribute, and
// [Client.Close] when done. The Client renews logins, reconnects with
// back-off, fails over between endpoints, re-requests every open item and,
// with Config.HotStandby, keeps two connections and delivers each message
// once.
//
// Data flows one way: frame → trjson.Decoder → the connection's stream
// table (owned by one goroutine per connection) → item (state, cache, order
// book, de-duplication) → the user's Handler or Messages channel. Requests
// flow back through one writer goroutine per connection.
package consumer
