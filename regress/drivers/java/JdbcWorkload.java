// regress/drivers/java/JdbcWorkload.java -- pgjdbc workload.
//
// DRV_CLIENTS threads, each with its own Connection (ApplicationName set at
// startup, prepareThreshold=5: a PreparedStatement executed five times
// switches to a server-side named statement "S_<n>", numbered per
// connection).  Each thread keeps its PreparedStatements across DRV_ROUNDS
// rounds of:
//   prepared -- INSERT ... RETURNING once and SELECT three times per round,
//               so both are named server-side statements from round 2 on;
//               and a statement prepared, executed six times (named from
//               the fifth) and closed; with preparedStatementCacheQueries=1
//               pgjdbc then sends Close(S_n) for the statement it evicts;
//   batch    -- addBatch x5 + executeBatch (pgjdbc sends the five
//               Bind/Execute pairs pipelined before one Sync);
//   txn      -- setAutoCommit(false), SET LOCAL application_name and
//               TimeZone, UPDATE of the thread's account and of the shared
//               counter, a pause, commit() (or rollback() every third round);
//   errors   -- a unique violation in autocommit and inside a transaction
//               (25P02 after it until rollback()), recovery after each;
// and last: session -- setClientInfo("ApplicationName") and session-level
// SET TimeZone and search_path, checked by queries with pauses in between,
// then RESET ALL (startup application_name and default search_path again).
// Output: sorted "section<TAB>key<TAB>value" lines and an end marker; exit 1
// on an unexpected error or a result that differs from PostgreSQL's.
import java.sql.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicInteger;

