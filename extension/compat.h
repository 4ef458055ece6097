/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Differences between the PostgreSQL major versions pgplumb builds
 *		against (15, 16, 17), kept in one place.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGPLUMB_COMPAT_H
#define PGPLUMB_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "pgplumb requires PostgreSQL 15 or later"
#endif

/* JumbleState moved from utils/ to nodes/ in PostgreSQL 16 */
#if PG_VERSION_NUM >= 160000
#include "nodes/queryjumble.h"
#else
#include "utils/queryjumble.h"
#endif

/*
 * Block I/O times: PostgreSQL 17 renamed the shared-buffer fields of
 * BufferUsage (blk_read_time became shared_blk_read_time).
 */
#if PG_VERSION_NUM >= 170000
#define PP_BUF_READ_TIME(b)		((b)->shared_blk_read_time)
#define PP_BUF_WRITE_TIME(b)	((b)->shared_blk_write_time)
#else
#define PP_BUF_READ_TIME(b)		((b)->blk_read_time)
#define PP_BUF_WRITE_TIME(b)	((b)->blk_write_time)
#endif

/*
 * Rows processed by a statement: PostgreSQL 17 counts every ExecutorRun
 * call of a portal in es_total_processed; before, es_processed holds it.
 */
#if PG_VERSION_NUM >= 170000
#define PP_ES_ROWS(estate)		((estate)->es_total_processed)
#else
#define PP_ES_ROWS(estate)		((estate)->es_processed)
#endif

#endif							/* PGPLUMB_COMPAT_H */
