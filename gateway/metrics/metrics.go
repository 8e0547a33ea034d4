// Package metrics exports a gateway's counters to Prometheus: per
// downstream endpoint, per downstream connection, per item, and the
// upstream session. It is a separate package so that users of the gateway
// who do not want Prometheus do not import it.
package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ertkit/ertkit/gateway"
)

// DefaultItemLimit is the default of Options.ItemLimit.
const DefaultItemLimit = 10000

// Options tune a Collector.
type Options struct {
	// ItemLimit bounds the items exported with per-item series (the first
	// ones by name); the rest are counted in ert_gateway_items_not_exported.
	// Default DefaultItemLimit; < 0: no per-item series.
	ItemLimit int
}

// Collector collects g's metrics at each scrape.
type Collector struct {
	g     *gateway.Gateway
	limit int

	notExported *prometheus.Desc

	conns, accepted, logins, loginFailures, sent, frames, slow, pingTimeouts, posts *prometheus.Desc
	connStreams, connSent                                                           *prometheus.Desc
	itemStreams, itemUpdates, itemSeq, itemReady                                    *prometheus.Desc
	upMessages, upReconnects, upReissues, items, unmatched                          *prometheus.Desc
}

// New returns a Collector of g with default Options; register it with a
// prometheus.Registry.
func New(g *gateway.Gateway) *Collector { return NewWith(g, Options{}) }

// NewWith returns a Collector of g.
func NewWith(g *gateway.Gateway, o Options) *Collector {
	if o.ItemLimit == 0 {
		o.ItemLimit = DefaultItemLimit
	}
	ep := []string{"endpoint"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("ert_gateway_"+name, help, labels, nil)
	}
	return &Collector{g: g, limit: max(o.ItemLimit, 0),
		notExported:   d("items_not_exported", "Items open but left out of the per-item series (Options.ItemLimit)."),
		conns:         d("downstream_connections", "Open downstream connections.", ep...),
		accepted:      d("downstream_accepted_total", "Downstream connections accepted.", ep...),
		logins:        d("downstream_logins_total", "Downstream Logins accepted.", ep...),
		loginFailures: d("downstream_login_failures_total", "Downstream Logins refused.", ep...),
		sent:          d("downstream_messages_sent_total", "Messages sent downstream.", ep...),
		frames:        d("downstream_frames_sent_total", "WebSocket frames sent downstream.", ep...),
		slow:          d("downstream_slow_disconnects_total", "Downstream connections dropped as slow consumers.", ep...),
		pingTimeouts:  d("downstream_ping_timeouts_total", "Downstream connections dropped for silence.", ep...),
		posts:         d("downstream_posts_total", "Posts forwarded upstream.", ep...),
		connStreams:   d("connection_streams", "Open item streams of a downstream connection.", "endpoint", "conn", "user"),
		connSent:      d("connection_messages_sent_total", "Messages sent on a downstream connection.", "endpoint", "conn", "user"),
		itemStreams:   d("item_streams", "Downstream streams of an item (all connections).", "item"),
		itemUpdates:   d("item_updates_total", "Updates of an item fanned out.", "item"),
		itemSeq:       d("item_seq", "Last SeqNumber of an item.", "item"),
		itemReady:     d("item_ready", "1 when the item has its image from upstream.", "item"),
		upMessages:    d("upstream_messages_total", "Messages received from upstream."),
		upReconnects:  d("upstream_reconnects_total", "Upstream reconnects."),
		upReissues:    d("upstream_login_reissues_total", "Upstream Login reissues (token renewals)."),
		items:         d("upstream_items", "Items open upstream."),
		unmatched:     d("upstream_unmatched_messages_total", "Upstream messages for items already closed downstream."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.notExported, c.conns, c.accepted, c.logins, c.loginFailures, c.sent, c.frames, c.slow,
		c.pingTimeouts, c.posts, c.connStreams, c.connSent, c.itemStreams, c.itemUpdates, c.itemSeq, c.itemReady,
		c.upMessages, c.upReconnects, c.upReissues, c.items, c.unmatched} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	for i, s := range c.g.Servers() {
		ep := strconv.Itoa(i)
		st := s.Stats()
		gauge(c.conns, float64(st.Connections), ep)
		counter(c.accepted, float64(st.Accepted), ep)
		counter(c.logins, float64(st.Logins), ep)
		counter(c.loginFailures, float64(st.LoginFailures), ep)
		counter(c.sent, float64(st.MessagesSent), ep)
		counter(c.frames, float64(st.FramesSent), ep)
		counter(c.slow, float64(st.SlowDisconnects), ep)
		counter(c.pingTimeouts, float64(st.PingTimeouts), ep)
		counter(c.posts, float64(st.Posts), ep)
		for _, ci := range s.Conns() {
			id := strconv.FormatUint(ci.ID, 10)
			gauge(c.connStreams, float64(ci.Streams), ep, id, ci.User)
			counter(c.connSent, float64(ci.Sent), ep, id, ci.User)
		}
	}
	items := c.g.Hub().SourceItems()
	gauge(c.notExported, float64(max(len(items)-c.limit, 0)))
	for _, it := range items[:min(len(items), c.limit)] {
		gauge(c.itemStreams, float64(it.Streams), it.Name)
		counter(c.itemUpdates, float64(it.Updates), it.Name)
		gauge(c.itemSeq, float64(it.Seq), it.Name)
		ready := 0.0
		if it.Ready {
			ready = 1
		}
		gauge(c.itemReady, ready, it.Name)
	}
	st := c.g.Stats()
	counter(c.upMessages, float64(st.Upstream.Messages))
	counter(c.upReconnects, float64(st.Upstream.Reconnects))
	counter(c.upReissues, float64(st.Upstream.LoginReissues))
	gauge(c.items, float64(st.Items))
	counter(c.unmatched, float64(st.Unmatched))
}
