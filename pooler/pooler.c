/*
 * pooler.c -- the listening sockets (TCP on listen_addr:listen_port and the
 * unix socket in unix_socket_dir), accepting clients, and configuration
 * reload (SIGHUP and the RELOAD command).
 */
#include "pooler.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "objects.h"
#include "userlist.h"

#define MAX_LISTENERS 16

struct listener
{
	int			fd;
	bool		is_unix;
	char		path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
	struct event ev;
};

static struct listener listeners[MAX_LISTENERS];
static int	n_listeners;

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void) what;
	now_update();
	/* accept a few per wake-up, for fairness with established traffic */
	for (int i = 0; i < 32; i++)
	{
		struct sockaddr_storage ss;
		socklen_t	len = sizeof(ss);
		int			cfd = accept4(fd, (struct sockaddr *) &ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (cfd < 0)
		{
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warning("accept failed: %m");
			return;
		}
		client_accept(cfd, (struct sockaddr *) &ss, len, l->is_unix);
	}
}

static int
add_listener(int fd, bool is_unix, const char *path)
{
	struct listener *l;

	if (n_listeners >= MAX_LISTENERS)
	{
		close(fd);
		return -1;
	}
	l = &listeners[n_listeners++];
	l->fd = fd;
	l->is_unix = is_unix;
	snprintf(l->path, sizeof(l->path), "%s", path ? path : "");
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
		listen(fd, cfg->listen_backlog > 0 ? cfg->listen_backlog : 128) < 0)
	{
		log_error("listen failed: %m");
		return -1;
	}
	event_assign(&l->ev, pooler_base, fd, EV_READ | EV_PERSIST, on_accept, l);
	event_add(&l->ev, NULL);
	return 0;
}

static int
listen_tcp(const char *addr, int port)
{
	struct addrinfo hints,
			   *res = NULL,
			   *ai;
	char		portstr[16];
	int			rc,
				opened = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(strcmp(addr, "*") == 0 ? NULL : addr, portstr, &hints, &res);
	if (rc != 0)
	{
		log_error("could not resolve listen_addr \"%s\": %s", addr, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next)
	{
		int			fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int			one = 1;

		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (cfg->so_reuseport)
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		{
			log_error("could not bind to %s:%d: %m", addr, port);
			close(fd);
			continue;
		}
		if (add_listener(fd, false, NULL) < 0)
			continue;
		opened++;
	}
	freeaddrinfo(res);
	return opened > 0 ? 0 : -1;
}

static int
listen_unix(const char *dir, int port)
{
	struct sockaddr_un un;
	int			fd;

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	if (snprintf(un.sun_path, sizeof(un.sun_path), "%s/.s.PGSQL.%d", dir, port) >= (int) sizeof(un.sun_path))
	{
		log_error("unix_socket_dir path too long");
		return -1;
	}
	unlink(un.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *) &un, sizeof(un)) < 0)
	{
		log_error("could not bind unix socket %s: %m", un.sun_path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	chmod(un.sun_path, (mode_t) (cfg->unix_socket_mode ? cfg->unix_socket_mode : 0777));
	return add_listener(fd, true, un.sun_path);
}

int
pooler_listen(void)
{
	char		list[1024];
	char	   *save = NULL,
			   *tok;

	snprintf(list, sizeof(list), "%s", cfg->listen_addr);
	for (tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
		if (listen_tcp(tok, cfg->listen_port) < 0)
			return -1;
	if (cfg->unix_socket_dir[0] && listen_unix(cfg->unix_socket_dir, cfg->listen_port) < 0)
		return -1;
	if (n_listeners == 0)
	{
		log_error("nothing to listen on: set listen_addr or unix_socket_dir");
		return -1;
	}
	log_info("listening on %s:%d%s%s", cfg->listen_addr[0] ? cfg->listen_addr : "(no tcp)",
			 cfg->listen_port, cfg->unix_socket_dir[0] ? " and unix socket in " : "",
			 cfg->unix_socket_dir);
	return 0;
}

void
pooler_stop_listening(void)
{
	for (int i = 0; i < n_listeners; i++)
	{
		event_del(&listeners[i].ev);
		close(listeners[i].fd);
		if (listeners[i].is_unix && listeners[i].path[0])
			unlink(listeners[i].path);
	}
	n_listeners = 0;
}

int
pooler_reload(void)
{
	struct cfg *newcfg = NULL;
	struct userlist *newul = NULL;
	char		err[CFG_ERRBUF_SIZE];

	/* reopen the log file first, so that log rotation works with any reload */
	if (cfg->logfile[0] && log_open_file(cfg->logfile) < 0)
		log_error("could not reopen logfile %s: %m", cfg->logfile);
	log_info("reloading configuration from %s", cfg->config_file);
	if (cfg_reload(cfg, cfg->config_file, &newcfg, err, sizeof(err)) != 0)
	{
		log_error("reload failed, keeping the old configuration: %s", err);
		return -1;
	}
	if (newcfg->auth_file[0] && userlist_load(newcfg->auth_file, &newul, err, sizeof(err)) != 0)
	{
		log_error("reload failed, keeping the old configuration: %s", err);
		cfg_free(newcfg);
		return -1;
	}

	/*
	 * Nothing keeps pointers into the old config across loop turns (pools
	 * look their database entry up by name each time), so it can go now.
	 */
	cfg_free(cfg);
	cfg = newcfg;
	if (userlist)
		userlist_free(userlist);
	userlist = newul;
	log_verbosity = cfg->verbose > log_verbosity ? cfg->verbose : log_verbosity;
	objects_reload();
	log_info("configuration reloaded");
	return 0;
}
