/*
 * cfg.h -- pgplumb-pooler configuration: the settings table, ini loading and
 * reload, the [databases] and [users] entries, and SHOW CONFIG rows.
 *
 * Design.  Every setting of the main section ([pgplumb], also accepted as
 * [pgbouncer]) is one row of an alphabetised table in cfg.c: name, type,
 * storage (offset into struct cfg), reload flag, default, one-line doc.
 * Parsing, SHOW CONFIG, reload checks and the README settings reference are
 * all driven by that table.  Adding a setting = one field below + one row.
 * [databases] and [users] entries are parsed by two small key tables of the
 * same kind.
 *
 * Ownership.  cfg_load() allocates one struct cfg; every string and array
 * inside it belongs to it and is released by cfg_free().  Pointers returned
 * by the lookup functions point into the struct and stay valid until that
 * struct is freed.  Reload never modifies a live struct cfg: it builds a new
 * one, and the caller swaps pointers and frees the old one once nothing refers
 * to it any more.  No function here keeps global state other than the log
 * hook; nothing is thread-safe beyond that (the pooler is single-threaded).
 *
 * Times are stored as int64 microseconds.  In the file, a plain number means
 * seconds (fractions allowed, "0.5"), as in PgBouncer; a unit may follow:
 * us, ms, s, min, h, d ("250ms", "2 min").
 */
#ifndef PGPLUMB_POOLER_CFG_H
#define PGPLUMB_POOLER_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#ifndef PP_WUR
#define PP_WUR __attribute__((warn_unused_result))
#endif

/* Size of the error buffer callers should pass to cfg_load()/cfg_reload(). */
#define CFG_ERRBUF_SIZE 512
/* Longest value text SHOW CONFIG produces (longer values are truncated). */
#define CFG_SHOW_VALUE_MAX 256

enum cfg_pool_mode
{
	CFG_POOL_SESSION = 0,
	CFG_POOL_TRANSACTION,
	CFG_POOL_STATEMENT,
};

/* insert_batch_form */
enum cfg_batch_form
{
	CFG_BATCH_VALUES = 0,
	CFG_BATCH_UNNEST,
	CFG_BATCH_AUTO,
};

enum cfg_auth_type
{
	CFG_AUTH_ANY = 0,			/* no password asked; the forced user of the
								 * db entry is used */
	CFG_AUTH_TRUST,				/* no password asked; user must exist in
								 * auth_file if one is set */
	CFG_AUTH_PLAIN,				/* cleartext password (tests only) */
	CFG_AUTH_MD5,				/* md5; SCRAM secret in auth_file upgrades to
								 * scram-sha-256 */
	CFG_AUTH_SCRAM,				/* scram-sha-256 */
};

/* One [databases] entry.  Integer fields are -1 when not given in the entry:
 * use the cfg_db_*() helpers below to get the effective value. */
struct cfg_database
{
	char	   *name;			/* key in [databases]; "*" for the fallback
								 * entry */
	char	   *host;			/* NULL: unix socket in the default dir; may
								 * start with '/' */
	int			port;			/* 5432 when not given */
	char	   *dbname;			/* NULL: same as name (for "*": the client's
								 * database) */
	char	   *user;			/* forced server user, or NULL: the client's
								 * user */
	char	   *password;		/* NULL: from auth_file for that user */
	char	   *auth_user;		/* NULL unless given (auth_query not
								 * implemented yet) */
	char	   *connect_query;	/* NULL or a query run on every new server
								 * connection */
	char	   *client_encoding;	/* startup parameters sent to the server,
									 * NULL if not set */
	char	   *datestyle;
	char	   *timezone;
	char	   *application_name;
	int			pool_size;		/* -1: default_pool_size */
	int			min_pool_size;	/* -1: min_pool_size */
	int			reserve_pool;	/* -1: reserve_pool_size ("reserve_pool_size"
								 * also accepted) */
	int			max_db_connections; /* -1: max_db_connections */
	int			pool_mode;		/* -1 or enum cfg_pool_mode */
	int64_t		server_lifetime;	/* -1: server_lifetime */
	int			insert_batching;	/* -1: insert_batching, else 0 / 1 */
	int			insert_batch_max_rows;	/* -1: insert_batch_max_rows */
	int			insert_batch_max_bytes; /* -1: insert_batch_max_bytes */
	int			insert_batch_stream_rows;	/* -1: insert_batch_stream_rows */
	int64_t		insert_batch_catalog_ttl;	/* -1: insert_batch_catalog_ttl */
	int			insert_batch_form;	/* -1: insert_batch_form, else enum
									 * cfg_batch_form */
	int			insert_coalescing;	/* -1: insert_coalescing, else 0 / 1 */
	int64_t		insert_coalesce_delay;	/* -1: insert_coalesce_delay */
	int			line;			/* line of the entry in its file, for messages */
};

