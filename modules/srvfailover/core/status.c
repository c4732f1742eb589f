/**
 * @file status.c  Status of every line and server: a table and JSON
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "sfo_core.h"


static int64_t secs(uint64_t since, uint64_t now)
{
	return now > since ? (int64_t)((now - since) / 1000) : 0;
}


static int server_print(struct re_printf *pf, const struct sfo_server *s,
			uint64_t now)
{
	char rtt[16] = "-";

	if (s->rtt >= 0)
		re_snprintf(rtt, sizeof(rtt), "%d ms", s->rtt);

	return re_hprintf(pf, "  %-4u %-24s %-5s %-19s %6llds  %-5u %-8s"
			  " %s\n", s->prio, s->uri, s->transport,
			  sfo_state_name(s->state), secs(s->since, now),
			  s->failures, rtt, s->last_text);
}


static int line_print(struct re_printf *pf, const struct sfo_line *line,
		      uint64_t now)
{
	struct le *le;
	int err;

	err = re_hprintf(pf, "line %s: mode %s, fail-back %H, working ",
			 line->user, sfo_mode_name(line->mode),
			 sfo_failback_print, line);
	err |= line->working ?
		re_hprintf(pf, "%u", line->working->prio) :
		re_hprintf(pf, "none");
	err |= re_hprintf(pf, ", failovers %u, failbacks %u\n",
			  line->failovers, line->failbacks);
	if (line->reason[0])
		err |= re_hprintf(pf, "  last switch: %s\n", line->reason);
	if (line->mwi.held)
		err |= re_hprintf(pf, "  voicemail: %H\n", sfo_mwi_print,
				  line);
	if (line->published)
		err |= re_hprintf(pf, "  presence: %H\n", sfo_presence_print,
				  line);

	err |= re_hprintf(pf, "  %-4s %-24s %-5s %-19s %7s  %-5s %-8s %s\n",
			  "prio", "server", "tp", "state", "since", "fails",
			  "rtt", "last");

	LIST_FOREACH(&line->servers, le)
		err |= server_print(pf, le->data, now);

	return err;
}


/**
 * The short device summary: one line per line, the working server first.
 * Deactivated servers are left out, as on the Duetto's device page.
 */
int sfo_status_summary(struct re_printf *pf, const struct list *lines)
{
	struct le *le, *se;
	int err = 0;

	LIST_FOREACH(lines, le) {
		const struct sfo_line *line = le->data;
		const char *sep = " ";

		err |= re_hprintf(pf, "%s:", line->user);

		LIST_FOREACH(&line->servers, se) {
			const struct sfo_server *s = se->data;

			if (s->deactivated)
				continue;

			err |= re_hprintf(pf, "%s%s %s%s", sep, s->uri,
					  sfo_state_name(s->state),
					  s == line->working ? " (working)" :
					  "");
			sep = ", ";
		}

		err |= re_hprintf(pf, "\n");
	}

	return err;
}


/** The table for people */
int sfo_status_print(struct re_printf *pf, const struct list *lines,
		     uint64_t now)
{
	struct le *le;
	int err = 0;

	if (list_isempty(lines))
		return re_hprintf(pf, "srvfailover: no lines configured\n");

	LIST_FOREACH(lines, le)
		err |= line_print(pf, le->data, now);

	return err;
}


static int server_json(struct odict *arr, const struct sfo_server *s,
		       uint64_t now)
{
	struct odict *o;
	char idx[8];
	int err;

	err = odict_alloc(&o, 16);
	if (err)
		return err;

	err |= odict_entry_add(o, "prio", ODICT_INT, (int64_t)s->prio);
	err |= odict_entry_add(o, "uri", ODICT_STRING, s->uri);
	err |= odict_entry_add(o, "state", ODICT_STRING,
			       sfo_state_name(s->state));
	err |= odict_entry_add(o, "transport", ODICT_STRING, s->transport);
	err |= odict_entry_add(o, "since_s", ODICT_INT, secs(s->since, now));
	err |= odict_entry_add(o, "last_code", ODICT_INT,
			       (int64_t)s->last_code);
	err |= odict_entry_add(o, "last_text", ODICT_STRING, s->last_text);
	err |= odict_entry_add(o, "failures", ODICT_INT,
			       (int64_t)s->failures);
	err |= s->rtt >= 0 ?
		odict_entry_add(o, "rtt_ms", ODICT_INT, (int64_t)s->rtt) :
		odict_entry_add(o, "rtt_ms", ODICT_NULL);
	err |= odict_entry_add(o, "calls", ODICT_INT, (int64_t)s->calls);
	if (s->dns)
		err |= odict_entry_add(o, "dns", ODICT_STRING, s->dns);

	re_snprintf(idx, sizeof(idx), "%u", s->order);
	if (!err)
		err = odict_entry_add(arr, idx, ODICT_OBJECT, o);

	mem_deref(o);

	return err;
}


