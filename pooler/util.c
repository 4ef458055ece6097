/*
 * util.c -- logging, clocks and random numbers for the pooler.
 */
#include "util.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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

/*
 * One line, one write(2): the timestamp is formatted once per second and
 * reused, and stdio is not involved (stderr is unbuffered, and formatting
 * through it costs more than the rest of a client login).
 */
static time_t last_sec = -1;	/* cached timestamp text and pid */
static char sec_text[32];
static int	log_pid;

void
log_after_fork(void)
{
	last_sec = -1;
}

static void
log_va(enum log_level lvl, const char *fmt, va_list ap)
{
	char		line[2048];
	struct timeval tv;
	int			n,
				m;
	int			fd = log_file ? fileno(log_file) : STDERR_FILENO;

	gettimeofday(&tv, NULL);
	if (tv.tv_sec != last_sec)
	{
		struct tm	tm;

		localtime_r(&tv.tv_sec, &tm);
		strftime(sec_text, sizeof(sec_text), "%Y-%m-%d %H:%M:%S", &tm);
		last_sec = tv.tv_sec;
		log_pid = (int) getpid();
	}
	n = snprintf(line, sizeof(line), "%s.%03d %d %s ", sec_text, (int) (tv.tv_usec / 1000),
				 log_pid, level_names[lvl]);
	if (n < 0 || n >= (int) sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m < (int) sizeof(line) - n - 1 ? m : (int) sizeof(line) - n - 2;
	line[n++] = '\n';
	while (n > 0)
	{
		ssize_t		w = write(fd, line, (size_t) n);

		if (w < 0 && errno == EINTR)
			continue;
		break;
	}
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

/*
 * Random bytes from the kernel (getrandom, OpenSSL if that fails), drawn
 * 4 kB at a time: a cancel key and a salt per client login would otherwise
 * cost a system call each.  (OpenSSL's DRBG costs millions of instructions
 * per 4 kB here: the kernel is far cheaper.)
 */
void
random_bytes(void *buf, int len)
{
	static unsigned char pool[4096];
	static int	left;
	unsigned char *out = buf;

	while (len > 0)
	{
		int			take;

		if (left == 0)
		{
			if (getrandom(pool, sizeof(pool), 0) != (ssize_t) sizeof(pool) &&
				RAND_bytes(pool, sizeof(pool)) != 1)
				die("random number generator failed");
			left = sizeof(pool);
		}
		take = len < left ? len : left;
		memcpy(out, pool + sizeof(pool) - left, (size_t) take);
		memset(pool + sizeof(pool) - left, 0, (size_t) take);
		left -= take;
		out += take;
		len -= take;
	}
}
