/**
 * @file web.c  The web page's requests, without HTTP: what each one asks
 *
 *   GET  /                          the page (page.c)
 *   GET  /status.json               sfo_status_json()
 *   POST /servers/USER/PRIO/disable deactivate a server
 *   POST /servers/USER/PRIO/enable  activate it again
 *   POST /reload                    the srvfailover file again (the
 *                                   shell's: it reads the file)
 *
 * HEAD is a GET without the body. Another path is 404, another method on
 * these paths 405, a request that cannot be read as one of them 400.
 * The password check is the shell's (http.c): it needs libre's digest.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "sfo_core.h"
#include "sfo_web.h"


static const char servers_prefix[] = "/servers/";


static const char *reason_of(uint16_t scode)
{
	switch (scode) {

	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 500: return "Internal Server Error";
	default:  return "Error";
	}
}


/**
 * Make req an error answer
 *
 * @param req   The request
 * @param scode 400, 401, 403, 404 or 405
 * @param fmt   The reason, for people (printf style)
 */
void sfo_web_fail(struct sfo_web_req *req, uint16_t scode,
		  const char *fmt, ...)
{
	va_list ap;

	req->act = SFO_WEB_ERROR;
	req->scode = scode;
	req->reason = reason_of(scode);

	va_start(ap, fmt);
	(void)re_vsnprintf(req->msg, sizeof(req->msg), fmt, ap);
	va_end(ap);
}


/* What makes the request unreadable as one of ours: 400 */
static bool message_ok(struct sfo_web_req *req, const struct sfo_web_in *in)
{
	if (pl_strcmp(&in->ver, "1.1") && pl_strcmp(&in->ver, "1.0"))
		sfo_web_fail(req, 400, "HTTP/1.0 or HTTP/1.1 only");
	else if (!pl_strcmp(&in->ver, "1.1") && !in->host)
		sfo_web_fail(req, 400, "no Host header");
	else if (in->chunked)
		sfo_web_fail(req, 400, "no Transfer-Encoding, please");
	else if (in->clen)
		sfo_web_fail(req, 400, "no request here takes a body");
	else if (!in->path.l || in->path.p[0] != '/')
		sfo_web_fail(req, 400, "the path must start with /");
	else
		return true;

	return false;
}


/* GET or HEAD of a page */
static enum sfo_web_act resource(struct sfo_web_req *req,
				 const struct sfo_web_in *in,
				 enum sfo_web_act act)
{
	req->head = !pl_strcmp(&in->met, "HEAD");

	if (!req->head && pl_strcmp(&in->met, "GET")) {
		sfo_web_fail(req, 405, "%r is not allowed here", &in->met);
		req->allow = "GET, HEAD";
		return SFO_WEB_ERROR;
	}

	req->act = act;
	req->scode = 200;
	req->reason = reason_of(200);

	return act;
}


static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';

	c = (char)tolower((unsigned char)c);

	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}


/* %-decode a path segment into a user ID: printable ASCII, no space */
static int user_decode(char *out, size_t sz, const struct pl *seg)
{
	const char *why;
	size_t i, n = 0;

	for (i = 0; i < seg->l; i++) {
		int c = (unsigned char)seg->p[i];

		if (c == '%') {
			if (i + 2 >= seg->l)
				return EINVAL;
			if (hexval(seg->p[i+1]) < 0 || hexval(seg->p[i+2]) < 0)
				return EINVAL;
			c = hexval(seg->p[i+1]) * 16 + hexval(seg->p[i+2]);
			i += 2;
		}

		if (c == 0x7f || n + 1 >= sz)
			return EINVAL;

		out[n++] = (char)c;
	}

	out[n] = '\0';

	/* what a user ID may be (UTF-8, no space): address.c */
	return sfo_user_valid(&(struct pl){out, n}, &why) ? 0 : EINVAL;
}


/* The next segment of a path, up to '/' or its end */
static struct pl segment(struct pl *rest)
{
	const char *slash = pl_strchr(rest, '/');
	struct pl seg;

