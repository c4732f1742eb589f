/**
 * @file follow.c  A subscription that follows a line's working server
 *
 * What a line subscribes to (its voicemail, mwi.c; a contact's presence,
 * presence.c) goes through one server at a time: the one the line works
 * through. On a switch the new subscription is made first and the old
 * one ended once the new one brought its first NOTIFY (make before
 * break); after that nothing from the old server counts. One the server
 * ends is renewed as RFC 6665 says (core/mwi.c), while that server is
 * still the one to hold it.
 */
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"


enum {
	LOG_EVERY = 60000,       /* ms between two lines of one kind     */
};

/* What follows a working server: the line's voicemail, or its
 * subscription to one contact */
struct follow {
	const struct follow_kind *kind;
	struct sfo_line *line;
	char *peer;              /* whom it subscribes to; NULL: the
				    line's own account                   */
	void *arg;
	struct list subs;        /* the current one is last              */
};

/* One subscription of it through one server */
struct fsub {
	struct le le;
	struct follow *f;
	struct sfo_server *srv;
	char *uri;               /* the peer as that server reaches it   */
	struct sipsub *sub;
	struct tmr tmr;          /* subscribe again after an end         */
	unsigned fails;          /* ends in a row without a NOTIFY       */
	bool heard;              /* a NOTIFY came: it holds the state    */
};

/* What a notifier did wrong (the core's texts, one per kind), logged
 * once a minute per kind at most: a flood is not a flood of lines */
struct bad {
	const char *why;
	uint64_t logged;
	unsigned count;
};

static struct bad badv[8];


static void fsub_destructor(void *arg)
{
	struct fsub *fs = arg;

	tmr_cancel(&fs->tmr);
	list_unlink(&fs->le);
	mem_deref(fs->sub);      /* un-SUBSCRIBE, if it was subscribed   */
	mem_deref(fs->uri);
}


static void follow_destructor(void *arg)
{
	struct follow *f = arg;

	list_flush(&f->subs);
	mem_deref(f->peer);
}


static int what_print(struct re_printf *pf, const struct follow *f)
{
	if (!f->peer)
		return re_hprintf(pf, "%s", f->kind->what);

	return re_hprintf(pf, "%s of %s", f->kind->what, f->peer);
}


static struct bad *bad_of(const char *why)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(badv); i++) {
		struct bad *b = &badv[i];

		if (!b->why || b->why == why) {
			b->why = why;
			return b;
		}
	}

	return &badv[ARRAY_SIZE(badv) - 1];
}


/**
 * A NOTIFY of f through srv that could not be read: logged once a
 * minute per kind of fault, with how many there were
 */
void follow_bad(const struct follow *f, const struct sfo_server *srv,
		const char *why)
{
	struct bad *b = bad_of(why);
	uint64_t now = shell_now();

	++b->count;
	if (b->logged && now < b->logged + LOG_EVERY)
		return;

	warning("srvfailover: %s: server %u %s: %H NOTIFY ignored: %s"
		" (%u such since the last line)\n", f->line->user,
		srv->prio, srv->uri, what_print, f, why, b->count);
	b->logged = now;
	b->count = 0;
}


static struct fsub *current(const struct follow *f)
{
	return list_ledata(list_tail(&f->subs));
}


/* Every other subscription: the new one holds the state */
static void drop_others(const struct fsub *keep)
{
	struct le *le = list_head(&keep->f->subs);

	while (le) {
		struct fsub *fs = le->data;

		le = le->next;
		if (fs != keep)
			mem_deref(fs);
	}
}


static void notify_handler(struct sip *sip, const struct sip_msg *msg,
			   void *arg)
{
	struct fsub *fs = arg;
	struct follow *f = fs->f;

	(void)sip_treply(NULL, sip, msg, 200, "OK");

	/* an initial NOTIFY may carry no state yet */
	if (!mbuf_get_left(msg->mb))
		return;

	if (!f->kind->notifyh(f, fs->srv, msg, !fs->heard))
		return;

	fs->heard = true;
	fs->fails = 0;

	/* the new server answered: the old one's subscription ends */
	if (current(f) == fs)
		drop_others(fs);
}


static int auth_handler(char **username, char **password,
			const char *realm, void *arg)
{
	return account_auth(arg, username, password, realm);
}


static void close_handler(int err, const struct sip_msg *msg,
			  const struct sipevent_substate *ss, void *arg);