/* One [users] entry (per-user overrides); -1 = not given. */
struct cfg_user
{
	char	   *name;
	int			pool_mode;		/* -1 or enum cfg_pool_mode */
	int			pool_size;		/* -1: database / default_pool_size */
	int			reserve_pool_size;	/* -1: database / reserve_pool_size */
	int			max_user_connections;	/* -1: max_user_connections */
};

/*
 * THE SETTINGS TABLE: one row per main-section setting, alphabetical (a unit
 * test checks the order).  Columns: name (also the struct cfg field), type,
 * CFG_RELOAD if RELOAD applies a new value (CFG_RESTART if only a restart does),
 * default (in file syntax), min and max (integers only), one-line description.
 * Types: STR (char *, never NULL), INT (int), OCTAL (int written in octal),
 * BOOL (bool), TIME (int64_t microseconds), POOL_MODE and AUTH_TYPE (int enums).
 * Adding a setting is adding one row here: the struct cfg field, parsing,
 * validation, SHOW CONFIG, reload and the README reference follow from it.
 */
#define CFG_SETTINGS(X) \
	X(admin_users, STR, CFG_RELOAD, "", 0, 0, \
	  "Comma-separated users allowed to run every admin console command.") \
	X(auth_file, STR, CFG_RELOAD, "", 0, 0, \
	  "File with user names and secrets, in PgBouncer's userlist.txt format.") \
	X(auth_query, STR, CFG_RELOAD, "SELECT rolname, CASE WHEN rolvaliduntil < pg_catalog.now() THEN NULL ELSE rolpassword END FROM pg_catalog.pg_authid WHERE rolname=$1 AND rolcanlogin", 0, 0, \
	  "Query to look up secrets of users not in auth_file (accepted; not implemented yet).") \
	X(auth_type, AUTH_TYPE, CFG_RELOAD, "md5", 0, 0, \
	  "How clients authenticate: trust, any, plain, md5 or scram-sha-256.") \
	X(auth_user, STR, CFG_RELOAD, "", 0, 0, \
	  "User that runs auth_query (accepted; not implemented yet).") \
	X(autodb_idle_timeout, TIME, CFG_RELOAD, "3600", 0, 0, \
	  "Pools of databases created from the \"*\" entry are freed after being unused this long.") \
	X(cancel_wait_timeout, TIME, CFG_RELOAD, "10", 0, 0, \
	  "Longest time a cancel request may wait for a server connection.") \
	X(client_idle_timeout, TIME, CFG_RELOAD, "0", 0, 0, \
	  "Close client connections idle longer than this (0 = never).") \
	X(client_login_timeout, TIME, CFG_RELOAD, "60", 0, 0, \
	  "A client that has not logged in within this time is disconnected.") \
	X(default_pool_size, INT, CFG_RELOAD, "20", 0, INT_MAX, \
	  "Most server connections per (database, user) pool.") \
	X(idle_transaction_timeout, TIME, CFG_RELOAD, "0", 0, 0, \
	  "Disconnect clients idle in a transaction longer than this (0 = never).") \
	X(ignore_startup_parameters, STR, CFG_RELOAD, "", 0, 0, \
	  "Comma-separated startup parameters accepted from clients and not passed on.") \
	X(insert_batch_catalog_ttl, TIME, CFG_RELOAD, "60", 0, 0, \
	  "insert_batching and insert_coalescing: how long a cached catalog answer about a table (triggers, rules, column types) is trusted before it is asked again (plain number = seconds; 0 = until DDL through the pooler or RELOAD).") \
	X(insert_batch_form, BATCH_FORM, CFG_RELOAD, "auto", 0, 0, \
	  "insert_batching: how a pipelined run is executed: values (multi-row VALUES), unnest (INSERT ... SELECT * FROM unnest($1::type[], ...), one array parameter per column; VALUES where that cannot keep the meaning) or auto (unnest for statements of at least 10 rows whose values average at most 16 bytes).") \
	X(insert_batch_max_bytes, INT, CFG_RELOAD, "1048576", 1024, INT_MAX, \
	  "Most bytes of values one multi-row INSERT written by insert_batching carries; a longer run is split.") \
	X(insert_batch_max_rows, INT, CFG_RELOAD, "1000", 1, 65535, \
	  "Rows per multi-row INSERT written by insert_batching.") \
	X(insert_batch_stream_rows, INT, CFG_RELOAD, "0", 0, 65535, \
	  "insert_batching: rows per multi-row INSERT when a run is streamed (each statement's replies sent to the client as soon as it completes); 0: off.") \
	X(insert_batching, BOOL, CFG_RELOAD, "0", 0, 0, \
	  "Rewrite pipelined single-row INSERT batches and multi-statement INSERT strings into multi-row INSERTs.") \
	X(insert_coalesce_delay, TIME, CFG_RELOAD, "1ms", 0, 0, \
	  "insert_coalescing window: how long an autocommit single-row INSERT waits for others into the same table (plain number = seconds; write 1ms, 500us).") \
	X(insert_coalescing, BOOL, CFG_RELOAD, "0", 0, 0, \
	  "Merge concurrent autocommit single-row INSERTs of different clients into one multi-row INSERT (transaction pool mode only).") \
	X(listen_addr, STR, CFG_RESTART, "", 0, 0, \
	  "Comma-separated addresses to listen on for TCP; * = all; empty = no TCP.") \
	X(listen_backlog, INT, CFG_RESTART, "128", 1, INT_MAX, \
	  "Backlog of the listening sockets.") \
	X(listen_port, INT, CFG_RESTART, "6432", 1, 65535, \
	  "Port to listen on (TCP and unix socket name).") \
	X(log_connections, BOOL, CFG_RELOAD, "1", 0, 0, \
	  "Log successful logins.") \
	X(log_disconnections, BOOL, CFG_RELOAD, "1", 0, 0, \
	  "Log disconnections with reasons.") \
	X(log_pooler_errors, BOOL, CFG_RELOAD, "1", 0, 0, \
	  "Log error messages the pooler sends to clients.") \
	X(logfile, STR, CFG_RELOAD, "", 0, 0, \
	  "Log file (empty = standard error).") \
	X(max_client_conn, INT, CFG_RELOAD, "100", 1, INT_MAX, \
	  "Most client connections; more are refused with SQLSTATE 53300.") \
	X(max_db_connections, INT, CFG_RELOAD, "0", 0, INT_MAX, \
	  "Most server connections per database over all users (0 = unlimited).") \
	X(max_packet_size, INT, CFG_RELOAD, "2147483647", 9, INT_MAX, \
	  "Largest protocol message accepted.") \
	X(max_prepared_statements, INT, CFG_RELOAD, "200", 0, INT_MAX, \
	  "Protocol-level prepared statements kept per server connection in transaction and statement pooling, least recently used evicted (0 = not tracked: statements pass through as in session mode).") \
	X(max_user_connections, INT, CFG_RELOAD, "0", 0, INT_MAX, \
	  "Most server connections per user over all databases (0 = unlimited).") \
	X(min_pool_size, INT, CFG_RELOAD, "0", 0, INT_MAX, \
	  "Server connections opened ahead and kept per pool.") \
	X(pidfile, STR, CFG_RESTART, "", 0, 0, \
	  "File to write the process id to (empty = none).") \
	X(pkt_buf, INT, CFG_RESTART, "4096", 512, INT_MAX, \
	  "Size of per-connection read buffers (the pooler uses at least 16384, only while a socket has data).") \
	X(pool_mode, POOL_MODE, CFG_RELOAD, "session", 0, 0, \
	  "When a server connection goes back to the pool: session, transaction or statement.") \
	X(query_timeout, TIME, CFG_RELOAD, "0", 0, 0, \
	  "Cancel queries running longer than this (0 = never).") \
	X(query_wait_timeout, TIME, CFG_RELOAD, "120", 0, 0, \
	  "Disconnect a client that waited this long for a server connection (0 = never).") \
	X(reserve_pool_size, INT, CFG_RELOAD, "0", 0, INT_MAX, \
	  "Extra server connections per pool once a client has waited reserve_pool_timeout.") \
	X(reserve_pool_timeout, TIME, CFG_RELOAD, "5", 0, 0, \
	  "Wait before the reserve pool is used.") \
	X(scram_iterations, INT, CFG_RELOAD, "4096", 1, INT_MAX, \
	  "PBKDF2 iterations when SCRAM runs against a plain password from auth_file.") \
	X(server_check_delay, TIME, CFG_RELOAD, "30", 0, 0, \
	  "Check server connections unused longer than this with server_check_query before reuse.") \
	X(server_check_query, STR, CFG_RELOAD, "select 1", 0, 0, \
	  "Health-check query (empty = no check).") \
	X(server_connect_timeout, TIME, CFG_RELOAD, "15", 0, 0, \
	  "Connecting and logging in to a server must finish within this time.") \
	X(server_idle_timeout, TIME, CFG_RELOAD, "600", 0, 0, \
	  "Close server connections idle longer than this, above min_pool_size (0 = never).") \
	X(server_lifetime, TIME, CFG_RELOAD, "3600", 0, 0, \
	  "Close an unused server connection older than this (0 = use once).") \
	X(server_login_retry, TIME, CFG_RELOAD, "15", 0, 0, \
	  "After a failed server login, wait this long before trying again.") \
	X(server_reset_query, STR, CFG_RELOAD, "DISCARD ALL", 0, 0, \
	  "Query run when a server connection is released in session mode.") \
	X(server_reset_query_always, BOOL, CFG_RELOAD, "0", 0, 0, \
	  "Run server_reset_query in every pool mode.") \
	X(server_round_robin, BOOL, CFG_RELOAD, "0", 0, 0, \
	  "Reuse server connections round robin instead of last-in first-out.") \
	X(shutdown_wait_timeout, TIME, CFG_RELOAD, "5", 0, 0, \
	  "On SIGINT/SIGTERM, how long running transactions may finish before clients are closed (pgplumb only).") \
	X(so_reuseport, BOOL, CFG_RESTART, "0", 0, 0, \
	  "Set SO_REUSEPORT on listening sockets.") \
	X(stats_period, TIME, CFG_RELOAD, "60", 0, 0, \
	  "Period of averages in SHOW STATS and of stats log lines.") \
	X(stats_users, STR, CFG_RELOAD, "", 0, 0, \
	  "Comma-separated users allowed to run read-only SHOW commands on the console.") \
	X(tcp_keepalive, BOOL, CFG_RESTART, "1", 0, 0, \
	  "Turn on TCP keepalive with the operating system's defaults.") \
	X(track_client_id, BOOL, CFG_RELOAD, "0", 0, 0, \
	  "In transaction and statement pooling, set pgplumb.client_id on the server connection to an id of the client it serves (for the extension's N+1 detector; pgplumb only).") \
	X(track_extra_parameters, STR, CFG_RELOAD, "IntervalStyle", 0, 0, \
	  "Comma-separated session parameters that follow each client to its server connections, besides client_encoding, DateStyle, TimeZone, standard_conforming_strings, application_name and search_path.") \
	X(unix_socket_dir, STR, CFG_RESTART, "/tmp", 0, 0, \
	  "Directory of the unix socket .s.PGSQL.<listen_port> (empty = none).") \
	X(unix_socket_mode, OCTAL, CFG_RESTART, "0777", 0, 0777, \
	  "File mode of the unix socket (octal).") \
	X(verbose, INT, CFG_RELOAD, "0", 0, 3, \
	  "Log verbosity: 0, 1 (debug) or 2 (noise).")

