/*
 * batch_sql.c -- decide with PostgreSQL's parser whether a statement is a
 * rewritable single-row INSERT, and build multi-row INSERT text (see
 * batch_sql.h for the accepted shape).
 *
 * The parse tree (libpg_query protobuf) says what the statement is; the scanner's
 * token stream (same library) says where its pieces are in the text, so that
 * the rewritten statement reuses the client's own text for everything except
 * parameter numbers.  The two are cross-checked: a disagreement refuses.
 */
#include "batch_sql.h"
#include "proto.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

/* ---- growable text ---- */

void
batch_text_init(struct batch_text *t)
{
	t->data = NULL;
	t->len = 0;
	t->cap = 0;
	t->failed = false;
}

void
batch_text_free(struct batch_text *t)
{
	free(t->data);
	batch_text_init(t);
}

void
batch_text_reset(struct batch_text *t)
{
	t->len = 0;
	t->failed = false;
	if (t->data)
		t->data[0] = '\0';
}

/* Room for `need` bytes in all (terminating NUL included); false: ENOMEM. */
static bool
text_reserve(struct batch_text *t, size_t need)
{
	size_t		ncap = t->cap ? t->cap : 256;
	char	   *p;

	if (t->failed)
		return false;
	if (need <= t->cap)
		return true;
	while (ncap < need)
		ncap *= 2;
	p = realloc(t->data, ncap);
	if (!p)
	{
		t->failed = true;
		return false;
	}
	t->data = p;
	t->cap = ncap;
	return true;
}

void
batch_text_append(struct batch_text *t, const char *s, size_t n)
{
	if (!text_reserve(t, t->len + n + 1))
		return;
	memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
}

static void
text_puts(struct batch_text *t, const char *s)
{
	batch_text_append(t, s, strlen(s));
}

/* ---- cheap first check ---- */

size_t
batch_sql_skip_blank(const char *sql, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = (unsigned char) sql[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
			i++;
		else if (c == '-' && i + 1 < len && sql[i + 1] == '-')
		{
			while (i < len && sql[i] != '\n' && sql[i] != '\r')
				i++;
		}
		else if (c == '/' && i + 1 < len && sql[i + 1] == '*')
		{
			/* C-style comments nest in PostgreSQL. */
			int			depth = 1;

			i += 2;
			while (i < len && depth > 0)
			{
				if (sql[i] == '/' && i + 1 < len && sql[i + 1] == '*')
				{
					depth++;
					i += 2;
				}
				else if (sql[i] == '*' && i + 1 < len && sql[i + 1] == '/')
				{
					depth--;
					i += 2;
				}
				else
					i++;
			}
			if (depth > 0)
				return len;
		}
		else
			break;
	}
	return i;
}

bool
batch_sql_maybe_insert(const char *sql, size_t len)
{
	size_t		i = batch_sql_skip_blank(sql, len);

	if (len - i < 6 || strncasecmp(sql + i, "insert", 6) != 0)
		return false;
	return len - i == 6 || !sql_ident_char((unsigned char) sql[i + 6]);
}

/* ---- analysis ---- */

/* Parsed text shared by the statements of one string. */
struct sql_parsed
{
	const char *sql;
	size_t		sqllen;
	PgQueryProtobufParseResult pres;
	PgQueryScanResult sres;
	PgQuery__ParseResult *tree;
	PgQuery__ScanResult *scan;
};

static void
parsed_free(struct sql_parsed *p)
{
	if (p->tree)
		pg_query__parse_result__free_unpacked(p->tree, NULL);
	if (p->scan)
		pg_query__scan_result__free_unpacked(p->scan, NULL);
	pg_query_free_protobuf_parse_result(p->pres);
	pg_query_free_scan_result(p->sres);
}

/* 0 ok, 1 refused (syntax error), -1 no memory. */
static int
parsed_init(struct sql_parsed *p, const char *sql, const char **reason)
{
	memset(p, 0, sizeof(*p));
	p->sql = sql;
	p->sqllen = strlen(sql);
	p->pres = pg_query_parse_protobuf(sql);
	p->sres = pg_query_scan(sql);
	if (p->pres.error || p->sres.error)
	{
		*reason = "the parser rejects the text";
		return 1;
	}
	p->tree = pg_query__parse_result__unpack(NULL, p->pres.parse_tree.len,
											 (const uint8_t *) p->pres.parse_tree.data);
	p->scan = pg_query__scan_result__unpack(NULL, p->sres.pbuf.len,
											(const uint8_t *) p->sres.pbuf.data);
	if (!p->tree || !p->scan)
		return -1;
	return 0;
}

