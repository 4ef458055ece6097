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
#include <stdint.h>
#include <stdio.h>

#ifndef PP_WUR
#define PP_WUR __attribute__((warn_unused_result))
#endif

/* Size of the error buffer callers should pass to cfg_load()/cfg_reload(). */
#define CFG_ERRBUF_SIZE 512
/* Longest value text SHOW CONFIG produces (longer values are truncated). */
#define CFG_SHOW_VALUE_MAX 256

enum cfg_pool_mode {
	CFG_POOL_SESSION = 0,
	CFG_POOL_TRANSACTION,
	CFG_POOL_STATEMENT,
};

enum cfg_auth_type {
	CFG_AUTH_ANY = 0,	/* no password asked; the forced user of the db entry is used */
	CFG_AUTH_TRUST,		/* no password asked; user must exist in auth_file if one is set */
	CFG_AUTH_PLAIN,		/* cleartext password (tests only) */
	CFG_AUTH_MD5,		/* md5; SCRAM secret in auth_file upgrades to scram-sha-256 */
	CFG_AUTH_SCRAM,		/* scram-sha-256 */
};

/* One [databases] entry.  Integer fields are -1 when not given in the entry:
 * use the cfg_db_*() helpers below to get the effective value. */
struct cfg_database {
	char *name;		/* key in [databases]; "*" for the fallback entry */
	char *host;		/* NULL: unix socket in the default dir; may start with '/' */
	int port;		/* 5432 when not given */
	char *dbname;		/* NULL: same as name (for "*": the client's database) */
	char *user;		/* forced server user, or NULL: the client's user */
	char *password;		/* NULL: from auth_file for that user */
	char *auth_user;	/* NULL unless given (auth_query not implemented yet) */
	char *connect_query;	/* NULL or a query run on every new server connection */
	char *client_encoding;	/* startup parameters sent to the server, NULL if not set */
	char *datestyle;
	char *timezone;
	char *application_name;
	int pool_size;		/* -1: default_pool_size */
	int min_pool_size;	/* -1: min_pool_size */
	int reserve_pool;	/* -1: reserve_pool_size ("reserve_pool_size" also accepted) */
	int max_db_connections;	/* -1: max_db_connections */
	int pool_mode;		/* -1 or enum cfg_pool_mode */
	int64_t server_lifetime; /* -1: server_lifetime */
	int line;		/* line of the entry in its file, for messages */
};

/* One [users] entry (per-user overrides); -1 = not given. */
struct cfg_user {
	char *name;
	int pool_mode;		/* -1 or enum cfg_pool_mode */
	int pool_size;		/* -1: database / default_pool_size */
	int reserve_pool_size;	/* -1: database / reserve_pool_size */
	int max_user_connections; /* -1: max_user_connections */
};

/* The whole configuration.  Main-section settings are named exactly as in
 * the file.  Strings are never NULL (empty string when unset). */
struct cfg {
	/* main section, alphabetical */
	char *admin_users;		/* comma-separated list */
	char *auth_file;
	char *auth_query;		/* accepted, not implemented yet */
	int auth_type;			/* enum cfg_auth_type */
	char *auth_user;
	int64_t autodb_idle_timeout;
	int64_t cancel_wait_timeout;
	int64_t client_idle_timeout;
	int64_t client_login_timeout;
	int default_pool_size;
	int64_t idle_transaction_timeout;
	char *ignore_startup_parameters; /* comma-separated list */
	char *listen_addr;		/* "" = no TCP listener; "*" = all; comma-separated list */
	int listen_backlog;
	int listen_port;
	bool log_connections;
	bool log_disconnections;
	bool log_pooler_errors;
	char *logfile;			/* "" = stderr */
	int max_client_conn;
	int max_db_connections;		/* 0 = unlimited */
	int max_packet_size;
	int max_user_connections;	/* 0 = unlimited */
	int min_pool_size;
	char *pidfile;
	int pkt_buf;
	int pool_mode;			/* enum cfg_pool_mode */
	int64_t query_timeout;		/* 0 = off */
	int64_t query_wait_timeout;	/* 0 = off */
	int reserve_pool_size;
	int64_t reserve_pool_timeout;
	int scram_iterations;
	int64_t server_check_delay;
	char *server_check_query;
	int64_t server_connect_timeout;
	int64_t server_idle_timeout;
	int64_t server_lifetime;
	int64_t server_login_retry;
	char *server_reset_query;
	bool server_reset_query_always;
	bool server_round_robin;
	bool so_reuseport;
	int64_t stats_period;
	char *stats_users;		/* comma-separated list */
	bool tcp_keepalive;
	char *unix_socket_dir;		/* "" = no unix socket */
	int unix_socket_mode;
	int verbose;