	seg.p = rest->p;
	seg.l = slash ? (size_t)(slash - rest->p) : rest->l;
	pl_advance(rest, seg.l + (slash ? 1 : 0));

	return seg;
}


/* POST /servers/USER/PRIO/disable|enable */
static enum sfo_web_act server_action(struct sfo_web_req *req,
				      const struct sfo_web_in *in)
{
	struct pl rest = in->path, user, prio, verb;
	bool slash_end;

	pl_advance(&rest, sizeof(servers_prefix) - 1);
	user = segment(&rest);
	prio = segment(&rest);
	slash_end = rest.p > prio.p + prio.l;
	verb = segment(&rest);

	if (rest.l || rest.p > verb.p + verb.l || !slash_end ||
	    (pl_strcmp(&verb, "disable") && pl_strcmp(&verb, "enable"))) {
		sfo_web_fail(req, 404, "no such page: use /servers/USER/PRIO"
			     "/disable or /enable");
		return SFO_WEB_ERROR;
	}

	if (user_decode(req->user, sizeof(req->user), &user)) {
		sfo_web_fail(req, 400, "bad user ID in the path");
		return SFO_WEB_ERROR;
	}

	if (!sfo_pl_isnum(&prio) || prio.l > 4 || !pl_u32(&prio)) {
		sfo_web_fail(req, 400, "bad priority '%r' in the path", &prio);
		return SFO_WEB_ERROR;
	}

	if (pl_strcmp(&in->met, "POST")) {
		sfo_web_fail(req, 405, "%r is not allowed here: POST",
			     &in->met);
		req->allow = "POST";
		return SFO_WEB_ERROR;
	}

	req->prio = pl_u32(&prio);
	req->act = pl_strcmp(&verb, "disable") ? SFO_WEB_ENABLE :
		SFO_WEB_DISABLE;

	return req->act;
}


/* POST /reload */
static enum sfo_web_act reload(struct sfo_web_req *req,
			       const struct sfo_web_in *in)
{
	if (pl_strcmp(&in->met, "POST")) {
		sfo_web_fail(req, 405, "%r is not allowed here: POST",
			     &in->met);
		req->allow = "POST";
		return SFO_WEB_ERROR;
	}

	req->act = SFO_WEB_RELOAD;

	return req->act;
}


/**
 * What a request asks for
 *
 * @param req Filled in: the action, or the error answer (scode, msg)
 * @param in  The request
 *
 * @return req->act
 */
enum sfo_web_act sfo_web_route(struct sfo_web_req *req,
			       const struct sfo_web_in *in)
{
	struct pl pfx;

	memset(req, 0, sizeof(*req));

	if (!message_ok(req, in))
		return SFO_WEB_ERROR;

	if (!pl_strcmp(&in->path, "/"))
		return resource(req, in, SFO_WEB_PAGE);

	if (!pl_strcmp(&in->path, "/status.json"))
		return resource(req, in, SFO_WEB_STATUS);

	if (!pl_strcmp(&in->path, "/reload"))
		return reload(req, in);

	pfx.p = in->path.p;
	pfx.l = min(in->path.l, sizeof(servers_prefix) - 1);
	if (!pl_strcmp(&pfx, servers_prefix))
		return server_action(req, in);

	sfo_web_fail(req, 404, "no such page");

	return SFO_WEB_ERROR;
}


/** Does this action change anything (and so need the password)? */
bool sfo_web_changes(enum sfo_web_act act)
{
	return act == SFO_WEB_DISABLE || act == SFO_WEB_ENABLE ||
		act == SFO_WEB_RELOAD;
}


static int result_json(struct re_printf *pf, const struct sfo_server *srv)
{
	struct odict *o;
	int err;

	err = odict_alloc(&o, 4);
	if (err)
		return err;

	err |= odict_entry_add(o, "user", ODICT_STRING, srv->line->user);
	err |= odict_entry_add(o, "prio", ODICT_INT, (int64_t)srv->prio);
	err |= odict_entry_add(o, "uri", ODICT_STRING, srv->uri);
	err |= odict_entry_add(o, "state", ODICT_STRING,
			       sfo_state_name(srv->state));
	if (!err)
		err = json_encode_odict(pf, o);

	mem_deref(o);

	return err;
}


