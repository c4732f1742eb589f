/**
 * @file config.c  The srvfailover file: one server per line, account style
 *
 *   <sip:100@10.10.1.1;transport=udp>;auth_pass=pw;regint=600;sfo_mode=cisco
 *
 * Lines with the same user ID form one phone line, in priority order.
 * Line-wide sfo_ parameters go on the line's first server. A phone line
 * with any error is not started; the others are not affected. Each error
 * is one line naming file, line and key; values are shown shortened and
 * escaped (address.c), never a whole line: it may hold a password.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <re.h>
#include "sfo_core.h"


struct ctx {
	const char *file;
	unsigned lineno;
	struct re_printf *pf;
	unsigned errc;
};

struct key {
	const char *name;
	bool line_wide;
	int (*apply)(struct ctx *c, const struct key *k, struct sfo_line *line,
		     struct sfo_server *srv, const struct pl *val);
};


static int error(struct ctx *c, const char *key, const char *fmt, ...)
{
	va_list ap;

	++c->errc;
	va_start(ap, fmt);
	(void)re_hprintf(c->pf, "srvfailover: %s:%u: %s: %v\n",
			 c->file, c->lineno, key, fmt, &ap);
	va_end(ap);

	return EINVAL;
}


static int number(struct ctx *c, const char *key, const struct pl *val,
		  uint32_t min, uint32_t max, uint32_t *out)
{
	uint32_t n;
	size_t i;

	for (i = 0; i < val->l; i++) {
		if (val->p[i] < '0' || val->p[i] > '9')
			break;
	}

	if (!val->l || i < val->l)
		return error(c, key, "'%H' is not a number",
			     sfo_quote_print, val);

	n = sfo_pl_isnum(val) ? pl_u32(val) : UINT32_MAX;
	if (n < min || n > max)
		return error(c, key, "%H is out of range %u..%u",
			     sfo_quote_print, val, min, max);

	*out = n;

	return 0;
}


static int apply_mode(struct ctx *c, const struct key *k,
		      struct sfo_line *line, struct sfo_server *srv,
		      const struct pl *val)
{
	char buf[16];
	(void)srv;

	if (val->l >= sizeof(buf) ||
	    (pl_strcpy(val, buf, sizeof(buf)),
	     sfo_mode_parse(&line->mode, buf)))
		return error(c, k->name, "unknown mode '%H'"
			     " (parallel, cisco, sequential)",
			     sfo_quote_print, val);

	return 0;
}


static int apply_failback(struct ctx *c, const struct key *k,
			  struct sfo_line *line, struct sfo_server *srv,
			  const struct pl *val)
{
	(void)srv;

	if (sfo_failback_parse(line, val))
		return error(c, k->name, "'%H' is not immediate, never,"
			     " probes:N or delay:SECONDS", sfo_quote_print,
			     val);

	return 0;
}


static int apply_codes(struct ctx *c, const struct key *k,
		       struct sfo_line *line, struct sfo_server *srv,
		       const struct pl *val)
{
	(void)srv;

	if (sfo_codes_parse(&line->codes, val))
		return error(c, k->name, "'%H' is not a list of codes such as"
			     " 503,5??,6??", sfo_quote_print, val);

	return 0;
}


/* pubint=N: the phone's presence is published through this server
 * (every N s) while it is the working one; baresip itself publishes
 * through none of the module's user agents (pubint=0 to baresip) */
static int apply_pubint(struct ctx *c, const struct key *k,
			struct sfo_server *srv, const struct pl *val)
{
	int err = number(c, k->name, val, 0, 604800, &srv->pubint);

	if (!err && srv->pubint && srv->pubint < SFO_PUBINT_MIN)
		err = error(c, k->name, "%u is out of range: 0 (off) or"
			    " %u..604800", srv->pubint, SFO_PUBINT_MIN);

	return err;
}


