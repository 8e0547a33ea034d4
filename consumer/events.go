package consumer

import (
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// EventKind names a lifecycle event.
type EventKind int

// Lifecycle events.
const (
	EventConnected        EventKind = iota + 1 // a connection logged in (first time)
	EventReconnected                           // a connection logged in again after a loss
	EventDisconnected                          // a connection was lost (Err says why)
	EventEndpointSwitched                      // a connection moved to another endpoint
	EventRediscovered                          // Config.Discover returned a new endpoint list
	EventTokenRenewed                          // the TokenSource announced a new token
	EventLoginReissued                         // a Login reissue carried a new token
	EventStandbyPromoted                       // the standby connection became the active one
	EventItemState                             // an item's visible state changed
	EventError                                 // an error that did not end the client (Err)
)

var eventNames = map[EventKind]string{
	EventConnected: "connected", EventReconnected: "reconnected", EventDisconnected: "disconnected",
	EventEndpointSwitched: "endpoint-switched", EventRediscovered: "rediscovered",
	EventTokenRenewed: "token-renewed", EventLoginReissued: "login-reissued",
	EventStandbyPromoted: "standby-promoted", EventItemState: "item-state", EventError: "error",
}

func (k EventKind) String() string {
	if n, ok := eventNames[k]; ok {
		return n
	}
	return "unknown"
}

// Event is one lifecycle event.
type Event struct {
	Kind     EventKind
	Time     time.Time
	Conn     int    // connection index
	Endpoint string // endpoint of the connection, when relevant
	Item     *Item  // for EventItemState
	State    trjson.State
	Err      error
}

// events serialises delivery of events to Config.OnEvent and
// Config.Events on one goroutine. Item-state events have their own queue:
// thousands of items turning Suspect at once must not crowd out the
// connection events (disconnected, reconnected, …) that explain them.
type events struct {
	fn      func(Event)
	out     chan<- Event
	ch      chan Event // connection and client events
	items   chan Event // EventItemState
	dropped func()
}

func newEvents(fn func(Event), out chan<- Event, dropped func()) events {
	return events{fn: fn, out: out, ch: make(chan Event, 256), items: make(chan Event, 256), dropped: dropped}
}

func (e *events) emit(ev Event) {
	if e.fn == nil && e.out == nil {
		return
	}
	ev.Time = time.Now()
	q := e.ch
	if ev.Kind == EventItemState {
		q = e.items
	}
	select {
	case q <- ev:
	default:
		e.dropped()
	}
}

func (e *events) deliver(ev Event) {
	if e.fn != nil {
		e.fn(ev)
	}
	if e.out != nil {
		select {
		case e.out <- ev:
		default:
			e.dropped()
		}
	}
}

func (e *events) run(done <-chan struct{}) {
	for {
		select {
		case ev := <-e.ch:
			e.deliver(ev)
		case ev := <-e.items:
			e.deliver(ev)
		case <-done:
			for {
				select {
				case ev := <-e.ch:
					e.deliver(ev)
				case ev := <-e.items:
					e.deliver(ev)
				default:
					return
				}
			}
		}
	}
}
