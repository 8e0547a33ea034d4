package kafkabus_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/ertkit/ertkit/auth"
	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
	"github.com/ertkit/ertkit/kafkabus"
	"github.com/ertkit/ertkit/trjson"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Publish what the SDK receives to Kafka, then rebuild the image from the
// compacted topic with a Subscriber. kfake stands in for the cluster.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	conn := kafkabus.Connection{Brokers: cluster.ListenAddrs(), TopicPrefix: "prices"}

	pub, err := kafkabus.NewPublisher(ctx, kafkabus.Options{Connection: conn, CreateTopics: true})
	if err != nil {
		log.Fatal(err)
	}
	emu, err := emulator.Start(ctx, emulator.Config{PlainWS: true, Rate: 20, RateSet: true})
	if err != nil {
		log.Fatal(err)
	}
	defer emu.Close()
	info := emu.Info()
	tokens := auth.NewManager(auth.ClientCredentials(auth.ClientCredentialsConfig{
		TokenURL: info.AuthURLV2, ClientID: info.ClientID, ClientSecret: info.ClientSecret}), auth.Options{})
	defer tokens.Close()
	updates := make(chan struct{}, 1)
	client, err := consumer.Dial(ctx, consumer.Config{
		Endpoints:   []string{fmt.Sprintf("ws://%s:%d/WebSocket", info.Endpoints[0].Host, info.Endpoints[0].Port)},
		TokenSource: tokens,
		Handler: func(m *consumer.Msg) {
			pub.Handle(m) // copies what it needs; never blocks
			if m.Type == trjson.TypeUpdate {
				select {
				case updates <- struct{}{}:
				default:
				}
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.Subscribe(ctx, []string{"TRI.N"}); err != nil {
		log.Fatal(err)
	}
	<-updates
	client.Close()
	if err := pub.Close(ctx); err != nil { // flushes ticks and final images
		log.Fatal(err)
	}
	fmt.Println("dropped:", pub.Stats().Dropped)

	sub, err := kafkabus.NewSubscriber(ctx, kafkabus.SubscriberOptions{Connection: conn})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	runCtx, stop := context.WithCancel(ctx)
	_ = sub.Run(runCtx, func(m *consumer.Msg) {
		// The image comes first, as a Refresh.
		_, hasBid := m.Float("BID")
		fmt.Println(m.Type, m.Service+"|"+m.Name, m.State.Stream, m.State.Data, hasBid)
		stop()
	})
	// Output:
	// dropped: 0
	// Refresh ELEKTRON_DD|TRI.N Open Ok true
}
