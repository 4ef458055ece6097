/*
 * batch_sql.h -- SQL side of batch-insert rewriting: decide whether a
 * statement is a single-row INSERT that may be executed as part of a
 * multi-row INSERT without changing its meaning, and build the multi-row text.
 *
 * Deciding is two-step: batch_sql_maybe_insert() is a cheap look at the first
 * word (so that non-INSERT traffic pays nothing), and batch_sql_analyze() runs
 * PostgreSQL's own parser (libpg_query) and accepts only
 *
 *     INSERT INTO rel [AS alias] [(col, ...)] [OVERRIDING ...]
 *         VALUES (v1, ..., vk) [ON CONFLICT ...] [RETURNING col, ...]
 *
 * where each vi is a parameter $n or a literal constant (no DEFAULT, casts,
 * functions or other expressions), there is no WITH clause, every $n of the
 * statement is inside the VALUES tuple, the RETURNING list holds only column
 * references and the ON CONFLICT clause holds no subquery.  Anything else,
 * including text the parser rejects, is refused with a reason.
 *
 * Memory: a struct batch_insert owns its strings; batch_insert_free() releases
 * them.  Building appends to a struct batch_text, which records allocation
 * failure in `failed` instead of failing midway.
 */
#ifndef PGPLUMB_BATCH_SQL_H
#define PGPLUMB_BATCH_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BATCH_WUR __attribute__((warn_unused_result))

/* PostgreSQL's Bind message counts parameters in 16 bits. */
#define BATCH_MAX_PARAMS 65535

enum batch_conflict
{
	BATCH_CONFLICT_NONE = 0,	/* no ON CONFLICT clause */
	BATCH_CONFLICT_NOTHING,		/* ON CONFLICT ... DO NOTHING */
	BATCH_CONFLICT_UPDATE		/* ON CONFLICT ... DO UPDATE */
};

/* One $n inside the VALUES tuple, as an offset into batch_insert.tuple. */
struct batch_param_ref
{
	uint32_t	off;			/* first byte of "$n" in tuple */
	uint32_t	len;			/* bytes of "$n" */
	int			number;			/* n */
};

/* A statement accepted by batch_sql_analyze(). */
struct batch_insert
{
	char	   *prefix;			/* text before the VALUES keyword */
	char	   *tuple;			/* "( ... )": the single VALUES tuple */
	char	   *tail;			/* text after the tuple (ON CONFLICT,
								 * RETURNING) */
	struct batch_param_ref *params; /* $n occurrences in tuple, in text order */
	int			nparams;		/* entries in params */
	int			max_param;		/* highest n of any $n (0 if none) */
	int			width;			/* number of values in the tuple */
	char	   *schemaname;		/* NULL when not qualified */
	char	   *relname;
	bool		returning;		/* has a RETURNING list */
	enum batch_conflict conflict;

	/*
	 * The target column list as a text[] literal of the names as the parser
	 * folded them ("{\"a\",\"b\"}"), NULL when the INSERT names none;
	 * meaningful only when columns_known (set by batch_sql_analyze() when no
	 * column has a subscript or field: a(1), c.f).
	 */
	char	   *columns;
	bool		columns_known;

	/*
	 * The tuple's values, width entries (NULL but from batch_sql_analyze()):
	 * each one's text in tuple and the n of a $n (0 for a literal).
	 * unnest_ok: items and the column list are known, and the parameters are
	 * $1..$k each used once, in any order (what batch_sql_build_unnest()
	 * needs).
	 */
	struct batch_item
	{
		uint32_t	off;
		uint32_t	len;
		int			param;
	}		   *items;
	bool		unnest_ok;
};

/* Growable text; `failed` is set (and further appends ignored) on ENOMEM. */
struct batch_text
{
	char	   *data;			/* NUL-terminated when len > 0 */
	size_t		len;
	size_t		cap;
	bool		failed;
};

void		batch_text_init(struct batch_text *t);
void		batch_text_free(struct batch_text *t);
void		batch_text_reset(struct batch_text *t);
void		batch_text_append(struct batch_text *t, const char *s, size_t n);

/* Results of analysis. */
enum batch_sql_result
{
	BATCH_SQL_OK = 0,			/* accepted; *out filled */
	BATCH_SQL_REFUSED = 1,		/* not rewritable; *reason says why */
	BATCH_SQL_NOMEM = -1		/* out of memory */
};

/*
 * Cheap first check: does `sql` (len bytes, need not be NUL-terminated) begin
 * with the keyword INSERT, ignoring case, white space and comments?
 */
bool		batch_sql_maybe_insert(const char *sql, size_t len);

/*
 * Where the first token of `sql` (len bytes) starts, past white space and
 * comments (nested C-style ones too); len if there is none or a comment is
 * not closed.
 */
size_t		batch_sql_skip_blank(const char *sql, size_t len);

