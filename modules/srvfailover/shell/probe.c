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
	err = sa_set_str(&p->peer, srv->host, sfo_server_port(srv));
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
	if (sfo_server_udp_addr(srv) && probe_open(srv))
		warning("srvfailover: %s: no ICMP probe socket yet (no"
			" address?): tried again with each request\n",
			srv->uri);
}


static struct probe *probe_find(const struct sfo_server *srv)
{
	struct le *le;

	LIST_FOREACH(&probes, le) {
		struct probe *p = le->data;

		if (p->srv == srv)
			return p;
	}

	return NULL;
}


void probe_remove(const struct sfo_server *srv)
{
	mem_deref(probe_find(srv));
}


/**
 * A request goes to srv: let an ICMP error come back to us. A socket that
 * could not be made at start (the phone had no address yet) is made now.
 */
void probe_ping(struct sfo_server *srv)
{
	struct probe *p = probe_find(srv);
	struct mbuf *mb;

	if (!p && sfo_server_udp_addr(srv) && !probe_open(srv))
		p = probe_find(srv);

	if (!p)
		return;

	mb = mbuf_alloc(4);
	if (!mb)
		return;

	(void)mbuf_write_str(mb, "\r\n\r\n");
	mb->pos = 0;
	(void)udp_send(p->us, &p->peer, mb);
	mem_deref(mb);
}


void probe_close(void)
{
	list_flush(&probes);
}
