// Package natsbus carries ertkit's market data over NATS JetStream: one
// upstream SDK session fanned out to any number of consumers.
//
// A Publisher is an SDK sink (consumer.Config.Handler = pub.Handle): it
// publishes every Refresh, Update and Status of each item to an updates
// stream on <prefix>.<service>.<domain>.<RIC> (RIC encoded by Encode), and
// keeps each item's merged image in a last-value stream (one message per
// subject). Subscribe delivers, for the requested items, the image and then
// the updates after it, joined so that none is lost or delivered twice,
// with gaps in SeqNumber reported as events.
//
// StartServer runs an embedded nats-server with JetStream (loopback by
// default); Connect reaches an external server or cluster.
//
// See docs/NATS.md for the subjects, the join, retention and the failure
// policy.
package natsbus
