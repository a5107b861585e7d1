#!/usr/bin/env python3
"""Hold a listener under connection pressure, as 0175 needs it.

flood.py PORT IDLE SLOW SECONDS READYFILE: open IDLE connections that send
nothing and SLOW ones that dribble one byte of a request every 0.2 s
(slow-loris); whichever the server closes is opened again at once, so the
pressure holds for SECONDS. READYFILE is written once every connection is
open. Exits by itself: time-bounded, nothing to clean up but the process.
"""
import socket
import sys
import time

port, nidle, nslow, seconds, readyfile = (int(sys.argv[1]), int(sys.argv[2]),
                                          int(sys.argv[3]), float(sys.argv[4]),
                                          sys.argv[5])
REQ = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000


def connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    return s


def alive(s):
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


idle = [connect() for _ in range(nidle)]
slow = [[connect(), 0] for _ in range(nslow)]
with open(readyfile, "w") as f:
    f.write("%d idle %d slow\n" % (sum(1 for s in idle if s), sum(1 for s in slow if s[0])))

reopened = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for i, s in enumerate(idle):
        if s is None or not alive(s):
            if s:
                s.close()
            idle[i] = connect()
            reopened += 1
    for e in slow:
        s = e[0]
        ok = s is not None and alive(s)
        if ok:
            try:
                s.send(REQ[e[1]:e[1] + 1])
                e[1] = (e[1] + 1) % len(REQ)
            except OSError:
                ok = False
        if not ok:
            if s:
                s.close()
            e[0], e[1] = connect(), 0
            reopened += 1
    time.sleep(0.2)
print("reopened %d" % reopened)
