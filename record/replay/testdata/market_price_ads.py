#!/usr/bin/env python3
"""Streams one item from an ADS-style tr_json2 endpoint the way LSEG's
market_price.py example does (websocket-client, Login by user name,
Pong answers), and prints one JSON line per Refresh or Update it gets:
{"Type":…,"Name":…,"SeqNumber":…,"BID":…}. Exits after --updates Updates.
"""
import argparse
import json
import sys

import websocket

p = argparse.ArgumentParser()
p.add_argument("--hostname", default="127.0.0.1")
p.add_argument("--port", default="15000")
p.add_argument("--user", default="user")
p.add_argument("--ric", default="TRI.N")
p.add_argument("--updates", type=int, default=3)
a = p.parse_args()

ws = websocket.create_connection("ws://%s:%s/WebSocket" % (a.hostname, a.port), subprotocols=["tr_json2"], timeout=20)
ws.send(json.dumps({"ID": 1, "Domain": "Login", "Key": {"Name": a.user, "Elements": {"ApplicationId": "256", "Position": "127.0.0.1/net"}}}))
updates = 0
while updates < a.updates:
    for m in json.loads(ws.recv()):
        t = m.get("Type")
        if t == "Ping":
            ws.send(json.dumps({"Type": "Pong"}))
        elif t == "Refresh" and m.get("Domain") == "Login":
            ws.send(json.dumps({"ID": 2, "Key": {"Name": a.ric}}))
        elif t in ("Refresh", "Update") and m.get("ID") == 2:
            print(json.dumps({"Type": t, "SeqNumber": m.get("SeqNumber"), "BID": m.get("Fields", {}).get("BID")}))
            sys.stdout.flush()
            if t == "Update":
                updates += 1
        elif t == "Status":
            print(json.dumps({"Type": t, "State": m.get("State")}))
            sys.exit(1)
ws.close()
