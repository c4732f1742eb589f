/**
 * @file reload.c  A changed srvfailover file applied to a running line
 *
 * A server whose text in the file did not change keeps its state, its
 * registration and its figures, and nothing is sent to it because of
 * the reload (it may only move in the order). A new server starts as the
 * mode wants; a removed one is un-REGISTERed and goes; a changed one is
 * a removed one and a new one. A server given as a DNS name keeps its
 * targets while its entry is the same. The line's own parameters (mode,
 * fail-back, intervals, codes) take their new values.
 */
#include <string.h>
#include <re.h>
#include "sfo_core.h"


/* libre's str_cmp() finds two NULLs different */
static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}


/* The same text in the file: address, account parameters, the module's
 * server parameters */
static bool same_server(const struct sfo_server *a,
			const struct sfo_server *b)
{
	const char *ta = a->dns ? a->entry : a->account;
	const char *tb = b->dns ? b->entry : b->account;

	return same_str(ta, tb) && same_str(a->dns, b->dns) &&
		a->regint == b->regint && a->rwait == b->rwait &&
		a->retries == b->retries &&
		a->no_mwi == b->no_mwi && a->pubint == b->pubint;
}


static bool same_params(const struct sfo_line *a, const struct sfo_line *b)
{
	return a->mode == b->mode && a->fb == b->fb &&
		a->fb_value == b->fb_value &&
		a->probe_interval == b->probe_interval &&
		a->fallback_interval == b->fallback_interval &&
		a->retry_base == b->retry_base &&
		a->retry_max == b->retry_max &&
		a->ka_register == b->ka_register &&
		a->ka_loss == b->ka_loss &&
		!memcmp(&a->codes, &b->codes, sizeof(a->codes));
}


/**
 * Nothing to do for this line: the same servers, in the same order,
 * with the same parameters
 */
bool sfo_line_same(const struct sfo_line *line, const struct sfo_line *fresh)
{
	struct le *a, *b;

	if (!same_params(line, fresh))
		return false;

	/* a DNS name's targets stand for its one entry in the file */
	a = list_head(&line->servers);
	b = list_head(&fresh->servers);
	while (a && b) {
		const struct sfo_server *s = a->data;

		if (!same_server(s, b->data) || s->prio != ((struct
		    sfo_server *)b->data)->prio)
			return false;

		while (a && ((const struct sfo_server *)a->data)->prio ==
		       s->prio)
			a = a->next;
		b = b->next;
	}

	return !a && !b;
}


/** A call goes through one of the line's servers */
bool sfo_line_busy(const struct sfo_line *line)
{
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		if (((const struct sfo_server *)le->data)->calls)
			return true;
	}

	return false;
}


/** The line goes: every server is stopped and dropped */
void sfo_line_stop(struct sfo_line *line)
{
	struct le *le;

	while ((le = list_head(&line->servers)))
		sfo_server_drop(line, le->data);
}


/* The running servers (a DNS name's targets: all of them) that are the
 * fresh server's text, moved to out in their order */
static bool take_same(struct list *out, struct sfo_line *line,
		      const struct sfo_server *f)
{
	unsigned prio = 0;
	struct le *le = list_head(&line->servers);

	while (le) {
		struct sfo_server *s = le->data;

		le = le->next;

		if (prio ? s->prio != prio : !same_server(s, f))
			continue;

		prio = s->prio;
		list_unlink(&s->le);
		s->prio = f->prio;
		list_append(out, &s->le, s);
	}

	return prio != 0;
}


static void take_params(struct sfo_line *line, const struct sfo_line *f,
			uint64_t now)
{
	line->fb = f->fb;
	line->fb_value = f->fb_value;
	line->probe_interval = f->probe_interval;
	line->fallback_interval = f->fallback_interval;
	line->retry_base = f->retry_base;
	line->retry_max = f->retry_max;
	line->ka_register = f->ka_register;
	line->ka_loss = f->ka_loss;
	line->codes = f->codes;
	line->cfg_line = f->cfg_line;
	sfo_set_mode(line, f->mode, now);
}


/**
 * Apply the line's new text in the file
 *
 * @param line   The running line (its ops set)
 * @param fresh  The same user's line as just parsed; its new servers
 *               move to line, the rest stays for the caller to free
 * @param now    Time in milliseconds
 */
void sfo_line_update(struct sfo_line *line, struct sfo_line *fresh,
		     uint64_t now)
{
	struct list out = LIST_INIT;
	struct le *le;

	/* the new order: the same servers kept, the others the fresh ones */
	while ((le = list_head(&fresh->servers))) {
		struct sfo_server *f = le->data;

		list_unlink(le);
		if (take_same(&out, line, f)) {
			mem_deref(f);
			continue;
		}

		f->line = line;
		f->fresh = true;
		list_append(&out, &f->le, f);
	}

	/* what is left of the old ones went from the file */
	sfo_line_stop(line);

	while ((le = list_head(&out))) {
		list_unlink(le);
		list_append(&line->servers, le, le->data);
	}

	sfo_line_renumber(line);

	LIST_FOREACH(&line->servers, le) {
		struct sfo_server *s = le->data;

		if (!s->fresh)
			continue;

		s->fresh = false;
		if (line->ops && line->ops->added &&
		    line->ops->added(s, line->arg))
			s->alive = SFO_ALIVE_DOWN;
	}

	take_params(line, fresh, now);
	sfo_tick(line, now);
}
