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

#endif							/* PGPLUMB_COMPAT_H */
