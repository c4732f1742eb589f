/**
 * @file policy.c  The registration modes: where a line should be
 *
 * parallel:   every active server registered; the working server is the
 *             registered one of highest priority.
 * cisco:      only the target is registered: the reachable server of
 *             highest priority. The others are checked with OPTIONS.
 * sequential: only the target is registered: the first server that has
 *             not failed. Higher ones are probed with REGISTER at the
 *             fallback interval.
 *
 * Fail-back to a higher server follows the line's policy, and never
 * leaves a server that carries a call.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "sfo_core.h"


/* Not to be used: deactivated, or a DNS name without a target yet */
static bool off(const struct sfo_server *s)
{
	return s->deactivated || s->unresolved;
}


/* Parallel mode registers one target of a DNS name at a time: a target
 * waits while one before it is registered or has not failed yet */
static bool covered(const struct sfo_line *line, const struct sfo_server *s)
{
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		const struct sfo_server *o = le->data;

		if (o == s)
			break;

		if (o->prio != s->prio || off(o))
			continue;

		if (o->reg == SFO_REG_OK ||
		    (!o->reg_fails && o->alive != SFO_ALIVE_DOWN))
			return true;
	}

	return false;
}


/* The server the line is on now, or is heading for */
static struct sfo_server *current(const struct sfo_line *line)
{
	return line->mode == SFO_PARALLEL ? line->working : line->target;
}


static bool usable(const struct sfo_line *line, const struct sfo_server *s)
{
	if (off(s))
		return false;

	if (line->mode == SFO_PARALLEL)
		return s->reg == SFO_REG_OK;

	return s->reg != SFO_REG_FAILED && s->alive != SFO_ALIVE_DOWN;
}


static bool candidate(const struct sfo_line *line,
		      const struct sfo_server *s, uint64_t now)
{
	if (off(s))
		return false;

	if (s->reg == SFO_REG_OK)
		return true;

	switch (line->mode) {

	case SFO_CISCO:
		return s->alive == SFO_ALIVE_UP && now >= s->retry_at;

	case SFO_SEQUENTIAL:
		return s->alive != SFO_ALIVE_DOWN;

	default:
		return false;
	}
}


/* Not known yet: cisco's check of it, or the DNS answer for a name */
static bool pending(const struct sfo_line *line, const struct sfo_server *s)
{
	if (s->deactivated || s->alive != SFO_ALIVE_UNKNOWN)
		return false;

	if (s->unresolved)
		return true;

	return line->mode == SFO_CISCO && s->reg != SFO_REG_FAILED;
}


static bool waiting(const struct sfo_line *line)
{
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		if (pending(line, le->data))
			return true;
	}

	return false;
}


/* Highest-priority candidate. A higher server not known yet is waited
 * for, rather than register with a lower one and move again a moment
 * later (and send it a REGISTER its mode does not call for). */
static struct sfo_server *best(const struct sfo_line *line, uint64_t now)
{
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		struct sfo_server *s = le->data;

		if (candidate(line, s, now))
			return s;

		if (pending(line, s))
			return NULL;
	}

	return NULL;
}


static bool may_fail_back(const struct sfo_line *line,
			  const struct sfo_server *cur,
			  const struct sfo_server *to, uint64_t now)
{
	if (cur->calls)
		return false;

	if (!line->degraded)
		return true;

	switch (line->fb) {

	case SFO_FB_PROBES:
		return to->good >= line->fb_value;

	case SFO_FB_DELAY:
		return now >= line->switched_at + line->fb_value * 1000ULL;

	case SFO_FB_NEVER:
		return false;

	default:
		return true;
	}
}


/**
 * Where the line should be: the working server (parallel) or the
 * target (cisco, sequential). *failback tells a return to a higher one.
 */
struct sfo_server *sfo_choose(const struct sfo_line *line, uint64_t now,
			      bool *failback)
{
	struct sfo_server *cur = current(line), *b;

	*failback = false;

	if (cur && !usable(line, cur))
		cur = NULL;

	b = best(line, now);

	if (!cur)
		return b;

	if (!b || b->order >= cur->order || !may_fail_back(line, cur, b, now))
		return cur;

	*failback = true;

	return b;
}