static int apply_num(struct ctx *c, const struct key *k,
		     struct sfo_line *line, struct sfo_server *srv,
		     const struct pl *val)
{
	uint32_t n;
	int err;

	if (!str_cmp(k->name, "sfo_probe_interval"))
		return number(c, k->name, val, 1, 86400,
			      &line->probe_interval);
	if (!str_cmp(k->name, "sfo_fallback_interval"))
		return number(c, k->name, val, 1, 86400,
			      &line->fallback_interval);
	if (!str_cmp(k->name, "sfo_retry_base"))
		return number(c, k->name, val, 1, 3600, &line->retry_base);
	if (!str_cmp(k->name, "sfo_retry_max"))
		return number(c, k->name, val, 1, 86400, &line->retry_max);
	if (!str_cmp(k->name, "sfo_keepalive_loss"))
		return number(c, k->name, val, 1, 10, &line->ka_loss);
	if (!str_cmp(k->name, "regint"))
		return number(c, k->name, val, 10, 604800, &srv->regint);
	/* libre's range (baresip moves a value outside it silently) */
	if (!str_cmp(k->name, "rwait"))
		return number(c, k->name, val, 5, 95, &srv->rwait);
	if (!str_cmp(k->name, "pubint"))
		return apply_pubint(c, k, srv, val);

	err = number(c, k->name, val, 0, 10, &n);
	if (!err)
		srv->retries = n;

	return err;
}


static int apply_keepalive(struct ctx *c, const struct key *k,
			   struct sfo_line *line, struct sfo_server *srv,
			   const struct pl *val)
{
	(void)srv;

	if (!pl_strcasecmp(val, "options"))
		line->ka_register = false;
	else if (!pl_strcasecmp(val, "register"))
		line->ka_register = true;
	else
		return error(c, k->name, "'%H' is not options or register",
			     sfo_quote_print, val);

	return 0;
}


/* mwi=no: no voicemail subscription through this server. mwi.so never
 * subscribes through the module's user agents (the account says mwi=no
 * to baresip): the module holds the line's one subscription itself */
static int apply_mwi(struct ctx *c, const struct key *k,
		     struct sfo_line *line, struct sfo_server *srv,
		     const struct pl *val)
{
	(void)line;

	if (!pl_strcasecmp(val, "yes"))
		srv->no_mwi = false;
	else if (!pl_strcasecmp(val, "no"))
		srv->no_mwi = true;
	else
		return error(c, k->name, "'%H' is not yes or no",
			     sfo_quote_print, val);

	return 0;
}


static const struct key keys[] = {
	{"sfo_mode",              true,  apply_mode},
	{"sfo_failback",          true,  apply_failback},
	{"sfo_failover_codes",    true,  apply_codes},
	{"sfo_probe_interval",    true,  apply_num},
	{"sfo_fallback_interval", true,  apply_num},
	{"sfo_retry_base",        true,  apply_num},
	{"sfo_retry_max",         true,  apply_num},
	{"sfo_keepalive",         true,  apply_keepalive},
	{"sfo_keepalive_loss",    true,  apply_num},
	{"sfo_retries",           false, apply_num},
	{"regint",                false, apply_num},
	{"rwait",                 false, apply_num},
	{"pubint",                false, apply_num},
	{"mwi",                   false, apply_mwi},
};


static const struct key *key_find(const struct pl *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		if (!pl_strcasecmp(name, keys[i].name))
			return &keys[i];
	}

	return NULL;
}


/* Apply one ";name=value"; other parameters stay for the account */
static int param(struct ctx *c, struct sfo_line *line,
		 struct sfo_server *srv, const struct pl *name,
		 const struct pl *val, struct mbuf *acc)
{
	const struct key *k = key_find(name);
	char key[64];

	if (!k) {
		if (name->l > 4 && !strncasecmp(name->p, "sfo_", 4)) {
			re_snprintf(key, sizeof(key), "%H", sfo_quote_print,
				    name);
			return error(c, key, "unknown parameter");
		}

		return mbuf_printf(acc, ";%r%s%r", name, val->p ? "=" : "",
				   val);
	}

	if (k->line_wide && srv->prio != 1)
		return error(c, k->name, "only allowed on the first server"
			     " of line %s", line->user);

	return k->apply(c, k, line, srv, val);
}


static int params(struct ctx *c, struct sfo_line *line,
		  struct sfo_server *srv, const struct pl *pl,
		  struct mbuf *acc)
{
	struct pl rest = *pl, item, name, val;
	int err = 0;