static char *
dup_range(const char *s, size_t from, size_t to)
{
	char	   *r = malloc(to - from + 1);

	if (r)
	{
		memcpy(r, s + from, to - from);
		r[to - from] = '\0';
	}
	return r;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
is_comment_token(const PgQuery__ScanToken * t)
{
	return t->token == PG_QUERY__TOKEN__SQL_COMMENT || t->token == PG_QUERY__TOKEN__C_COMMENT;
}

/* Checks on the tree; NULL if the shape is accepted, else the reason. */
static const char *
check_tree(const PgQuery__InsertStmt * ins, int *width, int *nparamrefs)
{
	const		PgQuery__SelectStmt *sel;
	const		PgQuery__List *row;

	if (ins->with_clause)
		return "WITH clause";
	if (!ins->relation || !ins->relation->relname)
		return "no target relation";
	if (!ins->select_stmt)
		return "DEFAULT VALUES";
	if (ins->select_stmt->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
		return "source is not VALUES";
	sel = ins->select_stmt->select_stmt;
	if (sel->n_values_lists == 0)
		return "INSERT ... SELECT";
	if (sel->n_values_lists != 1)
		return "already a multi-row VALUES";
	if (sel->n_distinct_clause || sel->into_clause || sel->n_target_list ||
		sel->n_from_clause || sel->where_clause || sel->n_group_clause ||
		sel->having_clause || sel->n_window_clause || sel->n_sort_clause ||
		sel->limit_offset || sel->limit_count || sel->n_locking_clause ||
		sel->with_clause || sel->larg || sel->rarg ||
		(sel->op != PG_QUERY__SET_OPERATION__SETOP_NONE &&
		 sel->op != PG_QUERY__SET_OPERATION__SET_OPERATION_UNDEFINED))
		return "VALUES with other clauses";
	if (sel->values_lists[0]->node_case != PG_QUERY__NODE__NODE_LIST)
		return "VALUES list is not a list";
	row = sel->values_lists[0]->list;
	if (row->n_items == 0)
		return "empty VALUES tuple";
	*nparamrefs = 0;
	for (size_t i = 0; i < row->n_items; i++)
	{
		const		PgQuery__Node *v = row->items[i];

		if (v->node_case == PG_QUERY__NODE__NODE_PARAM_REF)
			(*nparamrefs)++;
		else if (v->node_case == PG_QUERY__NODE__NODE_SET_TO_DEFAULT)
			return "DEFAULT in VALUES";
		else if (v->node_case != PG_QUERY__NODE__NODE_A_CONST)
			return "a value is an expression, not a parameter or literal";
	}
	*width = (int) row->n_items;
	for (size_t i = 0; i < ins->n_returning_list; i++)
	{
		const		PgQuery__Node *n = ins->returning_list[i];

		if (n->node_case != PG_QUERY__NODE__NODE_RES_TARGET || !n->res_target->val ||
			n->res_target->val->node_case != PG_QUERY__NODE__NODE_COLUMN_REF)
			return "RETURNING holds an expression";
	}
	return NULL;
}

/* out->columns from the tree's column list; -1 no memory. */
static int
set_columns(const PgQuery__InsertStmt * ins, struct batch_insert *out)
{
	struct batch_text t;

	out->columns_known = true;
	if (ins->n_cols == 0)
		return 0;
	batch_text_init(&t);
	text_puts(&t, "{");
	for (size_t i = 0; i < ins->n_cols; i++)
	{
		const		PgQuery__Node *n = ins->cols[i];

		if (n->node_case != PG_QUERY__NODE__NODE_RES_TARGET || !n->res_target->name ||
			n->res_target->n_indirection > 0 ||
			!batch_sql_array_elem(&t, n->res_target->name,
								  (int32_t) strlen(n->res_target->name), i == 0))
		{
			out->columns_known = false;
			batch_text_free(&t);
			return 0;
		}
	}
	text_puts(&t, "}");
	if (t.failed)
	{
		batch_text_free(&t);
		return -1;
	}
	out->columns = t.data;
	return 0;
}

/*
 * out->items from the tokens of the tuple [lparen, rparen) (values split at
 * its top-level commas), and out->unnest_ok; -1 no memory.
 */
static int
set_items(const struct sql_parsed *p, size_t lparen, size_t rparen, struct batch_insert *out)
{
	int			depth = 0,
				n = 0;
	size_t		from = 0,
				to = 0;
	bool		empty = true;
	bool	   *seen;

	out->items = calloc((size_t) out->width, sizeof(*out->items));
	if (!out->items)
		return -1;
	for (size_t k = 0; k < p->scan->n_tokens; k++)
	{
		const		PgQuery__ScanToken *t = p->scan->tokens[k];
		size_t		ts = (size_t) t->start;

		if (ts < lparen || is_comment_token(t))
			continue;
		if (ts >= rparen)
			break;
		if (t->token == PG_QUERY__TOKEN__ASCII_40 && depth++ == 0)
			continue;
		if ((t->token == PG_QUERY__TOKEN__ASCII_41 && --depth == 0) ||
			(t->token == PG_QUERY__TOKEN__ASCII_44 && depth == 1))
		{
			if (empty || n == out->width)
				break;
			out->items[n].off = (uint32_t) (from - lparen);
			out->items[n].len = (uint32_t) (to - from);
			if (t->token == PG_QUERY__TOKEN__ASCII_41)
				depth = -1;
			n++;
			empty = true;
			continue;
		}
		if (empty)
			from = ts;
		to = (size_t) t->end;
		empty = false;
	}
	if (n != out->width)
	{
		/* the tokens do not split as the tree did: no unnest form */
		free(out->items);
		out->items = NULL;
		return 0;
	}
	for (int i = 0; i < out->nparams; i++)
		for (int j = 0; j < n; j++)
			if (out->items[j].off == out->params[i].off)
				out->items[j].param = out->params[i].number;

	/* $1..$k, each once, each a whole value */
	out->unnest_ok = out->columns_known && out->max_param == out->nparams;
	seen = calloc((size_t) out->max_param + 1, sizeof(bool));
	if (!seen)
		return -1;
	for (int j = 0; j < n && out->unnest_ok; j++)
	{
		int			m = out->items[j].param;

		if (m && (seen[m] || out->items[j].len != 1 + (uint32_t) snprintf(NULL, 0, "%d", m)))
			out->unnest_ok = false;
		if (m)
			seen[m] = true;
	}
	for (int m = 1; m <= out->max_param && out->unnest_ok; m++)
		out->unnest_ok = seen[m];
	free(seen);
	return 0;
}

/*
 * Analyze the statement raw of p into out.  0 ok, 1 refused, -1 no memory.
 */
static int
analyze_raw(const struct sql_parsed *p, const PgQuery__RawStmt * raw,
			struct batch_insert *out, const char **reason)
{
	const		PgQuery__InsertStmt *ins;
	size_t		start = (size_t) raw->stmt_location;
	size_t		end = raw->stmt_len ? start + (size_t) raw->stmt_len : p->sqllen;
	size_t		values_at = 0,
				lparen = 0,
				rparen = 0;
	size_t		k;
	int			width = 0,
				nparamrefs = 0,
				depth = 0;
	int			ntok_params = 0;
	const char *why;

	memset(out, 0, sizeof(*out));
	if (!raw->stmt || raw->stmt->node_case != PG_QUERY__NODE__NODE_INSERT_STMT)
	{
		*reason = "not an INSERT";
		return 1;
	}
	ins = raw->stmt->insert_stmt;
	why = check_tree(ins, &width, &nparamrefs);
	if (why)
	{
		*reason = why;
		return 1;
	}
	if (end > p->sqllen)
	{
		*reason = "statement bounds outside the text";
		return 1;
	}

	/* Locate VALUES ( ... ) among the statement's tokens. */
	for (k = 0; k < p->scan->n_tokens; k++)
	{
		const		PgQuery__ScanToken *t = p->scan->tokens[k];

		if ((size_t) t->start < start || is_comment_token(t))
			continue;
		if ((size_t) t->start >= end)
			break;
		if (t->token == PG_QUERY__TOKEN__VALUES)
		{
			values_at = (size_t) t->start;
			break;
		}
	}
	if (k == p->scan->n_tokens || (size_t) p->scan->tokens[k]->start >= end)
	{
		*reason = "no VALUES keyword found";
		return 1;
	}
	for (k++; k < p->scan->n_tokens && is_comment_token(p->scan->tokens[k]); k++)
		;
	if (k == p->scan->n_tokens || p->scan->tokens[k]->token != PG_QUERY__TOKEN__ASCII_40)
	{
		*reason = "VALUES not followed by a tuple";
		return 1;
	}
	lparen = (size_t) p->scan->tokens[k]->start;
	for (; k < p->scan->n_tokens; k++)
	{
		const		PgQuery__ScanToken *t = p->scan->tokens[k];

		if ((size_t) t->start >= end)
			break;
		if (t->token == PG_QUERY__TOKEN__ASCII_40)
			depth++;
		else if (t->token == PG_QUERY__TOKEN__ASCII_41 && --depth == 0)
		{
			rparen = (size_t) t->end;
			break;
		}
	}
	if (rparen == 0)
	{
		*reason = "VALUES tuple not closed";
		return 1;
	}

	/*
	 * Every $n of the statement must be a value of the tuple; the tail must
	 * hold no subquery (its snapshot would differ between one multi-row
	 * statement and many single-row ones).
	 */
	for (k = 0; k < p->scan->n_tokens; k++)
	{
		const		PgQuery__ScanToken *t = p->scan->tokens[k];
		size_t		ts = (size_t) t->start;

		if (ts < start)
			continue;
		if (ts >= end)
			break;
		if (t->token == PG_QUERY__TOKEN__PARAM)
		{
			if (ts < lparen || ts >= rparen)
			{
				*reason = "a parameter outside the VALUES tuple";
				return 1;
			}
			ntok_params++;
		}
		else if (ts >= rparen &&
				 (t->token == PG_QUERY__TOKEN__SELECT || t->token == PG_QUERY__TOKEN__WITH ||
				  t->token == PG_QUERY__TOKEN__VALUES))
		{
			*reason = "a subquery after the VALUES tuple";
			return 1;
		}
	}
	if (ntok_params != nparamrefs)
	{
		*reason = "parameters in text and tree disagree";
		return 1;
	}

	while (start < values_at && is_space(p->sql[start]))
		start++;
	while (end > rparen && is_space(p->sql[end - 1]))
		end--;
	out->prefix = dup_range(p->sql, start, values_at);
	out->tuple = dup_range(p->sql, lparen, rparen);
	out->tail = dup_range(p->sql, rparen, end);
	out->relname = strdup(ins->relation->relname);
	if (ins->relation->schemaname && ins->relation->schemaname[0])
		out->schemaname = strdup(ins->relation->schemaname);
	if (ntok_params)
		out->params = calloc((size_t) ntok_params, sizeof(*out->params));
	if (!out->prefix || !out->tuple || !out->tail || !out->relname ||
		(ins->relation->schemaname && ins->relation->schemaname[0] && !out->schemaname) ||
		(ntok_params && !out->params))
	{
		batch_insert_free(out);
		return -1;
	}
	for (k = 0; k < p->scan->n_tokens; k++)
	{
		const		PgQuery__ScanToken *t = p->scan->tokens[k];
		size_t		ts = (size_t) t->start;
		long		n;

		if (ts < lparen || t->token != PG_QUERY__TOKEN__PARAM)
			continue;
		if (ts >= rparen)
			break;
		n = strtol(p->sql + ts + 1, NULL, 10);
		if (n < 1 || n > BATCH_MAX_PARAMS)
		{
			batch_insert_free(out);
			*reason = "parameter number out of range";
			return 1;
		}
		out->params[out->nparams].off = (uint32_t) (ts - lparen);
		out->params[out->nparams].len = (uint32_t) (t->end - t->start);
		out->params[out->nparams].number = (int) n;
		if (n > out->max_param)
			out->max_param = (int) n;
		out->nparams++;
	}
	out->width = width;
	if (set_columns(ins, out) < 0 || set_items(p, lparen, rparen, out) < 0)
	{
		batch_insert_free(out);
		return -1;
	}
	out->returning = ins->n_returning_list > 0;
	if (!ins->on_conflict_clause)
		out->conflict = BATCH_CONFLICT_NONE;
	else if (ins->on_conflict_clause->action == PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_NOTHING)
		out->conflict = BATCH_CONFLICT_NOTHING;
	else
		out->conflict = BATCH_CONFLICT_UPDATE;
	return 0;
}

void
batch_insert_free(struct batch_insert *ins)
{
	free(ins->prefix);
	free(ins->tuple);
	free(ins->tail);
	free(ins->params);
	free(ins->schemaname);
	free(ins->relname);
	free(ins->columns);
	free(ins->items);
	memset(ins, 0, sizeof(*ins));
}

static enum batch_sql_result
to_result(int rc)
{
	return rc == 0 ? BATCH_SQL_OK : rc > 0 ? BATCH_SQL_REFUSED : BATCH_SQL_NOMEM;
}

enum batch_sql_result
batch_sql_analyze(const char *sql, struct batch_insert *out, const char **reason)
{
	struct sql_parsed p;
	int			rc;

	memset(out, 0, sizeof(*out));
	*reason = NULL;
	rc = parsed_init(&p, sql, reason);
	if (rc == 0 && p.tree->n_stmts != 1)
	{
		*reason = p.tree->n_stmts == 0 ? "no statement" : "more than one statement";
		rc = 1;
	}
	if (rc == 0)
		rc = analyze_raw(&p, p.tree->stmts[0], out, reason);
	parsed_free(&p);
	return to_result(rc);
}

/*
 * Multi-statement strings: one scan of the whole text, a full parse of the
 * first statement only, and for every other statement a token-by-token
 * comparison with the first: the same tokens (same text) everywhere except
 * inside the VALUES tuple, where each value must be a lone literal token
 * (number, string, bit string, NULL, TRUE, FALSE) or a minus sign and a
 * number.  Swapping one literal for another in a VALUES tuple cannot change
 * how the grammar reads the statement, so the first statement's analysis
 * holds for all of them -- at the cost of one scan instead of one parse per
 * statement (a parse of a hundred INSERTs costs milliseconds).
 */

static bool
is_literal_token(PgQuery__Token t)
{
	return t == PG_QUERY__TOKEN__ICONST || t == PG_QUERY__TOKEN__FCONST ||
		t == PG_QUERY__TOKEN__SCONST || t == PG_QUERY__TOKEN__BCONST ||
		t == PG_QUERY__TOKEN__XCONST || t == PG_QUERY__TOKEN__NULL_P ||
		t == PG_QUERY__TOKEN__TRUE_P || t == PG_QUERY__TOKEN__FALSE_P;
}

/*
 * Tokens tok[from..to) hold "( lit , lit , ... )" exactly; returns the
 * number of values, or -1.
 */
static int
literal_tuple(PgQuery__ScanToken * *tok, const int *ix, int from, int to)
{
	int			n = 0;
	int			i = from;

	if (to - from < 3 || tok[ix[from]]->token != PG_QUERY__TOKEN__ASCII_40 ||
		tok[ix[to - 1]]->token != PG_QUERY__TOKEN__ASCII_41)
		return -1;
	i++;
	for (;;)
	{
		PgQuery__Token t = tok[ix[i]]->token;

		if (t == PG_QUERY__TOKEN__ASCII_45 && i + 1 < to - 1 &&
			(tok[ix[i + 1]]->token == PG_QUERY__TOKEN__ICONST ||
			 tok[ix[i + 1]]->token == PG_QUERY__TOKEN__FCONST))
			i += 2;
		else if (is_literal_token(t))
			i++;
		else
			return -1;
		n++;
		if (i == to - 1)
			return n;
		if (tok[ix[i]]->token != PG_QUERY__TOKEN__ASCII_44)
			return -1;
		i++;
		if (i >= to - 1)
			return -1;
	}
}

static bool
same_token_text(const char *sql, const PgQuery__ScanToken * a, const PgQuery__ScanToken * b)
{
	return a->token == b->token && a->end - a->start == b->end - b->start &&
		memcmp(sql + a->start, sql + b->start, (size_t) (a->end - a->start)) == 0;
}

static enum batch_sql_result
analyze_multi_scan(const char *sql, struct batch_insert *out,
				   struct batch_text *tuples, int *nstmts, const char **reason)
{
	PgQueryScanResult sres;
	PgQuery__ScanResult *scan = NULL;
	PgQuery__ScanToken **tok;
	int		   *ix = NULL;		/* indexes of the non-comment tokens */
	int		   *bounds = NULL;	/* statement k is ix[bounds[k] ..
								 * bounds[k+1]-1) + ';' */
	int			nix = 0,
				nst = 0,
				depth = 0;
	int			v1 = -1,		/* first statement: VALUES, '(' and ')'
								 * positions in ix */
				r1 = -1;
	char	   *first = NULL;
	int			rc = 1;

	memset(out, 0, sizeof(*out));
	*reason = NULL;
	*nstmts = 0;
	sres = pg_query_scan(sql);
	if (sres.error)
	{
		*reason = "the scanner rejects the text";
		goto done;
	}
	scan = pg_query__scan_result__unpack(NULL, sres.pbuf.len, (const uint8_t *) sres.pbuf.data);
	ix = malloc(sizeof(int) * (scan ? scan->n_tokens + 1 : 1));
	bounds = malloc(sizeof(int) * (scan ? scan->n_tokens + 2 : 2));
	if (!scan || !ix || !bounds)
	{
		rc = -1;
		goto done;
	}
	tok = scan->tokens;

	/* Split at ';' outside parentheses; empty statements are refused. */
	bounds[0] = 0;
	for (size_t k = 0; k < scan->n_tokens; k++)
	{
		PgQuery__Token t = tok[k]->token;

		if (is_comment_token(tok[k]))
			continue;
		if (t == PG_QUERY__TOKEN__ASCII_40)
			depth++;
		else if (t == PG_QUERY__TOKEN__ASCII_41 && --depth < 0)
			break;
		if (t == PG_QUERY__TOKEN__ASCII_59)
		{
			if (depth != 0 || nix == bounds[nst])
			{
				*reason = depth ? "';' inside parentheses" : "an empty statement";
				goto done;
			}
			bounds[++nst] = nix;
			continue;
		}
		ix[nix++] = (int) k;
	}
	if (depth != 0)
	{
		*reason = "unbalanced parentheses";
		goto done;
	}
	if (nix > bounds[nst])
		bounds[++nst] = nix;
	if (nst < 2)
	{
		*reason = "fewer than two statements";
		goto done;
	}

	/* The first statement, parsed for certainty. */
	{
		size_t		end = bounds[1] < nix ? (size_t) tok[ix[bounds[1] - 1]]->end : strlen(sql);
		enum batch_sql_result r;

		first = dup_range(sql, 0, end);
		if (!first)
		{
			rc = -1;
			goto done;
		}
		r = batch_sql_analyze(first, out, reason);
		if (r != BATCH_SQL_OK)
		{
			rc = r == BATCH_SQL_NOMEM ? -1 : 1;
			goto done;
		}
		if (out->nparams)
		{
			*reason = "a statement has parameters";
			goto done;
		}
	}
	for (int i = bounds[0]; i < bounds[1]; i++)
		if (tok[ix[i]]->token == PG_QUERY__TOKEN__VALUES)
		{
			v1 = i;
			break;
		}
	if (v1 < 0)
	{
		*reason = "no VALUES keyword found";
		goto done;
	}
	for (int i = v1 + 1, d = 0; i < bounds[1]; i++)
	{
		if (tok[ix[i]]->token == PG_QUERY__TOKEN__ASCII_40)
			d++;
		else if (tok[ix[i]]->token == PG_QUERY__TOKEN__ASCII_41 && --d == 0)
		{
			r1 = i;
			break;
		}
	}
	if (r1 < 0 || literal_tuple(tok, ix, v1 + 1, r1 + 1) != out->width)
	{
		*reason = "a value is not a lone literal";
		goto done;
	}

	/* Every other statement: same tokens but for the literals of its tuple. */
	for (int k = 0; k < nst; k++)
	{
		int			b = bounds[k],
					e = bounds[k + 1];
		int			tail1 = bounds[1] - (r1 + 1);
		int			r;

		if (k > 0)
		{
			for (int i = 0; i <= v1; i++)
				if (b + i >= e || !same_token_text(sql, tok[ix[bounds[0] + i]], tok[ix[b + i]]))
				{
					*reason = "statements differ in table, columns or clauses";
					goto done;
				}
			r = e - tail1;		/* one past this statement's ')' */
			if (r <= b + v1 + 1 || literal_tuple(tok, ix, b + v1 + 1, r) != out->width)
			{
				*reason = "statements differ in their VALUES tuple";
				goto done;
			}
			for (int i = 0; i < tail1; i++)
				if (!same_token_text(sql, tok[ix[r1 + 1 + i]], tok[ix[r + i]]))
				{
					*reason = "statements differ in table, columns or clauses";
					goto done;
				}
			batch_text_append(tuples, ",", 1);
		}
		else
			r = r1 + 1;
		batch_text_append(tuples, sql + tok[ix[b + v1 + 1]]->start,
						  (size_t) (tok[ix[r - 1]]->end - tok[ix[b + v1 + 1]]->start));
	}
	if (tuples->failed)
	{
		rc = -1;
		goto done;
	}
	*nstmts = nst;
	rc = 0;
done:
	if (rc != 0)
		batch_insert_free(out);
	free(first);
	free(ix);
	free(bounds);
	if (scan)
		pg_query__scan_result__free_unpacked(scan, NULL);
	pg_query_free_scan_result(sres);
	return to_result(rc);
}

/*
 * The fast path for multi-statement strings, tried before the scan (which
 * costs about 6 us per statement): the first statement, cut at the first ';',
 * is parsed; every other statement must then repeat its bytes exactly --
 * prefix, VALUES, tail -- around a tuple of lone literals that this function
 * reads itself, accepting only forms whose token boundaries are unambiguous:
 * unsigned or negated decimal numbers, '...' strings on one line (standard
 * conforming strings, as libpg_query's scanner assumes too), NULL, TRUE,
 * FALSE, separated by commas and blanks.  Anything else (comments, E'' or
 * other prefixed strings, casts, a ';' inside the first statement...) makes
 * it give up, and the scan decides.
 */

static inline bool
fast_is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_' || c == '$' || (unsigned char) c >= 0x80;
}

static bool
fast_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* One literal at *p; advances past it.  false if not a literal we accept. */
static inline __attribute__((always_inline))
bool
fast_literal(const char **pp)
{
	const char *p = *pp;

	if (*p == '\'')
	{
		for (p++;; p++)
		{
			if (*p == '\0' || *p == '\n' || *p == '\r')
				return false;
			if (*p == '\'')
			{
				if (p[1] != '\'')
					break;
				p++;
			}
		}
		p++;
		/* a newline then another string would continue this one */
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',' && *p != ')')
			return false;
		*pp = p;
		return true;
	}
	if ((*p == 'N' || *p == 'n' || *p == 'T' || *p == 't' || *p == 'F' || *p == 'f'))
	{
		static const char *const words[] = {"null", "true", "false"};

		for (int i = 0; i < 3; i++)
		{
			size_t		n = strlen(words[i]);

			if (strncasecmp(p, words[i], n) == 0 && !fast_is_ident(p[n]))
			{
				*pp = p + n;
				return true;
			}
		}
		return false;
	}
	if (*p == '-')
		p++;
	{
		const char *d = p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == '.')
		{
			p++;
			while (*p >= '0' && *p <= '9')
				p++;
		}
		if (p == d || (p == d + 1 && *d == '.'))
			return false;
		if (*p == 'e' || *p == 'E')
		{
			p++;
			if (*p == '+' || *p == '-')
				p++;
			if (!(*p >= '0' && *p <= '9'))
				return false;
			while (*p >= '0' && *p <= '9')
				p++;
		}
	}
	if (fast_is_ident(*p) || *p == '.')
		return false;
	*pp = p;
	return true;
}

