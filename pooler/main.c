/*
 * main.c -- pgplumb-pooler's entry point: command line, configuration,
 * signals, and the event loop (one libevent base; closed objects are freed
 * after each loop turn).
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cfg.h"
#include "janitor.h"
#include "objects.h"
#include "pooler.h"
#include "sbuf.h"
#include "userlist.h"
#include "util.h"

#ifndef PGPLUMB_VERSION
#define PGPLUMB_VERSION "0.1.0"
#endif

static struct event ev_hup,
			ev_int,
			ev_term;
static bool pidfile_written;

static void
usage(FILE *f)
{
	fprintf(f,
			"pgplumb-pooler %s -- a PostgreSQL connection pooler (drop-in for PgBouncer)\n\n"
			"Usage: pgplumb-pooler [OPTION]... CONFIG.ini\n\n"
			"Options:\n"
			"  -d, --daemon           run in the background (default: foreground)\n"
			"  -v, --verbose          more logging (repeat for more)\n"
			"      --describe-config  print the settings reference (markdown) and exit\n"
			"  -V, --version          print the version and exit\n"
			"  -h, --help             show this help and exit\n\n"
			"Signals: SIGHUP reloads the configuration; SIGINT: safe shutdown (stop\n"
			"accepting, let transactions finish); SIGTERM: super safe shutdown (stop\n"
			"accepting, serve connected clients until they leave); both wait at most\n"
			"shutdown_wait_timeout.\n"
			"Admin console: psql -p PORT -U ADMIN_USER pgbouncer  (alias: pgplumb)\n",
			PGPLUMB_VERSION);
}

static void
cfg_log(void *arg, const char *msg)
{
	(void) arg;
	log_warning("%s", msg);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void) what;
	(void) arg;
	now_update();
	if (sig == SIGHUP)
	{
		log_info("got SIGHUP, reloading");
		(void) pooler_reload();
	}
	else if (sig == SIGINT)
		janitor_start_shutdown("SIGINT", false);
	else if (sig == SIGTERM)
		janitor_start_shutdown("SIGTERM", true);
}

static void
write_pidfile(void)
{
	FILE	   *f;

	if (cfg->pidfile[0] == '\0')
		return;
	f = fopen(cfg->pidfile, "w");
	if (f == NULL)
		die("could not write pidfile %s: %s", cfg->pidfile, strerror(errno));
	fprintf(f, "%d\n", (int) getpid());
	fclose(f);
	pidfile_written = true;
}

static void
prewarm_forced_pools(void)
{
	/* Pools with a forced user exist from the start (as in PgBouncer). */
	for (size_t i = 0; i < cfg->n_databases; i++)
	{
		const struct cfg_database *db = &cfg->databases[i];

		if (db->user && cfg_min_pool_size_for(cfg, db) > 0)
		{
			struct pool *p = pool_get(db->name, db->user, false);

			if (p)
				pool_prewarm(p);
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"daemon", no_argument, NULL, 'd'},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{"describe-config", no_argument, NULL, 1},
		{NULL, 0, NULL, 0}
	};
	bool		daemonize = false;
	int			ch;
	char		err[CFG_ERRBUF_SIZE];
	struct event_base *base;

	while ((ch = getopt_long(argc, argv, "dvVh", opts, NULL)) != -1)
	{
		switch (ch)
		{
			case 'd':
				daemonize = true;
				break;
			case 'v':
				log_verbosity++;
				break;
			case 'V':
				printf("pgplumb-pooler %s\n", PGPLUMB_VERSION);
				return 0;
			case 'h':
				usage(stdout);
				return 0;
			case 1:
				cfg_describe_markdown(stdout);
				return 0;
			default:
				usage(stderr);
				return 2;
		}
	}
	if (optind != argc - 1)
	{
		usage(stderr);
		return 2;
	}

	cfg_set_log_hook(cfg_log, NULL);
	if (cfg_load(argv[optind], &cfg, err, sizeof(err)) != 0)
	{
		log_error("%s", err);
		return 1;
	}
	if (cfg->verbose > log_verbosity)
		log_verbosity = cfg->verbose;
	if (cfg->auth_file[0] && userlist_load(cfg->auth_file, &userlist, err, sizeof(err)) != 0)
	{
		log_error("%s", err);
		cfg_free(cfg);
		return 1;
	}
	if (cfg->logfile[0] && log_open_file(cfg->logfile) < 0)
	{
		log_error("could not open logfile %s: %s", cfg->logfile, strerror(errno));
		return 1;
	}
	if (daemonize && daemon(1, cfg->logfile[0] ? 0 : 1) < 0)
		die("could not daemonize: %s", strerror(errno));
	log_after_fork();

	signal(SIGPIPE, SIG_IGN);
	{
		/*
		 * one fd per client and server: raise the soft limit as far as
		 * allowed
		 */
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
		{
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
				log_warning("could not raise the open files limit: %s", strerror(errno));
		}
	}
	base = event_base_new();
	if (base == NULL)
		die("could not create the event loop");
	now_update();
	objects_init(base);
	sbuf_global_init(base, cfg->pkt_buf > 0 ? (uint32_t) cfg->pkt_buf : 0, cfg->tcp_keepalive);
	if (pooler_listen() < 0)
		return 1;
	write_pidfile();

	evsignal_assign(&ev_hup, base, SIGHUP, on_signal, NULL);
	evsignal_assign(&ev_int, base, SIGINT, on_signal, NULL);
	evsignal_assign(&ev_term, base, SIGTERM, on_signal, NULL);
	evsignal_add(&ev_hup, NULL);
	evsignal_add(&ev_int, NULL);
	evsignal_add(&ev_term, NULL);

	log_info("pgplumb-pooler %s started (pid %d)", PGPLUMB_VERSION, (int) getpid());
	prewarm_forced_pools();
	janitor_stats_start();

	while (!event_base_got_break(base))
	{
		if (event_base_loop(base, EVLOOP_ONCE) < 0)
			break;
		objects_free_closed();
	}
	log_info("shutdown complete");

	pooler_stop_listening();
	janitor_stats_stop();
	evsignal_del(&ev_hup);
	evsignal_del(&ev_int);
	evsignal_del(&ev_term);
	objects_cleanup();
	janitor_cleanup();
	sbuf_global_cleanup();
	if (pidfile_written)
		unlink(cfg->pidfile);
	if (userlist)
		userlist_free(userlist);
	cfg_free(cfg);
	event_base_free(base);
	log_close_file();
	return 0;
}