/**
 * Carry out a disable or enable that the shell has authorised
 *
 * @param pf    Where the answer's JSON body goes (200 only)
 * @param lines All lines
 * @param req   The routed request; its scode says how it went (200, 404)
 * @param now   Time in milliseconds
 *
 * @return 0 if success, otherwise errorcode (printing)
 */
int sfo_web_apply(struct re_printf *pf, struct list *lines,
		  struct sfo_web_req *req, uint64_t now)
{
	struct sfo_line *line = sfo_line_find(lines, req->user);
	struct sfo_server *srv = sfo_server_find(line, req->prio);

	if (req->act != SFO_WEB_DISABLE && req->act != SFO_WEB_ENABLE) {
		sfo_web_fail(req, 400, "nothing to change");
		return 0;
	}

	if (!srv) {
		if (line)
			sfo_web_fail(req, 404, "line %s has no server %u",
				     req->user, req->prio);
		else
			sfo_web_fail(req, 404, "no line '%s'", req->user);
		return 0;
	}

	sfo_set_active(srv, req->act == SFO_WEB_ENABLE, now);
	req->scode = 200;
	req->reason = reason_of(200);

	return result_json(pf, srv);
}


/**
 * A browser sends Origin with every POST: it must be this page's, so
 * that another site cannot make a browser that knows the password change
 * anything. No Origin (curl, scripts) is fine: they hold the password.
 *
 * @param origin The Origin header's value, NULL when absent
 * @param host   The Host header's value, NULL when absent
 *
 * @return true if the request comes from this page or from no page
 */
bool sfo_web_origin_ok(const struct pl *origin, const struct pl *host)
{
	static const char scheme[] = "http://";
	struct pl rest;

	if (!pl_isset(origin))
		return true;

	if (!pl_isset(host) || origin->l != sizeof(scheme) - 1 + host->l)
		return false;

	rest.p = origin->p;
	rest.l = sizeof(scheme) - 1;
	if (pl_strcasecmp(&rest, scheme))
		return false;

	rest.p = origin->p + sizeof(scheme) - 1;
	rest.l = host->l;

	return 0 == pl_casecmp(&rest, host);
}


/* "ADDR:PORT", "[ADDR6]:PORT", or an address alone */
static int split_addr(struct pl *addr, struct pl *port, bool *has_port,
		      const char *val)
{
	struct pl v;
	const char *c;

	pl_set_str(&v, val);
	*has_port = false;

	if (val[0] == '[') {
		c = pl_strchr(&v, ']');
		if (!c || (c[1] && c[1] != ':'))
			return EINVAL;
		addr->p = val + 1;
		addr->l = c - val - 1;
		*has_port = c[1] == ':';
		pl_set_str(port, *has_port ? c + 2 : "");
		return 0;
	}

	c = pl_strchr(&v, ':');
	*has_port = c && c == pl_strrchr(&v, ':');
	if (!*has_port) {
		*addr = v;   /* IPv4, or IPv6 without brackets */
		return 0;
	}

	addr->p = val;
	addr->l = c - val;
	pl_set_str(port, c + 1);

	return 0;
}


/**
 * The value of srvfailover_http_listen
 *
 * @param addr Where to listen (when not off)
 * @param off  Set when the value is "off"
 * @param val  The value: IP:PORT, [IPv6]:PORT, an IP alone (port 8088),
 *             or off
 *
 * @return 0 if success, EINVAL for a bad value
 */
int sfo_web_listen_parse(struct sa *addr, bool *off, const char *val)
{
	struct pl host, port;
	bool has_port;
	uint32_t num = SFO_WEB_PORT;
	char ip[64];

	*off = !str_casecmp(val, "off");
	if (*off)
		return 0;

	if (!str_isset(val) || split_addr(&host, &port, &has_port, val) ||
	    !host.l || host.l >= sizeof(ip))
		return EINVAL;

	if (has_port) {
		num = sfo_pl_isnum(&port) ? pl_u32(&port) : 0;
		if (!num || num > 65535)
			return EINVAL;
	}

	pl_strcpy(&host, ip, sizeof(ip));

	return sa_set_str(addr, ip, (uint16_t)num);
}


