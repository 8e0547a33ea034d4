package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ertkit/ertkit/consumer"
	"github.com/ertkit/ertkit/dictionary"
	"github.com/ertkit/ertkit/trjson"
)

type postCmd struct {
	connFlags
	RIC       string        `arg:"" name:"RIC" help:"Item to contribute to."`
	Fields    []string      `arg:"" name:"FIELD=VALUE" help:"Field values, e.g. BID=45.55 ASK=45.57 DSPLY_NAME='MY ITEM'; null blanks a field."`
	OffStream bool          `name:"offstream" help:"Post on the Login stream (off-stream) instead of on the item's own stream."`
	Refresh   bool          `name:"refresh" help:"Post a Refresh (a whole image) instead of an Update."`
	Timeout   time.Duration `name:"timeout" default:"15s" help:"How long to wait for the Ack."`
}

// parseFieldValues turns FIELD=VALUE arguments into typed fields; the
// dictionary decides each field's type.
func parseFieldValues(args []string) ([]trjson.Field, error) {
	dict := dictionary.Default()
	var out []trjson.Field
	for _, a := range args {
		name, val, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, usageError("%q: write FIELD=VALUE, e.g. BID=45.55", a)
		}
		def, ok := dict.ByName(name)
		if !ok {
			return nil, usageError("field %q is not in the field dictionary (names are case sensitive, e.g. BID, ASK, TRDPRC_1)", name)
		}
		if val == "null" {
			out = append(out, trjson.Null(name))
			continue
		}
		switch {
		case def.Type == dictionary.Int || def.Type == dictionary.UInt:
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return nil, usageError("field %s is an integer (%s); %q is not", name, def.Type, val)
			}
			out = append(out, trjson.Int(name, n))
		case def.Type.IsNumeric():
			f, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return nil, usageError("field %s is a number (%s); %q is not", name, def.Type, val)
			}
			out = append(out, trjson.Float(name, f))
		default:
			out = append(out, trjson.String(name, val))
		}
	}
	return out, nil
}

func (c *postCmd) run(ctx context.Context, env *Env) error {
	if err := c.complete(env); err != nil {
		return err
	}
	fields, err := parseFieldValues(c.Fields)
	if err != nil {
		return err
	}
	sess, err := newSession(ctx, &c.connFlags, env)
	if err != nil {
		return err
	}
	defer sess.close()
	cfg := sess.consumerConfig(nil, env)
	cfg.Discover, cfg.HotStandby = nil, false
	cfg.Handler = func(*consumer.Msg) {}
	client, err := consumer.Dial(ctx, cfg)
	if err != nil {
		return fail(ExitConnection, err, "connecting")
	}
	defer client.Close()
	pctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	mode := "on-stream"
	if c.OffStream {
		mode = "off-stream"
		err = client.Post(pctx, consumer.Post{Name: c.RIC, Fields: fields, Refresh: c.Refresh})
	} else {
		sub, serr := client.Subscribe(pctx, []string{c.RIC})
		if serr != nil {
			return fail(ExitConnection, serr, "subscribe %s", c.RIC)
		}
		if werr := sub.Wait(pctx); werr != nil {
			return fail(ExitItem, werr, "item %s", c.RIC)
		}
		if st := sub.Item().State(); st.Stream != trjson.StreamOpen {
			return fail(ExitItem, nil, "item %s is %s/%s: %s (use --offstream to create or post to an item you cannot open)", c.RIC, st.Stream, st.Data, st.Text)
		}
		err = sub.Item().Post(pctx, fields)
	}
	var nak *consumer.NakError
	switch {
	case errors.As(err, &nak):
		fmt.Fprintf(env.Stdout, "Nak %s %s: %s: %s\n", mode, c.RIC, nak.Code, nak.Text)
		return fail(ExitItem, nil, "post refused (%s)", nak.Code)
	case err != nil:
		return fail(ExitItem, err, "post to %s", c.RIC)
	}
	fmt.Fprintf(env.Stdout, "Ack %s %s (%d fields)\n", mode, c.RIC, len(fields))
	return nil
}
