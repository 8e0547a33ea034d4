package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/emulator"
)

// A connection that can no longer trust its server gives up instead of
// retrying silently for ever: here the emulator restarts with a new CA
// that the client's CA file does not hold. (Had the new CA been written
// to the same file, the client would have re-read it and reconnected.)
func ExampleErrGaveUp() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ertkit-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	caFile := filepath.Join(dir, "ca.pem")
	emu, err := emulator.Start(ctx, emulator.Config{ADSMode: true, CAFile: caFile, StreamAddrs: []string{"127.0.0.1:0"}})
	if err != nil {
		log.Fatal(err)
	}
	addr := endpoints(emu.Info())[0]

	gaveUp := make(chan error, 1)
	c, err := consumer.Dial(ctx, consumer.Config{
		Endpoints: []string{addr}, UserName: "example", TLS: consumer.TLS{CAFile: caFile},
		Reconnect: consumer.Reconnect{MinDelay: 10 * time.Millisecond, MaxCertFailures: 2},
		OnEvent: func(e consumer.Event) {
			if e.Kind == consumer.EventError && errors.Is(e.Err, consumer.ErrGaveUp) {
				select {
				case gaveUp <- e.Err:
				default:
				}
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	emu.Close()
	emu, err = emulator.Start(ctx, emulator.Config{ADSMode: true, CAFile: filepath.Join(dir, "other.pem"), StreamAddrs: []string{addr}})
	if err != nil {
		log.Fatal(err)
	}
	defer emu.Close()

	err = <-gaveUp
	fmt.Println("gave up; certificate not trusted:", errors.Is(err, consumer.ErrCertificate))
	// Output: gave up; certificate not trusted: true
}
