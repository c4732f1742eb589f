/**
 * @file mwi.c  A line's voicemail: which server holds its subscription,
 *              what a message-summary says, when to subscribe again
 *
 * The subscription follows the working server (the shell's mwi.c moves
 * it); what a NOTIFY may change is the lamp: waiting, new and old voice
 * messages, and the server they came from.
 */
#include <string.h>
#include <re.h>
#include "sfo_core.h"


/* "yes"/"no" -> *waiting */
static int waiting_parse(bool *waiting, const struct pl *val)
{
	if (!pl_strcasecmp(val, "yes"))
		*waiting = true;
	else if (!pl_strcasecmp(val, "no"))
		*waiting = false;
	else
		return EINVAL;

	return 0;
}


static void trim(struct pl *pl)
{
	while (pl->l && (pl->p[0] == ' ' || pl->p[0] == '\t'))
		pl_advance(pl, 1);

	while (pl->l && (pl->p[pl->l - 1] == ' ' ||
			 pl->p[pl->l - 1] == '\t' ||
			 pl->p[pl->l - 1] == '\r'))
		--pl->l;
}


/* A count of messages: digits only, at most 2^32 - 1 */
static int count_parse(uint32_t *n, const struct pl *pl, const char **why)
{
	uint64_t v = 0;
	size_t i;

	if (!pl->l) {
		*why = "a message count is missing";
		return EINVAL;
	}

	for (i = 0; i < pl->l; i++) {
		if (pl->p[i] < '0' || pl->p[i] > '9') {
			*why = "a message count is not a number";
			return EINVAL;
		}

		v = v * 10 + (uint64_t)(pl->p[i] - '0');
		if (v > UINT32_MAX) {
			*why = "a message count is out of range";
			return ERANGE;
		}
	}

	*n = (uint32_t)v;

	return 0;
}


/* "NEW/OLD" or "NEW/OLD (URGENT_NEW/URGENT_OLD)" */
static int counts_parse(struct sfo_summary *sum, const struct pl *val,
			const char **why)
{
	const char *slash = pl_strchr(val, '/');
	const char *paren = pl_strchr(val, '(');
	struct pl a, b;

	if (!slash || (paren && paren < slash)) {
		*why = "Voice-Message is not NEW/OLD";
		return EINVAL;
	}

	a.p = val->p;
	a.l = (size_t)(slash - val->p);
	b.p = slash + 1;
	b.l = paren ? (size_t)(paren - b.p) : val->l - a.l - 1;
	trim(&a);
	trim(&b);

	if (count_parse(&sum->new_msgs, &a, why) ||
	    count_parse(&sum->old_msgs, &b, why))
		return EINVAL;

	return 0;
}


/**
 * Read an application/simple-message-summary body (RFC 3842): whether
 * messages wait, and the voice messages' counts (0/0 when not given).
 * Anything that does not read leaves *sum alone; *why says what.
 */
int sfo_summary_parse(struct sfo_summary *sum, const struct pl *body,
		      const char **why)
{
	struct sfo_summary s = {false, 0, 0};
	struct pl rest = *body;
	bool status = false;

	if (body->l > SFO_MWI_BODY_MAX) {
		*why = "larger than 4096 bytes";
		return EOVERFLOW;
	}

	while (rest.l) {
		const char *nl = pl_strchr(&rest, '\n');
		struct pl ln = {rest.p, nl ? (size_t)(nl - rest.p) : rest.l};
		const char *colon = pl_strchr(&ln, ':');
		struct pl name, val;

		pl_advance(&rest, ln.l + (nl ? 1 : 0));
		trim(&ln);
		if (!ln.l)
			continue;

		if (!colon) {
			*why = "a line is not NAME: VALUE";
			return EBADMSG;
		}

		name.p = ln.p;
		name.l = (size_t)(colon - ln.p);
		val.p = colon + 1;
		val.l = ln.l - name.l - 1;
		trim(&name);
		trim(&val);

		if (!pl_strcasecmp(&name, "Messages-Waiting")) {
			if (waiting_parse(&s.waiting, &val)) {
				*why = "Messages-Waiting is not yes or no";
				return EBADMSG;
			}
			status = true;
		}
		else if (!pl_strcasecmp(&name, "Voice-Message")) {
			if (counts_parse(&s, &val, why))
				return EBADMSG;
		}
	}

	if (!status) {
		*why = "no Messages-Waiting line";
		return EBADMSG;
	}

	*sum = s;

	return 0;
}


/**
 * The server that should hold the line's voicemail subscription: the
 * working one, unless it says mwi=no. NULL: none.
 */
struct sfo_server *sfo_mwi_server(const struct sfo_line *line)
{
	struct sfo_server *w = line->working;

	return w && !w->no_mwi ? w : NULL;
}


static bool reason_is(const struct sfo_sub_end *end, const char *reason)
{
	return end->terminated && !str_casecmp(end->reason, reason);
}


/**
 * When to subscribe again after a subscription ended (RFC 6665 4.1.3):
 * at once after "deactivated", "timeout" or a 481 (the notifier forgot
 * it), backing off if it keeps ending so; after Retry-After when given
 * ("probation", "giveup", 5xx); never after "rejected", "noresource",
 * "invariant" or an answer that the server has no such event or user.
 * Otherwise (no answer, other codes) with the line's back-off.
 *
 * @return ms to wait, or -1 for never (until the working server changes)
 */
int64_t sfo_resubscribe_ms(const struct sfo_line *line,
			   const struct sfo_sub_end *end, unsigned fails,
			   uint32_t rnd)
{
	uint32_t ra = end->retry_after;

	if (reason_is(end, "rejected") || reason_is(end, "noresource") ||
	    reason_is(end, "invariant"))
		return -1;

	switch (end->scode) {

	case 403: case 404: case 405: case 489: case 501: case 603:
		return -1;

	default:
		break;
	}

	if (ra)
		return (int64_t)(ra < SFO_RETRY_AFTER_MAX ? ra :
				 SFO_RETRY_AFTER_MAX) * 1000;

	if (end->scode == 481 || reason_is(end, "deactivated") ||
	    reason_is(end, "timeout"))
		return fails > 1 ? sfo_backoff_ms(line, fails - 1, rnd) : 0;

	return sfo_backoff_ms(line, fails ? fails : 1, rnd);
}


/** A NOTIFY of the line's subscription through srv said sum */
void sfo_mwi_notified(struct sfo_line *line, const struct sfo_server *srv,
		      const struct sfo_summary *sum)
{
	line->mwi.held = true;
	line->mwi.prio = srv->prio;
	line->mwi.sum = *sum;
}


/** The line holds no voicemail subscription any more */
void sfo_mwi_dropped(struct sfo_line *line)
{
	memset(&line->mwi, 0, sizeof(line->mwi));
}


/** "3 new, 5 old, waiting (server 2)", "none" without a subscription */
int sfo_mwi_print(struct re_printf *pf, const struct sfo_line *line)
{
	const struct sfo_mwi *m = &line->mwi;

	if (!m->held)
		return re_hprintf(pf, "none");

	return re_hprintf(pf, "%u new, %u old, %s (server %u)",
			  m->sum.new_msgs, m->sum.old_msgs,
			  m->sum.waiting ? "waiting" : "nothing waiting",
			  m->prio);
}
