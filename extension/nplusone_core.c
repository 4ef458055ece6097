/*-------------------------------------------------------------------------
 *
 * nplusone_core.c
 *		Compiles the detector core common/nplusone.c into the extension.
 *
 * The core lives in common/ (the pooler links it too).  It is included
 * here rather than listed on COMMON_SRCS_NPLUSONE because PGXS also builds
 * LLVM bitcode for every object and extension/Makefile has no bitcode rule
 * for common_%.o yet (see NOTES-nplusone.md).
 *
 *-------------------------------------------------------------------------
 */
#include "../common/nplusone.c"
