#!/usr/bin/env python3
"""JSON text tools for 0011-values-exact.sh.

There is no `import json` here on purpose: a JSON library would turn
9007199254740993 into a double and \\u00e9 into é, which is exactly what the
test checks the bridge does not do. The scanner below only finds where each
value starts and ends in the text; the bytes are compared as they are.

  values.py strip TEXT
        print TEXT without insignificant whitespace (outside strings)
  values.py fetch URL COUNT CHANNEL...
        log in to sfsim (SF_* from the environment) as an independent Bayeux
        client, subscribe to each CHANNEL from -2, read COUNT events; print one
        tab-separated line per event: channel, replayId (as written),
        data, data.payload or data.sobject, the whole message (each part as
        sfsim sent it, whitespace removed), and how many whitespace bytes the
        message had outside strings
  values.py compare EXPECTED CHANNEL MODE DUMP
        check a topic read by kcat (-f '%k\\t%h\\t%S\\t%s\\n', in DUMP) against
        the events of CHANNEL in EXPECTED (fetch's output), with the value of
        MODE (data | payload | message): print "PASS what" or "FAIL what" for
        the record count, the keys, the sf.* headers and the values, each FAIL
        followed by the differences. Exit 1 when any failed.
"""
import http.cookiejar
import os
import sys
import urllib.parse
import urllib.request

WS = b" \t\r\n"


class Node:
    """Where a value sits in the text; members of an object by raw key."""

    def __init__(self, start, end, members=None, items=None):
        self.start, self.end = start, end
        self.members = members if members is not None else {}
        self.items = items if items is not None else []


def skip_ws(s, i):
    while i < len(s) and s[i] in WS:
        i += 1
    return i


def expect(s, i, ch):
    if s[i:i + 1] != ch:
        raise ValueError("expected %r at byte %d: %r" % (ch, i, s[i:i + 40]))
    return i + 1


def scan_string(s, i):
    i = expect(s, i, b'"')
    while i < len(s):
        if s[i:i + 1] == b"\\":
            i += 2
        elif s[i:i + 1] == b'"':
            return i + 1
        else:
            i += 1
    raise ValueError("unterminated string")


def scan(s, i=0):
    """Scan the value at s[i:] (bytes). Returns (Node, index after it)."""
    i = skip_ws(s, i)
    start, c = i, s[i:i + 1]
    if c == b"{" or c == b"[":
        node = Node(start, None)
        close = b"}" if c == b"{" else b"]"
        i = skip_ws(s, i + 1)
        while s[i:i + 1] != close:
            if c == b"{":
                key_end = scan_string(s, i)
                key = s[i + 1:key_end - 1]
                i = expect(s, skip_ws(s, key_end), b":")
                node.members[key], i = scan(s, i)
            else:
                item, i = scan(s, i)
                node.items.append(item)
            i = skip_ws(s, i)
            if s[i:i + 1] == b",":
                i = skip_ws(s, i + 1)
        node.end = i + 1
        return node, i + 1
    if c == b'"':
        i = scan_string(s, i)
        return Node(start, i), i
    while i < len(s) and s[i] not in WS and s[i:i + 1] not in (b",", b"]", b"}", b":"):
        i += 1
    if i == start:
        raise ValueError("no value at byte %d" % start)
    return Node(start, i), i


def strip(s):
    """s without whitespace outside strings; returns (text, bytes removed)."""
    out, in_string, escaped, removed = bytearray(), False, False, 0
    for b in s:
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:
                escaped = True
            elif b == 0x22:
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in WS:
            removed += 1
            continue
        out.append(b)
    return bytes(out), removed


def raw(s, node):
    return s[node.start:node.end]


def post(opener, url, body, headers):
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with opener.open(req, timeout=30) as resp:
        return resp.read()


