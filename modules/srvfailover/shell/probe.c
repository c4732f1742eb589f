/**
 * @file probe.c  Seeing ICMP unreachable for UDP servers
 *
 * libre's SIP socket is not connected, so an ICMP port or host
 * unreachable for a request to a dead server is lost and the request
 * waits for its timeout. Each UDP server with an address gets a small
 * connected UDP socket of its own: whenever a request goes to the server,
 * a CRLF keep-alive goes out through that socket too (RFC 5626 4.4.1;
 * SIP servers drop it), and the kernel reports an ICMP error for it on
 * that socket as ECONNREFUSED or EHOSTUNREACH, within a round trip.
 */
#include <errno.h>
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"


struct probe {
	struct le le;
	struct sfo_server *srv;
	struct udp_sock *us;
	struct sa peer;
};

static struct list probes;


static void probe_destructor(void *arg)
{
	struct probe *p = arg;

	list_unlink(&p->le);
	mem_deref(p->us);
}


static void recv_handler(const struct sa *src, struct mbuf *mb, void *arg)
{
	(void)src;
	(void)mb;
	(void)arg;
}


static void error_handler(int err, void *arg)
{
	struct probe *p = arg;

	shell_transport_error(p->srv, err);
}


static int probe_open(struct sfo_server *srv)
{
	struct probe *p;
	struct sa local;
	int err;

	p = mem_zalloc(sizeof(*p), probe_destructor);
	if (!p)
		return ENOMEM;

	p->srv = srv;
	err = sa_set_str(&p->peer, srv->host, srv->port ? srv->port : 5060);
	if (err)
		goto out;

	sa_init(&local, sa_af(&p->peer));
	err  = udp_listen(&p->us, &local, recv_handler, p);
	if (!err) {
		udp_error_handler_set(p->us, error_handler);
		err = udp_connect(p->us, &p->peer);
	}

 out:
	if (err)
		mem_deref(p);
	else
		list_append(&probes, &p->le, p);

	return err;
}


/** A connected socket for a UDP server given by address */
void probe_add(struct sfo_server *srv)
{
	struct sa sa;

	if (str_casecmp(srv->transport, "udp") ||
	    sa_set_str(&sa, srv->host, 5060))
		return;

	if (probe_open(srv))
		warning("srvfailover: %s: no ICMP probe socket\n", srv->uri);
}


void probe_remove(const struct sfo_server *srv)
{
	struct le *le;

	LIST_FOREACH(&probes, le) {
		struct probe *p = le->data;

		if (p->srv == srv) {
			mem_deref(p);
			return;
		}
	}
}


/** A request goes to srv: let an ICMP error come back to us */
void probe_ping(const struct sfo_server *srv)
{
	struct mbuf *mb;
	struct le *le;

	LIST_FOREACH(&probes, le) {
		struct probe *p = le->data;

		if (p->srv != srv)
			continue;

		mb = mbuf_alloc(4);
		if (!mb)
			return;

		(void)mbuf_write_str(mb, "\r\n\r\n");
		mb->pos = 0;
		(void)udp_send(p->us, &p->peer, mb);
		mem_deref(mb);
		return;
	}
}


void probe_close(void)
{
	list_flush(&probes);
}
