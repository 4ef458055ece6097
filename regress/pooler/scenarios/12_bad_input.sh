# Bad input: oversized and malformed packets, wrong protocol versions, half
# and slow startup packets, unknown database, unsupported parameters.  Every
# bad client gets an ErrorResponse with a SQLSTATE (or is dropped) and the
# pooler keeps serving everyone else.
. "$(dirname "$0")/../lib.sh"
start_pooler "pool_mode = transaction
max_packet_size = 65536
client_login_timeout = 300ms"

out=$(/usr/bin/python3 - "$POOLER_PORT" <<'PY'
import socket, struct, sys, time
from pgwire import Conn, first_error
port = int(sys.argv[1])

def err_of(c, timeout=3):
    e = first_error(c.read_until(timeout=timeout)) or {}
    return "%s %s" % (e.get("C"), e.get("M"))

# oversized message after login
c = Conn(port); c.startup(); c.read_until()
c.send(b"Q" + struct.pack("!i", 1 << 20) + b"select 1")
print("oversized:", err_of(c))
# impossible length
c = Conn(port); c.startup(); c.read_until()
c.send(b"Q" + struct.pack("!i", 2))
print("badlen:", err_of(c))
# huge startup packet
c = Conn(port)
c.send(struct.pack("!ii", 50000, 196608))
print("bigstartup:", err_of(c))
# protocol 2.0
c = Conn(port); c.startup(version=2 << 16)
print("v2:", err_of(c))
# protocol 3.5: NegotiateProtocolVersion, then login works
c = Conn(port); c.startup(version=(3 << 16) | 5)
msgs = c.read_until()
print("v3.5:", [t.decode() for t, p in msgs if t][:2], msgs[-1][0] == b"Z")
# SSLRequest answered 'N', then a normal startup
c = Conn(port)
c.send(struct.pack("!ii", 8, 80877103))
print("ssl:", c.s.recv(1))
c.startup(); print("ssl then login:", c.read_until()[-1][0] == b"Z")
# unknown database
c = Conn(port); c.startup(database="nosuchdb")
print("nodb:", err_of(c))
# unsupported startup parameter
c = Conn(port); c.startup(extra=(("work_mem", "x"),))
print("param:", err_of(c))
# no user
c = Conn(port)
body = struct.pack("!i", 196608) + b"database\0ppdb\0\0"
c.send(struct.pack("!i", len(body) + 4) + body)
print("nouser:", err_of(c))
# half a startup packet, then silence: client_login_timeout
c = Conn(port)
t0 = time.time()
c.send(struct.pack("!i", 40) + b"\0\3")
e = err_of(c)
print("half: %s after_ms=%d" % (e, (time.time() - t0) * 1000))
# garbage before startup
c = Conn(port)
c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
print("http:", err_of(c))
# a message that is not a password during login is refused
c = Conn(port); c.startup(); c.read_until()
c.msg(b"X"); time.sleep(0.05)
print("terminate ok")
PY
)
echo "$out"
assert_contains "$out" "oversized: 08P01" "oversized packet -> 08P01"
assert_contains "$out" "badlen: 08P01" "impossible length -> 08P01"
assert_contains "$out" "bigstartup: 08P01" "oversized startup packet -> 08P01"
assert_contains "$out" "v2: 0A000 unsupported frontend protocol 2.0" "protocol 2.0 refused"
assert_contains "$out" "v3.5: ['v', 'R'] True" "protocol 3.5 negotiated down to 3.0"
assert_contains "$out" "ssl: b'N'" "SSLRequest answered N"
assert_contains "$out" "ssl then login: True" "login after SSL refusal"
assert_contains "$out" 'nodb: 3D000 database "nosuchdb" does not exist' "unknown database -> 3D000"
assert_contains "$out" "param: 08P01 unsupported startup parameter: work_mem" "unsupported startup parameter"
assert_contains "$out" "nouser: 28000" "missing user -> 28000"
assert_contains "$out" "half: 08P01 client_login_timeout" "half startup packet -> client_login_timeout"
assert_contains "$out" "http: 08P01" "garbage -> 08P01"
ms=$(echo "$out" | sed -n 's/.*after_ms=\([0-9]*\).*/\1/p')
assert_le "$ms" 420 "slow client dropped within ~100 ms of client_login_timeout (ms)"
assert_eq "$(pq -c "select 'still serving'")" "still serving" "pooler keeps serving everyone else"
assert_eq "$(padmin -c "show lists" | grep '^login_clients|' | cut -d'|' -f2)" 0 "no half-logged-in clients left"

# random garbage from many clients, before and after login; meanwhile a
# well-behaved client keeps running queries and must see no error
pq -c "select 1" >/dev/null
( for i in $(seq 1 30); do pq -c "select $i" >/dev/null || echo "good client failed at $i"; done ) >"$SCEN_DIR/good.out" 2>&1 &
good=$!
/usr/bin/python3 - "$POOLER_PORT" <<'PY' || fail "garbage script"
import random, socket, struct, sys
from pgwire import Conn
port = int(sys.argv[1])
rnd = random.Random(1234)
for i in range(150):
    try:
        c = Conn(port, timeout=2)
        if i % 2:
            c.startup(); c.read_until()
        n = rnd.randint(1, 300)
        c.send(bytes(rnd.getrandbits(8) for _ in range(n)))
        if i % 3 == 0:
            c.read_until(timeout=0.2)
        c.close()
    except (OSError, TimeoutError):
        pass
print("garbage sent")
PY
wait $good
[ ! -s "$SCEN_DIR/good.out" ] || fail "well-behaved client saw errors: $(cat "$SCEN_DIR/good.out")"
ok "150 garbage clients did not disturb a well-behaved one"
kill -0 "$POOLER_PID" || fail "pooler died"
assert_eq "$(pq -c "select 'alive'")" alive "pooler alive after garbage"
