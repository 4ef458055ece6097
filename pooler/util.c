/*
 * util.c -- logging, clocks and random numbers for the pooler.
 */
#include "util.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int			log_verbosity = 0;

static FILE *log_file;
static int64_t cached_now;

static const char *const level_names[] = {
	"FATAL", "ERROR", "WARNING", "LOG", "DEBUG", "NOISE"
};

int
log_open_file(const char *path)
{
	FILE	   *f;

	if (path == NULL || path[0] == '\0')
	{
		log_close_file();
		return 0;
	}
	f = fopen(path, "a");
	if (f == NULL)
		return -1;
	setvbuf(f, NULL, _IOLBF, 0);
	log_close_file();
	log_file = f;
	return 0;
}

void
log_close_file(void)
{
	if (log_file)
		fclose(log_file);
	log_file = NULL;
}

static void
log_va(enum log_level lvl, const char *fmt, va_list ap)
{
	char		line[2048];
	char		ts[40];
	struct timeval tv;
	struct tm	tm;
	int			n;
	FILE	   *out = log_file ? log_file : stderr;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	fprintf(out, "%s.%03d %d %s %s\n", ts, (int) (tv.tv_usec / 1000), (int) getpid(),
			level_names[lvl], line);
}

void
log_msg(enum log_level lvl, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	log_va(lvl, fmt, ap);
	va_end(ap);
}

void
die(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	log_va(LOG_LVL_FATAL, fmt, ap);
	va_end(ap);
	exit(1);
}

void
now_update(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	cached_now = (int64_t) ts.tv_sec * USEC_PER_SEC + ts.tv_nsec / 1000;
}

int64_t
now_usec(void)
{
	if (cached_now == 0)
		now_update();
	return cached_now;
}

void
format_wall_time(int64_t mono_usec, char *buf, int len)
{
	struct timespec ts;
	int64_t		mono_now;
	time_t		t;
	struct tm	tm;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	mono_now = (int64_t) ts.tv_sec * USEC_PER_SEC + ts.tv_nsec / 1000;
	t = time(NULL) - (time_t) ((mono_now - mono_usec) / USEC_PER_SEC);
	localtime_r(&t, &tm);
	strftime(buf, (size_t) len, "%Y-%m-%d %H:%M:%S", &tm);
}

void
random_bytes(void *buf, int len)
{
	if (RAND_bytes(buf, len) != 1)
		die("random number generator failed");
}