public class JdbcWorkload {
    static final String STARTUP_APP = "jd-conn";
    static final String[] ZONES = {"UTC", "Asia/Tokyo", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata"};
    static final String TS = "'2024-01-01 12:00:00+00'::timestamptz::text";
    static final Queue<String> lines = new ConcurrentLinkedQueue<>();
    static final AtomicInteger failures = new AtomicInteger();
    static int clients, rounds;
    static String url;
    static Properties props = new Properties();

    static String zone(int i) { return ZONES[i % ZONES.length]; }

    static void put(String section, String key, Object value) {
        lines.add(section + "\t" + key + "\t" + value);
    }

    static void fail(String what) {
        if (failures.incrementAndGet() <= 20) System.err.println("pgjdbc: " + what);
    }

    static void expect(String section, String key, Object got, Object want) {
        String g = String.valueOf(got), w = String.valueOf(want);
        put(section, key, g);
        if (!g.equals(w)) {
            put(section, key, "MISMATCH want " + w);
            fail(section + " " + key + ": got " + g + ", want " + w);
        }
    }

    static void error(String section, String key, Exception e) {
        String state = e instanceof SQLException && ((SQLException) e).getSQLState() != null
            ? ((SQLException) e).getSQLState() : e.getClass().getSimpleName();
        String msg = String.valueOf(e.getMessage()).split("\n")[0];
        put(section, key, "ERROR " + state + " " + msg);
        fail(section + " " + key + ": " + state + " " + msg);
    }

    static void expectedError(String section, String key, SQLException e, String state) {
        if (state.equals(e.getSQLState())) put(section, key, "expected-error " + state);
        else error(section, key, e);
    }

    static void noError(String section, String key, String state) {
        put(section, key, "no error");
        fail(section + " " + key + ": expected " + state + ", got no error");
    }

    // All rows of a result set as "[a, b][c, d]".
    static String rows(ResultSet rs) throws SQLException {
        StringBuilder sb = new StringBuilder();
        int n = rs.getMetaData().getColumnCount();
        while (rs.next()) {
            sb.append('[');
            for (int c = 1; c <= n; c++) sb.append(c > 1 ? ", " : "").append(rs.getString(c));
            sb.append(']');
        }
        rs.close();
        return sb.toString();
    }

    static String query(Connection conn, String sql) throws SQLException {
        try (Statement st = conn.createStatement()) { return rows(st.executeQuery(sql)); }
    }

    static class Worker implements Runnable {
        final int i;
        volatile String where = "connect";
        Connection conn;
        PreparedStatement ins, get, upd, batch;

        Worker(int i) { this.i = i; }

        public void run() {
            try {
                conn = DriverManager.getConnection(url, props);
                ins = conn.prepareStatement("INSERT INTO drv.jd_events (client, seq, note) VALUES (?, ?, ?) RETURNING client, seq, note");
                get = conn.prepareStatement("SELECT note, length(note) FROM drv.jd_events WHERE client = ? AND seq = ?");
                upd = conn.prepareStatement("UPDATE drv.jd_accounts SET balance = balance + ? WHERE id = ? RETURNING id");
                batch = conn.prepareStatement("INSERT INTO drv.jd_events (client, seq, note) VALUES (?, ?, ?)");
            } catch (SQLException e) {
                error("connect", "" + i, e);
                return;
            }
            for (int j = 0; j < rounds; j++) {
                where = "prepared " + j; prepared(j);
                where = "batch " + j; batch(j);
                where = "txn " + j; txn(j);
                where = "errors " + j; errors(j);
            }
            where = "session"; session();
            where = null;
            try { conn.close(); } catch (SQLException e) { error("close", "" + i, e); }
        }

        void prepared(int j) {
            String k = i + "." + j, note = "note-" + k;
            try {
                ins.setInt(1, i); ins.setInt(2, j); ins.setString(3, note);
                expect("prepared", k + ".ins", rows(ins.executeQuery()), "[" + i + ", " + j + ", " + note + "]");
                for (int r = 0; r < 3; r++) {
                    get.setInt(1, i); get.setInt(2, r == 2 ? 999 : j);
                    expect("prepared", k + ".get" + r, rows(get.executeQuery()), r == 2 ? "" : "[" + note + ", " + note.length() + "]");
                }
                // A statement used past the threshold and then closed: pgjdbc keeps
                // one in its cache and sends Close(S_n) for the one it evicts.
                try (PreparedStatement tmp = conn.prepareStatement("SELECT ?::int * 2 + " + (j % 2) + " AS n")) {
                    StringBuilder sb = new StringBuilder();
                    for (int r = 0; r < 6; r++) { tmp.setInt(1, i + r); sb.append(rows(tmp.executeQuery())); }
                    StringBuilder want = new StringBuilder();
                    for (int r = 0; r < 6; r++) want.append("[").append((i + r) * 2 + j % 2).append("]");
                    expect("prepared", k + ".closed", sb, want);
                }
            } catch (SQLException e) { error("prepared", k, e); }
        }

        void batch(int j) {
            String k = i + "." + j;
            try {
                for (int b = 0; b < 5; b++) {
                    batch.setInt(1, i); batch.setInt(2, 100 + 5 * j + b); batch.setString(3, "batch-" + k + "." + b);
                    batch.addBatch();
                }
                expect("batch", k, Arrays.toString(batch.executeBatch()), "[1, 1, 1, 1, 1]");
            } catch (SQLException e) { error("batch", k, e); }
        }

        void txn(int j) {
            String k = i + "." + j;
            boolean commit = j % 3 != 2;
            try {
                conn.setAutoCommit(false);
                try (Statement st = conn.createStatement()) {
                    st.execute("SET LOCAL application_name = 'jd_txn_" + i + "_" + j + "'");
                    st.execute("SET LOCAL TimeZone = '" + zone(i) + "'");
                    ResultSet rs = st.executeQuery("SELECT current_setting('application_name'), current_setting('TimeZone'), " + TS);
                    rs.next();
                    expect("txn", k + ".app", rs.getString(1), "jd_txn_" + i + "_" + j);
                    expect("txn", k + ".tz", rs.getString(2), zone(i));
                    put("txn", k + ".ts", rs.getString(3));
                    rs.close();
                    upd.setInt(1, 10); upd.setInt(2, i);
                    expect("txn", k + ".upd", rows(upd.executeQuery()), "[" + i + "]");
                    st.executeUpdate("UPDATE drv.jd_counter SET n = n + 1 WHERE id = 1");
                }
                Thread.sleep(2);
                if (commit) conn.commit(); else conn.rollback();
                conn.setAutoCommit(true);
                expect("txn", k + ".after", query(conn, "SELECT current_setting('application_name')"), "[" + STARTUP_APP + "]");
            } catch (Exception e) {
                error("txn", k, e);
                try { conn.rollback(); conn.setAutoCommit(true); } catch (SQLException e2) { /* connection gone */ }
            }
        }

        void errors(int j) {
            String k = i + "." + j;
            try {
                ins.setInt(1, i); ins.setInt(2, j); ins.setString(3, "duplicate");
                rows(ins.executeQuery());
                noError("errors", k + ".dup", "23505");
            } catch (SQLException e) { expectedError("errors", k + ".dup", e, "23505"); }
            try {
                conn.setAutoCommit(false);
                upd.setInt(1, -1); upd.setInt(2, i);
                rows(upd.executeQuery());
                try {
                    ins.setInt(1, i); ins.setInt(2, j); ins.setString(3, "duplicate");
                    rows(ins.executeQuery());
                    noError("errors", k + ".txdup", "23505");
                } catch (SQLException e) { expectedError("errors", k + ".txdup", e, "23505"); }
                try {
                    get.setInt(1, i); get.setInt(2, j);
                    rows(get.executeQuery());
                    noError("errors", k + ".aborted", "25P02");
                } catch (SQLException e) { expectedError("errors", k + ".aborted", e, "25P02"); }
                conn.rollback();
                conn.setAutoCommit(true);
                get.setInt(1, i); get.setInt(2, j);
                expect("errors", k + ".recovered", rows(get.executeQuery()), "[note-" + k + ", " + ("note-" + k).length() + "]");
            } catch (SQLException e) {
                error("errors", k, e);
                try { conn.rollback(); conn.setAutoCommit(true); } catch (SQLException e2) { /* connection gone */ }
            }
        }

        void session() {
            String k = "" + i;
            try (Statement st = conn.createStatement()) {
                conn.setClientInfo("ApplicationName", "jd_sess_" + i);
                st.execute("SET TimeZone = '" + zone(i) + "'");
                st.execute("SET search_path = drv, public");
                for (int r = 0; r < 4; r++) {
                    Thread.sleep(3);
                    try {
                        ResultSet rs = st.executeQuery("SELECT current_setting('application_name'), current_setting('TimeZone'), " + TS);
                        rs.next();
                        expect("session", k + "." + r + ".app", rs.getString(1), "jd_sess_" + i);
                        expect("session", k + "." + r + ".tz", rs.getString(2), zone(i));
                        put("session", k + "." + r + ".ts", rs.getString(3));
                        rs.close();
                    } catch (SQLException e) { error("session", k + "." + r, e); }
                    try {
                        expect("session", k + "." + r + ".search_path", query(conn, "SELECT id FROM jd_accounts WHERE id = " + i), "[" + i + "]");
                    } catch (SQLException e) { error("session", k + "." + r + ".search_path", e); }
                }
                st.execute("RESET ALL");
                ResultSet rs = st.executeQuery("SELECT current_setting('application_name'), current_setting('TimeZone'), current_setting('search_path')");
                rs.next();
                // pgjdbc sends ApplicationName with a SET after connecting, not in
                // the startup packet: after RESET ALL it is the server's default.
                put("session", k + ".reset.app", rs.getString(1));
                put("session", k + ".reset.tz", rs.getString(2));
                expect("session", k + ".reset.search_path", rs.getString(3), "\"$user\", public");
                rs.close();
            } catch (Exception e) { error("session", k, e); }
        }
    }

    static void finalState() {
        int commits = 0;
        for (int j = 0; j < rounds; j++) if (j % 3 != 2) commits++;
        try (Connection conn = DriverManager.getConnection(url, props); Statement st = conn.createStatement()) {
            ResultSet rs = st.executeQuery("SELECT client, seq, note FROM drv.jd_events ORDER BY client, seq");
            int n = 0;
            while (rs.next()) { put("final", "event." + rs.getInt(1) + "." + rs.getInt(2), rs.getString(3)); n++; }
            rs.close();
            expect("final", "events.count", n, 6 * clients * rounds);
            rs = st.executeQuery("SELECT id, balance FROM drv.jd_accounts WHERE id < " + clients + " ORDER BY id");
            while (rs.next()) expect("final", "account." + rs.getInt(1), rs.getInt(2), 1000 + 10 * commits);
            rs.close();
            expect("final", "counter", query(conn, "SELECT n FROM drv.jd_counter"), "[" + (clients * commits) + "]");
        } catch (SQLException e) { error("final", "state", e); }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> env = System.getenv();
        clients = Integer.parseInt(env.getOrDefault("DRV_CLIENTS", "24"));
        rounds = Integer.parseInt(env.getOrDefault("DRV_ROUNDS", "8"));
        url = "jdbc:postgresql://" + env.getOrDefault("DRV_HOST", "127.0.0.1") + ":" + env.getOrDefault("DRV_PORT", "5432")
            + "/" + env.getOrDefault("DRV_DB", "drivers");
        props.setProperty("user", env.getOrDefault("DRV_USER", "postgres"));
        props.setProperty("password", env.getOrDefault("DRV_PASSWORD", ""));
        props.setProperty("ApplicationName", STARTUP_APP);
        props.setProperty("prepareThreshold", "5");
        // A small statement cache: closed statements beyond it are closed on the server too.
        props.setProperty("preparedStatementCacheQueries", "1");
        props.setProperty("connectTimeout", "30");
        props.setProperty("socketTimeout", "60");

        // One deadline for the whole run: a hang through a pooler still gives a digest.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(env.getOrDefault("DRV_DEADLINE", "60")));
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Worker> workers = new ArrayList<>();
        List<Future<?>> futures = new ArrayList<>();
        for (int i = 0; i < clients; i++) { Worker w = new Worker(i); workers.add(w); futures.add(pool.submit(w)); }
        boolean late = false;
        for (int i = 0; i < clients; i++) {
            try { futures.get(i).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS); }
            catch (TimeoutException e) { late = true; }
            catch (Exception e) { error("main", "worker." + i, e); }
        }
        if (late) {
            int stuck = 0;
            for (Worker w : workers) { String at = w.where; if (at != null) { put("main", "stuck." + w.i, at); stuck++; } }
            fail("deadline passed with " + stuck + " threads unfinished");
        } else {
            finalState();
        }
        pool.shutdownNow();

        List<String> sorted = new ArrayList<>(lines);
        Collections.sort(sorted);
        StringBuilder out = new StringBuilder();
        for (String l : sorted) out.append(l).append('\n');
        out.append("end pgjdbc lines=").append(sorted.size()).append(" failures=").append(failures.get()).append('\n');
        System.out.print(out);
        System.out.flush();
        System.exit(failures.get() == 0 ? 0 : 1);
    }
}