/* "( lit, lit, ... )" at *p with exactly width values; advances past ')'. */
static bool
fast_tuple(const char **pp, int width)
{
	const char *p = *pp;
	int			n = 0;

	if (*p++ != '(')
		return false;
	for (;;)
	{
		while (fast_blank(*p))
			p++;
		if (!fast_literal(&p))
			return false;
		n++;
		while (fast_blank(*p))
			p++;
		if (*p == ')')
			break;
		if (*p++ != ',')
			return false;
	}
	*pp = p + 1;
	return n == width;
}

/*
 * The first statement of the last string accepted below.  A string whose
 * first statement has the same prefix, tail and width with literals only is
 * the same statement with other values: its analysis is this one's with the
 * tuple replaced, and libpg_query need not run.  Process-wide and
 * single-threaded, like the pooler.
 */
static struct batch_insert fast_cache;

static char *
dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* *out = fast_cache with the tuple [t, end); 1 done, -1 no memory. */
static int
fast_from_cache(struct batch_insert *out, const char *t, const char *end)
{
	*out = fast_cache;
	out->prefix = strdup(fast_cache.prefix);
	out->tuple = dup_range(t, 0, (size_t) (end - t));
	out->tail = strdup(fast_cache.tail);
	out->params = NULL;
	out->schemaname = dup_opt(fast_cache.schemaname);
	out->relname = dup_opt(fast_cache.relname);
	out->columns = NULL;
	out->columns_known = false;
	out->items = NULL;
	out->unnest_ok = false;
	if (!out->prefix || !out->tuple || !out->tail || !out->relname ||
		(fast_cache.schemaname && !out->schemaname))
	{
		batch_insert_free(out);
		return -1;
	}
	return 1;
}

