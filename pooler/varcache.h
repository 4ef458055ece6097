/*
 * varcache.h -- session parameters that follow a client from one server
 * connection to the next: what each client has set (its startup values,
 * ParameterStatus reports, SET/RESET statements) and what each server
 * connection has, and the one query that makes a server match its client.
 *
 * Design.  Tracked parameters are slots in one process-wide table: the
 * built-in ones (client_encoding, DateStyle, TimeZone,
 * standard_conforming_strings, application_name, search_path) and the
 * names of track_extra_parameters.  A value is either a value as the server
 * reports it (applied with set_config()) or, for parameters the server does
 * not report (search_path before PostgreSQL 18, most extras), the text of
 * the client's own SET statement (applied with SET name TO <text>).  NULL
 * means the server connection's default.
 *
 * Reported parameters are learned from ParameterStatus, which the server
 * sends after every change, rollbacks included.  The others are learned
 * from the client's SET, RESET, RESET ALL and DISCARD ALL statements: a
 * change counts once the ReadyForQuery that ends its query has no error
 * before it, and if that leaves a transaction block open, once the block
 * ends with COMMIT.  SET LOCAL is never a session change.  RESET ALL and
 * DISCARD ALL bring back the client's startup values, not the server
 * connection's.
 *
 * Every cache has a generation number that changes with any value, so the
 * check "does this server still match this client" is two integer
 * comparisons when nothing changed.
 *
 * Memory.  Values are interned: one refcounted copy of each distinct value
 * (with its kind) for the whole process, so thousands of clients with the
 * same client_encoding or TimeZone share one string, and equal values compare
 * as equal pointers.  The combination of values is interned too: a cache is
 * one pointer to a refcounted set shared by every cache with the same values
 * (changing a value makes or finds another set), so an idle client costs two
 * pointers for its parameters, whatever it has set.  Pending
 * changes are allocated only once a client sends a SET or RESET.  Values
 * change only when a value changes, never per message.  Single-threaded.
 */
#ifndef PGPLUMB_POOLER_VARCACHE_H
#define PGPLUMB_POOLER_VARCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "util.h"

#define VAR_MAX 16				/* tracked parameters, built-in ones included */
#define VAR_PENDING_MAX 16		/* changes remembered per query / transaction */

/* Built-in slots. */
enum
{
	VAR_CLIENT_ENCODING = 0,
	VAR_DATESTYLE,
	VAR_TIMEZONE,
	VAR_STANDARD_CONFORMING_STRINGS,
	VAR_APPLICATION_NAME,
	VAR_SEARCH_PATH,
	VAR_BUILTIN_COUNT
};

/* An interned value: text plus its kind; NULL stands for the default. */
struct var_str;

/* An interned, immutable set of values (one per slot); NULL = all defaults. */
struct varset;

struct varcache
{
	const struct varset *set;	/* a reference */
	uint32_t	gen;			/* changes whenever a value does */
};

/* One change made by a statement. */
struct var_change
{
	int8_t		slot;			/* -1 = every parameter (RESET ALL / DISCARD
								 * ALL) */
	const struct var_str *sql;	/* SET text, or NULL for RESET (a reference) */
};

/* Changes not yet known to stick (allocated at a client's first SET). */
struct var_pending
{
	struct var_change pend[VAR_PENDING_MAX];	/* since the last
												 * ReadyForQuery */
	int			npend;
	bool		pend_overflow;	/* more changes than fit: values unknown */
	bool		pend_error;		/* an ErrorResponse came after them */
	struct var_change txn[VAR_PENDING_MAX]; /* inside the open transaction
											 * block */
	int			ntxn;
	bool		txn_overflow;
};

/* A client's parameters. */
struct varclient
{
	struct varcache cur;		/* what the client has */
	struct varcache reset;		/* what RESET ALL brings back (startup values) */
	struct var_pending *p;		/* NULL until the client sends a SET or RESET */
	bool		reset_pending;	/* RESET ALL/DISCARD ALL in the current query */
};

