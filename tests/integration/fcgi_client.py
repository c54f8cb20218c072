"""A raw FastCGI client for the tests: records written by hand with struct,
so a test can send what no front server would (oversized name-value
lengths, lengths past a record's content, truncated records, unknown record
types, management records) as well as ordinary requests, one or several on
one connection (FCGI_KEEP_CONN)."""
import socket
import struct

VERSION = 1
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR, DATA, \
    GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = range(1, 12)
RESPONDER = 1
KEEP_CONN = 1


def header(rtype, rid, clen, plen=0, version=VERSION):
    return struct.pack(">BBHHBB", version, rtype, rid, clen, plen, 0)


def record(rtype, rid, content=b"", pad=None):
    """One record, padded to a multiple of 8 unless pad says otherwise."""
    if pad is None:
        pad = -len(content) % 8
    return header(rtype, rid, len(content), pad) + content + b"\0" * pad


def length(n):
    """A name or value length: one byte below 128, else four with the high bit."""
    return bytes([n]) if n < 0x80 else struct.pack(">I", n | 0x80000000)


def pair(name, value):
    name = name.encode() if isinstance(name, str) else name
    value = value.encode() if isinstance(value, str) else value
    return length(len(name)) + length(len(value)) + name + value


def begin(rid=1, keep=False, role=RESPONDER):
    return record(BEGIN_REQUEST, rid, struct.pack(">HB5x", role, KEEP_CONN if keep else 0))


def params_for(path, method="GET", body=b"", content_type=None, extra=None):
    """The CGI variables nginx would send (docker/nginx/braid_fastcgi.conf)."""
    uri = path
    query = path.split("?", 1)[1] if "?" in path else ""
    p = {"REQUEST_METHOD": method, "REQUEST_URI": uri, "QUERY_STRING": query,
         "SCRIPT_NAME": path.split("?", 1)[0], "SERVER_PROTOCOL": "HTTP/1.1",
         "GATEWAY_INTERFACE": "CGI/1.1", "CONTENT_LENGTH": str(len(body)) if body else "",
         "CONTENT_TYPE": content_type or ""}
    p.update(extra or {})
    return p


def request_head(path, rid=1, keep=False, method="GET", body=b"", content_type=None,
                 extra=None):
    """BEGIN_REQUEST and the PARAMS stream (with its end) of a request."""
    content = b"".join(pair(k, v) for k, v in params_for(path, method, body, content_type,
                                                         extra).items())
    return begin(rid, keep) + record(PARAMS, rid, content) + record(PARAMS, rid)


def request(path, rid=1, keep=False, method="GET", body=b"", content_type=None, extra=None):
    """The bytes of one whole request: BEGIN, PARAMS (and their end), STDIN (and its end)."""
    out = request_head(path, rid, keep, method, body, content_type, extra)
    for i in range(0, len(body), 32768):
        out += record(STDIN, rid, body[i:i + 32768])
    return out + record(STDIN, rid)


class Closed(Exception):
    """The server closed the connection (EOF or reset) before END_REQUEST."""


class Response:
    def __init__(self, stdout, stderr, app_status, protocol_status):
        self.stdout, self.stderr = stdout, stderr
        self.app_status, self.protocol_status = app_status, protocol_status
        head, _, self.body = stdout.partition(b"\r\n\r\n")
        self.headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        self.status = int(self.headers.get("status", "200").split()[0])


class Conn:
    """One connection to `braid serve` (unix:PATH, HOST:PORT or [V6]:PORT)."""

    def __init__(self, address, timeout=10):
        if address.startswith("unix:"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target = address[5:]
        else:
            host, port = address.rsplit(":", 1)
            family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            target = (host.strip("[]"), int(port))
        self.sock.settimeout(timeout)
        self.sock.connect(target)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self):
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError) as e:
            raise Closed(repr(e))
        if not data:
            raise Closed("EOF")
        self.buf += data

    def read_record(self):
        while len(self.buf) < 8:
            self._fill()
        _, rtype, rid, clen, plen, _ = struct.unpack(">BBHHBB", self.buf[:8])
        while len(self.buf) < 8 + clen + plen:
            self._fill()
        content = self.buf[8:8 + clen]
        self.buf = self.buf[8 + clen + plen:]
        return rtype, rid, content

    def response(self, rid=1):
        """Reads records up to rid's END_REQUEST; raises Closed on EOF first."""
        out, err = b"", b""
        while True:
            rtype, r, content = self.read_record()
            if r != rid:
                continue
            if rtype == STDOUT:
                out += content
            elif rtype == STDERR:
                err += content
            elif rtype == END_REQUEST:
                app, proto = struct.unpack(">IB3x", content)
                return Response(out, err, app, proto)

    def closed_by_server(self):
        """True when the server closes the connection (EOF or reset) before
        the socket's timeout; whatever it sent first is ignored."""
        try:
            while True:
                self._fill()
                self.buf = b""
        except Closed:
            return True
        except socket.timeout:
            return False


def get(address, path, keep=False, timeout=10):
    """One request on a fresh connection: the Response."""
    with Conn(address, timeout) as c:
        c.send(request(path, keep=keep))
        return c.response()
