/**
 * @file mwi.c  The line's voicemail subscription, through its working
 *              server, moved with it
 *
 * baresip's mwi.so subscribes through every user agent on its
 * REGISTER_OK and keeps each subscription until that user agent goes: N
 * subscriptions in parallel mode, a stale one after every switch, and
 * its start timer loops forever when a REGISTER_OK comes first. The
 * module's user agents therefore say mwi=no to baresip (config.c), and
 * the module holds one message-summary subscription per line itself:
 * through the working server, moved make-before-break (the new one is
 * made first, the old one ended once the new one brought its first
 * NOTIFY), its NOTIFYs raised as baresip's own MWI_NOTIFY events of that
 * server's user agent. Only while mwi.so is loaded: the user asked for
 * voicemail by loading it.
 */
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"


enum {
	MWI_EXPIRES = 600,       /* s, as mwi.so asks                    */
	LOG_EVERY   = 60000,     /* ms between two lines of one kind     */
};

/* One subscription of a line through one of its servers */
struct mwisub {
	struct le le;
	struct sfo_line *line;
	struct sfo_server *srv;
	struct sipsub *sub;
	struct tmr tmr;          /* subscribe again after an end         */
	unsigned fails;          /* ends in a row without a NOTIFY       */
	bool heard;              /* a NOTIFY came: it holds the lamp     */
};

/* What a notifier did wrong (core/mwi.c's texts, one per kind), logged
 * once a minute per kind at most: a flood is not a flood of lines */
struct bad {
	const char *why;
	uint64_t logged;
	unsigned count;
};

static struct {
	struct list subs;        /* the current one of a line is last    */
	struct bad badv[8];
} mwi;


static void destructor(void *arg)
{
	struct mwisub *ms = arg;

	tmr_cancel(&ms->tmr);
	list_unlink(&ms->le);
	mem_deref(ms->sub);      /* un-SUBSCRIBE, if it was subscribed   */
}


/* Only while baresip's mwi.so is loaded: it is how a user asks */
static bool wanted(void)
{
	return mod_find("mwi" MOD_EXT) != NULL;
}


static struct bad *bad_of(const char *why)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mwi.badv); i++) {
		struct bad *b = &mwi.badv[i];

		if (!b->why || b->why == why) {
			b->why = why;
			return b;
		}
	}

	return &mwi.badv[ARRAY_SIZE(mwi.badv) - 1];
}


static void bad(const struct sfo_server *srv, const char *why)
{
	struct bad *b = bad_of(why);
	uint64_t now = shell_now();

	++b->count;
	if (b->logged && now < b->logged + LOG_EVERY)
		return;

	warning("srvfailover: %s: server %u %s: voicemail NOTIFY ignored:"
		" %s (%u such since the last line)\n", srv->line->user,
		srv->prio, srv->uri, why, b->count);
	b->logged = now;
	b->count = 0;
}


/* The line's newest subscription: the one its working server holds or
 * is being given (an older one waits for it to be answered) */
static struct mwisub *current(const struct sfo_line *line)
{
	struct le *le;

	for (le = list_tail(&mwi.subs); le; le = le->prev) {
		struct mwisub *ms = le->data;

		if (ms->line == line)
			return ms;
	}

	return NULL;
}


/* Every other subscription of the line: the new one holds the lamp */
static void drop_others(const struct mwisub *keep)
{
	struct le *le = list_head(&mwi.subs);

	while (le) {
		struct mwisub *ms = le->data;

		le = le->next;
		if (ms != keep && ms->line == keep->line)
			mem_deref(ms);
	}
}


static void notify_handler(struct sip *sip, const struct sip_msg *msg,
			   void *arg)
{
	struct mwisub *ms = arg;
	struct sfo_summary sum;
	const char *why = NULL;
	struct pl body;
	bool changed, first;

	(void)sip_treply(NULL, sip, msg, 200, "OK");

	/* an initial NOTIFY may carry no state yet */
	if (!mbuf_get_left(msg->mb))
		return;

	pl_set_mbuf(&body, msg->mb);
	if (sfo_summary_parse(&sum, &body, &why)) {
		bad(ms->srv, why);
		return;
	}

	first = !ms->heard;
	changed = first || !ms->line->mwi.held ||
		ms->line->mwi.prio != ms->srv->prio ||
		memcmp(&sum, &ms->line->mwi.sum, sizeof(sum));
	ms->heard = true;
	ms->fails = 0;
	sfo_mwi_notified(ms->line, ms->srv, &sum);

	/* the new server answered: the old one's subscription ends */
	if (current(ms->line) == ms)
		drop_others(ms);

	/* as mwi.so raises it, once per change (a refresh's NOTIFY, or a
	 * flood of them, says nothing new) */
	if (changed)
		ua_event(ms->srv->ua, UA_EVENT_MWI_NOTIFY, NULL, "%b",
			 mbuf_buf(msg->mb), mbuf_get_left(msg->mb));
}


static int auth_handler(char **username, char **password,
			const char *realm, void *arg)
{
	return account_auth(arg, username, password, realm);
}


static void close_handler(int err, const struct sip_msg *msg,
			  const struct sipevent_substate *ss, void *arg);


