package consumer

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes a Client's Stats as Prometheus metrics; register it
// with prometheus.MustRegister(consumer.Collector(c)).
func Collector(c *Client) prometheus.Collector { return &collector{c: c} }

type collector struct{ c *Client }

var (
	descCounter = func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("ertkit_consumer_"+name, help, nil, nil)
	}
	mMessages   = descCounter("messages_total", "Messages received on all connections.")
	mRefreshes  = descCounter("refreshes_total", "Refresh messages received.")
	mUpdates    = descCounter("updates_total", "Update messages received.")
	mDelivered  = descCounter("delivered_total", "Messages handed to the application.")
	mReconnects = descCounter("reconnects_total", "Successful logins after a lost connection.")
	mDrops      = descCounter("drops_total", "Messages dropped by the DropOldest policy.")
	mDups       = descCounter("dups_suppressed_total", "Hot-standby duplicates not delivered.")
	mErrors     = descCounter("errors_total", "Error messages and malformed frames.")
	mReissues   = descCounter("login_reissues_total", "Login reissues carrying a renewed token.")
	mConnUp     = prometheus.NewDesc("ertkit_consumer_connection_up", "1 when the connection is logged in.", []string{"conn", "endpoint"}, nil)
)

func (k *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mMessages, mRefreshes, mUpdates, mDelivered, mReconnects, mDrops, mDups, mErrors, mReissues, mConnUp} {
		ch <- d
	}
}

func (k *collector) Collect(ch chan<- prometheus.Metric) {
	s := k.c.Stats()
	for _, v := range []struct {
		d *prometheus.Desc
		n uint64
	}{{mMessages, s.Messages}, {mRefreshes, s.Refreshes}, {mUpdates, s.Updates}, {mDelivered, s.Delivered},
		{mReconnects, s.Reconnects}, {mDrops, s.Drops}, {mDups, s.DupsSuppressed}, {mErrors, s.Errors}, {mReissues, s.LoginReissues}} {
		ch <- prometheus.MustNewConstMetric(v.d, prometheus.CounterValue, float64(v.n))
	}
	for _, cs := range s.Conns {
		up := 0.0
		if cs.State == ConnLoggedIn {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(mConnUp, prometheus.GaugeValue, up, strconv.Itoa(cs.Index), cs.Endpoint)
	}
}
