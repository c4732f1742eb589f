/**
 * @file mwi.c  The line's voicemail subscription, through its working
 *              server, moved with it
 *
 * baresip's mwi.so subscribes through every user agent on its
 * REGISTER_OK and keeps each subscription until that user agent goes: N
 * subscriptions in parallel mode, a stale one after every switch, and
 * its start timer loops forever when a REGISTER_OK comes first. The
 * module's user agents therefore say mwi=no to baresip (config.c), and
 * the module holds one message-summary subscription per line itself,
 * through the working server and moved with it (follow.c), its NOTIFYs
 * raised as baresip's own MWI_NOTIFY events of that server's user
 * agent. Only while mwi.so is loaded: the user asked for voicemail by
 * loading it.
 */
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"
#include "seam.h"


enum {
	MWI_EXPIRES = 600,       /* s, as mwi.so asks                    */
};

static struct list follows;  /* one per line, of struct mwi          */

struct mwi {
	struct le le;
	struct follow *f;
};


static void destructor(void *arg)
{
	struct mwi *m = arg;

	list_unlink(&m->le);
	mem_deref(m->f);         /* un-SUBSCRIBE, if it was subscribed   */
}


/* Only while baresip's mwi.so is loaded: it is how a user asks */
static bool wanted(void)
{
	return mod_find("mwi" MOD_EXT) != NULL;
}


static bool notify_handler(struct follow *f, const struct sfo_server *srv,
			   const struct sip_msg *msg, bool first)
{
	struct sfo_line *line = follow_line(f);
	struct sfo_summary sum;
	const char *why = NULL;
	struct pl body;
	bool changed;

	pl_set_mbuf(&body, msg->mb);
	if (sfo_summary_parse(&sum, &body, &why)) {
		follow_bad(f, srv, why);
		return false;
	}

	changed = first || !line->mwi.held ||
		line->mwi.prio != srv->prio ||
		memcmp(&sum, &line->mwi.sum, sizeof(sum));
	sfo_mwi_notified(line, srv, &sum);

	/* as mwi.so raises it, once per change (a refresh's NOTIFY, or a
	 * flood of them, says nothing new) */
	if (changed)
		seam_mwi_notify(srv->ua, mbuf_buf(msg->mb),
				mbuf_get_left(msg->mb));

	return true;
}


static void drop_handler(struct follow *f)
{
	sfo_mwi_dropped(follow_line(f));
}


static const struct follow_kind kind = {
	"message-summary", "application/simple-message-summary",
	"voicemail", MWI_EXPIRES, notify_handler, drop_handler,
};


static struct mwi *mwi_of(const struct sfo_line *line)
{
	struct le *le;

	LIST_FOREACH(&follows, le) {
		struct mwi *m = le->data;

		if (follow_line(m->f) == line)
			return m;
	}

	return NULL;
}


/**
 * The line's working server may have changed (called after every event
 * the core took): move its subscription there. Without a working
 * server, or while the line settles, what there is stays (nothing
 * better to move to yet).
 */
void mwi_update(struct sfo_line *line)
{
	struct mwi *m;

	if (!wanted() || !line->working || sfo_line_settling(line))
		return;

	m = mwi_of(line);
	if (!m) {
		m = mem_zalloc(sizeof(*m), destructor);
		if (!m || follow_alloc(&m->f, &kind, line, NULL, NULL)) {
			mem_deref(m);
			return;
		}
		list_append(&follows, &m->le, m);
	}

	follow_move(m->f, sfo_mwi_server(line));
}


/** A server's user agent goes: its subscriptions first */
void mwi_server_gone(const struct sfo_server *srv)
{
	struct mwi *m = mwi_of(srv->line);

	if (m)
		follow_server_gone(m->f, srv);
}


/** The line goes (reload): its subscription first */
void mwi_line_gone(const struct sfo_line *line)
{
	mem_deref(mwi_of(line));
}


/** baresip quits, or the module goes: un-SUBSCRIBE everything */
void mwi_close(void)
{
	list_flush(&follows);
	follow_close();
}
