/**
 * @file route.c  Outgoing calls: which server, and what after a failure
 *
 * A bare user ID goes through the line's working server. A URI naming a
 * configured server goes through that server's own user agent (bypass).
 * An INVITE that fails at its server (a failover code, a transport error,
 * no provisional answer in the budget) is placed again through the next
 * server in priority order that is not known to be dead; the callee's
 * own answer, or anything after a provisional one, is final.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "sfo_core.h"


/* host and port of a dial string: "200", "200@h", "sip:200@h:5070;x" */
static bool dial_host(const char *dial, struct pl *host, uint16_t *port)
{
	struct pl d, hp, p;
	const char *at, *end;

	pl_set_str(&d, dial);
	at = pl_strchr(&d, '@');
	if (!at)
		return false;

	hp.p = at + 1;
	hp.l = d.l - (size_t)(hp.p - d.p);
	for (end = hp.p; end < hp.p + hp.l; end++) {
		if (*end == ';' || *end == '>' || *end == '?')
			break;
	}
	hp.l = (size_t)(end - hp.p);

	*port = 0;
	if (sfo_hostport_split(&hp, host, &p))
		return false;

	if (p.l > 1 && p.p[0] == ':') {
		pl_advance(&p, 1);
		if (!sfo_pl_isnum(&p) || pl_u32(&p) > 65535)
			return false;
		*port = (uint16_t)pl_u32(&p);
	}

	return host->l > 0;
}


static struct sfo_server *server_at(const struct sfo_line *line,
				    const struct pl *host, uint16_t port)
{
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		struct sfo_server *srv = le->data;
		uint16_t sp = sfo_server_port(srv);

		if (!pl_strcasecmp(host, srv->host) && (!port || port == sp))
			return srv;
	}

	return NULL;
}


/* The user part of peer when peer names one of srv's line's servers */
static bool user_at_line(struct pl *user, const struct sfo_server *srv,
			 const char *peer)
{
	struct pl host;
	uint16_t port;

	return dial_host(peer, &host, &port) &&
		server_at(srv->line, &host, port) &&
		!re_regex(peer, str_len(peer), "[^:]+:[^@]+@", NULL, user);
}


/**
 * What to dial again through another server, for a call that reached
 * baresip without its dial string: the peer URI, but its user part alone
 * when its host is the server's, so that the next server's user agent
 * completes it with its own domain.
 */
int sfo_redial_target(char **targetp, const struct sfo_server *srv,
		      const char *peer)
{
	struct pl user;

	if (!targetp || !srv || !peer)
		return EINVAL;

	if (!user_at_line(&user, srv, peer))
		return str_dup(targetp, peer);

	return pl_strdup(targetp, &user);
}


/**
 * Where an out-of-dialog request (MESSAGE) to peer goes through srv: a
 * peer at one of the line's servers is the same user at srv ("sip:200@
 * server 1" through server 2 is "sip:200@server 2"), anything else as
 * it is.
 */
int sfo_request_target(char **targetp, const struct sfo_server *srv,
		       const char *peer)
{
	struct pl user;
	bool udp;

	if (!targetp || !srv || !peer)
		return EINVAL;

	if (!user_at_line(&user, srv, peer))
		return str_dup(targetp, peer);

	udp = !str_casecmp(srv->transport, "udp");

	return re_sdprintf(targetp, "sip:%r@%s%s%s", &user, srv->uri + 4,
			   udp ? "" : ";transport=", udp ? "" :
			   srv->transport);
}


static bool may_carry(const struct sfo_server *s)
{
	return !s->deactivated && s->alive != SFO_ALIVE_DOWN &&
		s->reg != SFO_REG_FAILED;
}


/* The working server; before there is one, the first that may carry */
static struct sfo_server *line_route(const struct sfo_line *line)
{
	struct le *le;

	if (line->working)
		return line->working;

	LIST_FOREACH(&line->servers, le) {
		if (may_carry(le->data))
			return le->data;
	}

	return NULL;
}


static int refuse_line(struct re_printf *why, const struct sfo_line *line,
		       const char *dial)
{
	struct le *le;
	int err;

	err = re_hprintf(why, "srvfailover: %s: call to %s not placed: no"
			 " usable server (", line->user, dial);

	LIST_FOREACH(&line->servers, le) {
		const struct sfo_server *s = le->data;

		err |= re_hprintf(why, "%sserver %u %s: %s", le->prev ?
				  "; " : "", s->prio, s->uri,
				  sfo_state_name(s->state));
	}

	err |= re_hprintf(why, ")\n");

	return err ? err : EACCES;
}


/**
 * The server a dial goes through
 *
 * @param srvp   The server, or NULL when no server of ours is concerned
 * @param lines  All lines
 * @param line   The line of baresip's current user agent (or NULL)
 * @param dial   What the user dialled
 * @param bypass Set when the dial names a configured server
 * @param why    Where the reason of a refusal is printed
 *
 * @return 0, or EACCES when the call must not go out: every server of
 *         the line is unusable, or the server named is deactivated
 */