	/* [databases] in file order; the "*" entry is not in this array */
	struct cfg_database *databases;
	size_t n_databases;
	struct cfg_database *fallback_db;	/* the "*" entry, or NULL */
	/* [users] in file order */
	struct cfg_user *users;
	size_t n_users;

	char *config_file;		/* path given to cfg_load() */
};

/* Log hook for warnings (unknown settings, ignored changes on reload).
 * Messages never contain passwords.  Default: "WARNING <msg>\n" to stderr. */
typedef void (*cfg_log_fn)(void *arg, const char *msg);
void cfg_set_log_hook(cfg_log_fn fn, void *arg);

/*
 * Read and validate the file at `path` (including %include'd files).
 * On success: returns 0 and stores a new struct cfg in *out (caller frees
 * with cfg_free).  Unknown settings are warnings (file:line named) via the
 * log hook.  On failure: returns -1, leaves *out untouched, and writes one
 * message naming file, line and setting into errbuf (size errlen; always
 * NUL-terminated; CFG_ERRBUF_SIZE is enough).
 */
int cfg_load(const char *path, struct cfg **out, char *errbuf, size_t errlen) PP_WUR;

/*
 * Same as cfg_load() into a new struct, then settings that cannot change at
 * run time (listen_addr, listen_port, unix_socket_dir, pidfile, ... -- the
 * rows without the reload flag) are copied from `old` into the new struct,
 * with a warning through the log hook for each one that differed.
 * Returns 0 and *out = new config, or -1 with errbuf set and *out untouched:
 * the caller keeps `old` in force and should log errbuf.  `old` is never
 * modified or freed.
 */
int cfg_reload(const struct cfg *old, const char *path, struct cfg **out,
	       char *errbuf, size_t errlen) PP_WUR;

/* Free everything; NULL is fine. */
void cfg_free(struct cfg *c);

/* The [databases] entry named `name`, else the "*" fallback entry, else NULL.
 * For the fallback the caller uses the client's database name as dbname
 * when entry->dbname is NULL. */
const struct cfg_database *cfg_find_database(const struct cfg *c, const char *name);
/* The [users] entry named `name`, or NULL. */
const struct cfg_user *cfg_find_user(const struct cfg *c, const char *name);

/* Effective values: user entry over database entry over main section.
 * `db` and `u` may be NULL. */
int cfg_pool_mode_for(const struct cfg *c, const struct cfg_database *db, const struct cfg_user *u);
int cfg_pool_size_for(const struct cfg *c, const struct cfg_database *db, const struct cfg_user *u);
int cfg_min_pool_size_for(const struct cfg *c, const struct cfg_database *db);
int cfg_reserve_pool_for(const struct cfg *c, const struct cfg_database *db, const struct cfg_user *u);
int cfg_max_db_connections_for(const struct cfg *c, const struct cfg_database *db);
int cfg_max_user_connections_for(const struct cfg *c, const struct cfg_user *u);
int64_t cfg_server_lifetime_for(const struct cfg *c, const struct cfg_database *db);

/* Names for enums, as written in the file ("transaction", "scram-sha-256"). */
const char *cfg_pool_mode_name(int mode);
const char *cfg_auth_type_name(int type);

/* True if `name` is in the comma-separated list `list` (spaces ignored;
 * "*" in the list matches everything).  For admin_users, stats_users,
 * ignore_startup_parameters. */
bool cfg_list_contains(const char *list, const char *name);

/* SHOW CONFIG: one row per main-section setting, alphabetical, columns as
 * PgBouncer's (key, value, default, changeable). */
struct cfg_show_row {
	const char *key;			/* static string */
	char value[CFG_SHOW_VALUE_MAX];		/* current value as text */
	char default_value[CFG_SHOW_VALUE_MAX];
	bool changeable;			/* true if RELOAD applies it */
};
/* Number of rows. */
size_t cfg_show_count(void);
/* Fill *row for row i (0-based).  Returns false if i >= cfg_show_count(). */
bool cfg_show_row(const struct cfg *c, size_t i, struct cfg_show_row *row);

/* Print the settings reference (markdown table generated from the table)
 * to `f`; used by `pgplumb-pooler --describe-config` and the README test. */
void cfg_describe_markdown(FILE *f);

/* Parse a time value as in the file ("15", "0.5", "250ms", "2min") into
 * microseconds.  Returns 0, or -1 if invalid/negative/overflowing. */
int cfg_parse_time(const char *s, int64_t *usec) PP_WUR;

#endif /* PGPLUMB_POOLER_CFG_H */
