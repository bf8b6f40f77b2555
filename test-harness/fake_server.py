#!/usr/bin/env python3
"""fake_server.py: a licence server that grants everything and agrees no protected channel.

    fake_server.py PORT VERSION [SECONDS]

Listens on 127.0.0.1:PORT and answers the add-in protocol (`/licence/…`, JSON) as a forged server
would: every connect accepted under VERSION (the real server's, so the add-in accepts it) but with no
`ServerKey`, so no channel is agreed; every obtain and check granted; heartbeats, releases and
disconnects acknowledged; `/licence/object` (which a correct add-in never reaches without a channel)
refused with code 14. The harness checks that OpenObject through it opens nothing. Prints "listening"
once bound; every request path goes to stderr. Exits by itself after SECONDS (default 300).
"""
import datetime
import http.server
import json
import os
import sys
import threading


def utc(seconds_ahead):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_ahead)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    version = "3.0.0.0"
    series = "672B"
    connections = 0

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.answer(200, {"Version": Handler.version})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            request = {}
        path = self.path.split("?")[0]
        if path == "/licence/connect":
            Handler.connections += 1
            Handler.series = request.get("KeyID") or Handler.series
            self.answer(200, {
                "ConnectionID": "FAKE%d" % Handler.connections,
                "ServerVersion": Handler.version,
                "ExpireTime": utc(60),
                "ConnectionLeaseSeconds": 60,
                "SessionLeaseSeconds": 60,
                "HeartbeatSeconds": 5,
            })
        elif path in ("/licence/obtain", "/licence/check"):
            self.answer(200, {
                "SessionID": "FAKESESSION",
                "KeyID": Handler.series,
                "UsedLicence": 1,
                "ExpireTime": utc(60),
                "Reused": path == "/licence/check",
            })
        elif path == "/licence/object":
            self.answer(400, {"Code": 14, "Text": "NoChannel", "Message": "no channel", "Exception": ""})
        else:
            self.answer(200, {"Released": True, "ExpireTime": utc(60), "LostSessions": []})

    def log_message(self, format, *args):
        sys.stderr.write("fake server: %s\n" % (format % args))


def main():
    port, Handler.version = int(sys.argv[1]), sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 300.0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Timer(seconds, lambda: os._exit(0)).start()
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
