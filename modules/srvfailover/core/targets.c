/**
 * @file targets.c  A server given as a DNS name: its targets (failover mode)
 *
 * The name resolves (SRV, else A/AAAA) to several hosts: the first is the
 * primary, the next the secondary, and so on. They take the entry's
 * place in the line, in that order and with the entry's priority, so that
 * every mode puts the primary first and the secondary only while the
 * primary is unavailable. A new answer keeps the state of the targets
 * that stay, adds the new ones and removes the ones that went.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "sfo_core.h"


static bool is_member(const struct sfo_server *s, unsigned prio)
{
	return s->prio == prio && s->dns;
}


static struct sfo_server *member_at(const struct sfo_line *line,
				    unsigned prio, const char *host,
				    uint16_t port)
{
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		struct sfo_server *s = le->data;

		if (is_member(s, prio) && !s->unresolved &&
		    !str_casecmp(s->host, host) && s->port == port)
			return s;
	}

	return NULL;
}


/* A target: the entry's account, routed to one host by outbound proxy */
static int target_new(struct sfo_server **srvp, const struct sfo_server *e,
		      const struct sfo_target *t)
{
	struct sfo_server *s;
	bool v6 = NULL != strchr(t->host, ':');
	const char *lb = v6 ? "[" : "", *rb = v6 ? "]" : "";
	int err;

	err = sfo_server_alloc(&s, e->line);
	if (err)
		return err;

	s->prio = e->prio;
	s->regint = e->regint;
	s->rwait = e->rwait;
	s->retries = e->retries;
	s->no_mwi = e->no_mwi;
	s->deactivated = e->deactivated;
	s->port = t->port;

	err  = str_dup(&s->host, t->host);
	err |= str_dup(&s->dns, e->dns);
	err |= str_dup(&s->transport, e->transport);
	err |= str_dup(&s->entry, e->entry);
	err |= re_sdprintf(&s->uri, "sip:%s%s%s:%u", lb, t->host, rb,
			   t->port);
	err |= re_sdprintf(&s->probe_uri, "sip:%s@%s%s%s:%u;transport=%s",
			   e->line->user, lb, t->host, rb, t->port,
			   e->transport);
	err |= re_sdprintf(&s->account, "%s;outbound=\"sip:%s%s%s:%u"
			   ";transport=%s\"", e->entry, lb, t->host, rb,
			   t->port, e->transport);
	if (err) {
		mem_deref(s);
		return err;
	}

	*srvp = s;

	return 0;
}


/**
 * The targets a DNS name resolved to, primary first
 *
 * @param line  The line
 * @param prio  The priority of the entry given as a name
 * @param tv    Targets, in order
 * @param tc    How many (0: the name has none; the old ones stay)
 * @param now   Time in milliseconds
 *
 * @return 0 if success, otherwise errorcode
 */
int sfo_targets_set(struct sfo_line *line, unsigned prio,
		    const struct sfo_target *tv, size_t tc, uint64_t now)
{
	struct sfo_server *e = NULL, *gv[SFO_TARGETS_MAX];
	bool fresh[SFO_TARGETS_MAX];
	struct list out = LIST_INIT;
	bool placed = false;
	size_t i, j, n = 0;
	struct le *le;
	int err = 0;

	LIST_FOREACH(&line->servers, le) {
		if (is_member(le->data, prio)) {
			e = le->data;
			break;
		}
	}

	if (!e || !tc)
		return e ? 0 : ENOENT;

	/* the new group: targets that stay keep their state */
	for (i = 0; i < tc && n < SFO_TARGETS_MAX; i++) {
		gv[n] = member_at(line, prio, tv[i].host, tv[i].port);
		fresh[n] = !gv[n];
		if (fresh[n])
			err = target_new(&gv[n], e, &tv[i]);
		if (err)
			break;
		++n;
	}

	/* the group where the entry was; drop the members not in it */
	while ((le = list_head(&line->servers))) {
		struct sfo_server *s = le->data;
		bool keep = false;

		list_unlink(le);

		if (!is_member(s, prio)) {
			list_append(&out, le, s);
			continue;
		}

		for (j = 0; j < n && !placed; j++) {
			list_unlink(&gv[j]->le);
			list_append(&out, &gv[j]->le, gv[j]);
		}
		placed = true;

		for (j = 0; j < n; j++)
			keep |= gv[j] == s;

		if (!keep)
			sfo_server_drop(line, s);
	}

	/* each element knows its list: move them back, don't copy heads */
	while ((le = list_head(&out))) {
		list_unlink(le);
		list_append(&line->servers, le, le->data);
	}

	sfo_line_renumber(line);

	for (i = 0; i < n; i++) {
		if (!fresh[i] || !line->ops || !line->ops->added)
			continue;

		if (line->ops->added(gv[i], line->arg))
			gv[i]->unresolved = true;
	}

	sfo_tick(line, now);

	return err;
}


/** A DNS name could not be resolved: say so, keep what it had */
void sfo_targets_failed(struct sfo_line *line, unsigned prio,
			const char *text, uint64_t now)
{
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		struct sfo_server *s = le->data;

		if (!is_member(s, prio) || !s->unresolved)
			continue;

		s->alive = SFO_ALIVE_DOWN;
		str_ncpy(s->last_text, text, sizeof(s->last_text));
	}

	sfo_tick(line, now);
}
