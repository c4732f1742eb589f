/**
 * @file webconn.c  The web page's connections: accepted, capped, framed
 *
 * The module accepts the connections itself (libre's tcp_sock) and has
 * libre read each request (http_msg_decode()): libre's http_listen()
 * keeps every connection, without a limit, up to 10 minutes, so that a
 * flood of idle ones took all of baresip's descriptors (SIP over TCP,
 * ctrl_tcp). Here at most CONN_MAX are open: a new one closes the one
 * idle longest (refusing the new one instead would let a few idle
 * sockets lock the page out), and a connection without a whole request
 * for IDLE_TIMEOUT is closed. What a request gets is http.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"


/* The page's share of baresip's 1024 descriptors, and of its time */
enum {
	CONN_MAX     = 32,     /* connections at once; a browser opens 6  */
	IDLE_TIMEOUT = 5000,   /* ms without a whole request: closed (the
				  page asks every 1.5 s)                  */
	BACKLOG      = 1024,   /* queued by the kernel until accepted: no
				  descriptor of ours, and no SYN of a
				  page user dropped in a flood            */
	REQ_MAX      = 16384,  /* bytes of a request (browsers: ~1 KB)    */
	FLOOD_LOG    = 60000,  /* ms between two lines about a flood      */
};

/* One client connection */
struct webconn {
	struct le le;                /* in conns.list, longest idle first */
	struct tmr tmr;              /* closes it when idle              */
	struct sa peer;
	struct tcp_conn *tc;
	struct mbuf *mb;             /* what came and is not read yet    */
	bool close;                  /* close after this answer          */
	bool heard;                  /* a byte came: a client at work    */
};

static struct {
	struct tcp_sock *ts;
	struct list list;
	webconn_req_h *reqh;
	uint64_t flood_logged;       /* when the last flood line went    */
	unsigned closed;             /* idle ones closed since then      */
} conns;


static void conn_destructor(void *arg)
{
	struct webconn *c = arg;

	list_unlink(&c->le);
	tmr_cancel(&c->tmr);
	mem_deref(c->tc);
	mem_deref(c->mb);
}


static void idle_handler(void *arg)
{
	mem_deref(arg);
}


/* The client closed it, or it broke */
static void close_handler(int err, void *arg)
{
	(void)err;

	mem_deref(arg);
}


/* Keep in c->mb only what was not read yet */
static void conn_trim(struct webconn *c)
{
	size_t left = mbuf_get_left(c->mb);

	if (!left) {
		c->mb = mem_deref(c->mb);
		return;
	}

	memmove(c->mb->buf, mbuf_buf(c->mb), left);
	c->mb->pos = 0;
	c->mb->end = left;
}


/* Answer each whole request that came (as libre's HTTP server does) */
static void recv_handler(struct mbuf *mb, void *arg)
{
	struct webconn *c = arg;
	size_t n = mbuf_get_left(mb);
	int err = 0;

	c->heard = true;

	if ((c->mb ? c->mb->end : 0) + n > REQ_MAX) {
		err = EOVERFLOW;
		goto out;
	}

	if (!c->mb) {
		c->mb = mbuf_alloc(n);
		if (!c->mb) {
			err = ENOMEM;
			goto out;
		}
	}

	c->mb->pos = c->mb->end;
	err = mbuf_write_mem(c->mb, mbuf_buf(mb), n);
	c->mb->pos = 0;
	if (err)
		goto out;

	while (c->mb && !c->close) {
		struct http_msg *msg;
		size_t clen;

		err = http_msg_decode(&msg, c->mb, true);
		if (err) {
			/* ENODATA: not all there yet; else not HTTP at
			 * all: closed without an answer */
			c->mb->pos = 0;
			if (err == ENODATA)
				err = 0;
			break;
		}

		/* the body too (a request with one is refused, but read
		 * first, so that closing does not reset the answer) */
		if (msg->clen <= REQ_MAX && mbuf_get_left(c->mb) < msg->clen) {
			c->mb->pos = 0;
			mem_deref(msg);
			break;
		}

		clen = min(mbuf_get_left(c->mb), (size_t)msg->clen);
		conns.reqh(c, msg);
		mem_deref(msg);

		mbuf_advance(c->mb, (ssize_t)clen);
		conn_trim(c);

		/* busy, not idle: the last to be closed for a new one */
		list_unlink(&c->le);
		list_append(&conns.list, &c->le, c);
		tmr_start(&c->tmr, IDLE_TIMEOUT, idle_handler, c);
	}

 out:
	if (err || c->close)
		mem_deref(c);
}