def fetch(url, count, channels):
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = urllib.parse.urlencode({
        "grant_type": "password", "client_id": os.environ["SF_CLIENT_ID"],
        "client_secret": os.environ["SF_CLIENT_SECRET"],
        "username": os.environ["SF_USERNAME"], "password": os.environ["SF_PASSWORD"],
    }).encode()
    text = post(opener, url + "/services/oauth2/token", form,
                {"Content-Type": "application/x-www-form-urlencoded"})
    token = raw(text, scan(text)[0].members[b"access_token"])[1:-1].decode()
    instance = raw(text, scan(text)[0].members[b"instance_url"])[1:-1].decode()
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + token}
    # CometD is served on the token's instance URL, not on the login URL.
    cometd = instance + "/cometd/59.0"

    def bayeux(body):
        text = post(opener, cometd, body.encode(), headers)
        return text, scan(text)[0].items

    text, replies = bayeux('[{"channel":"/meta/handshake","version":"1.0",'
                           '"supportedConnectionTypes":["long-polling"],"ext":{"replay":true}}]')
    client = raw(text, replies[0].members[b"clientId"])[1:-1].decode()
    subs = ",".join('{"channel":"/meta/subscribe","clientId":"%s","subscription":"%s",'
                    '"ext":{"replay":{"%s":-2}}}' % (client, ch, ch) for ch in channels)
    text, replies = bayeux("[" + subs + "]")
    for r in replies:
        if raw(text, r.members[b"successful"]) != b"true":
            raise SystemExit("values.py: subscribe failed: %s" % raw(text, r).decode())
    lines = []
    for _ in range(20):
        if len(lines) >= count:
            break
        text, msgs = bayeux('[{"channel":"/meta/connect","clientId":"%s",'
                            '"connectionType":"long-polling"}]' % client)
        for m in msgs:
            channel = raw(text, m.members[b"channel"])[1:-1]
            if channel.startswith(b"/meta/"):
                continue
            data = m.members[b"data"]
            part = data.members.get(b"payload") or data.members[b"sobject"]
            message, removed = strip(raw(text, m))
            lines.append(b"\t".join([
                channel, raw(text, data.members[b"event"].members[b"replayId"]),
                strip(raw(text, data))[0], strip(raw(text, part))[0], message,
                str(removed).encode()]))
    sys.stdout.buffer.write(b"".join(line + b"\n" for line in lines))


def read_dump(path):
    """kcat's '%k\\t%h\\t%S\\t%s\\n' records: [(key, {header: [values]}, value or None)]."""
    s, i, records = open(path, "rb").read(), 0, []
    while i < len(s):
        key_end = s.index(b"\t", i)
        hdr_end = s.index(b"\t", key_end + 1)
        len_end = s.index(b"\t", hdr_end + 1)
        n = int(s[hdr_end + 1:len_end])
        # The length says where the value ends, so a value holding a tab or a
        # line break cannot be misread; -1 is a NULL value (kcat -Z prints NULL).
        value = s[len_end + 1:len_end + 1 + n] if n >= 0 else None
        headers = {}
        for h in s[key_end + 1:hdr_end].split(b","):
            name, _, v = h.partition(b"=")
            headers.setdefault(name, []).append(v)
        records.append((s[i:key_end], headers, value))
        i = expect(s, len_end + 1 + (n if n >= 0 else len(b"NULL")), b"\n")
    return records


def compare(expected_path, channel, mode, dump):
    """Print PASS or FAIL for each aspect, differences below a FAIL."""
    column = {"data": 2, "payload": 3, "message": 4}[mode]
    want = [line.split(b"\t") for line in open(expected_path, "rb").read().splitlines()]
    want = [w for w in want if w[0] == channel.encode()]
    got = read_dump(dump)
    aspects = [
        ("one record per event", [len(want)], [len(got)]),
        ("keys are the replay IDs, exactly",
         sorted(w[1] for w in want), sorted(r[0] for r in got)),
        # Exactly one of each header per record, with the event's values.
        ("headers sf.replay_id and sf.channel, exactly",
         sorted(([w[1]], [channel.encode()]) for w in want),
         sorted((r[1].get(b"sf.replay_id", []), r[1].get(b"sf.channel", [])) for r in got)),
        ("values are the JSON text sfsim sent for %s, whitespace removed" % mode,
         sorted(w[column] for w in want),
         sorted(r[2] if r[2] is not None else b"(NULL)" for r in got)),
    ]
    failed = 0
    for name, a, b in aspects:
        if a == b:
            print("PASS " + name)
            continue
        failed = 1
        print("FAIL " + name)
        if name == aspects[0][0]:
            print("  expected %d, found %d" % (a[0], b[0]))
            continue
        for x in a:
            if x not in b:
                print("  expected, not found: %r" % (x,))
        for x in b:
            if x not in a:
                print("  found, not expected: %r" % (x,))
    return failed


def main(argv):
    if len(argv) == 3 and argv[1] == "strip":
        sys.stdout.buffer.write(strip(argv[2].encode())[0] + b"\n")
    elif len(argv) >= 4 and argv[1] == "fetch":
        fetch(argv[2], int(argv[3]), argv[4:])
    elif len(argv) == 6 and argv[1] == "compare":
        return compare(*argv[2:])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