/* Does the statement at sql (ending at semi) match fast_cache?  0 no. */
static int
fast_cached_first(const char *sql, const char *semi, struct batch_insert *out)
{
	const char *p = sql,
			   *t;

	if (fast_cache.prefix == NULL)
		return 0;
	while (fast_blank(*p))
		p++;
	if (strncmp(p, fast_cache.prefix, strlen(fast_cache.prefix)) != 0)
		return 0;
	p += strlen(fast_cache.prefix);
	if (strncasecmp(p, "values", 6) != 0 || fast_is_ident(p[6]))
		return 0;
	p += 6;
	while (fast_blank(*p))
		p++;
	t = p;
	if (!fast_tuple(&p, fast_cache.width) || strncmp(p, fast_cache.tail, strlen(fast_cache.tail)) != 0)
		return 0;
	{
		const char *end = p;

		p += strlen(fast_cache.tail);
		while (fast_blank(*p))
			p++;
		if (p != semi)
			return 0;
		return fast_from_cache(out, t, end);
	}
}

/* Remember an accepted first statement (no parameters) for the next string. */
static void
fast_remember(const struct batch_insert *ins)
{
	struct batch_insert old = fast_cache;

	memset(&fast_cache, 0, sizeof(fast_cache));
	fast_cache = *ins;
	fast_cache.prefix = strdup(ins->prefix);
	fast_cache.tuple = NULL;
	fast_cache.tail = strdup(ins->tail);
	fast_cache.params = NULL;
	fast_cache.schemaname = dup_opt(ins->schemaname);
	fast_cache.relname = dup_opt(ins->relname);
	fast_cache.columns = NULL;
	fast_cache.columns_known = false;
	fast_cache.items = NULL;
	fast_cache.unnest_ok = false;
	if (!fast_cache.prefix || !fast_cache.tail || !fast_cache.relname ||
		(ins->schemaname && !fast_cache.schemaname))
		batch_insert_free(&fast_cache); /* no cache: parse next time */
	batch_insert_free(&old);
}

