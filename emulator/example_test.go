package emulator_test

import (
	"context"
	"fmt"

	"github.com/ertkit/ertkit/emulator"
)

func ExampleStart() {
	emu, err := emulator.Start(context.Background(), emulator.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emu.Close()
	info := emu.Info()
	fmt.Println(len(info.Endpoints), "streaming endpoints; trust", len(info.CAPEM) > 0)
	// Output: 3 streaming endpoints; trust true
}
