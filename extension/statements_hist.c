/*-------------------------------------------------------------------------
 *
 * statements_hist.c
 *		Builds common/histogram.c into the extension.
 *
 * The histogram lives in common/ (no PostgreSQL dependency, unit-tested
 * there).  It is compiled here as part of the extension, rather than
 * through COMMON_SRCS_STATEMENTS, because PGXS built with LLVM also wants
 * a bitcode file for every object, and the Makefile has no bitcode rule for
 * files taken from ../common.
 *
 *-------------------------------------------------------------------------
 */
#include "histogram.c"