int sfo_route(struct sfo_server **srvp, const struct list *lines,
	      const struct sfo_line *line, const char *dial, bool *bypass,
	      struct re_printf *why)
{
	struct sfo_server *srv = NULL;
	uint16_t port;
	struct pl host;
	struct le *le;

	*bypass = false;
	*srvp = NULL;

	if (!line)
		line = list_ledata(list_head(lines));

	if (!str_isset(dial) || !line)
		return 0;

	if (!dial_host(dial, &host, &port)) {
		*srvp = line_route(line);
		return *srvp ? 0 : refuse_line(why, line, dial);
	}

	srv = server_at(line, &host, port);

	LIST_FOREACH(lines, le) {
		if (srv)
			break;
		srv = server_at(le->data, &host, port);
	}

	if (srv && srv->deactivated)
		return re_hprintf(why, "srvfailover: %s: call to %s not"
				  " placed: server %u %s is deactivated\n",
				  srv->line->user, dial, srv->prio,
				  srv->uri), EACCES;

	*bypass = srv != NULL;
	*srvp = srv;

	return 0;
}


/**
 * The line one of whose servers peer names ("sip:200@server 1"), NULL
 * when none does: its requests to peer go through its working server.
 */
struct sfo_line *sfo_line_of_peer(const struct list *lines,
				  const char *peer)
{
	uint16_t port;
	struct pl host;
	struct le *le;

	if (!str_isset(peer) || !dial_host(peer, &host, &port))
		return NULL;

	LIST_FOREACH(lines, le) {
		const struct sfo_server *s = server_at(le->data, &host, port);

		if (s)
			return s->line;
	}

	return NULL;
}


/**
 * The server an out-of-dialog request (MESSAGE) to peer goes through:
 * the working server (before there is one, the first that may carry) of
 * the line whose server peer names, else of line; NULL when there is
 * no line or no server that may carry.
 */
struct sfo_server *sfo_request_route(const struct list *lines,
				     const struct sfo_line *line,
				     const char *peer)
{
	const struct sfo_line *named = sfo_line_of_peer(lines, peer);

	if (named)
		line = named;
	else if (!line)
		line = list_ledata(list_head(lines));

	return line ? line_route(line) : NULL;
}


/** A new outgoing call through srv */
void sfo_invite_start(struct sfo_invite *inv, struct sfo_server *srv,
		      bool bypass, uint64_t now)
{
	memset(inv, 0, sizeof(*inv));
	inv->srv = srv;
	inv->bypass = bypass;
	inv->sent = now;
	inv->tried = 1u << (srv->order % 32);
}


/**
 * The INVITE went out again as a new transaction (the server challenged
 * it: 401/407). Whatever the first one drew (a 100 Trying before the
 * challenge), this one has its own budget and must draw its own answer.
 */
void sfo_invite_resent(struct sfo_invite *inv, uint64_t now)
{
	inv->sent = now;
	inv->provisional = false;
}


/** When an INVITE without any provisional answer is given up */
uint64_t sfo_invite_deadline(const struct sfo_invite *inv)
{
	return inv->sent + sfo_request_budget(inv->srv);
}


static struct sfo_server *next_server(const struct sfo_invite *inv)
{
	struct le *le;

	LIST_FOREACH(&inv->srv->line->servers, le) {
		struct sfo_server *s = le->data;

		if (!(inv->tried & (1u << (s->order % 32))) && may_carry(s))
			return s;
	}

	return NULL;
}


/**
 * The INVITE's call ended before it was answered
 *
 * @param inv   The outgoing call
 * @param scode Final SIP answer, 0 for a transport error or no answer
 * @param text  What happened, for people
 * @param now   Time in milliseconds
 *
 * @return SFO_INV_DONE (the callee's answer: nothing to do),
 *         SFO_INV_RETRY (place it again through inv->srv) or
 *         SFO_INV_FAILED (all tried: inv->why says what each did)
 */
enum sfo_verdict sfo_invite_failed(struct sfo_invite *inv, uint16_t scode,
				   const char *text, uint64_t now)
{
	struct sfo_server *srv = inv->srv, *next;
	size_t n = strlen(inv->why);

	if (inv->provisional)
		return SFO_INV_DONE;

	if (scode && !sfo_codes_match(&srv->line->codes, scode))
		return SFO_INV_DONE;

	re_snprintf(inv->why + n, sizeof(inv->why) - n, "%sserver %u %s: %s",
		    n ? "; " : "", srv->prio, srv->uri, text);

	sfo_call_failed(srv, scode, text, now);

	next = inv->bypass ? NULL : next_server(inv);
	if (!next)
		return SFO_INV_FAILED;

	inv->srv = next;
	inv->tried |= 1u << (next->order % 32);
	inv->sent = now;
	inv->provisional = false;

	return SFO_INV_RETRY;
}
