/**
 * @file http.c  The shell's web server: the page, status.json, changes
 *
 * On srvfailover_http_listen (default 127.0.0.1:8088, "off" for none).
 * The module accepts the connections itself (libre's tcp_sock) and has
 * libre read each request (http_msg_decode()): libre's http_listen()
 * keeps every connection, without a limit, up to 10 minutes, so that a
 * flood of idle ones took all of baresip's descriptors (SIP over TCP,
 * ctrl_tcp). Here at most CONN_MAX are open: a new one closes the one
 * idle longest (refusing the new one instead would let a few idle
 * sockets lock the page out), and a connection without a whole request
 * for IDLE_TIMEOUT is closed. What a request asks for is decided in
 * web.c; this file reads baresip's config, answers, and checks the
 * password of a change with HTTP digest (user srvfailover_http_user,
 * default admin; password srvfailover_http_password; none: read-only)
 * on nonces of web.c, each good for one change.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "sfo_web.h"
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
struct conn {
	struct le le;                /* in web.conns, longest idle first */
	struct tmr tmr;              /* closes it when idle              */
	struct sa peer;
	struct tcp_conn *tc;
	struct mbuf *mb;             /* what came and is not read yet    */
	bool close;                  /* close after this answer          */
};

static const char realm[] = "srvfailover";
static const char key_listen[] = "srvfailover_http_listen";

static struct {
	struct tcp_sock *ts;
	struct list conns;
	struct sfo_web_nonces nonces;
	char *user;
	char *password;              /* never printed                    */
	uint64_t flood_logged;       /* when the last flood line went    */
	unsigned closed;             /* idle ones closed since then      */
} web;


static int print_mbuf(const char *p, size_t size, void *arg)
{
	return mbuf_write_mem(arg, (const uint8_t *)p, size);
}


static void secret_free(char **sp)
{
	if (*sp)
		memset(*sp, 0, str_len(*sp));

	*sp = mem_deref(*sp);
}