static int subscribe(struct fsub *fs)
{
	const struct follow_kind *k = fs->f->kind;
	struct ua *ua = fs->srv->ua;
	const char *aor = account_aor(ua_account(ua));
	const char *routev[1];

	routev[0] = ua_outbound(ua);

	return sipevent_subscribe(&fs->sub, uag_sipevent_sock(),
				  fs->uri ? fs->uri : aor, NULL, aor,
				  k->event, NULL, k->expires, ua_cuser(ua),
				  routev, routev[0] ? 1 : 0, auth_handler,
				  ua_account(ua), true, NULL, notify_handler,
				  close_handler, fs, "Accept: %s\r\n",
				  k->accept);
}


static void again_handler(void *arg)
{
	struct fsub *fs = arg;
	int err;

	err = subscribe(fs);
	if (err)
		warning("srvfailover: %s: %H subscription through server"
			" %u: %m\n", fs->f->line->user, what_print, fs->f,
			fs->srv->prio, err);
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


/* The server ended it, or it failed: subscribe again as RFC 6665 says,
 * while this server is still the one that should hold it */
static void close_handler(int err, const struct sip_msg *msg,
			  const struct sipevent_substate *ss, void *arg)
{
	struct fsub *fs = arg;
	struct follow *f = fs->f;
	struct sfo_sub_end end;
	int64_t wait;

	fs->sub = mem_deref(fs->sub);
	end_of(&end, err, msg, ss);

	if (fs->heard)
		f->kind->droph(f);

	if (current(f) != fs) {
		mem_deref(fs);
		return;
	}

	fs->heard = false;
	wait = sfo_resubscribe_ms(f->line, &end, ++fs->fails, rand_u32());

	info("srvfailover: %s: %H subscription through server %u ended"
	     " (%H): %s\n", f->line->user, what_print, f, fs->srv->prio,
	     end_print, &end, wait < 0 ? "not subscribing again" :
	     "subscribing again");

	if (wait < 0)
		return;

	tmr_start(&fs->tmr, (uint64_t)wait, again_handler, fs);
}


/**
 * Something to follow the line's working server
 *
 * @param fp    Where it is returned (mem_deref() un-SUBSCRIBEs)
 * @param kind  The event, and what to do with its NOTIFYs
 * @param line  The line
 * @param peer  Whom to subscribe to: a URI at one of the line's servers
 *              is the same user at the server used; NULL: the line
 * @param arg   For kind's handlers (follow_arg())
 */
int follow_alloc(struct follow **fp, const struct follow_kind *kind,
		 struct sfo_line *line, const char *peer, void *arg)
{
	struct follow *f;
	int err = 0;

	f = mem_zalloc(sizeof(*f), follow_destructor);
	if (!f)
		return ENOMEM;

	f->kind = kind;
	f->line = line;
	f->arg = arg;
	if (peer)
		err = str_dup(&f->peer, peer);

	if (err)
		mem_deref(f);
	else
		*fp = f;

	return err;
}


/**
 * Hold the subscription through srv: made there if it is not, the old
 * one kept until the new one is answered; srv NULL: none at all
 */
void follow_move(struct follow *f, struct sfo_server *srv)
{
	struct fsub *cur = current(f), *fs;
	int err;

	if (cur && cur->srv == srv)
		return;

	/* never answered: nothing to keep it for */
	if (cur && !cur->heard)
		mem_deref(cur);

	if (!srv) {
		follow_end(f);
		return;
	}

	fs = mem_zalloc(sizeof(*fs), fsub_destructor);
	if (!fs)
		return;

	fs->f = f;
	fs->srv = srv;
	tmr_init(&fs->tmr);
	list_append(&f->subs, &fs->le, fs);

	err = f->peer ? sfo_request_target(&fs->uri, srv, f->peer) : 0;
	if (!err)
		err = subscribe(fs);
	if (err) {
		warning("srvfailover: %s: %H subscription through server"
			" %u: %m\n", f->line->user, what_print, f, srv->prio,
			err);
		mem_deref(fs);
	}
}


/** A server's user agent goes: its subscription first */
void follow_server_gone(struct follow *f, const struct sfo_server *srv)
{
	struct le *le = list_head(&f->subs);

	while (le) {
		struct fsub *fs = le->data;

		le = le->next;
		if (fs->srv != srv)
			continue;

		if (fs->heard)
			f->kind->droph(f);
		mem_deref(fs);
	}
}


/** No subscription any more (un-SUBSCRIBE what there is) */
void follow_end(struct follow *f)
{
	bool held = false;
	struct le *le;

	LIST_FOREACH(&f->subs, le)
		held |= ((struct fsub *)le->data)->heard;

	list_flush(&f->subs);
	if (held)
		f->kind->droph(f);
}


void *follow_arg(const struct follow *f)
{
	return f->arg;
}


struct sfo_line *follow_line(const struct follow *f)
{
	return f->line;
}


/** baresip quits: the fault counts start again with the module */
void follow_close(void)
{
	memset(badv, 0, sizeof(badv));
}
