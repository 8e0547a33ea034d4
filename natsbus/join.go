package natsbus

import "github.com/ertkit/ertkit/trjson"

// verdict is what the join does with one message of the updates stream.
type verdict int

const (
	deliver   verdict = iota
	inImage           // stored before the image was taken: already in it
	duplicate         // same SeqNumber as the last delivered Update
)

// join joins one item's image with its updates stream. The image says
// which updates-stream sequence it includes (updatesSeq, the
// Ert-Updates-Seq header: the stream sequence of the last message the
// publisher folded into it; the publisher folds only acknowledged
// messages, in stream order). So:
//
//   - a message at stream sequence <= updatesSeq is in the image: skipped;
//   - every later message is delivered, once, in stream order;
//   - SeqNumbers are then checked: after the image (or a Refresh) with
//     SeqNumber S, the next Update must carry S+1; any other number is a
//     gap, reported and delivered; a repeat of the last SeqNumber is a
//     duplicate, reported and skipped.
//
// Consumers read from min(updatesSeq)+1 of their items, so nothing after
// an image is missed, whatever the image's age.
type join struct {
	updatesSeq uint64
	seq        int64
	hasSeq     bool
}

// admit decides for the message at stream sequence streamSeq. gap is true
// when it does not follow the last SeqNumber (then expected is what was).
func (j *join) admit(streamSeq uint64, typ trjson.MsgType, hasSeq bool, seq int64) (v verdict, gap bool, expected int64) {
	if streamSeq <= j.updatesSeq {
		return inImage, false, 0
	}
	if !hasSeq {
		return deliver, false, 0
	}
	switch typ {
	case trjson.TypeUpdate:
		if j.hasSeq {
			switch {
			case seq == j.seq:
				return duplicate, false, 0
			case seq != j.seq+1:
				gap, expected = true, j.seq+1
			}
		}
	default:
		// A Refresh starts over (recovery may restart numbering); a
		// Status's number, if any, is taken as it comes.
	}
	j.seq, j.hasSeq = seq, true
	return deliver, gap, expected
}
