# Authentication end to end (owner: cfg/auth).  Clients log in to the pooler with
# scram-sha-256, md5 and plain against an auth_file holding the real pg_authid secrets
# (SCRAM and md5) and a plain password; the pooler logs in to PostgreSQL with SCRAM
# (pass-through of the client's key, or a db-entry password), md5 (md5 secret) or trust.
# Wrong passwords and unknown users get 28P01; no password or proof reaches the log;
# RELOAD picks up a changed auth_file.
. "$(dirname "$0")/../lib.sh"

SCRAM_SECRET=$(direct -c "select rolpassword from pg_authid where rolname = 'pp_scram'")
MD5_SECRET=$(direct -c "select rolpassword from pg_authid where rolname = 'pp_md5'")
case "$SCRAM_SECRET" in SCRAM-SHA-256\$*) ok "pp_scram has a SCRAM secret in pg_authid" ;; *) fail "no SCRAM secret" ;; esac
case "$MD5_SECRET" in md5*) ok "pp_md5 has an md5 secret in pg_authid" ;; *) fail "no md5 secret" ;; esac

# postgres keeps the cluster's password so that lib.sh's admin checks (PGPASSWORD) pass
write_userlist() {	# $1 = ppuser's password
	{
		printf '; auth_file for t_auth_passwords\n'
		printf '"postgres" "%s"\n' "$PGPASSWORD"
		printf '"pp_scram" "%s"\n' "$SCRAM_SECRET"
		printf '"pp_md5" "%s"\n' "$MD5_SECRET"
		printf '"ppuser" "%s"\n' "$1"
	} > "$SCEN_DIR/userlist.txt"
}
write_userlist "userpass"

# login USER PASSWORD -> current_user, or the error text
login() {
	PGPASSWORD="$2" psql "host=127.0.0.1 port=$POOLER_PORT dbname=ppdb user=$1" -XAtqc 'select current_user' 2>&1 | head -1
}
# sqlstate_md5 USER PASSWORD -> SQLSTATE of the error after an md5 login over the raw protocol
sqlstate_md5() {
	/usr/bin/python3 - "$POOLER_PORT" "$1" "$2" <<'PY'
import hashlib, struct, sys
from pgwire import Conn, first_error
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = Conn(port)
c.startup(user=user)
t, p = c.read_msg()
assert t == b"R" and struct.unpack("!i", p[:4])[0] == 5, (t, p)
inner = hashlib.md5(pw.encode() + user.encode()).hexdigest()
c.msg(b"p", b"md5" + hashlib.md5(inner.encode() + p[4:8]).hexdigest().encode() + b"\0")
e = first_error(c.read_until((b"Z", b"E")))
print(e["C"] if e else "no error")
PY
}

# ---- auth_type = scram-sha-256 ----------------------------------------------------
start_pooler "auth_type = scram-sha-256
auth_file = $SCEN_DIR/userlist.txt
pool_mode = transaction"
assert_eq "$(login pp_scram scrampass)" "pp_scram" \
	"scram: SCRAM secret from pg_authid; pooler logs in to a scram-sha-256 server by pass-through"
assert_eq "$(login ppuser userpass)" "ppuser" "scram: plain password in auth_file"
r=$(login pp_scram wrongpass)
assert_contains "$r" 'password authentication failed for user "pp_scram"' "scram: wrong password refused"
r=$(login nosuchuser whatever)
assert_contains "$r" 'password authentication failed for user "nosuchuser"' "scram: unknown user gets the same error"
r=$(login pp_md5 md5pass)
assert_contains "$r" 'password authentication failed' "scram: an md5 secret cannot serve SCRAM"
# a second login of the same client reuses the pooled server connection
assert_eq "$(login pp_scram scrampass)" "pp_scram" "scram: second login"
stop_pooler

# ---- auth_type = md5 ------------------------------------------------------------------
start_pooler "auth_type = md5
auth_file = $SCEN_DIR/userlist.txt
pool_mode = session"
assert_eq "$(login pp_md5 md5pass)" "pp_md5" "md5: md5 secret; pooler answers the server's md5 request from it"
assert_eq "$(login ppuser userpass)" "ppuser" "md5: plain password in auth_file"
assert_eq "$(login pp_scram scrampass)" "pp_scram" "md5: a SCRAM secret upgrades the exchange to SCRAM"
assert_eq "$(sqlstate_md5 pp_md5 wrongpass)" "28P01" "md5: wrong password -> SQLSTATE 28P01"
assert_eq "$(sqlstate_md5 nosuchuser x)" "28P01" "md5: unknown user -> SQLSTATE 28P01"
assert_eq "$(sqlstate_md5 ppuser userpass)" "no error" "md5: raw-protocol login with the right password"

# RELOAD re-reads auth_file: the old password stops working, the new one works
write_userlist "newpass"
padmin -c "RELOAD" >/dev/null || fail "RELOAD"
wait_for "[ \"\$(login ppuser newpass)\" = ppuser ]" 3000 || fail "new password after RELOAD: $(login ppuser newpass)"
ok "md5: RELOAD picked up the new auth_file password"
assert_contains "$(login ppuser userpass)" "password authentication failed" "md5: old password refused after RELOAD"
stop_pooler

# ---- auth_type = plain, and server passwords from the database entry -----------------------
start_pooler "auth_type = plain
auth_file = $SCEN_DIR/userlist.txt" \
"scramdb = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb user=pp_scram password=scrampass
md5db = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb user=pp_md5 password='md5pass'
baddb = host=127.0.0.1 port=$PG_SERVER_PORT dbname=ppdb user=pp_scram password=notit"
assert_eq "$(login ppuser newpass)" "ppuser" "plain: cleartext password checked against a plain secret"
assert_eq "$(login pp_md5 md5pass)" "pp_md5" "plain: cleartext password checked against an md5 secret"
r=$(login pp_md5 nope)
assert_contains "$r" 'password authentication failed for user "pp_md5"' "plain: wrong password refused"
r=$(PGPASSWORD=newpass psql "host=127.0.0.1 port=$POOLER_PORT dbname=scramdb user=ppuser" -XAtqc 'select current_user' 2>&1)
assert_eq "$r" "pp_scram" "db entry user+password: pooler logs in to the server with SCRAM from a plain password"
r=$(PGPASSWORD=newpass psql "host=127.0.0.1 port=$POOLER_PORT dbname=md5db user=ppuser" -XAtqc 'select current_user' 2>&1)
assert_eq "$r" "pp_md5" "db entry user+password: pooler logs in to the server with md5"
r=$(PGPASSWORD=newpass psql "host=127.0.0.1 port=$POOLER_PORT dbname=baddb user=ppuser" -XAtqc 'select 1' 2>&1)
assert_not_contains "$r" "notit" "a wrong server password is not shown to the client"
[ "$r" != "1" ] || fail "login with a wrong server password succeeded"
ok "wrong server password: client gets an error ($r)"
stop_pooler

# ---- nothing secret in the log ------------------------------------------------------------------
for s in scrampass md5pass userpass newpass wrongpass notit "${SCRAM_SECRET##*\$}" "${MD5_SECRET#md5}"; do
	if grep -qF -- "$s" "$POOLER_LOG"; then
		fail "the pooler log contains a password or secret"
	fi
done
ok "no password, secret or proof in the pooler log"
