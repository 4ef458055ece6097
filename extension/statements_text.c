/*-------------------------------------------------------------------------
 *
 * statements_text.c
 *		Normalized query text for pgplumb.statements: constants become $n.
 *
 * The jumble (JumbleState) records where each constant of a statement
 * starts, not how long it is.  We run PostgreSQL's own lexer over the text
 * to find each constant's token; the lexer puts a NUL right after the token
 * it just returned in its private copy of the text, so the token's length is
 * the length of the string that starts at the constant in that copy.  A
 * constant that starts with '-' is a negative number: the '-' and the
 * number that follows are one constant.
 *
 * Nothing here touches shared memory; callers run it without locks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/keywords.h"
#include "parser/scanner.h"

#include "statements.h"

static int	pp_cmp_locations(const void *a, const void *b);

/*
 * See statements.h.
 */
char	   *
pp_stmt_normalize(JumbleState *jstate, const char *query, int query_loc,
				  int *query_len_p)
{
	int			query_len = *query_len_p;
	int			nlocs = jstate->clocations_count;
	LocationLen *locs;
	core_yyscan_t scanner;
	core_yy_extra_type extra;
	core_YYSTYPE lval;
	YYLTYPE		lloc;
	int			tok = -1;
	StringInfoData out;
	int			copied = 0;		/* text up to here is in out */
	int			next_param;

	/* Work on a sorted copy: other collectors may read the jumble too */
	locs = palloc(sizeof(LocationLen) * Max(nlocs, 1));
	memcpy(locs, jstate->clocations, sizeof(LocationLen) * nlocs);
	qsort(locs, nlocs, sizeof(LocationLen), pp_cmp_locations);

	/* Lex our own copy of the statement, NUL-terminated at its end */
	scanner = scanner_init(pnstrdup(query, query_len), &extra,
						   &ScanKeywords, ScanKeywordTokens);
	/* the parser has already warned about escapes once */
	extra.escape_string_warning = false;

	for (int i = 0; i < nlocs; i++)
	{
		int			loc = locs[i].location - query_loc;

		locs[i].length = -1;
		if (loc < 0 || loc >= query_len)
			continue;
		if (i > 0 && locs[i].location == locs[i - 1].location)
			continue;			/* the same constant recorded twice */

		/* advance to the token that starts at loc */
		do
		{
			tok = core_yylex(&lval, &lloc, scanner);
		} while (tok != 0 && lloc < loc);
		if (tok == 0)
			break;
		if (lloc != loc)
			continue;			/* no token starts there; leave it be */
		if (query[loc] == '-')
		{
			/* a negative number: the number is the next token */
			tok = core_yylex(&lval, &lloc, scanner);
			if (tok == 0)
				break;
		}
		locs[i].length = strlen(extra.scanbuf + loc);
	}
	scanner_finish(scanner);

	/* Copy the text, replacing each constant by the next parameter number */
	initStringInfo(&out);
	next_param = jstate->highest_extern_param_id + 1;
	for (int i = 0; i < nlocs; i++)
	{
		int			loc = locs[i].location - query_loc;
		int			len = locs[i].length;

		if (len < 0 || loc < copied || loc + len > query_len)
			continue;
		appendBinaryStringInfo(&out, query + copied, loc - copied);
		appendStringInfo(&out, "$%d", next_param++);
		copied = loc + len;
	}
	appendBinaryStringInfo(&out, query + copied, query_len - copied);

	pfree(locs);
	*query_len_p = out.len;
	return out.data;
}

static int
pp_cmp_locations(const void *a, const void *b)
{
	int			l = ((const LocationLen *) a)->location;
	int			r = ((const LocationLen *) b)->location;

	return (l > r) - (l < r);
}
