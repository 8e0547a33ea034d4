package consumer

import "github.com/ertkit/ertkit/trjson"

// handleBytes runs one frame through the loop's path, decoding inline.
func (cn *conn) handleBytes(p []byte) {
	if cn.dec == nil {
		cn.dec = new(trjson.Decoder)
	}
	cn.handleFrame(&frame{buf: p, worker: -1})
}
