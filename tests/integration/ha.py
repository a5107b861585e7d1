#!/usr/bin/env python3
"""Reads sfsim's admin answers for the replica-group tests (ha.inc.sh).

    ha.py channel-stat CHANNEL KEY   < /admin/stats   the number KEY of CHANNEL
    ha.py clients                    < /admin/clients one line per client

channel-stat looks for KEY in any object found under the key CHANNEL (the
channel's stats and its poller stats may sit in different places of
/admin/stats); prints the largest such value, or nothing.

clients prints "clientId subscriptions polling disconnected connects
last_connect state" (state: live, disconnected, expired, ...; subscriptions comma-separated, "-" when none; booleans as
true/false; last_connect "-" when null), accepting a list or an object
holding the list under "clients".
"""
import json
import sys


def find(node, channel, key, found):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == channel and isinstance(v, dict) and isinstance(v.get(key), (int, float)):
                found.append(v[key])
            find(v, channel, key, found)
    elif isinstance(node, list):
        for v in node:
            find(v, channel, key, found)


def main():
    text = sys.stdin.read()
    if not text.strip():
        return 0
    doc = json.loads(text)
    if sys.argv[1] == "channel-stat":
        found = []
        find(doc, sys.argv[2], sys.argv[3], found)
        if found:
            print(int(max(found)))
        return 0
    if sys.argv[1] == "clients":
        if isinstance(doc, dict):
            doc = doc.get("clients", [])
        for c in doc:
            subs = c.get("subscriptions") or []
            state = c.get("state") or ("disconnected" if c.get("disconnected") else "live")
            print("%s %s %s %s %s %s %s" % (
                c.get("clientId") or c.get("client_id"),
                ",".join(subs) if subs else "-",
                "true" if c.get("polling") else "false",
                "true" if c.get("disconnected") else "false",
                int(c.get("connects") or 0),
                c.get("last_connect") or "-",
                state))
        return 0
    print("ha.py: unknown command", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
