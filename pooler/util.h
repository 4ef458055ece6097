/*
 * util.h -- logging with connection identity, clocks, and small helpers
 * shared by every pooler module.
 */
#ifndef PGPLUMB_POOLER_UTIL_H
#define PGPLUMB_POOLER_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#define PP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#ifndef PP_WUR
#define PP_WUR __attribute__((warn_unused_result))
#endif

#define USEC_PER_SEC  1000000LL
#define USEC_PER_MSEC 1000LL

enum log_level
{
	LOG_LVL_FATAL = 0,
	LOG_LVL_ERROR,
	LOG_LVL_WARNING,
	LOG_LVL_LOG,
	LOG_LVL_DEBUG,
	LOG_LVL_NOISE
};

/* 0 = LOG and above; each -v adds one more level. */
extern int	log_verbosity;

/* Send log lines to `path` (appended) instead of stderr; NULL = stderr. */
int			log_open_file(const char *path) PP_WUR;
void		log_close_file(void);

/* The process id changed (daemon()): refresh the cached log prefix. */
void		log_after_fork(void);

void		log_msg(enum log_level lvl, const char *fmt,...) PP_PRINTF(2, 3);
_Noreturn void die(const char *fmt,...) PP_PRINTF(1, 2);

#define log_error(...)   log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LVL_LOG, __VA_ARGS__)
#define log_debug(...)   do { if (log_verbosity >= 1) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)
#define log_noise(...)   do { if (log_verbosity >= 2) log_msg(LOG_LVL_NOISE, __VA_ARGS__); } while (0)

/*
 * Can byte `c` continue an SQL identifier (PostgreSQL's lexer: letters,
 * digits, '_', '$' and every byte >= 0x80)?
 */
static inline bool
sql_ident_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_' || c == '$' || c >= 0x80;
}

/* Monotonic microseconds, cached per loop iteration by now_update(). */
int64_t		now_usec(void);
void		now_update(void);

/* Wall-clock time as "YYYY-MM-DD HH:MM:SS" for SHOW CLIENTS/SERVERS. */
void		format_wall_time(int64_t mono_usec, char *buf, int len);

/* Random bytes from OpenSSL; dies if the generator fails. */
void		random_bytes(void *buf, int len);

#endif							/* PGPLUMB_POOLER_UTIL_H */