	while (rest.l) {
		const char *semi, *eq;

		pl_advance(&rest, 1);  /* the ';' */
		semi = pl_strchr(&rest, ';');
		item.p = rest.p;
		item.l = semi ? (size_t)(semi - rest.p) : rest.l;
		pl_advance(&rest, item.l);

		if (!item.l)
			continue;

		eq = pl_strchr(&item, '=');
		name.p = item.p;
		name.l = eq ? (size_t)(eq - item.p) : item.l;
		val.p = eq ? eq + 1 : NULL;
		val.l = eq ? item.l - name.l - 1 : 0;

		err |= param(c, line, srv, &name, &val, acc);
	}

	return err;
}


static int transport(struct ctx *c, struct sfo_server *srv,
		     const struct uri *uri)
{
	struct pl tp;

	if (msg_param_decode(&uri->params, "transport", &tp))
		pl_set_str(&tp, "udp");

	if (pl_strcasecmp(&tp, "udp") && pl_strcasecmp(&tp, "tcp") &&
	    pl_strcasecmp(&tp, "tls"))
		return error(c, "transport", "'%H' is not udp, tcp or tls",
			     sfo_quote_print, &tp);

	return pl_strdup(&srv->transport, &tp);
}


static bool same_place(const struct sfo_server *a,
		       const struct sfo_server *b)
{
	return !str_casecmp(a->host, b->host) &&
		sfo_server_port(a) == sfo_server_port(b) &&
		!str_casecmp(a->transport, b->transport);
}


static int duplicate(struct ctx *c, const struct sfo_line *line,
		     const struct sfo_server *srv)
{
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		const struct sfo_server *s = le->data;

		if (s != srv && same_place(s, srv))
			return error(c, "uri", "duplicate server %s of line"
				     " %s (server %u)", srv->uri, line->user,
				     s->prio);
	}

	return 0;
}


static int names(struct sfo_server *srv, const struct sip_addr *addr,
		 const char *user)
{
	const struct uri *u = &addr->uri;
	bool v6 = u->af == AF_INET6;
	char port[8] = "";
	struct sa sa;
	int err;

	if (u->port)
		re_snprintf(port, sizeof(port), ":%u", u->port);

	srv->port = u->port;
	err  = pl_strdup(&srv->host, &u->host);

	/* a name, not an address: DNS failover mode, targets come later */
	if (!err && sa_set(&sa, &u->host, 0)) {
		err = pl_strdup(&srv->dns, &u->host);
		srv->unresolved = true;
	}

	err |= re_sdprintf(&srv->uri, "sip:%s%r%s%s", v6 ? "[" : "",
			   &u->host, v6 ? "]" : "", port);
	err |= re_sdprintf(&srv->probe_uri, "sip:%s@%s%r%s%s;transport=%s",
			   user, v6 ? "[" : "", &u->host, v6 ? "]" : "",
			   port, srv->transport);

	return err;
}


static struct sfo_line *line_get(struct list *lines, const char *user,
				 enum sfo_mode mode, unsigned lineno)
{
	struct sfo_line *line = sfo_line_find(lines, user);

	if (line || sfo_line_alloc(&line, user))
		return line;

	line->mode = mode;
	line->cfg_line = lineno;
	list_append(lines, &line->le, line);

	return line;
}


/* A server that cannot be read still takes its line down, when the
 * user ID can be seen: a line must not run without one of its servers */
static void reject_user(struct ctx *c, struct list *lines,
			const struct pl *text, enum sfo_mode mode)
{
	struct sfo_line *line;
	const char *why;
	struct pl user;
	char u[SFO_USER_MAX + 1];

	/* "sip:100:password@": the user ID ends at the ':' */
	if (re_regex(text->p, text->l, "sip:[^@;>:]+[^@;>]*@", &user, NULL) ||
	    !sfo_user_valid(&user, &why))
		return;

	pl_strcpy(&user, u, sizeof(u));
	line = line_get(lines, u, mode, c->lineno);
	if (line)
		line->rejected = true;
}


static int server(struct ctx *c, struct list *lines, const struct pl *text,
		  enum sfo_mode mode)
{
	struct sip_addr addr;
	struct sfo_line *line;
	struct sfo_server *srv;
	struct mbuf *acc = NULL;
	char user[SFO_USER_MAX + 1];
	const char *why;
	int err;

	if (sfo_address_check(text, &why)) {
		reject_user(c, lines, text, mode);
		return error(c, "uri", "%s", why);
	}