/*
 * Analyze one statement (NUL-terminated).  Text holding more than one
 * statement is refused.  *reason (a static string) is set when refused.
 */
enum batch_sql_result batch_sql_analyze(const char *sql, struct batch_insert *out,
										const char **reason) BATCH_WUR;

void		batch_insert_free(struct batch_insert *ins);

/*
 * Multi-statement simple-protocol text: analyze every statement of `sql`.
 * Accepted when there are at least two statements, every one is accepted by
 * the rules above, has no parameters, and all share the same prefix, tuple
 * width and tail text (so the same table, columns and clauses).  On success
 * *out describes the first statement and *tuples holds each statement's tuple
 * text joined as "(...),(...),..." ready to follow "VALUES ".  *nstmts is the
 * number of statements.
 */
enum batch_sql_result batch_sql_analyze_multi(const char *sql, struct batch_insert *out,
											  struct batch_text *tuples, int *nstmts,
											  const char **reason) BATCH_WUR;

/*
 * Largest number of rows one multi-row statement may carry for `ins` when each
 * row binds `row_params` parameters: bounded by BATCH_MAX_PARAMS and by
 * max_rows (>= 1).  Returns at least 1.
 */
int			batch_sql_rows_cap(int row_params, int max_rows);

/*
 * Append to `out` the text of a multi-row INSERT of `nrows` rows in the form
 * prefix VALUES (...),(...) tail, where in row r (0-based) every $n becomes
 * $(n + r * row_params).  row_params is the number of parameters each original
 * execution binds (>= max_param).  Returns false on bad arguments (nrows < 1,
 * row_params < max_param, total parameters over BATCH_MAX_PARAMS) or ENOMEM.
 */
bool		batch_sql_build_values(const struct batch_insert *ins, int nrows,
								   int row_params, struct batch_text *out) BATCH_WUR;

/*
 * Append the unnest form of a statement with ins->unnest_ok:
 *
 *     prefix SELECT v1, ..., vw FROM unnest($1::T1[], ..., $k::Tk[])
 *         AS pgplumb_u(c1, ..., ck) tail
 *
 * one array parameter per parameter of the single-row statement, where vi is
 * pgplumb_u.cn for a value $n and the literal itself otherwise (typed by its
 * column as in the single-row INSERT).  types[i] is the SQL name of the
 * element type of tuple position i (the column's type; only read for
 * parameters: NULL there refuses).  Returns false when refused or on ENOMEM.
 */
bool		batch_sql_build_unnest(const struct batch_insert *ins,
								   const char *const *types, struct batch_text *out) BATCH_WUR;

/*
 * Append one element of a PostgreSQL array literal to `out`: the text-format
 * value val (len bytes; len < 0: SQL NULL, written NULL) double-quoted with
 * '"' and '\\' escaped, so that array input hands the element type's input
 * function exactly val, spaces, braces, commas and the word NULL included.
 * A ',' goes first unless `first`.  Returns false (out unchanged; out->failed
 * set on ENOMEM) when val holds a NUL byte, or a
 * backslash together with a byte >= 0x80: in client encodings such as SJIS
 * or BIG5 a 0x5C can be the second byte of a character, which escaping
 * would break.
 */
bool		batch_sql_array_elem(struct batch_text *out, const char *val, int32_t len,
								 bool first) BATCH_WUR;

/* Type oids of literal parameters (what PostgreSQL's parser gives them). */
#define BATCH_OID_UNKNOWN 0		/* a string: typed by its column, as the
								 * literal is */
#define BATCH_OID_BOOL    16
#define BATCH_OID_INT8    20
#define BATCH_OID_INT4    23
#define BATCH_OID_NUMERIC 1700
/* Most values per tuple passed as parameters (PostgreSQL's column limit). */
#define BATCH_LITERAL_MAX_WIDTH 1600

/*
 * The literal tuples of an accepted multi-statement string ("(...),(...)"
 * as batch_sql_analyze_multi() joined them, nrows tuples of width values) as
 * parameters of a prepared multi-row INSERT, so that the server parses and
 * plans it once rather than once per string: types[j] (width entries) is the
 * type of column j's parameters -- the type PostgreSQL gives its literals
 * (int4, int8 or numeric for numbers, bool for TRUE/FALSE, unknown for
 * strings, which the column then types as it types the literal; NULL takes
 * the column's); `values` gets the Bind message's parameter values (int32
 * length, then the text; -1 for NULL), row by row.  Refused (the caller keeps
 * the literals) for anything but the fast path's literal forms, a string
 * with a backslash (its meaning depends on standard_conforming_strings), a
 * column whose literals have different types, or over BATCH_MAX_PARAMS.
 */
enum batch_sql_result batch_sql_literal_params(const char *tuples, int nrows, int width,
											   uint32_t *types,
											   struct batch_text *values) BATCH_WUR;

#endif							/* PGPLUMB_BATCH_SQL_H */
