package kafkabus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ertkit/ertkit/trjson"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Record layout (docs/KAFKA.md):
//
//	key     service|RIC              (Market Price)
//	        service|RIC|Domain       (any other domain, e.g. MarketByPrice)
//	value   the tr_json2 message as received (tick topic), or the merged
//	        image as a tr_json2 Refresh (image topic)
//	headers ert-type      Refresh, Update, Status (ticks); Image (images)
//	        ert-received  when the SDK read the frame, Unix nanoseconds
//	        ert-state     the item's state after this message, Stream/Data/Code
//	        ert-seq       SeqNumber, when the message has one
//	timestamp the receive time (CreateTime), in milliseconds
const (
	HeaderType     = "ert-type"
	HeaderReceived = "ert-received"
	HeaderState    = "ert-state"
	HeaderSeq      = "ert-seq"
)

// ErrRecord is wrapped by every error about a record that does not have
// the layout above.
var ErrRecord = errors.New("kafkabus: malformed record")

// ItemKey is the record key of an item.
type ItemKey struct {
	Service string
	Name    string
	Domain  trjson.Domain // DomainMarketPrice when the key has no domain part
}

// AppendKey appends the record key of k to dst.
func AppendKey(dst []byte, k ItemKey) []byte {
	dst = append(dst, k.Service...)
	dst = append(dst, '|')
	dst = append(dst, k.Name...)
	if k.Domain != trjson.DomainMarketPrice && k.Domain != trjson.DomainUnknown {
		dst = append(dst, '|')
		dst = append(dst, k.Domain.String()...)
	}
	return dst
}

// ParseKey parses a record key. The service ends at the first '|'; a last
// part that names a domain other than MarketPrice is the domain; the rest
// is the RIC (which may itself hold '|').
func ParseKey(b []byte) (ItemKey, error) {
	s := string(b)
	i := strings.IndexByte(s, '|')
	if i < 0 {
		return ItemKey{}, fmt.Errorf("%w: key %q has no '|'", ErrRecord, truncate(s))
	}
	k := ItemKey{Service: s[:i], Name: s[i+1:], Domain: trjson.DomainMarketPrice}
	if j := strings.LastIndexByte(k.Name, '|'); j >= 0 {
		if d, ok := trjson.ParseDomain([]byte(k.Name[j+1:])); ok && d != trjson.DomainMarketPrice && d != trjson.DomainLogin {
			k.Name, k.Domain = k.Name[:j], d
		}
	}
	if k.Name == "" {
		return ItemKey{}, fmt.Errorf("%w: key %q has no RIC", ErrRecord, truncate(s))
	}
	return k, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// appendState appends Stream/Data/Code.
func appendState(dst []byte, st trjson.State) []byte {
	dst = append(dst, st.Stream.String()...)
	dst = append(dst, '/')
	dst = append(dst, st.Data.String()...)
	dst = append(dst, '/')
	return append(dst, st.Code.String()...)
}

// parseState parses the ert-state header (the state text is not in it).
func parseState(b []byte) (trjson.State, error) {
	parts := strings.SplitN(string(b), "/", 3)
	if len(parts) != 3 {
		return trjson.State{}, fmt.Errorf("%w: %s %q", ErrRecord, HeaderState, truncate(string(b)))
	}
	var st trjson.State
	var ok1, ok2, ok3 bool
	st.Stream, ok1 = trjson.ParseStreamState([]byte(parts[0]))
	st.Data, ok2 = trjson.ParseDataState([]byte(parts[1]))
	st.Code, ok3 = trjson.ParseStateCode([]byte(parts[2]))
	if !ok1 || !ok2 || !ok3 {
		return trjson.State{}, fmt.Errorf("%w: %s %q", ErrRecord, HeaderState, truncate(string(b)))
	}
	return st, nil
}

// recordMeta is what the headers of a record say.
type recordMeta struct {
	typ      string
	received int64 // Unix ns; 0 when absent
	state    trjson.State
	hasState bool
	seq      int64
	hasSeq   bool
}

// parseHeaders reads the ert-* headers; unknown headers are ignored (a
// cluster may add its own).
func parseHeaders(hs []kgo.RecordHeader) (recordMeta, error) {
	var m recordMeta
	for _, h := range hs {
		switch h.Key {
		case HeaderType:
			m.typ = string(h.Value)
		case HeaderReceived:
			v, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err != nil || v < 0 {
				return m, fmt.Errorf("%w: %s %q", ErrRecord, HeaderReceived, truncate(string(h.Value)))
			}
			m.received = v
		case HeaderState:
			st, err := parseState(h.Value)
			if err != nil {
				return m, err
			}
			m.state, m.hasState = st, true
		case HeaderSeq:
			v, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err != nil {
				return m, fmt.Errorf("%w: %s %q", ErrRecord, HeaderSeq, truncate(string(h.Value)))
			}
			m.seq, m.hasSeq = v, true
		}
	}
	return m, nil
}
