package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ertkit/ertkit/trjson"
)

// Post is a contribution: an Update (or a Refresh when Refresh is true) of
// Fields for an item. Client.Post sends it off-stream on the Login stream;
// Item.Post sends it on the item's own stream.
type Post struct {
	Name    string
	Service string        // default Config.Service
	Domain  trjson.Domain // default MarketPrice
	Fields  []trjson.Field
	Refresh bool // post a Refresh (State Open/Ok) instead of an Update
}

// Generic is a Generic message (§23) with a FieldList or ElementList payload.
type Generic struct {
	Domain   trjson.Domain // default MarketPrice (use the stream's domain)
	Name     string        // optional Key.Name
	Fields   []trjson.Field
	Elements []trjson.Field
}

type pendingPost struct {
	id     int64
	stream int64
	ch     chan error // buffered 1
}

// Post sends p off-stream (on the Login stream) with Ack requested and
// waits for the Ack: nil, a *NakError, a *ServerError, or the context's
// error. Without a deadline on ctx, Config.PostTimeout applies.
//
// A post is never re-sent by the Client: when the connection is lost
// before the Ack, Post returns an error wrapping ErrDisconnected at once,
// and the post may or may not have been applied by the server (a post is
// not idempotent in general: think of a counter). Re-post yourself if your
// contribution is safe to apply twice. With no connection logged in at the
// call, Post returns ErrNotConnected.
func (c *Client) Post(ctx context.Context, p Post) error { return c.post(ctx, p, nil) }

func (c *Client) post(ctx context.Context, p Post, it *Item) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.PostTimeout)
		defer cancel()
	}
	if p.Service == "" {
		p.Service = c.cfg.Service
	}
	if p.Domain == 0 {
		p.Domain = trjson.DomainMarketPrice
	}
	cn := c.activeConn()
	if cn == nil {
		return ErrNotConnected
	}
	pid := c.postID.Add(1)
	ch := make(chan error, 1)
	err := cn.do(ctx, func(cn *conn) {
		inner := &trjson.Msg{Type: trjson.TypeUpdate, Domain: p.Domain, HasFields: true, Fields: p.Fields}
		if p.Refresh {
			inner.Type, inner.HasState = trjson.TypeRefresh, true
			inner.State = trjson.State{Stream: trjson.StreamOpen, Data: trjson.DataOk}
		}
		m := &trjson.Msg{Type: trjson.TypePost, Domain: p.Domain, Ack: true, PostID: pid, HasPostID: true,
			PostUserInfo: postUserInfo(c.cfg.Position)}
		if it != nil {
			s := cn.byItem[it]
			if s == nil {
				ch <- fmt.Errorf("consumer: post on %s: %w", it.Name, ErrNotConnected)
				return
			}
			m.ID = s.id
		} else {
			m.ID = loginID
			m.HasKey, m.Key.Name, m.Key.Service = true, p.Name, p.Service
			inner.HasKey, inner.Key.Name, inner.Key.Service = true, p.Name, p.Service
		}
		m.Message = trjson.AppendMsg(nil, inner)
		cn.posts[pid] = &pendingPost{id: pid, stream: m.ID, ch: ch}
		cn.send(m)
	})
	if err != nil {
		if errors.Is(err, ErrNotConnected) && ctx.Err() == nil {
			return fmt.Errorf("consumer: post %d: %w (not sent)", pid, ErrDisconnected)
		}
		return err
	}
	select {
	case err := <-ch:
		return postErr(pid, err)
	case <-cn.ctx.Done():
		// The Ack may have won the race with the loss.
		select {
		case err := <-ch:
			return postErr(pid, err)
		default:
		}
		return fmt.Errorf("consumer: post %d: %w (not re-sent: the server may have applied it)", pid, ErrDisconnected)
	case <-ctx.Done():
		// Forget the pending post; a late Ack is then ignored.
		fctx, cancel := context.WithTimeout(context.Background(), time.Second)
		cn.do(fctx, func(cn *conn) { delete(cn.posts, pid) })
		cancel()
		return fmt.Errorf("consumer: post %d: no Ack: %w", pid, ctx.Err())
	}
}

// postErr names the post in a disconnection error.
func postErr(pid int64, err error) error {
	if err == ErrDisconnected {
		return fmt.Errorf("consumer: post %d: %w (not re-sent: the server may have applied it)", pid, ErrDisconnected)
	}
	return err
}

// SendGeneric sends a Generic message on the Login stream.
func (c *Client) SendGeneric(ctx context.Context, g Generic) error { return c.sendGeneric(ctx, g, nil) }

func (c *Client) sendGeneric(ctx context.Context, g Generic, it *Item) error {
	cn := c.activeConn()
	if cn == nil {
		return ErrNotConnected
	}
	if g.Domain == 0 {
		g.Domain = trjson.DomainMarketPrice
	}
	errc := make(chan error, 1)
	if err := cn.do(ctx, func(cn *conn) {
		m := &trjson.Msg{Type: trjson.TypeGeneric, Domain: g.Domain, ID: loginID}
		if it != nil {
			s := cn.byItem[it]
			if s == nil {
				errc <- ErrNotConnected
				return
			}
			m.ID = s.id
		}
		if g.Name != "" {
			m.HasKey, m.Key.Name = true, g.Name
		}
		if g.Fields != nil {
			m.HasFields, m.Fields = true, g.Fields
		}
		if g.Elements != nil {
			m.Elements = trjson.AppendElements(nil, g.Elements)
		}
		cn.send(m)
		errc <- nil
	}); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