/*
 * Tracked names: the built-in ones plus the comma-separated `extra` list
 * (track_extra_parameters).  Names are added, never removed, so that slots
 * keep their meaning across reloads; a name dropped from the list stops
 * being tracked.  Returns the number of names that did not fit (VAR_MAX).
 */
int			varcache_configure(const char *extra);

/* Slot of a tracked parameter (case-insensitive), or -1. */
int			varcache_slot(const char *name);

/* The slot's name is tracked now (track_extra_parameters may drop one). */
bool		varcache_tracked(int slot);

/* Name of a slot as the pooler writes it. */
const char *varcache_name(int slot);
int			varcache_count(void);

/* The server reports this parameter (it sent a ParameterStatus for it). */
void		varcache_mark_reported(int slot);
bool		varcache_is_reported(int slot);

/* Value of a slot (NULL = default), and whether it is SET text. */
const char *varcache_get(const struct varcache *vc, int slot);
bool		varcache_get_sql(const struct varcache *vc, int slot);

/* Distinct interned values, and distinct sets of values, alive (for tests). */
uint32_t	varcache_interned(void);
uint32_t	varcache_sets(void);

void		varcache_init(struct varcache *vc);
void		varcache_free(struct varcache *vc);

/* Set a slot; value NULL = default.  Returns 1 if it changed, 0 if not,
 * -1 out of memory (the old value stays). */
int			varcache_set(struct varcache *vc, int slot, const char *value, bool sql) PP_WUR;

/* dst := src. */
int			varcache_copy(struct varcache *dst, const struct varcache *src) PP_WUR;
bool		varcache_equal_slot(const struct varcache *a, const struct varcache *b, int slot);

/* Every value equal (the same interned set). */
bool		varcache_same(const struct varcache *a, const struct varcache *b);

/*
 * Make `server` match `client`: append to `out` one simple Query that sets
 * every tracked parameter that differs (set_config() for reported values,
 * SET for SQL text, RESET for defaults) and record the new values in
 * `server`.  Returns the number of parameters changed (0: nothing was
 * appended), or -1 out of memory.
 */
int			varcache_build_sync(const struct varcache *client, struct varcache *server,
								struct proto_buf *out) PP_WUR;

void		varclient_init(struct varclient *vc);
void		varclient_free(struct varclient *vc);

/* Changes waiting for their ReadyForQuery, and for COMMIT. */
int			varclient_npending(const struct varclient *vc);
int			varclient_ntxn(const struct varclient *vc);

/* Text of pending change i (NULL for a RESET). */
const char *varclient_pending_sql(const struct varclient *vc, int i);
bool		varclient_pending_overflow(const struct varclient *vc);

/*
 * The client sent this SQL (a simple Query, or the text of the statement
 * an Execute runs).  SET/RESET of parameters the server does not report,
 * RESET ALL and DISCARD ALL become pending changes.  Returns false only on
 * out of memory (then the values are marked unknown).
 */
bool		varclient_note_sql(struct varclient *vc, const char *sql, size_t len) PP_WUR;

/* True if the text may be a statement varclient_note_sql() acts on (a cheap
 * look at its first word, for the hot path). */
bool		varcache_sql_maybe_set(const char *sql, size_t len);

/* An ErrorResponse came from the server. */
void		varclient_note_error(struct varclient *vc);

/*
 * A ParameterStatus for `slot` came from the server while it worked for
 * this client: the server has it, and so does the client.  Returns -1 on
 * out of memory.
 */
int			varclient_note_status(struct varclient *vc, struct varcache *server, int slot,
								  const char *value) PP_WUR;

/*
 * A ReadyForQuery with transaction status `status` came from the server;
 * `commit` is true when the last CommandComplete before it was COMMIT.
 * Pending changes become the client's and the server's values, wait for
 * the end of the transaction block, or are dropped.  Returns -1 on out of
 * memory.
 */
int			varclient_note_ready(struct varclient *vc, struct varcache *server, char status,
								 bool commit) PP_WUR;

/* Quote `s` as an SQL string literal (E'...'), appended to `b`. */
void		varcache_put_literal(struct proto_buf *b, const char *s);

#endif							/* PGPLUMB_POOLER_VARCACHE_H */
