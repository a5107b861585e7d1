#!/usr/bin/env python3
"""A hostile Salesforce for tests/hostile/*.sh.

Plays Salesforce's OAuth token endpoint (/services/oauth2/token, password
flow) and its CometD endpoint (POST /cometd/<version>: handshake, subscribe,
connect, disconnect, unsubscribe) honestly, except for ONE attack chosen by
--scenario. Everything the bridge sends is logged (one JSON line per
request: method, path, headers as received, body) so a test can grep what
reached the server, and every access token issued is written to
--tokens-file so a test can check none of them leaks.

Scenarios (the attack):
 honest          none
 gopher          the token answer's instance_url is gopher://127.0.0.1:--raw-port/
 foreign-host    the token answer's instance_url is https://evil.example.net
 header-inject   the access token holds "\\r\\nX-Injected: 1"
 huge            an armed /meta/connect answer is --huge-bytes long (with
         Content-Length, then chunked on the second)
 nested          an armed /meta/connect answer holds 100,000 nested '['
 advice          armed /meta/connect replies carry odd advice, one after
         the other: reconnect none, bogus, a number, negative
         interval/timeout, absurd timeout
 unknown-channel armed /meta/connect replies are 404::Unknown channel
 hung            armed /meta/connect requests are never answered
 (poison events and floods need no scenario: /admin/publish?kind=...)

Admin API (127.0.0.1, for the test only):
 POST /admin/publish?channel=CH&count=N[&kind=good|nodata|badreplay|unrouted]
   -> {"replay_ids":[...]}  (for badreplay the ids are the server's
   sequence numbers; the event carries "replayId":"x<seq>")
 POST /admin/arm?count=N     the scenario's connect attack applies to the
               next N /meta/connect requests
 GET  /admin/stats           {"handshakes":..,"connects":..,"tokens":..,...}

--raw mode: a plain TCP listener that only counts the bytes it receives
(into --log as "raw_bytes N" lines), for the gopher scenario.

It binds 127.0.0.1 port 0, writes the port to --port-file once listening,
and exits on SIGTERM or after --deadline seconds.
"""

import argparse
import json
import os
import secrets
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOLD_S = 2.0            # how long an honest /meta/connect is held open
CLIENT_ID = "hostile-client"
CLIENT_SECRET = "hostile-secret-Zq81Kd"
USERNAME = "bridge@example.com"
PASSWORD = "hostile-pass-Wm42Rt"
ORG_ID = "00DHOSTILE0000001"


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Condition()
        self.seq = 0
        self.events = []        # (seq, channel, text)
        self.clients = {}       # clientId -> {"subs": {channel: cursor}, "cookie": str}
        self.armed = 0
        self.advice_step = 0
        self.huge_served = 0
        self.stats = {"handshakes": 0, "connects": 0, "subscribes": 0,
               "tokens": 0, "disconnects": 0, "attacks": 0,
               "unknown_client": 0}
        self.log = open(args.log, "a", buffering=1)
        self.tokens = open(args.tokens_file, "a", buffering=1) if args.tokens_file else None
        self.log_lock = threading.Lock()

    def note(self, obj):
        with self.log_lock:
            self.log.write(json.dumps(obj) + "\n")

    def take_armed(self):
        with self.lock:
            if self.armed > 0:
                self.armed -= 1
                self.stats["attacks"] += 1
                return True
        return False


ST = None


def render_event(seq, channel, kind):
    uuid = "%08x-0000-4000-8000-%012x" % (seq, seq)
    if kind == "nodata":
        return json.dumps({"channel": channel})
    replay = "x%d" % seq if kind == "badreplay" else seq
    msg = {"data": {"schema": "hostile-schema-1",
            "payload": {"CreatedDate": "2024-01-01T00:00:00.000Z",
                  "CreatedById": "005HOSTILE", "Seq__c": seq},
            "event": {"EventUuid": uuid, "replayId": replay}},
       "channel": channel}
    return json.dumps(msg, separators=(",", ":"))


def publish(channel, count, kind):
    ids = []
    with ST.lock:
        for _ in range(count):
            ST.seq += 1
            # An unrouted event rides on CH's replay stream but names
            # a channel nobody subscribed to.
            shown = "/event/Unrouted__e" if kind == "unrouted" else channel
            ST.events.append((ST.seq, channel, render_event(ST.seq, shown, kind)))
            ids.append(ST.seq)
        ST.lock.notify_all()
    return ids


