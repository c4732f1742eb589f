/**
 * @file http.c  The shell's web server: the page, status.json, changes
 *
 * libre's HTTP server on srvfailover_http_listen (default 127.0.0.1:8088,
 * "off" for none). What a request asks for is decided in web.c; this
 * file reads baresip's config, answers, and checks the password of a
 * change with libre's HTTP digest (user srvfailover_http_user, default
 * admin; password srvfailover_http_password; none: read-only).
 */
#include <errno.h>
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "sfo_web.h"
#include "shell.h"


enum {
	SEEN_MAX = 32,               /* digest answers remembered        */
};

static const char realm[] = "srvfailover";
static const char key_listen[] = "srvfailover_http_listen";

static struct {
	struct http_sock *sock;
	char *user;
	char *password;              /* never printed                    */
	char seen[SEEN_MAX][33];     /* digest answers already used      */
	unsigned seen_next;
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


/* Every answer: the body in mb (HEAD: its length only) */
static int reply(struct http_conn *conn, const struct sfo_web_req *req,
		 const char *ctype, const char *hdrs, const struct mbuf *mb)
{
	return http_reply(conn, req->scode, req->reason,
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


static void reply_error(struct http_conn *conn, const struct sfo_web_req *req,
			const char *hdrs)
{
	struct mbuf *mb = mbuf_alloc(256);
	char allow[64] = "";

	if (!mb)
		return;

	if (req->allow)
		re_snprintf(allow, sizeof(allow), "Allow: %s\r\n",
			    req->allow);

	(void)mbuf_printf(mb, "%u %s: %s\n", req->scode, req->reason,
			  req->msg);
	(void)reply(conn, req, "text/plain; charset=utf-8",
		    hdrs ? hdrs : allow, mb);
	mem_deref(mb);

	/* after a request we could not read, the next one is not safe */
	if (req->scode == 400)
		http_conn_close(conn);
}


static void reply_page(struct http_conn *conn, const struct sfo_web_req *req)
{
	struct mbuf *mb = mbuf_alloc(16384);
	struct re_printf pf = {print_mbuf, mb};

	if (!mb)
		return;

	if (!sfo_web_page(&pf, web.password != NULL))
		(void)reply(conn, req, "text/html; charset=utf-8",
			    "Content-Security-Policy: default-src 'none'; "
			    "style-src 'unsafe-inline'; script-src "
			    "'unsafe-inline'; connect-src 'self'; "
			    "frame-ancestors 'none'; base-uri 'none'; "
			    "form-action 'none'\r\n"
			    "Referrer-Policy: no-referrer\r\n", mb);

	mem_deref(mb);
}


static void reply_status(struct http_conn *conn,
			 const struct sfo_web_req *req)
{
	struct mbuf *mb = mbuf_alloc(2048);
	struct re_printf pf = {print_mbuf, mb};

	if (!mb)
		return;

	if (!sfo_status_json(&pf, shell_lines(), shell_now()))
		(void)reply(conn, req, "application/json", NULL, mb);

	mem_deref(mb);
}


/* HA1 = MD5(user:realm:password), for libre's digest check */
static int ha1_handler(const struct pl *username, uint8_t *ha1, void *arg)
{
	(void)arg;

	if (pl_strcmp(username, web.user))
		return EACCES;

	return md5_printf(ha1, "%r:%s:%s", username, realm, web.password);
}


/* libre checks neither that the answer was made for this request-target
 * nor that it is new: a captured one must not work again */
static bool digest_fresh(const struct httpauth_digest_resp *resp,
			 const struct http_msg *msg)
{
	unsigned i;

	if (resp->uri.l != msg->path.l + msg->prm.l ||
	    memcmp(resp->uri.p, msg->path.p, msg->path.l) ||
	    memcmp(resp->uri.p + msg->path.l, msg->prm.p, msg->prm.l) ||
	    resp->response.l != 32)
		return false;

	for (i = 0; i < SEEN_MAX; i++) {
		if (!pl_strcasecmp(&resp->response, web.seen[i]))
			return false;
	}

	return true;
}


static bool authorized(const struct http_msg *msg, struct http_auth *auth)
{
	const struct http_hdr *hdr = http_msg_hdr(msg, HTTP_HDR_AUTHORIZATION);
	struct httpauth_digest_resp resp;

	if (!hdr || httpauth_digest_response_decode(&resp, &hdr->val) ||
	    !digest_fresh(&resp, msg))
		return false;

	if (!http_auth_check(&hdr->val, &msg->met, auth, ha1_handler, NULL))
		return false;

	pl_strcpy(&resp.response, web.seen[web.seen_next],
		  sizeof(web.seen[0]));
	web.seen_next = (web.seen_next + 1) % SEEN_MAX;

	return true;
}


static void challenge(struct http_conn *conn, struct sfo_web_req *req,
		      const struct http_auth *auth, bool tried)
{
	char hdr[256];

	re_snprintf(hdr, sizeof(hdr), "WWW-Authenticate: %H\r\n",
		    http_auth_print_challenge, auth);
	sfo_web_fail(req, 401, tried ? "wrong user or password" :
		     "this needs the password (HTTP digest)");
	reply_error(conn, req, hdr);
}


static bool change_allowed(struct http_conn *conn, const struct http_msg *msg,
			   struct sfo_web_req *req)
{
	const struct http_hdr *host = http_msg_hdr(msg, HTTP_HDR_HOST);
	const struct http_hdr *origin = http_msg_xhdr(msg, "Origin");
	struct http_auth auth = {realm, false};
	bool tried = http_msg_hdr(msg, HTTP_HDR_AUTHORIZATION) != NULL;

	if (!web.password) {
		sfo_web_fail(req, 403, "read-only: no"
			     " srvfailover_http_password in baresip's config");
	}
	else if (!sfo_web_origin_ok(origin ? &origin->val : NULL,
				    host ? &host->val : NULL)) {
		sfo_web_fail(req, 403, "a request from another site");
	}
	else if (!authorized(msg, &auth)) {
		if (tried && !auth.stale)
			info("srvfailover: web: %r %r from %J: wrong user or"
			     " password\n", &msg->met, &msg->path,
			     http_conn_peer(conn));
		challenge(conn, req, &auth, tried && !auth.stale);
		return false;
	}
	else {
		return true;
	}

	reply_error(conn, req, NULL);

	return false;
}


static void change(struct http_conn *conn, const struct http_msg *msg,
		   struct sfo_web_req *req)
{
	struct mbuf *mb;
	struct re_printf pf;
	const char *what = req->act == SFO_WEB_ENABLE ? "enable" : "disable";

	if (!change_allowed(conn, msg, req))
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
		     what, req->prio, req->user, http_conn_peer(conn));
		(void)reply(conn, req, "application/json", NULL, mb);
	}
	else {
		reply_error(conn, req, NULL);
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


static void req_handler(struct http_conn *conn, const struct http_msg *msg,
			void *arg)
{
	struct sfo_web_req req;
	struct sfo_web_in in;
	(void)arg;

	input(&in, msg);

	switch (sfo_web_route(&req, &in)) {

	case SFO_WEB_PAGE:
		reply_page(conn, &req);
		break;

	case SFO_WEB_STATUS:
		reply_status(conn, &req);
		break;

	case SFO_WEB_DISABLE:
	case SFO_WEB_ENABLE:
		change(conn, msg, &req);
		break;

	default:
		reply_error(conn, &req, NULL);
		break;
	}
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


/**
 * Start the web page, as baresip's config says
 *
 * @return 0 (a bad value or a busy address is a warning, not an error)
 */
int http_init(void)
{
	struct sa addr;
	int err;

	if (!listen_addr(&addr))
		return 0;

	(void)conf_dup(&web.password, "srvfailover_http_password");
	if (conf_dup(&web.user, "srvfailover_http_user"))
		(void)str_dup(&web.user, "admin");

	err = http_listen(&web.sock, &addr, req_handler, NULL);
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
	web.sock = mem_deref(web.sock);
	secret_free(&web.password);
	web.user = mem_deref(web.user);
	memset(web.seen, 0, sizeof(web.seen));
	web.seen_next = 0;
}