/* Every answer: the status line, then fmt (headers, blank line, body) */
static int conn_reply(struct conn *c, uint16_t scode, const char *reason,
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


/* The body in mb (HEAD: its length only) */
static int reply(struct conn *c, const struct sfo_web_req *req,
		 const char *ctype, const char *hdrs, const struct mbuf *mb)
{
	return conn_reply(c, req->scode, req->reason,
			  "Content-Type: %s\r\n"
			  "Content-Length: %zu\r\n"
			  "Cache-Control: no-store\r\n"
			  "X-Content-Type-Options: nosniff\r\n"
			  "%s"
			  "\r\n"
			  "%b",
			  ctype, mb->end, hdrs ? hdrs : "",
			  mb->buf, req->head ? (size_t)0 : mb->end);
}


static void reply_error(struct conn *c, const struct sfo_web_req *req,
			const char *hdrs)
{
	struct mbuf *mb = mbuf_alloc(256);
	char allow[64] = "";

	/* after a request we could not read, the next one is not safe */
	if (req->scode == 400)
		c->close = true;

	if (!mb)
		return;

	if (req->allow)
		re_snprintf(allow, sizeof(allow), "Allow: %s\r\n",
			    req->allow);

	(void)mbuf_printf(mb, "%u %s: %s\n", req->scode, req->reason,
			  req->msg);
	(void)reply(c, req, "text/plain; charset=utf-8",
		    hdrs ? hdrs : allow, mb);
	mem_deref(mb);
}


static void reply_page(struct conn *c, const struct sfo_web_req *req)
{
	struct mbuf *mb = mbuf_alloc(16384);
	struct re_printf pf = {print_mbuf, mb};

	if (!mb)
		return;

	if (!sfo_web_page(&pf, web.password != NULL))
		(void)reply(c, req, "text/html; charset=utf-8",
			    "Content-Security-Policy: default-src 'none'; "
			    "style-src 'unsafe-inline'; script-src "
			    "'unsafe-inline'; connect-src 'self'; "
			    "frame-ancestors 'none'; base-uri 'none'; "
			    "form-action 'none'\r\n"
			    "Referrer-Policy: no-referrer\r\n", mb);

	mem_deref(mb);
}


static void reply_status(struct conn *c, const struct sfo_web_req *req)
{
	struct mbuf *mb = mbuf_alloc(2048);
	struct re_printf pf = {print_mbuf, mb};

	if (!mb)
		return;

	if (!sfo_status_json(&pf, shell_lines(), shell_now()))
		(void)reply(c, req, "application/json", NULL, mb);

	mem_deref(mb);
}


/* The answer was made for this request-target (libre checks only the
 * hash, and a path is not in it unless we compare it) */
static bool for_this_request(const struct httpauth_digest_resp *resp,
			     const struct http_msg *msg)
{
	return resp->uri.l == msg->path.l + msg->prm.l &&
		!memcmp(resp->uri.p, msg->path.p, msg->path.l) &&
		!memcmp(resp->uri.p + msg->path.l, msg->prm.p, msg->prm.l);
}


/*
 * The digest answer of a change: right for this user, password, method
 * and path (qop=auth, so the client's cnonce is in it), and its nonce
 * one of ours that was never used. stale: the answer was right but its
 * nonce cannot be used (used, too old): the client asks again with a
 * new one without asking its user (RFC 7616).
 */
static bool authorized(const struct http_msg *msg, bool *stale)
{
	const struct http_hdr *hdr = http_msg_hdr(msg, HTTP_HDR_AUTHORIZATION);
	struct httpauth_digest_resp resp;
	uint8_t ha1[MD5_SIZE];
	bool ok;

	*stale = false;

	if (!hdr || httpauth_digest_response_decode(&resp, &hdr->val) ||
	    pl_strcmp(&resp.realm, realm) ||
	    pl_strcmp(&resp.username, web.user) ||
	    pl_strcmp(&resp.qop, "auth") || !pl_isset(&resp.nc) ||
	    !pl_isset(&resp.cnonce) || !for_this_request(&resp, msg))
		return false;

	if (md5_printf(ha1, "%r:%s:%s", &resp.username, realm, web.password))
		return false;

	ok = !httpauth_digest_response_auth(&resp, &msg->met, ha1);
	memset(ha1, 0, sizeof(ha1));
	if (!ok)
		return false;

	if (sfo_web_nonce_use(&web.nonces, &resp.nonce, shell_now())) {
		*stale = true;
		return false;
	}

	return true;
}


static void challenge(struct conn *c, struct sfo_web_req *req, bool stale,
		      bool wrong)
{
	char nonce[SFO_WEB_NONCE_SIZE], hdr[256];

	if (sfo_web_nonce_new(&web.nonces, nonce, sizeof(nonce),
			      shell_now())) {
		sfo_web_fail(req, 500, "no nonce");
		reply_error(c, req, NULL);
		return;
	}

	re_snprintf(hdr, sizeof(hdr), "WWW-Authenticate: Digest realm=\"%s\","
		    " nonce=\"%s\", qop=\"auth\"%s\r\n", realm, nonce,
		    stale ? ", stale=true" : "");
	sfo_web_fail(req, 401, wrong ? "wrong user or password" :
		     "this needs the password (HTTP digest)");
	reply_error(c, req, hdr);
}


static bool change_allowed(struct conn *c, const struct http_msg *msg,
			   struct sfo_web_req *req)
{
	const struct http_hdr *host = http_msg_hdr(msg, HTTP_HDR_HOST);
	const struct http_hdr *origin = http_msg_xhdr(msg, "Origin");
	bool tried = http_msg_hdr(msg, HTTP_HDR_AUTHORIZATION) != NULL;
	bool stale;

	if (!web.password) {
		sfo_web_fail(req, 403, "read-only: no"
			     " srvfailover_http_password in baresip's config");
	}
	else if (!sfo_web_origin_ok(origin ? &origin->val : NULL,
				    host ? &host->val : NULL)) {
		sfo_web_fail(req, 403, "a request from another site");
	}
	else if (!authorized(msg, &stale)) {
		if (tried && !stale)
			info("srvfailover: web: %r %r from %J: wrong user or"
			     " password\n", &msg->met, &msg->path, &c->peer);
		challenge(c, req, stale, tried && !stale);
		return false;
	}
	else {
		return true;
	}

	reply_error(c, req, NULL);

	return false;
}


static void change(struct conn *c, const struct http_msg *msg,
		   struct sfo_web_req *req)
{
	struct mbuf *mb;
	struct re_printf pf;
	const char *what = req->act == SFO_WEB_ENABLE ? "enable" : "disable";

	if (!change_allowed(c, msg, req))
		return;

	mb = mbuf_alloc(256);
	if (!mb)
		return;

	pf.vph = print_mbuf;
	pf.arg = mb;
	if (sfo_web_apply(&pf, shell_lines(), req, shell_now()))
		sfo_web_fail(req, 500, "out of memory");

	if (req->scode == 200) {
		info("srvfailover: web: %s server %u of line %s (from %J)\n",
		     what, req->prio, req->user, &c->peer);
		(void)reply(c, req, "application/json", NULL, mb);
	}
	else {
		reply_error(c, req, NULL);
	}

	mem_deref(mb);
}


static void input(struct sfo_web_in *in, const struct http_msg *msg)
{
	in->met = msg->met;
	in->path = msg->path;
	in->ver = msg->ver;
	in->clen = msg->clen;
	in->chunked = http_msg_hdr(msg, HTTP_HDR_TRANSFER_ENCODING) != NULL;
	in->host = http_msg_hdr(msg, HTTP_HDR_HOST) != NULL;
}


static void request(struct conn *c, const struct http_msg *msg)
{
	struct sfo_web_req req;
	struct sfo_web_in in;

	input(&in, msg);

	switch (sfo_web_route(&req, &in)) {

	case SFO_WEB_PAGE:
		reply_page(c, &req);
		break;

	case SFO_WEB_STATUS:
		reply_status(c, &req);
		break;

	case SFO_WEB_DISABLE:
	case SFO_WEB_ENABLE:
		change(c, msg, &req);
		break;

	default:
		reply_error(c, &req, NULL);
		break;
	}
}


static void conn_destructor(void *arg)
{
	struct conn *c = arg;

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
static void conn_trim(struct conn *c)
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
	struct conn *c = arg;
	size_t n = mbuf_get_left(mb);
	int err = 0;

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
		request(c, msg);
		mem_deref(msg);

		mbuf_advance(c->mb, (ssize_t)clen);
		conn_trim(c);

		/* busy, not idle: the last to be closed for a new one */
		list_unlink(&c->le);
		list_append(&web.conns, &c->le, c);
		tmr_start(&c->tmr, IDLE_TIMEOUT, idle_handler, c);
	}

 out:
	if (err || c->close)
		mem_deref(c);
}


