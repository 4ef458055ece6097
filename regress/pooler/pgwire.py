"""pgwire.py -- a tiny raw PostgreSQL v3 client for the pooler scenarios:
send exactly the bytes a test wants (malformed packets included) and read
back messages with their fields (SQLSTATE of errors), with timeouts."""
import socket
import struct
import time


class Conn:
    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def startup(self, user="postgres", database="ppdb", version=196608, extra=()):
        body = struct.pack("!i", version)
        for k, v in (("user", user), ("database", database)) + tuple(extra):
            body += k.encode() + b"\0" + v.encode() + b"\0"
        body += b"\0"
        self.send(struct.pack("!i", len(body) + 4) + body)

    def msg(self, typ, payload=b""):
        self.send(typ + struct.pack("!i", len(payload) + 4) + payload)

    def query(self, sql):
        self.msg(b"Q", sql.encode() + b"\0")

    def read_msg(self, timeout=5.0):
        """Next (type, payload); (None, None) on EOF."""
        deadline = time.time() + timeout
        while True:
            if len(self.buf) >= 5:
                n = struct.unpack("!i", self.buf[1:5])[0]
                if len(self.buf) >= 1 + n:
                    t, p = self.buf[:1], self.buf[5:1 + n]
                    self.buf = self.buf[1 + n:]
                    return t, p
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no message")
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except ConnectionResetError:
                d = b""
            if not d:
                return None, None
            self.buf += d

    def read_until(self, types=(b"Z",), timeout=5.0):
        """Messages up to and including one of `types` (or EOF)."""
        out = []
        while True:
            t, p = self.read_msg(timeout)
            out.append((t, p))
            if t is None or t in types:
                return out

    def close(self):
        self.s.close()


def fields(payload):
    """ErrorResponse/NoticeResponse fields as a dict {code: text}."""
    out = {}
    for part in payload.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode()
    return out


def first_error(msgs):
    for t, p in msgs:
        if t == b"E":
            return fields(p)
    return None


# Extended-protocol messages, as the scenarios send them.
def cstr(x):
    return x.encode() + b"\0"


def parse(c, name, sql, types=()):
    c.msg(b"P", cstr(name) + cstr(sql) + struct.pack("!h", len(types)) +
          b"".join(struct.pack("!i", t) for t in types))


def bind(c, stmt, *params, portal=""):
    """Bind text parameters to `stmt` (text results)."""
    body = cstr(portal) + cstr(stmt) + struct.pack("!h", 0) + struct.pack("!h", len(params))
    for p in params:
        body += struct.pack("!i", len(p)) + p.encode()
    c.msg(b"B", body + struct.pack("!h", 0))


def execute(c, portal=""):
    c.msg(b"E", cstr(portal) + struct.pack("!i", 0))


def describe(c, kind, name):
    c.msg(b"D", kind + cstr(name))


def close(c, kind, name):
    c.msg(b"C", kind + cstr(name))


def sync(c):
    c.msg(b"S")


def run_steps(port, steps):
    """A fresh connection to `port`: each step sends its messages, then its
    replies are read up to ReadyForQuery (a step (fn, n): up to the n-th, for
    n pipelined Sync segments).  All replies, in order."""
    c = Conn(port)
    c.startup()
    c.read_until()
    res = []
    for step in steps:
        fn, n = step if isinstance(step, tuple) else (step, 1)
        fn(c)
        for _ in range(n):
            res.extend(c.read_until())
    c.close()
    return res


def compare_cases(cases, direct, pooler):
    """Run each case {name: steps} straight to the server and through the
    pooler; print "name: same" or "name: DIFFERENT" with both replies.
    Returns {name: the pooler's replies}."""
    out = {}
    for name, steps in cases.items():
        want = run_steps(direct, steps)
        got = out[name] = run_steps(pooler, steps)
        print("%s: %s" % (name, "same" if got == want else "DIFFERENT"))
        if got != want:
            print("  direct:", want)
            print("  pooler:", got)
    return out
