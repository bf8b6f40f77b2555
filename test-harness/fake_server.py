#!/usr/bin/env python3
"""fake_server.py: the "granted to everything" attacker of issue 11, a forged licence server.

    fake_server.py PORT VERSION [SECONDS] [KEYFILE]

Listens on 127.0.0.1:PORT and answers the add-in protocol (`/licence/…`, JSON) as a forged server
would: every connect accepted under VERSION (the real server's) and protocol 2, with a `ServerKey` of
random bytes and, when KEYFILE is given, that genuine key file (stolen from an installation) shown as
its proof with a signature it cannot make (random bytes: it has no per-key key of a genuine key);
every later call — obtain, check, keyinfo, object — "granted" in plain JSON (it agreed no real
channel); heartbeats, releases and disconnects acknowledged. The harness checks that the add-in
believes none of it: ObtainLicence false with code 17, no key parameter, no object. Prints
"listening" once bound; every request path goes to stderr. Exits by itself after SECONDS (default 300).
"""
import base64
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
    stolen = None

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
            proofs = []
            if Handler.stolen:
                proofs.append({"KeyFile": Handler.stolen, "Signature": base64.b64encode(os.urandom(64)).decode()})
            self.answer(200, {
                "ConnectionID": "FAKE%d" % Handler.connections,
                "ServerVersion": Handler.version,
                "ExpireTime": utc(60),
                "ConnectionLeaseSeconds": 60,
                "SessionLeaseSeconds": 60,
                "HeartbeatSeconds": 5,
                "ServerKey": os.urandom(32).hex(),
                "Protocol": 2,
                "Proofs": proofs,
            })
        elif path in ("/licence/obtain", "/licence/check"):
            self.answer(200, {
                "SessionID": "FAKESESSION",
                "KeyID": Handler.series,
                "UsedLicence": 1,
                "ExpireTime": utc(60),
                "Reused": path == "/licence/check",
            })
        elif path == "/licence/keyinfo":
            self.answer(200, {"KeyID": Handler.series, "LicenceCount": 999, "LicencesUsed": 0,
                              "Flags": 2 ** 63 - 1, "Keys": []})
        elif path == "/licence/object":
            self.answer(200, {"ObjectKey": "11" * 32, "KeyFile": Handler.stolen or ""})
        else:
            self.answer(200, {"Released": True, "ExpireTime": utc(60), "LostSessions": []})

    def log_message(self, format, *args):
        sys.stderr.write("fake server: %s\n" % (format % args))


def main():
    port, Handler.version = int(sys.argv[1]), sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 300.0
    if len(sys.argv) > 4:
        with open(sys.argv[4], encoding="utf-8") as f:
            Handler.stolen = f.read()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Timer(seconds, lambda: os._exit(0)).start()
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