/**
 * Start the nonces of a process afresh
 *
 * @param ns     The nonces
 * @param secret Random: a nonce cannot be made without it
 */
void sfo_web_nonces_init(struct sfo_web_nonces *ns,
			 const uint64_t secret[2])
{
	memset(ns, 0, sizeof(*ns));
	ns->secret[0] = secret[0];
	ns->secret[1] = secret[1];
	ns->next = 1;
}


/* MD5 of secret, number and time: only this process can make it */
static void nonce_mac(uint8_t mac[MD5_SIZE], const struct sfo_web_nonces *ns,
		      uint64_t num, uint64_t t)
{
	uint64_t v[4];

	v[0] = ns->secret[0];
	v[1] = ns->secret[1];
	v[2] = num;
	v[3] = t;

	md5((const uint8_t *)v, sizeof(v), mac);
	memset(v, 0, sizeof(v));
}


/**
 * Hand out a nonce (nothing is stored: it names its number and time)
 *
 * @param ns   The nonces
 * @param buf  Where its text goes
 * @param size At least SFO_WEB_NONCE_SIZE
 * @param now  Time in milliseconds
 *
 * @return 0 if success, otherwise errorcode
 */
int sfo_web_nonce_new(struct sfo_web_nonces *ns, char *buf, size_t size,
		      uint64_t now)
{
	uint8_t mac[MD5_SIZE];
	uint64_t num;

	if (!ns || !buf || size < SFO_WEB_NONCE_SIZE || !ns->next)
		return EINVAL;

	num = ns->next++;
	nonce_mac(mac, ns, num, now);

	return re_snprintf(buf, size, "%016llx%016llx%w",
			   (unsigned long long)num, (unsigned long long)now,
			   mac, sizeof(mac)) == SFO_WEB_NONCE_SIZE - 1 ?
		0 : EINVAL;
}


/* n hex digits (n <= 16) */
static bool hex_u64(uint64_t *v, const char *p, size_t n)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		int x = hexval(p[i]);

		if (x < 0)
			return false;

		*v = *v << 4 | (uint64_t)x;
	}

	return true;
}


/**
 * Use a nonce for a change whose digest answer is right: once only
 *
 * @param ns    The nonces
 * @param nonce The nonce of the answer
 * @param now   Time in milliseconds
 *
 * @return 0 if it may be used (it is used now), EAUTH if it is not one
 *         of ours, ETIMEDOUT if it is too old, EALREADY if it was used
 *         (or it is more than SFO_WEB_NONCE_WINDOW numbers below the
 *         highest one used: it may have been)
 */
int sfo_web_nonce_use(struct sfo_web_nonces *ns, const struct pl *nonce,
		      uint64_t now)
{
	uint8_t mac[MD5_SIZE], diff = 0;
	uint64_t num, t, d, half;
	size_t i;

	if (!ns || !nonce || nonce->l != SFO_WEB_NONCE_SIZE - 1 ||
	    !hex_u64(&num, nonce->p, 16) || !hex_u64(&t, nonce->p + 16, 16))
		return EAUTH;

	nonce_mac(mac, ns, num, t);
	for (i = 0; i < sizeof(mac); i++) {
		if (!hex_u64(&half, nonce->p + 32 + 2 * i, 2))
			return EAUTH;
		diff |= mac[i] ^ (uint8_t)half;
	}

	if (diff || !num || num >= ns->next)
		return EAUTH;

	if (t > now || now - t > SFO_WEB_NONCE_LIFE)
		return ETIMEDOUT;

	if (num > ns->top) {
		d = num - ns->top;
		ns->used = d < SFO_WEB_NONCE_WINDOW ? ns->used << d : 0;
		ns->used |= 1;
		ns->top = num;
		return 0;
	}

	d = ns->top - num;
	if (d >= SFO_WEB_NONCE_WINDOW || ns->used & (1ULL << d))
		return EALREADY;

	ns->used |= 1ULL << d;

	return 0;
}
