#!/usr/bin/env python3
"""relay.py: a recording TCP relay on loopback, for the harness's wire check (run.sh).

    relay.py LISTEN_PORT TARGET_PORT CAPTURE_FILE [SECONDS]

Listens on 127.0.0.1:LISTEN_PORT, connects each client to 127.0.0.1:TARGET_PORT and passes bytes both
ways, appending every chunk to CAPTURE_FILE (flushed before the chunk is forwarded, so a reply the
add-in has received is already in the file). Prints "listening" once bound. Exits by itself after
SECONDS (default 300), whatever is still open: it never outlives a hung run.
"""
import os
import socket
import sys
import threading
import time


def main():
    listen_port, target_port, capture = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 300.0
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    out = open(capture, "ab", buffering=0)

    def pump(source, sink):
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                with lock:
                    out.write(chunk)
                sink.sendall(chunk)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", listen_port))
    listener.listen(16)
    listener.settimeout(0.5)
    print("listening", flush=True)
    while time.monotonic() < deadline:
        try:
            client, _ = listener.accept()
        except socket.timeout:
            continue
        try:
            upstream = socket.create_connection(("127.0.0.1", target_port), timeout=5)
            upstream.settimeout(None)
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()
    os._exit(0)


if __name__ == "__main__":
    main()