/* The one to close for a new one: idle longest, and of those that never
 * sent a byte if any (a flood's), so that a page user at work stays */
static struct webconn *victim(void)
{
	struct le *le;

	LIST_FOREACH(&conns.list, le) {
		struct webconn *c = le->data;

		if (!c->heard)
			return c;
	}

	return list_ledata(list_head(&conns.list));
}


/* Make room for a new connection */
static void make_room(void)
{
	uint64_t now = shell_now();

	while (list_count(&conns.list) >= CONN_MAX) {
		mem_deref(victim());
		++conns.closed;
	}

	if (!conns.flood_logged || now - conns.flood_logged >= FLOOD_LOG) {
		info("srvfailover: web: more than %u connections at once:"
		     " the one idle longest is closed for each new one (%u"
		     " closed since the last such line)\n", CONN_MAX,
		     conns.closed);
		conns.flood_logged = now;
		conns.closed = 0;
	}
}


static void connect_handler(const struct sa *peer, void *arg)
{
	struct webconn *c;
	int err;
	(void)arg;

	if (list_count(&conns.list) >= CONN_MAX)
		make_room();

	c = mem_zalloc(sizeof(*c), conn_destructor);
	if (!c) {
		tcp_reject(conns.ts);
		return;
	}

	c->peer = *peer;

	err = tcp_accept(&c->tc, conns.ts, NULL, recv_handler, close_handler,
			 c);
	if (err) {
		mem_deref(c);
		tcp_reject(conns.ts);
		return;
	}

	list_append(&conns.list, &c->le, c);
	tmr_start(&c->tmr, IDLE_TIMEOUT, idle_handler, c);
}


/**
 * Accept the web page's connections
 *
 * libre's tcp_listen() queues 5 connections: in a flood, a page user's
 * SYN would be dropped and sent again only a second later.
 *
 * @param addr  Address to listen on
 * @param reqh  Called with each whole request (its body read too)
 *
 * @return 0 if success, otherwise errorcode
 */
int webconn_listen(const struct sa *addr, webconn_req_h *reqh)
{
	int err;

	list_init(&conns.list);
	conns.reqh = reqh;

	err = tcp_sock_alloc(&conns.ts, addr, connect_handler, NULL);
	if (err)
		return err;

	err = tcp_sock_bind(conns.ts, addr);
	if (!err)
		err = tcp_sock_listen(conns.ts, BACKLOG);

	if (err)
		conns.ts = mem_deref(conns.ts);

	return err;
}


/**
 * Send an answer: the status line, then fmt (headers, blank line, body)
 *
 * @return 0 if success, otherwise errorcode
 */
int webconn_reply(struct webconn *c, uint16_t scode, const char *reason,
		  const char *fmt, ...)
{
	struct mbuf *mb;
	va_list ap;
	int err;

	if (!c->tc)
		return ENOTCONN;

	mb = mbuf_alloc(8192);
	if (!mb)
		return ENOMEM;

	err = mbuf_printf(mb, "HTTP/1.1 %u %s\r\n", scode, reason);
	va_start(ap, fmt);
	err |= mbuf_vprintf(mb, fmt, ap);
	va_end(ap);

	if (!err) {
		mb->pos = 0;
		err = tcp_send(c->tc, mb);
	}

	mem_deref(mb);

	return err;
}


/** Close the connection once the request being answered is done */
void webconn_close_after(struct webconn *c)
{
	c->close = true;
}


/** Who is on the other end (for log lines) */
const struct sa *webconn_peer(const struct webconn *c)
{
	return &c->peer;
}


/** Close every connection and stop listening */
void webconn_close(void)
{
	list_flush(&conns.list);
	conns.ts = mem_deref(conns.ts);
	conns.reqh = NULL;
	conns.flood_logged = 0;
	conns.closed = 0;
}