/* 1 accepted, 0 give up (let the scan decide), -1 no memory. */
static int
analyze_multi_fast(const char *sql, struct batch_insert *out,
				   struct batch_text *tuples, int *nstmts)
{
	const char *semi = strchr(sql, ';');
	const char *p;
	char	   *first;
	const char *why;
	enum batch_sql_result r;
	size_t		plen,
				tlen;
	int			n = 1;

	if (!semi)
		return 0;
	r = fast_cached_first(sql, semi, out);
	if (r < 0)
		return -1;
	if (r == 0)
	{
		first = dup_range(sql, 0, (size_t) (semi - sql));
		if (!first)
			return -1;
		r = batch_sql_analyze(first, out, &why);
		free(first);
		if (r == BATCH_SQL_NOMEM)
			return -1;
		if (r != BATCH_SQL_OK)
			return 0;
		p = out->tuple;
		if (out->nparams || !fast_tuple(&p, out->width) || *p != '\0')
			goto give_up;
		fast_remember(out);
	}
	batch_text_append(tuples, out->tuple, strlen(out->tuple));
	plen = strlen(out->prefix);
	tlen = strlen(out->tail);
	p = semi + 1;
	for (;;)
	{
		const char *t;

		while (fast_blank(*p))
			p++;
		if (*p == '\0')
			break;
		if (strncmp(p, out->prefix, plen) != 0)
			goto give_up;
		p += plen;
		if (strncasecmp(p, "values", 6) != 0 || fast_is_ident(p[6]))
			goto give_up;
		p += 6;
		while (fast_blank(*p))
			p++;
		t = p;
		if (!fast_tuple(&p, out->width) || strncmp(p, out->tail, tlen) != 0)
			goto give_up;
		batch_text_append(tuples, ",", 1);
		batch_text_append(tuples, t, (size_t) (p - t));
		p += tlen;
		while (fast_blank(*p))
			p++;
		n++;
		if (*p == ';')
			p++;
		else if (*p != '\0')
			goto give_up;
	}
	if (n < 2)
		goto give_up;
	if (tuples->failed)
	{
		batch_insert_free(out);
		return -1;
	}
	*nstmts = n;
	return 1;
give_up:
	batch_insert_free(out);
	batch_text_reset(tuples);
	return 0;
}