static int subscribe(struct mwisub *ms)
{
	struct ua *ua = ms->srv->ua;
	const char *aor = account_aor(ua_account(ua));
	const char *routev[1];

	routev[0] = ua_outbound(ua);

	return sipevent_subscribe(&ms->sub, uag_sipevent_sock(), aor, NULL,
				  aor, "message-summary", NULL, MWI_EXPIRES,
				  ua_cuser(ua), routev, routev[0] ? 1 : 0,
				  auth_handler, ua_account(ua), true, NULL,
				  notify_handler, close_handler, ms,
				  "Accept: application/simple-message-summary"
				  "\r\n");
}


static void again_handler(void *arg)
{
	struct mwisub *ms = arg;
	int err;

	err = subscribe(ms);
	if (err)
		warning("srvfailover: %s: voicemail subscription through"
			" server %u: %m\n", ms->line->user, ms->srv->prio,
			err);
}


static uint32_t retry_after(const struct sip_msg *msg)
{
	const struct sip_hdr *ra = sip_msg_hdr(msg, SIP_HDR_RETRY_AFTER);
	uint32_t secs = 0;

	if (ra)
		(void)sfo_delta_seconds(&secs, &ra->val);

	return secs;
}


/* What libre says of an end, for core/mwi.c; the reason as it was
 * written (libre knows no "invariant") */
static void end_of(struct sfo_sub_end *end, int err,
		   const struct sip_msg *msg,
		   const struct sipevent_substate *ss)
{
	struct pl v;

	memset(end, 0, sizeof(*end));
	end->err = err;

	if (ss && ss->state == SIPEVENT_TERMINATED) {
		end->terminated = true;
		if (!msg_param_decode(&ss->params, "reason", &v))
			(void)pl_strcpy(&v, end->reason,
					sizeof(end->reason));
		if (pl_isset(&ss->retry_after))
			(void)sfo_delta_seconds(&end->retry_after,
						&ss->retry_after);
	}
	else if (msg && msg->scode >= 300) {
		end->scode = msg->scode;
		end->retry_after = retry_after(msg);
	}
}


static int end_print(struct re_printf *pf, const struct sfo_sub_end *end)
{
	if (end->terminated)
		return re_hprintf(pf, "terminated%s%s", end->reason[0] ?
				  ", reason " : "", end->reason);
	if (end->scode)
		return re_hprintf(pf, "%u", end->scode);

	return re_hprintf(pf, "%m", end->err);
}


/* The server ended it, or it failed: subscribe again as RFC 6665 says
 * (core/mwi.c), while this server is still the one that should hold it */
static void close_handler(int err, const struct sip_msg *msg,
			  const struct sipevent_substate *ss, void *arg)
{
	struct mwisub *ms = arg;
	struct sfo_sub_end end;
	int64_t wait;

	ms->sub = mem_deref(ms->sub);
	end_of(&end, err, msg, ss);

	if (ms->heard)
		sfo_mwi_dropped(ms->line);

	if (current(ms->line) != ms) {
		mem_deref(ms);
		return;
	}

	ms->heard = false;
	wait = sfo_resubscribe_ms(ms->line, &end, ++ms->fails, rand_u32());

	info("srvfailover: %s: voicemail subscription through server %u"
	     " ended (%H): %s\n", ms->line->user, ms->srv->prio, end_print,
	     &end, wait < 0 ? "not subscribing again" :
	     "subscribing again");

	if (wait < 0)
		return;

	tmr_start(&ms->tmr, (uint64_t)wait, again_handler, ms);
}


/**
 * The line's working server may have changed (called after every event
 * the core took): move its subscription there, the old one kept until
 * the new one is answered. Without a working server, or while the line
 * settles, what there is stays (nothing better to move to yet).
 */
void mwi_update(struct sfo_line *line)
{
	struct sfo_server *want;
	struct mwisub *cur, *ms;
	int err;

	if (!wanted() || !line->working || sfo_mwi_settling(line))
		return;

	want = sfo_mwi_server(line);
	cur = current(line);

	if (cur && cur->srv == want)
		return;

	/* never answered: nothing to keep it for */
	if (cur && !cur->heard)
		mem_deref(cur);

	if (!want) {
		mwi_line_gone(line);
		return;
	}

	ms = mem_zalloc(sizeof(*ms), destructor);
	if (!ms)
		return;

	ms->line = line;
	ms->srv = want;
	tmr_init(&ms->tmr);
	list_append(&mwi.subs, &ms->le, ms);

	err = subscribe(ms);
	if (err) {
		warning("srvfailover: %s: voicemail subscription through"
			" server %u: %m\n", line->user, want->prio, err);
		mem_deref(ms);
	}
}


/** A server's user agent goes: its subscriptions first */
void mwi_server_gone(const struct sfo_server *srv)
{
	struct le *le = list_head(&mwi.subs);

	while (le) {
		struct mwisub *ms = le->data;

		le = le->next;
		if (ms->srv != srv)
			continue;

		if (ms->heard)
			sfo_mwi_dropped(ms->line);
		mem_deref(ms);
	}
}


/** The line holds no subscription any more */
void mwi_line_gone(struct sfo_line *line)
{
	struct le *le = list_head(&mwi.subs);

	while (le) {
		struct mwisub *ms = le->data;

		le = le->next;
		if (ms->line == line)
			mem_deref(ms);
	}

	sfo_mwi_dropped(line);
}


/** baresip quits, or the module goes: un-SUBSCRIBE everything */
void mwi_close(void)
{
	list_flush(&mwi.subs);
	memset(mwi.badv, 0, sizeof(mwi.badv));
}