/* "mwi": null, or {"prio":2,"waiting":true,"new":3,"old":5} */
static int mwi_json(struct odict *o, const struct sfo_mwi *m)
{
	struct odict *v;
	int err;

	if (!m->held)
		return odict_entry_add(o, "mwi", ODICT_NULL);

	err = odict_alloc(&v, 4);
	if (err)
		return err;

	err |= odict_entry_add(v, "prio", ODICT_INT, (int64_t)m->prio);
	err |= odict_entry_add(v, "waiting", ODICT_BOOL, m->sum.waiting);
	err |= odict_entry_add(v, "new", ODICT_INT, (int64_t)m->sum.new_msgs);
	err |= odict_entry_add(v, "old", ODICT_INT, (int64_t)m->sum.old_msgs);
	if (!err)
		err = odict_entry_add(o, "mwi", ODICT_OBJECT, v);

	mem_deref(v);

	return err;
}


/* "presence": null, or {"prio":1,"status":"Online"}: published */
static int presence_json(struct odict *o, const struct sfo_line *line)
{
	struct odict *v;
	int err;

	if (!line->published)
		return odict_entry_add(o, "presence", ODICT_NULL);

	err = odict_alloc(&v, 2);
	if (err)
		return err;

	err |= odict_entry_add(v, "prio", ODICT_INT,
			       (int64_t)line->published);
	err |= odict_entry_add(v, "status", ODICT_STRING,
			       sfo_presence_name(line->presence));
	if (!err)
		err = odict_entry_add(o, "presence", ODICT_OBJECT, v);

	mem_deref(v);

	return err;
}


static int line_json(struct odict *arr, const struct sfo_line *line,
		     unsigned i, uint64_t now)
{
	struct odict *o = NULL, *servers = NULL;
	char idx[8], fb[24];
	struct le *le;
	int err;

	err  = odict_alloc(&o, 16);
	err |= odict_alloc(&servers, 8);
	if (err)
		goto out;

	re_snprintf(fb, sizeof(fb), "%H", sfo_failback_print, line);

	err |= odict_entry_add(o, "user", ODICT_STRING, line->user);
	err |= odict_entry_add(o, "mode", ODICT_STRING,
			       sfo_mode_name(line->mode));
	err |= line->working ?
		odict_entry_add(o, "working", ODICT_INT,
				(int64_t)line->working->prio) :
		odict_entry_add(o, "working", ODICT_NULL);

	LIST_FOREACH(&line->servers, le)
		err |= server_json(servers, le->data, now);

	err |= odict_entry_add(o, "servers", ODICT_ARRAY, servers);
	err |= odict_entry_add(o, "failback", ODICT_STRING, fb);
	err |= odict_entry_add(o, "failovers", ODICT_INT,
			       (int64_t)line->failovers);
	err |= odict_entry_add(o, "failbacks", ODICT_INT,
			       (int64_t)line->failbacks);
	err |= odict_entry_add(o, "last_switch", ODICT_STRING, line->reason);
	err |= mwi_json(o, &line->mwi);
	err |= presence_json(o, line);

	re_snprintf(idx, sizeof(idx), "%u", i);
	if (!err)
		err = odict_entry_add(arr, idx, ODICT_OBJECT, o);

 out:
	mem_deref(servers);
	mem_deref(o);

	return err;
}


/**
 * The status as an odict: {"lines":[...]} (the json command's object;
 * fleet.c adds to it)
 */
int sfo_status_odict(struct odict **op, const struct list *lines,
		     uint64_t now)
{
	struct odict *top = NULL, *arr = NULL;
	struct le *le;
	unsigned i = 0;
	int err;

	err  = odict_alloc(&top, 4);
	err |= odict_alloc(&arr, 8);
	if (err)
		goto out;

	LIST_FOREACH(lines, le)
		err |= line_json(arr, le->data, i++, now);

	err |= odict_entry_add(top, "lines", ODICT_ARRAY, arr);

 out:
	mem_deref(arr);
	if (err)
		mem_deref(top);
	else
		*op = top;

	return err;
}


/** One JSON object: {"lines":[...]} */
int sfo_status_json(struct re_printf *pf, const struct list *lines,
		    uint64_t now)
{
	struct odict *top = NULL;
	int err;

	err = sfo_status_odict(&top, lines, now);
	if (!err)
		err = json_encode_odict(pf, top);

	mem_deref(top);

	return err;
}