enum batch_sql_result
batch_sql_analyze_multi(const char *sql, struct batch_insert *out,
						struct batch_text *tuples, int *nstmts, const char **reason)
{
	int			rc;

	memset(out, 0, sizeof(*out));
	*nstmts = 0;
	*reason = NULL;
	rc = analyze_multi_fast(sql, out, tuples, nstmts);
	if (rc > 0)
		return BATCH_SQL_OK;
	if (rc < 0)
		return BATCH_SQL_NOMEM;
	return analyze_multi_scan(sql, out, tuples, nstmts, reason);
}

/* ---- building ---- */

int
batch_sql_rows_cap(int row_params, int max_rows)
{
	int			cap = max_rows > 0 ? max_rows : 1;

	if (row_params > 0 && cap > BATCH_MAX_PARAMS / row_params)
		cap = BATCH_MAX_PARAMS / row_params;
	return cap > 0 ? cap : 1;
}

bool
batch_sql_build_values(const struct batch_insert *ins, int nrows, int row_params,
					   struct batch_text *out)
{
	char		num[16];

	if (nrows < 1 || row_params < ins->max_param || row_params < 0 ||
		(long) nrows * row_params > BATCH_MAX_PARAMS)
		return false;
	text_puts(out, ins->prefix);
	text_puts(out, "VALUES ");
	for (int r = 0; r < nrows; r++)
	{
		size_t		at = 0;

		if (r > 0)
			text_puts(out, ",");
		for (int i = 0; i < ins->nparams; i++)
		{
			const struct batch_param_ref *pr = &ins->params[i];

			batch_text_append(out, ins->tuple + at, pr->off - at);
			snprintf(num, sizeof(num), "$%d", pr->number + r * row_params);
			text_puts(out, num);
			at = pr->off + pr->len;
		}
		text_puts(out, ins->tuple + at);
	}
	text_puts(out, ins->tail);
	return !out->failed;
}