#define CFG_RELOAD 1
#define CFG_RESTART 0
#define CFG_CTYPE_STR char *
#define CFG_CTYPE_INT int
#define CFG_CTYPE_OCTAL int
#define CFG_CTYPE_BOOL bool
#define CFG_CTYPE_TIME int64_t
#define CFG_CTYPE_POOL_MODE int
#define CFG_CTYPE_AUTH_TYPE int
#define CFG_CTYPE_BATCH_FORM int
#define CFG_FIELD(name, type, flags, def, min, max, doc) CFG_CTYPE_##type name;

/* The whole configuration.  Main-section settings are named exactly as in
 * the file.  Strings are never NULL (empty string when unset). */
struct cfg
{
	/* main section: one field per row of CFG_SETTINGS */
	CFG_SETTINGS(CFG_FIELD)

	/* [databases] in file order; the "*" entry is not in this array */
	struct cfg_database *databases;
	size_t		n_databases;
	struct cfg_database *fallback_db;	/* the "*" entry, or NULL */
	/* [users] in file order */
	struct cfg_user *users;
	size_t		n_users;

	char	   *config_file;	/* path given to cfg_load() */
};

/* Log hook for warnings (unknown settings, ignored changes on reload).
 * Messages never contain passwords.  Default: "WARNING <msg>\n" to stderr. */