	if (sip_addr_decode(&addr, text)) {
		reject_user(c, lines, text, mode);
		return error(c, "uri", "not a SIP address such as"
			     " <sip:100@10.10.1.1>");
	}

	if (!sfo_user_valid(&addr.uri.user, &why))
		return error(c, "uri", "%s", why);

	pl_strcpy(&addr.uri.user, user, sizeof(user));

	line = line_get(lines, user, mode, c->lineno);
	if (!line || sfo_server_add(line, &srv))
		return ENOMEM;

	acc = mbuf_alloc(256);
	if (!acc)
		return ENOMEM;

	/* everything up to the parameters: display name and <uri> */
	err  = mbuf_write_mem(acc, (const uint8_t *)text->p,
			      addr.params.p ?
			      (size_t)(addr.params.p - text->p) : text->l);
	err |= transport(c, srv, &addr.uri);
	if (!err) {
		err |= names(srv, &addr, user);
		err |= duplicate(c, line, srv);
	}
	err |= params(c, line, srv, &addr.params, acc);
	/* the module alone decides when a server registers, and holds
	 * the line's voicemail subscription and presence publication */
	err |= mbuf_printf(acc, ";regint=0;mwi=no;pubint=0");

	if (!err) {
		mbuf_set_pos(acc, 0);
		err = mbuf_strdup(acc, &srv->account, acc->end);
	}

	if (!err && srv->dns)
		err = str_dup(&srv->entry, srv->account);

	if (err)
		line->rejected = true;

	mem_deref(acc);

	return err;
}


static void finish(struct ctx *c, struct list *lines)
{
	struct le *le = list_head(lines);
	unsigned out = 0;

	while (le) {
		struct sfo_line *line = le->data;

		le = le->next;

		if (!line->rejected && line->retry_max < line->retry_base) {
			c->lineno = line->cfg_line;
			error(c, "sfo_retry_max", "%u is below sfo_retry_base"
			      " %u (line %s)", line->retry_max,
			      line->retry_base, line->user);
			line->rejected = true;
		}

		if (!line->rejected)
			continue;

		(void)re_hprintf(c->pf, "srvfailover: %s: line %s is not"
				 " started (see the errors above)\n",
				 c->file, line->user);
		mem_deref(line);
		++out;
	}

	if (c->errc)
		(void)re_hprintf(c->pf, "srvfailover: %s: %u error%s, %u"
				 " line%s not started\n", c->file, c->errc,
				 c->errc == 1 ? "" : "s", out,
				 out == 1 ? "" : "s");
}


/**
 * Parse the text of a srvfailover file into lines of servers
 *
 * @param lines  List to append the lines to
 * @param file   File name, for error messages
 * @param text   The file's text
 * @param mode   Default mode (srvfailover_mode)
 * @param errpf  Where errors are printed
 * @param errc   Number of errors found (optional)
 *
 * @return 0 if success, otherwise errorcode (bad values are not errors
 *         here: they are printed, counted and their line left out)
 */
int sfo_config_parse(struct list *lines, const char *file,
		     const struct pl *text, enum sfo_mode mode,
		     struct re_printf *errpf, unsigned *errc)
{
	struct ctx c = {file, 0, errpf, 0};
	struct pl rest, ln;
	int err = 0;

	if (!lines || !text || !errpf)
		return EINVAL;

	rest = *text;

	/* a UTF-8 byte order mark, as Windows editors write it */
	if (rest.l >= 3 && !memcmp(rest.p, "\xef\xbb\xbf", 3))
		pl_advance(&rest, 3);

	while (rest.l && err != ENOMEM) {
		const char *nl = pl_strchr(&rest, '\n');

		ln.p = rest.p;
		ln.l = nl ? (size_t)(nl - rest.p) : rest.l;
		pl_advance(&rest, ln.l + (nl ? 1 : 0));
		++c.lineno;

		while (ln.l && isspace((unsigned char)ln.p[0]))
			pl_advance(&ln, 1);
		while (ln.l && isspace((unsigned char)ln.p[ln.l - 1]))
			--ln.l;

		if (!ln.l || ln.p[0] == '#')
			continue;

		err = server(&c, lines, &ln, mode);
	}

	finish(&c, lines);

	if (errc)
		*errc = c.errc;

	return err == ENOMEM ? err : 0;
}
