package dictionary_test

import (
	"fmt"

	"github.com/ertkit/ertkit/dictionary"
	"github.com/ertkit/ertkit/trjson"
)

func Example() {
	d := dictionary.Default()
	def, _ := d.ByName("TRDPRC_1")
	fmt.Println(def.FID, def.Type, def.Ripple)

	byFID, _ := d.ByFID(3855)
	fmt.Println(byFID.Name)

	bad := trjson.String("BID", "forty")
	fmt.Println(d.Check(&bad))
	// Output:
	// 6 Real TRDPRC_2
	// QUOTIM_MS
	// field BID: a Real value cannot be String
}