typedef void (*cfg_log_fn) (void *arg, const char *msg);
void		cfg_set_log_hook(cfg_log_fn fn, void *arg);

/*
 * Read and validate the file at `path` (including %include'd files).
 * On success: returns 0 and stores a new struct cfg in *out (caller frees
 * with cfg_free).  Unknown settings are warnings (file:line named) via the
 * log hook.  On failure: returns -1, leaves *out untouched, and writes one
 * message naming file, line and setting into errbuf (size errlen; always
 * NUL-terminated; CFG_ERRBUF_SIZE is enough).
 */
int			cfg_load(const char *path, struct cfg **out, char *errbuf, size_t errlen) PP_WUR;

/*
 * Same as cfg_load() into a new struct, then settings that cannot change at
 * run time (listen_addr, listen_port, unix_socket_dir, pidfile, ... -- the
 * rows without the reload flag) are copied from `old` into the new struct,
 * with a warning through the log hook for each one that differed.
 * Returns 0 and *out = new config, or -1 with errbuf set and *out untouched:
 * the caller keeps `old` in force and should log errbuf.  `old` is never
 * modified or freed.
 */
int			cfg_reload(const struct cfg *old, const char *path, struct cfg **out,
					   char *errbuf, size_t errlen) PP_WUR;

/* Free everything; NULL is fine. */
void		cfg_free(struct cfg *c);

