package server

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"

	"github.com/gobwas/ws/wsflate"
)

// permessage-deflate (RFC 7692), negotiated without context takeover in
// either direction: every message is compressed on its own, which keeps
// per-connection state small and lets any client decompress it.

var deflateParams = wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}

// deflater compresses outbound messages of one connection (writer only).
type deflater struct {
	fw  *flate.Writer
	buf bytes.Buffer
}

var deflateTail = []byte{0, 0, 0xff, 0xff}

func (d *deflater) compress(p []byte) ([]byte, error) {
	d.buf.Reset()
	if d.fw == nil {
		fw, err := flate.NewWriter(&d.buf, flate.BestSpeed)
		if err != nil {
			return nil, err
		}
		d.fw = fw
	} else {
		d.fw.Reset(&d.buf)
	}
	if _, err := d.fw.Write(p); err != nil {
		return nil, err
	}
	if err := d.fw.Flush(); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(d.buf.Bytes(), deflateTail), nil
}

// inflater decompresses inbound messages (reader only).
type inflater struct {
	fr  io.ReadCloser
	out []byte
}

var errInflatedTooBig = errors.New("inflated message larger than MaxMsgSize")

// decompress inflates p; a result above max bytes is an error. The result
// is valid until the next call.
func (in *inflater) decompress(p []byte, max int) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTail))
	if in.fr == nil {
		in.fr = flate.NewReader(src)
	} else if err := in.fr.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(in.out[:0])
	n, err := io.Copy(buf, io.LimitReader(in.fr, int64(max)+1))
	// A sync-flushed message has no final block: the source ends first.
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	if n > int64(max) {
		return nil, errInflatedTooBig
	}
	in.out = buf.Bytes()
	return in.out, nil
}
