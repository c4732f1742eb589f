/**
 * @file http.c  The web page's answers: the page, status.json, changes
 *
 * On srvfailover_http_listen (default 127.0.0.1:8088, "off" for none);
 * the connections, and reading each request, are webconn.c's. What a
 * request asks for is decided in web.c; this file reads baresip's
 * config, answers, and checks the password of a change with HTTP digest
 * (user srvfailover_http_user, default admin; password
 * srvfailover_http_password; none: read-only) on nonces of web.c, each
 * good for one change.
 */
#include <errno.h>
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "sfo_web.h"
#include "shell.h"


static const char realm[] = "srvfailover";
static const char key_listen[] = "srvfailover_http_listen";

static struct {
	struct sfo_web_nonces nonces;
	char *user;
	char *password;              /* never printed                    */
} web;


static void secret_free(char **sp)
{
	if (*sp)
		memset(*sp, 0, str_len(*sp));

	*sp = mem_deref(*sp);
}


/* The body in mb (HEAD: its length only) */
static int reply(struct webconn *c, const struct sfo_web_req *req,
		 const char *ctype, const char *hdrs, const struct mbuf *mb)
{
	return webconn_reply(c, req->scode, req->reason,
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


static void reply_error(struct webconn *c, const struct sfo_web_req *req,
			const char *hdrs)
{
	struct mbuf *mb = mbuf_alloc(256);
	char allow[64] = "";

	/* after a request we could not read, the next one is not safe */
	if (req->scode == 400)
		webconn_close_after(c);

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


static void reply_page(struct webconn *c, const struct sfo_web_req *req)
{
	struct mbuf *mb = mbuf_alloc(16384);
	struct re_printf pf = {shell_print_mbuf, mb};

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


static void reply_status(struct webconn *c, const struct sfo_web_req *req)
{
	struct mbuf *mb = mbuf_alloc(2048);
	struct re_printf pf = {shell_print_mbuf, mb};

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


static void challenge(struct webconn *c, struct sfo_web_req *req, bool stale,
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


static bool change_allowed(struct webconn *c, const struct http_msg *msg,
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
			     " password\n", &msg->met, &msg->path,
			     webconn_peer(c));
		challenge(c, req, stale, tried && !stale);
		return false;
	}
	else {
		return true;
	}

	reply_error(c, req, NULL);

	return false;
}


static void change(struct webconn *c, const struct http_msg *msg,
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

	pf.vph = shell_print_mbuf;
	pf.arg = mb;
	if (sfo_web_apply(&pf, shell_lines(), req, shell_now()))
		sfo_web_fail(req, 500, "out of memory");

	if (req->scode == 200) {
		info("srvfailover: web: %s server %u of line %s (from %J)\n",
		     what, req->prio, req->user, webconn_peer(c));
		(void)reply(c, req, "application/json", NULL, mb);
	}
	else {
		reply_error(c, req, NULL);
	}

	mem_deref(mb);
}


/* The file again; the answer as /srvfailover reload says it (200, or
 * 422 when the file has errors: nothing changed) */
static void reload(struct webconn *c, const struct http_msg *msg,
		   struct sfo_web_req *req)
{
	struct re_printf pf = {shell_print_mbuf, NULL};
	struct mbuf *mb;
	int err;

	if (!change_allowed(c, msg, req))
		return;

	mb = mbuf_alloc(512);
	if (!mb)
		return;

	pf.arg = mb;
	err = file_reload(&pf);
	req->scode = err ? 422 : 200;
	req->reason = err ? "Unprocessable Content" : "OK";
	info("srvfailover: web: reload (from %J)\n", webconn_peer(c));
	(void)reply(c, req, "text/plain; charset=utf-8", NULL, mb);

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


static void request(struct webconn *c, const struct http_msg *msg)
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

	case SFO_WEB_RELOAD:
		reload(c, msg, &req);
		break;

	default:
		reply_error(c, &req, NULL);
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

	err = webconn_listen(&addr, request);
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
	webconn_close();
	secret_free(&web.password);
	web.user = mem_deref(web.user);
	memset(&web.nonces, 0, sizeof(web.nonces));
}