/* The [databases] entry named `name`, else the "*" fallback entry, else NULL.
 * For the fallback the caller uses the client's database name as dbname
 * when entry->dbname is NULL. */
const struct cfg_database *cfg_find_database(const struct cfg *c, const char *name);

/* The [users] entry named `name`, or NULL. */
const struct cfg_user *cfg_find_user(const struct cfg *c, const char *name);

/* Effective values: user entry over database entry over main section.
 * `db` and `u` may be NULL. */
int			cfg_pool_mode_for(const struct cfg *c, const struct cfg_database *db, const struct cfg_user *u);
int			cfg_pool_size_for(const struct cfg *c, const struct cfg_database *db, const struct cfg_user *u);
bool		cfg_insert_batching_for(const struct cfg *c, const struct cfg_database *db);
int			cfg_insert_batch_max_rows_for(const struct cfg *c, const struct cfg_database *db);
int			cfg_insert_batch_max_bytes_for(const struct cfg *c, const struct cfg_database *db);
int			cfg_insert_batch_stream_rows_for(const struct cfg *c, const struct cfg_database *db);
int64_t		cfg_insert_batch_catalog_ttl_for(const struct cfg *c, const struct cfg_database *db);
int			cfg_insert_batch_form_for(const struct cfg *c, const struct cfg_database *db);
bool		cfg_insert_coalescing_for(const struct cfg *c, const struct cfg_database *db);
int64_t		cfg_insert_coalesce_delay_for(const struct cfg *c, const struct cfg_database *db);
int			cfg_min_pool_size_for(const struct cfg *c, const struct cfg_database *db);
int			cfg_reserve_pool_for(const struct cfg *c, const struct cfg_database *db, const struct cfg_user *u);
int			cfg_max_db_connections_for(const struct cfg *c, const struct cfg_database *db);
int			cfg_max_user_connections_for(const struct cfg *c, const struct cfg_user *u);
int64_t		cfg_server_lifetime_for(const struct cfg *c, const struct cfg_database *db);

/* Names for enums, as written in the file ("transaction", "scram-sha-256"). */
const char *cfg_pool_mode_name(int mode);
const char *cfg_auth_type_name(int type);
const char *cfg_batch_form_name(int form);

/* True if `name` is in the comma-separated list `list` (spaces ignored;
 * "*" in the list matches everything).  For admin_users, stats_users,
 * ignore_startup_parameters. */
bool		cfg_list_contains(const char *list, const char *name);

/* SHOW CONFIG: one row per main-section setting, alphabetical, columns as
 * PgBouncer's (key, value, default, changeable). */
struct cfg_show_row
{
	const char *key;			/* static string */
	char		value[CFG_SHOW_VALUE_MAX];	/* current value as text */
	char		default_value[CFG_SHOW_VALUE_MAX];
	bool		changeable;		/* true if RELOAD applies it */
};

/* Number of rows. */
size_t		cfg_show_count(void);

/* Fill *row for row i (0-based).  Returns false if i >= cfg_show_count(). */
bool		cfg_show_row(const struct cfg *c, size_t i, struct cfg_show_row *row);

/* Print the settings reference (markdown table generated from the table)
 * to `f`; used by `pgplumb-pooler --describe-config` and the README test. */
void		cfg_describe_markdown(FILE *f);

/* Parse a time value as in the file ("15", "0.5", "250ms", "2min") into
 * microseconds.  Returns 0, or -1 if invalid/negative/overflowing. */
int			cfg_parse_time(const char *s, int64_t *usec) PP_WUR;

#endif							/* PGPLUMB_POOLER_CFG_H */