def pending_for(cl):
    """Events for client @cl past its cursors; advances them. Under lock."""
    out = []
    for seq, channel, text in ST.events:
        cur = cl["subs"].get(channel)
        if cur is not None and seq > cur:
            out.append(text)
            cl["subs"][channel] = seq
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile-sf/1"

    def log_message(self, fmt, *a):
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def record(self, body):
        ST.note({"t": round(time.time(), 3), "method": self.command, "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body[:4096].decode("utf-8", "replace")})

    def send(self, status, obj, extra=None):
        data = obj if isinstance(obj, (bytes, bytearray)) else json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or []):
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        b = self.body()
        self.record(b)
        u = urllib.parse.urlparse(self.path)
        if u.path == "/admin/stats":
            with ST.lock:
                s = dict(ST.stats)
            s["clients"] = len(ST.clients)
            return self.send(200, s)
        self.send(404, [{"errorCode": "NOT_FOUND", "message": "not found"}])

    def do_POST(self):
        b = self.body()
        self.record(b)
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/admin/publish":
            ids = publish(q["channel"][0], int(q.get("count", ["1"])[0]),
                   q.get("kind", ["good"])[0])
            return self.send(200, {"replay_ids": ids})
        if u.path == "/admin/arm":
            with ST.lock:
                ST.armed += int(q.get("count", ["1"])[0])
            return self.send(200, {"armed": ST.armed})
        if u.path == "/services/oauth2/token":
            return self.token(b)
        if u.path.startswith("/cometd/"):
            return self.cometd(b)
        self.send(404, [{"errorCode": "NOT_FOUND", "message": "not found"}])

    # ---- OAuth ------------------------------------------------------

    def token(self, b):
        form = urllib.parse.parse_qs(b.decode("utf-8", "replace"))
        get = lambda k: form.get(k, [""])[0]
        if get("client_id") != CLIENT_ID:
            return self.send(400, {"error": "invalid_client_id",
                       "error_description": "client identifier invalid"})
        if (get("grant_type") != "password" or get("client_secret") != CLIENT_SECRET or
          get("username") != USERNAME or get("password") != PASSWORD):
            return self.send(400, {"error": "invalid_grant",
                       "error_description": "authentication failure"})
        tok = ORG_ID + "!AQ" + secrets.token_hex(16)
        if ST.tokens:
            ST.tokens.write(tok + "\n")
        sc = ST.args.scenario
        base = "http://127.0.0.1:%d" % self.server.server_address[1]
        instance = base
        if sc == "gopher":
            instance = "gopher://127.0.0.1:%d%s" % (ST.args.raw_port, ST.args.gopher_path)
        elif sc == "foreign-host":
            instance = "https://evil.example.net"
        if sc == "header-inject":
            tok = tok + "\r\nX-Injected: 1"
        with ST.lock:
            ST.stats["tokens"] += 1
        self.send(200, {"access_token": tok, "instance_url": instance,
                "id": base + "/id/" + ORG_ID + "/005HOSTILE00001",
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
                "signature": "aG9zdGlsZQ=="})

    # ---- CometD -----------------------------------------------------

    def cometd(self, b):
        try:
            msgs = json.loads(b)
        except ValueError:
            return self.send(400, [{"successful": False, "error": "400::Malformed JSON"}])
        if isinstance(msgs, dict):
            msgs = [msgs]
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer " + ORG_ID + "!"):
            return self.send(401, [{"channel": m.get("channel"), "successful": False,
                        "error": "401::Authentication invalid"} for m in msgs])
        out, cookies, raw = [], [], None
        for m in msgs:
            ch = m.get("channel")
            if ch == "/meta/handshake":
                cid = "hc" + secrets.token_hex(10)
                with ST.lock:
                    ST.clients[cid] = {"subs": {}}
                    ST.stats["handshakes"] += 1
                out.append({"clientId": cid, "channel": ch, "id": m.get("id"),
                      "version": "1.0", "minimumVersion": "1.0",
                      "supportedConnectionTypes": ["long-polling"],
                      "successful": True,
                      "ext": {"replay": True, "payload.format": True},
                      "advice": {"reconnect": "retry", "interval": 0,
                           "timeout": int(HOLD_S * 1000)}})
                cookies.append(("Set-Cookie", "BAYEUX_BROWSER=%s; Path=/; HttpOnly" % cid))
                continue
            cid = m.get("clientId")
            with ST.lock:
                cl = ST.clients.get(cid)
            if cl is None:
                with ST.lock:
                    ST.stats["unknown_client"] += 1
                out.append({"clientId": cid, "channel": ch, "id": m.get("id"),
                      "successful": False, "error": "403::Unknown client",
                      "advice": {"reconnect": "handshake", "interval": 0}})
                continue
            if ch == "/meta/subscribe":
                sub = m.get("subscription")
                rp = ((m.get("ext") or {}).get("replay") or {}).get(sub, -1)
                with ST.lock:
                    ST.stats["subscribes"] += 1
                    if rp == -2:
                        cur = 0
                    elif rp == -1:
                        cur = ST.seq
                    else:
                        cur = int(rp)
                    cl["subs"][sub] = cur
                out.append({"clientId": cid, "channel": ch, "id": m.get("id"),
                      "subscription": sub, "successful": True})
            elif ch == "/meta/unsubscribe":
                sub = m.get("subscription")
                with ST.lock:
                    cl["subs"].pop(sub, None)
                out.append({"clientId": cid, "channel": ch, "id": m.get("id"),
                      "subscription": sub, "successful": True})
            elif ch == "/meta/disconnect":
                with ST.lock:
                    ST.clients.pop(cid, None)
                    ST.stats["disconnects"] += 1
                out.append({"clientId": cid, "channel": ch, "id": m.get("id"),
                      "successful": True})
            elif ch == "/meta/connect":
                with ST.lock:
                    ST.stats["connects"] += 1
                r = self.connect(m, cid, cl)
                if r is None:
                    return          # the attack answered (or never will)
                out.extend(r)
            else:
                out.append({"channel": ch, "id": m.get("id"), "successful": False,
                      "error": "400::Unknown channel type"})
        self.send(200, out, cookies)

    def connect(self, m, cid, cl):
        """@returns the messages to answer, or None when answered here."""
        sc = ST.args.scenario
        reply = {"clientId": cid, "channel": "/meta/connect", "id": m.get("id"),
            "successful": True,
            "advice": {"reconnect": "retry", "interval": 0, "timeout": int(HOLD_S * 1000)}}
        if sc in ("huge", "nested", "hung") and ST.take_armed():
            getattr(self, "attack_" + sc)(reply)
            return None
        if sc == "unknown-channel" and ST.take_armed():
            reply["successful"] = False
            reply["error"] = "404::Unknown channel"
            reply.pop("advice")
            return [reply]
        if sc == "advice" and ST.take_armed():
            odd = [{"reconnect": "none"},
               {"reconnect": "bogus", "interval": 0},
               {"reconnect": 42, "interval": "soon", "timeout": []},
               {"reconnect": "retry", "interval": -5000, "timeout": -1},
               {"reconnect": "retry", "interval": 0, "timeout": 1e300},
               {"reconnect": "retry", "interval": 1e-9, "timeout": 99999999999999999999}]
            reply["advice"] = odd[ST.advice_step % len(odd)]
            ST.advice_step += 1
            with ST.lock:
                return pending_for(cl) + [reply]
        deadline = time.time() + HOLD_S
        with ST.lock:
            while True:
                evs = pending_for(cl)
                if evs or time.time() >= deadline:
                    break
                ST.lock.wait(max(0.01, deadline - time.time()))
        if not evs:
            return [reply]
        return [json.loads(e) for e in evs] + [reply]

    # ---- attacks answered here ------------------------------------

    def attack_huge(self, reply):
        size = ST.args.huge_bytes
        chunked = ST.huge_served % 2 == 1
        ST.huge_served += 1
        head = b'[{"channel":"/event/Huge__e","data":{"event":{"replayId":999999999},"payload":{"Pad__c":"'
        tail = b'"}}},' + json.dumps(reply).encode() + b"]"
        pad = size - len(head) - len(tail)
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        block = b"A" * 65536
        sent = 0

        def put(data):
            if chunked:
                self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
            else:
                self.wfile.write(data)
        try:
            put(head)
            while sent < pad:
                n = min(len(block), pad - sent)
                put(block[:n])
                sent += n
            put(tail)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        ST.note({"t": round(time.time(), 3), "attack": "huge", "chunked": chunked,
            "bytes_sent": sent})
        self.close_connection = True

    def attack_nested(self, reply):
        depth = 100000
        data = b"[" + json.dumps(reply).encode() + b"," + b"[" * depth + b"]" * depth + b"]"
        self.send(200, data)

    def attack_hung(self, reply):
        # Accept, read, never answer: wait until the bridge gives up
        # (closes the socket) or the server's deadline.
        ST.note({"t": round(time.time(), 3), "attack": "hung"})
        sock = self.connection
        while not STOP.is_set():
            try:
                sock.settimeout(0.5)
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    break
            except socket.timeout:
                continue
            except OSError:
                break
            time.sleep(0.5)
        ST.note({"t": round(time.time(), 3), "attack": "hung_released"})
        self.close_connection = True


STOP = threading.Event()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def raw_listener(args):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(args.port_file + ".tmp", args.port_file)
    log = open(args.log, "a", buffering=1)
    end = time.time() + args.deadline
    while not STOP.is_set() and time.time() < end:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        log.write("raw_connection\n")
        c.settimeout(2)
        total = 0
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                total += len(d)
        except OSError:
            pass
        c.close()
        log.write("raw_bytes %d\n" % total)


def main():
    global ST
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", default="honest")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--tokens-file")
    p.add_argument("--deadline", type=float, default=120)
    p.add_argument("--raw", action="store_true")
    p.add_argument("--raw-port", type=int, default=0)
    p.add_argument("--gopher-path", default="")
    p.add_argument("--huge-bytes", type=int, default=32 << 20)
    args = p.parse_args()

    signal.signal(signal.SIGTERM, lambda *a: STOP.set())
    signal.signal(signal.SIGINT, lambda *a: STOP.set())
    if args.raw:
        raw_listener(args)
        return 0
    scenarios = ("honest", "gopher", "foreign-host", "header-inject", "huge", "nested",
          "advice", "unknown-channel", "hung")
    if args.scenario not in scenarios:
        print("hostile.py: unknown scenario %s (one of %s)" % (args.scenario, ", ".join(scenarios)),
           file=sys.stderr)
        return 2
    ST = State(args)
    srv = Server(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(args.port_file + ".tmp", args.port_file)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    STOP.wait(args.deadline)
    STOP.set()
    with ST.lock:
        ST.lock.notify_all()
    srv.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
