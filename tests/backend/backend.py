#!/usr/bin/python3
"""backend.py — a real HTTP/1.1 keep-alive backend for Braid's tests (stdlib only).

Usage:  /usr/bin/python3 tests/backend/backend.py [--port N] [--host 127.0.0.1]

--port 0 (the default) picks a free port.  The first line on stdout is
`PORT <n>` (flushed); then it serves until killed.  One thread per
connection, HTTP/1.1 with keep-alive, every response has a Content-Length.
Every endpoint answers every method (GET, POST, PUT, PATCH, DELETE, HEAD);
a request body is always read first, so a connection stays usable.

Endpoints (JSON bodies unless said otherwise):
  /users/{id}               {"data":[{"id":<id as int>,"name":"user<id>"}]}; 404 if id is not an int
  /echo, /echo/...          the request as received: {"method", "path" (raw, still
                            percent-encoded), "raw_query", "query": {k: v or [v, ...]}
                            (decoded; a repeated key gives a list), "headers": {lower-cased
                            name: value as UTF-8 text}, "body": parsed JSON, else the raw text, else null}
  /slow?ms=N                sleeps N ms, then {"slept_ms": N}
  /status/{code}            answers with that status and {"status": code} (no body for
                            204/304; a 3xx carries Location: /users/1)
  /notjson                  200, text/plain "hello"
  /close                    closes the connection without answering
  /flaky?key=K&fail=N       503 {"error":"flaky","attempt":n} for the first N requests with
                            that key, then 200 {"attempt": n} (n counts requests per key)
  /connections              {"accepted": TCP connections accepted since start}
  /big?bytes=N              a JSON string whose text is exactly N bytes (N >= 2)
  anything else             404 {"error": "no such endpoint"}
"""
import argparse
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr):
        super().__init__(addr, Handler)
        self.lock = threading.Lock()
        self.accepted = 0
        self.flaky = {}

    def process_request(self, request, client_address):
        # Called once per accepted TCP connection (not per HTTP request):
        # the count tells the tests whether connections are reused.
        with self.lock:
            self.accepted += 1
        super().process_request(request, client_address)

    def handle_error(self, request, client_address):
        # A client that hangs up (a timeout, a cancelled call) is normal here.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "braid-test-backend/1"

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, body=None, ctype="application/json", extra=()):
        data = b"" if body is None else (body if isinstance(body, bytes) else
                                         json.dumps(body, separators=(",", ":")).encode())
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status not in (204, 304) and self.command != "HEAD":
            self.wfile.write(data)

    def route(self):
        body = self.read_body()
        raw_path, _, raw_query = self.path.partition("?")
        query = {}
        for k, v in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
            if k in query:
                query[k] = query[k] if isinstance(query[k], list) else [query[k]]
                query[k].append(v)
            else:
                query[k] = v
        parts = raw_path.split("/")

        if len(parts) == 3 and parts[1] == "users":
            try:
                uid = int(urllib.parse.unquote(parts[2]))
            except ValueError:
                return self.send(404, {"error": "no such user"})
            return self.send(200, {"data": [{"id": uid, "name": "user%d" % uid}]})
        if parts[1] == "echo":
            text = body.decode("utf-8", "replace")
            try:
                parsed = json.loads(text) if body else None
            except ValueError:
                parsed = text
            headers = {}
            for k, v in self.headers.items():
                # http.server decodes header bytes as latin-1; show the
                # UTF-8 text a client sent as that text.
                v = v.encode("latin-1", "replace").decode("utf-8", "replace")
                k = k.lower()
                headers[k] = headers[k] + ", " + v if k in headers else v
            return self.send(200, {"method": self.command, "path": raw_path, "raw_query": raw_query,
                                   "query": query, "headers": headers, "body": parsed})
        if raw_path == "/slow":
            ms = int(query.get("ms", "0"))
            time.sleep(ms / 1000.0)
            return self.send(200, {"slept_ms": ms})
        if len(parts) == 3 and parts[1] == "status" and parts[2].isdigit():
            code = int(parts[2])
            if code < 200 or code > 599:
                return self.send(400, {"error": "status must be 200..599"})
            extra = [("Location", "/users/1")] if 300 <= code < 400 else []
            return self.send(code, {"status": code}, extra=extra)
        if raw_path == "/notjson":
            return self.send(200, b"hello", ctype="text/plain")
        if raw_path == "/close":
            self.close_connection = True
            return None
        if raw_path == "/flaky":
            key, fail = query.get("key", ""), int(query.get("fail", "0"))
            with self.server.lock:
                n = self.server.flaky.get(key, 0) + 1
                self.server.flaky[key] = n
            if n <= fail:
                return self.send(503, {"error": "flaky", "attempt": n})
            return self.send(200, {"attempt": n})
        if raw_path == "/connections":
            with self.server.lock:
                n = self.server.accepted
            return self.send(200, {"accepted": n})
        if raw_path == "/big":
            n = max(2, int(query.get("bytes", "2")))
            return self.send(200, b'"' + b"x" * (n - 2) + b'"')
        return self.send(404, {"error": "no such endpoint"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = route


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()
    server = Server((args.host, args.port))
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