bool
batch_sql_build_unnest(const struct batch_insert *ins, const char *const *types,
					   struct batch_text *out)
{
	char		num[40];
	bool		in_order = ins->nparams == ins->width;

	if (!ins->unnest_ok)
		return false;
	for (int i = 0; i < ins->width; i++)
	{
		if (ins->items[i].param && !types[i])
			return false;
		in_order &= ins->items[i].param == i + 1;
	}
	text_puts(out, ins->prefix);
	if (in_order)
		text_puts(out, "SELECT * FROM unnest(");
	else
	{
		text_puts(out, "SELECT ");
		for (int i = 0; i < ins->width; i++)
		{
			const struct batch_item *it = &ins->items[i];

			if (i)
				text_puts(out, ", ");
			if (it->param)
			{
				snprintf(num, sizeof(num), "pgplumb_u.c%d", it->param);
				text_puts(out, num);
			}
			else
				batch_text_append(out, ins->tuple + it->off, it->len);
		}
		text_puts(out, " FROM unnest(");
	}
	for (int n = 1; n <= ins->nparams; n++)
		for (int i = 0; i < ins->width; i++)
			if (ins->items[i].param == n)
			{
				snprintf(num, sizeof(num), "%s$%d::", n > 1 ? ", " : "", n);
				text_puts(out, num);
				text_puts(out, types[i]);
				text_puts(out, "[]");
			}
	text_puts(out, ")");
	if (!in_order)
	{
		text_puts(out, " AS pgplumb_u(");
		for (int n = 1; n <= ins->nparams; n++)
		{
			snprintf(num, sizeof(num), "%sc%d", n > 1 ? ", " : "", n);
			text_puts(out, num);
		}
		text_puts(out, ")");
	}
	text_puts(out, ins->tail);
	return !out->failed;
}

/* Bytes an array element carries as they are inside its double quotes. */
static const bool array_plain[256] = {
	[' '...'!'] = true,			/* not '"' */
	['#'...'['] = true,			/* not '\\' */
	[']'...'~'] = true,
};

bool
batch_sql_array_elem(struct batch_text *out, const char *val, int32_t len, bool first)
{
	bool		high = false,
				bslash = false;
	char	   *w;

	if (len < 0)
	{
		batch_text_append(out, &",NULL"[first], first ? 4 : 5);
		return !out->failed;
	}
	/* the worst case: every byte escaped, the comma and the quotes */
	if (!text_reserve(out, out->len + 2 * (size_t) len + 4))
		return false;
	w = out->data + out->len;
	if (!first)
		*w++ = ',';
	*w++ = '"';
	for (int32_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) val[i];

		/* one look-up for the common case: printable ASCII other than " and \ */
		if (array_plain[c])
		{
			*w++ = (char) c;
			continue;
		}
		if (c == '"' || c == '\\')
		{
			bslash |= c == '\\';
			*w++ = '\\';
		}
		else if (c == 0)
			return false;
		high |= c >= 0x80;
		*w++ = (char) c;
	}
	if (high && bslash)
		return false;
	*w++ = '"';
	*w = '\0';
	out->len = (size_t) (w - out->data);
	return true;
}