/* Make room for a new connection: close the one idle longest */
static void make_room(void)
{
	uint64_t now = shell_now();

	while (list_count(&web.conns) >= CONN_MAX) {
		mem_deref(list_head(&web.conns)->data);
		++web.closed;
	}

	if (!web.flood_logged || now - web.flood_logged >= FLOOD_LOG) {
		info("srvfailover: web: more than %u connections at once:"
		     " the one idle longest is closed for each new one (%u"
		     " closed since the last such line)\n", CONN_MAX,
		     web.closed);
		web.flood_logged = now;
		web.closed = 0;
	}
}


static void connect_handler(const struct sa *peer, void *arg)
{
	struct conn *c;
	int err;
	(void)arg;

	if (list_count(&web.conns) >= CONN_MAX)
		make_room();

	c = mem_zalloc(sizeof(*c), conn_destructor);
	if (!c) {
		tcp_reject(web.ts);
		return;
	}

	c->peer = *peer;

	err = tcp_accept(&c->tc, web.ts, NULL, recv_handler, close_handler,
			 c);
	if (err) {
		mem_deref(c);
		tcp_reject(web.ts);
		return;
	}

	list_append(&web.conns, &c->le, c);
	tmr_start(&c->tmr, IDLE_TIMEOUT, idle_handler, c);
}


/* A config value, whole (conf_get_str() would cut it to its buffer) */
static int conf_dup(char **sp, const char *key)
{
	struct pl pl;

	if (!conf_cur() || conf_get(conf_cur(), key, &pl))
		return ENOENT;

	return pl_strdup(sp, &pl);
}


static bool listen_addr(struct sa *addr)
{
	char val[128] = "127.0.0.1:8088", dir[256] = "";
	bool off = false;

	if (conf_cur())
		(void)conf_get_str(conf_cur(), key_listen, val, sizeof(val));

	if (!sfo_web_listen_parse(addr, &off, val))
		return !off;

	(void)conf_path_get(dir, sizeof(dir));
	warning("srvfailover: %s/config: %s: bad address '%s' (IP:PORT,"
		" [IPv6]:PORT or off); no web page\n", dir, key_listen, val);

	return false;
}


/* libre's tcp_listen() queues 5 connections: in a flood, a page user's
 * SYN would be dropped and sent again only a second later */
static int listen_tcp(const struct sa *addr)
{
	int err;

	err = tcp_sock_alloc(&web.ts, addr, connect_handler, NULL);
	if (err)
		return err;

	err = tcp_sock_bind(web.ts, addr);
	if (!err)
		err = tcp_sock_listen(web.ts, BACKLOG);

	return err;
}


/**
 * Start the web page, as baresip's config says
 *
 * @return 0 (a bad value or a busy address is a warning, not an error)
 */
int http_init(void)
{
	uint64_t secret[2];
	struct sa addr;
	int err;

	if (!listen_addr(&addr))
		return 0;

	(void)conf_dup(&web.password, "srvfailover_http_password");
	if (conf_dup(&web.user, "srvfailover_http_user"))
		(void)str_dup(&web.user, "admin");

	rand_bytes((uint8_t *)secret, sizeof(secret));
	sfo_web_nonces_init(&web.nonces, secret);
	memset(secret, 0, sizeof(secret));
	list_init(&web.conns);

	err = listen_tcp(&addr);
	if (err) {
		warning("srvfailover: web page: cannot listen on %J (%s):"
			" %m\n", &addr, key_listen, err);
		http_close();
		return 0;
	}

	info("srvfailover: web page on http://%J/ (%s)\n", &addr,
	     web.password ? "changes need the password" :
	     "read-only: no srvfailover_http_password");

	return 0;
}


/** Stop the web page and forget the password */
void http_close(void)
{
	list_flush(&web.conns);
	web.ts = mem_deref(web.ts);
	secret_free(&web.password);
	web.user = mem_deref(web.user);
	memset(&web.nonces, 0, sizeof(web.nonces));
	web.flood_logged = 0;
	web.closed = 0;
}