bool sfo_wants_registered(const struct sfo_line *line,
			  const struct sfo_server *s)
{
	const struct sfo_server *t = line->target;

	if (off(s))
		return false;

	if (line->mode == SFO_PARALLEL)
		return !covered(line, s);

	if (s == t)
		return true;

	/* a call keeps its server registered until it ends */
	if (s->reg == SFO_REG_OK && s->calls)
		return true;

	/* make before break: keep the old one until the new one is in */
	if (s == line->working && s->reg == SFO_REG_OK &&
	    t && t->reg != SFO_REG_OK)
		return true;

	return s->probing && s->reg == SFO_REG_PENDING;
}


bool sfo_register_due(const struct sfo_line *line,
		      const struct sfo_server *s, uint64_t now)
{
	if (s->req != SFO_REQ_NONE || !sfo_wants_registered(line, s))
		return false;

	if (s->reg != SFO_REG_IDLE && s->reg != SFO_REG_FAILED)
		return false;

	/* one that did not answer at all is asked first (an OPTIONS the
	 * module can stop), not sent a REGISTER libre retransmits for 32 s
	 * whatever the module decides */
	if (s->silent)
		return false;

	return now >= s->retry_at;
}


bool sfo_probe_due(const struct sfo_line *line,
		   const struct sfo_server *s, uint64_t now)
{
	const struct sfo_server *t = line->target;

	if (off(s) || s->req != SFO_REQ_NONE)
		return false;

	/* the registered ones are watched with OPTIONS in every mode,
	 * unless their refreshes are the watch */
	if (s->reg == SFO_REG_OK)
		return !line->ka_register && now >= s->probe_at;

	if (sfo_wants_registered(line, s))
		return s->silent && now >= s->probe_at;

	switch (line->mode) {

	case SFO_CISCO:
		return now >= s->probe_at;

	case SFO_SEQUENTIAL:
		/* all down: retry every server on the back-off; check one
		 * that did not answer at the fallback interval too (its
		 * failed checks do not move the back-off) */
		if (!t)
			return !waiting(line) && now >= s->retry_at &&
				(!s->silent || now >= s->probe_at);

		if (s->order > t->order || line->fb == SFO_FB_NEVER)
			return false;

		return now >= s->probe_at;

	default:
		return false;
	}
}


enum sfo_state sfo_state_of(const struct sfo_line *line,
			    const struct sfo_server *s)
{
	if (s->deactivated)
		return SFO_ST_DEACTIVATED;

	if (s->unresolved)
		return s->alive == SFO_ALIVE_DOWN ? SFO_ST_UNREACHABLE :
			SFO_ST_STANDBY;

	switch (s->reg) {

	case SFO_REG_OK:
		return line->mode == SFO_PARALLEL && s == line->working ?
			SFO_ST_REGISTERED_WORKING : SFO_ST_REGISTERED;

	case SFO_REG_PENDING:
		/* a refused one's retry: refused until it succeeds */
		return s->refused ? SFO_ST_REG_FAILED : SFO_ST_REGISTERING;

	case SFO_REG_FAILED:
		return SFO_ST_REG_FAILED;

	default:
		break;
	}

	if (line->mode != SFO_CISCO || s->alive == SFO_ALIVE_UNKNOWN)
		return SFO_ST_STANDBY;

	return s->alive == SFO_ALIVE_UP ? SFO_ST_REACHABLE :
		SFO_ST_UNREACHABLE;
}


/**
 * A server above the working one is being registered for the first time
 * (parallel mode at start: the first to answer is working for a moment):
 * what follows the working server (voicemail, presence) waits for the
 * line to settle rather than go there and move again.
 */
bool sfo_line_settling(const struct sfo_line *line)
{
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		const struct sfo_server *srv = le->data;

		if (srv == line->working)
			break;

		if (srv->req == SFO_REQ_REGISTER && !srv->probing &&
		    !srv->reg_fails)
			return true;
	}

	return false;
}
