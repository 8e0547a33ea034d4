// Package kafkabus publishes what the SDK receives into Kafka and
// rebuilds item images from it, with franz-go.
//
// A Publisher is a consumer.Config.Handler: NewPublisher, then Handle
// every *consumer.Msg (it copies what it needs and never blocks), Stats
// for the counters, Close to flush. Each message goes, as received, to
// the append-only tick topic <prefix>.ticks keyed "service|RIC", and
// each item's merged image (Refresh fields with later Updates applied,
// state, SeqNumber) to the compacted topic <prefix>.images, coalesced to
// one image per item per Options.ImageInterval. A bounded buffer drops
// (and counts, and reports) what Kafka cannot take.
//
// A Subscriber reads it back: NewSubscriber, then Run delivers each
// image as a Refresh and then every later tick, reporting gaps by
// SeqNumber. docs/KAFKA.md has the record layout and the policies.
package kafkabus