/* ---- literals as parameters ---- */

/* The type PostgreSQL gives the number literal [p, end) (make_const). */
static uint32_t
number_type(const char *p, const char *end)
{
	char		buf[32];
	char	   *stop;
	long long	v;
	size_t		n = (size_t) (end - p);

	for (const char *q = p; q < end; q++)
		if (*q == '.' || *q == 'e' || *q == 'E')
			return BATCH_OID_NUMERIC;
	/* up to 9 digits always fit in int4 */
	if (n - (*p == '-') <= 9)
		return BATCH_OID_INT4;
	if (n >= sizeof(buf))
		return BATCH_OID_NUMERIC;
	memcpy(buf, p, n);
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &stop, 10);
	if (errno != 0 || *stop != '\0')
		return BATCH_OID_NUMERIC;
	return v >= INT_MIN && v <= INT_MAX ? BATCH_OID_INT4 : BATCH_OID_INT8;
}

/* A Bind parameter's length word (big-endian int32, -1 for NULL) at w */
static char *
put_len(char *w, int32_t n)
{
	proto_put_u32((uint8_t *) w, (uint32_t) n);
	return w + 4;
}

/*
 * One literal at *pp (fast_literal's forms): its type, and its length and
 * value written at *w (room enough: the literal's own length plus 4).  *type
 * is UINT32_MAX for NULL.  false: not one we pass as a parameter.
 */
static bool
literal_param(const char **pp, uint32_t *type, char **w)
{
	const char *p = *pp,
			   *end = p;
	char	   *o = *w;

	if (!fast_literal(&end))
		return false;
	*pp = end;
	if (*p == '\'')
	{
		const char *close = end - 1;
		char	   *start;

		while (*close != '\'')
			close--;
		p++;
		/* backslashes mean something else without standard_conforming_strings */
		if (memchr(p, '\\', (size_t) (close - p)))
			return false;
		start = o + 4;
		o = start;
		while (p < close)
		{
			const char *q = memchr(p, '\'', (size_t) (close - p));
			size_t		n = q ? (size_t) (q + 1 - p) : (size_t) (close - p);

			/* '' is one quote: keep the first, skip the second */
			memcpy(o, p, n);
			o += n;
			p += n + (q != NULL);
		}
		put_len(start - 4, (int32_t) (o - start));
		*type = BATCH_OID_UNKNOWN;
	}
	else if (*p == 'n' || *p == 'N')
	{
		o = put_len(o, -1);
		*type = UINT32_MAX;
	}
	else if (*p == 't' || *p == 'T' || *p == 'f' || *p == 'F')
	{
		o = put_len(o, 1);
		*o++ = (*p == 't' || *p == 'T') ? 't' : 'f';
		*type = BATCH_OID_BOOL;
	}
	else
	{
		*type = number_type(p, end);
		o = put_len(o, (int32_t) (end - p));
		memcpy(o, p, (size_t) (end - p));
		o += end - p;
	}
	*w = o;
	return true;
}

enum batch_sql_result
batch_sql_literal_params(const char *tuples, int nrows, int width, uint32_t *types,
						 struct batch_text *values)
{
	const char *p = tuples;
	bool		set[BATCH_LITERAL_MAX_WIDTH] = {false};
	size_t		room;
	char	   *w;

	if (width < 1 || width > BATCH_LITERAL_MAX_WIDTH || nrows < 1 ||
		(long) nrows * width > BATCH_MAX_PARAMS)
		return BATCH_SQL_REFUSED;

	/*
	 * no value is longer than its literal: room for all, then written in
	 * place
	 */
	room = strlen(tuples) + 4 * (size_t) nrows * (size_t) width;
	batch_text_reset(values);
	batch_text_append(values, "", 0);
	if (values->failed)
		return BATCH_SQL_NOMEM;
	if (values->cap < room + 1)
	{
		char	   *d = realloc(values->data, room + 1);

		if (!d)
			return BATCH_SQL_NOMEM;
		values->data = d;
		values->cap = room + 1;
	}
	w = values->data;
	for (int r = 0; r < nrows; r++)
	{
		if (r > 0 && *p++ != ',')
			return BATCH_SQL_REFUSED;
		if (*p++ != '(')
			return BATCH_SQL_REFUSED;
		for (int j = 0; j < width; j++)
		{
			uint32_t	t = UINT32_MAX;

			while (fast_blank(*p))
				p++;
			if (!literal_param(&p, &t, &w))
				return BATCH_SQL_REFUSED;
			/* one type per column: the one its literals have (NULL takes it) */
			if (t != UINT32_MAX)
			{
				if (set[j] && types[j] != t)
					return BATCH_SQL_REFUSED;
				types[j] = t;
				set[j] = true;
			}
			while (fast_blank(*p))
				p++;
			if (*p++ != (j == width - 1 ? ')' : ','))
				return BATCH_SQL_REFUSED;
		}
	}
	if (*p != '\0')
		return BATCH_SQL_REFUSED;
	values->len = (size_t) (w - values->data);
	values->data[values->len] = '\0';
	for (int j = 0; j < width; j++)
		if (!set[j])
			types[j] = BATCH_OID_UNKNOWN;
	return BATCH_SQL_OK;
}
