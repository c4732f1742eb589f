/**
 * @file presence.c  Presence through the line's working server: the
 *                   contacts' subscriptions and the phone's own PUBLISH
 *
 * baresip's presence.so subscribes to every ";presence=p2p" contact
 * through the first user agent in baresip's list, registered or not,
 * straight to the contact's host; it publishes from every user agent
 * that says pubint, standby servers too. While presence.so is loaded
 * (the user asked for presence by loading it), the module takes over:
 *
 * - a p2p contact at one of a line's servers is handed to the module:
 *   removed from baresip's list and added again with ";presence=
 *   srvfailover", which presence.so does not subscribe to (it ends what
 *   it had for it); the module subscribes through the working server,
 *   as the same user there, moved with it (follow.c), and sets the
 *   contact's presence from the server's PIDF;
 * - the module's user agents say pubint=0 to baresip (config.c); the
 *   phone's presence is published through the working server when that
 *   server says pubint, moved with it (the new server's publication is
 *   made first, the old one removed once it is answered, not when that
 *   server is dead); presence.so's online/offline commands set it.
 */
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"


enum {
	PRESENCE_EXPIRES = 600,  /* s, as presence.so asks               */
};

/* A contact whose presence the module holds */
struct watch {
	struct le le;
	struct contact *contact;
	struct follow *f;
};

/* The phone's presence for a line, published through one server */
struct pub {
	struct le le;
	struct sfo_line *line;
	struct sfo_server *srv;  /* NULL: its server went                */
	char *etag;              /* the server's name for it             */
	uint32_t expires;        /* s, as granted                        */
	enum sfo_presence sent;
	struct tmr tmr;          /* refresh, or try again                */
	unsigned fails;
	bool answered;           /* it holds the line's presence         */
};

/* One PUBLISH that is out: libre holds it until its answer */
struct out {
	struct pub *p;
};

static struct {
	struct list watches;
	struct list pubs;        /* the current one of a line is last    */
	struct hook hook;
	struct tmr tmr;          /* after every module has loaded        */
	bool stopping;
} pres;

static struct hook_cmd hookv[] = {
	{"presence_online",  NULL, NULL},    /* 1.0.0 */
	{"presence_offline", NULL, NULL},    /* 1.0.0 */
	{"presence",         NULL, NULL},    /* 1.1.0 */
};


/* Only while baresip's presence.so is loaded: it is how a user asks */
static bool wanted(void)
{
	return mod_find("presence" MOD_EXT) != NULL;
}


static void watch_destructor(void *arg)
{
	struct watch *w = arg;

	list_unlink(&w->le);
	mem_deref(w->f);         /* un-SUBSCRIBE, if it was subscribed   */
	mem_deref(w->contact);
}


static void pub_destructor(void *arg)
{
	struct pub *p = arg;

	tmr_cancel(&p->tmr);
	list_unlink(&p->le);
	mem_deref(p->etag);
}


/* Out of the line's publications; an answer still to come finds it
 * unlinked and does nothing */
static void pub_drop(struct pub *p)
{
	tmr_cancel(&p->tmr);
	list_unlink(&p->le);
	mem_deref(p);
}


static void out_destructor(void *arg)
{
	struct out *o = arg;

	mem_deref(o->p);
}


static bool notify_handler(struct follow *f, const struct sfo_server *srv,
			   const struct sip_msg *msg, bool first)
{
	struct watch *w = follow_arg(f);
	enum sfo_presence st;
	const char *why = NULL;
	struct pl body;
	(void)first;

	pl_set_mbuf(&body, msg->mb);
	if (sfo_pidf_parse(&st, &body, &why)) {
		follow_bad(f, srv, why);
		return false;
	}

	contact_set_presence(w->contact, (enum presence_status)st);

	return true;
}


static void drop_handler(struct follow *f)
{
	struct watch *w = follow_arg(f);

	contact_set_presence(w->contact, PRESENCE_UNKNOWN);
}


static const struct follow_kind kind = {
	"presence", "application/pidf+xml", "presence",
	PRESENCE_EXPIRES, notify_handler, drop_handler,
};


static struct pub *pub_current(const struct sfo_line *line)
{
	struct le *le;

	for (le = list_tail(&pres.pubs); le; le = le->prev) {
		struct pub *p = le->data;

		if (p->line == line)
			return p;
	}

	return NULL;
}


static int etag_print(struct re_printf *pf, const char *etag)
{
	return etag ? re_hprintf(pf, "SIP-If-Match: %s\r\n", etag) : 0;
}


/* A PIDF document of the line's presence, as presence.so writes it */
static int pidf_print(struct re_printf *pf, const struct pub *p)
{
	const char *aor = account_aor(ua_account(p->srv->ua));

	return re_hprintf(pf,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
		"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\r\n"
		"    xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\"\r\n"
		"    xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\"\r\n"
		"    entity=\"%s\">\r\n"
		"  <dm:person id=\"p1\"><rpid:activities/></dm:person>\r\n"
		"  <tuple id=\"t1\">\r\n"
		"    <status><basic>%s</basic></status>\r\n"
		"    <contact>%s</contact>\r\n"
		"  </tuple>\r\n"
		"</presence>\r\n", aor,
		p->line->presence == SFO_PRES_OPEN ? "open" : "closed", aor);
}


static void resp_handler(int err, const struct sip_msg *msg, void *arg);


/*
 * PUBLISH through p's server: with a document when it is new or its
 * state changed, a bare refresh otherwise; expires 0 removes it
 */
static int publish(struct pub *p, bool doc, uint32_t expires)
{
	struct ua *ua = p->srv->ua;
	struct mbuf *mb = mbuf_alloc(1024);
	struct out *o = NULL;
	int err = 0;

	if (!mb)
		return ENOMEM;

	if (doc && expires)
		err = mbuf_printf(mb, "%H", pidf_print, p);

	if (!err && expires) {
		o = mem_zalloc(sizeof(*o), out_destructor);
		if (!o)
			err = ENOMEM;
		else
			o->p = mem_ref(p);
	}

	if (!err)
		err = sip_req_send(ua, "PUBLISH", account_aor(ua_account(ua)),
				   o ? resp_handler : NULL, o,
				   "Event: presence\r\n"
				   "Expires: %u\r\n"
				   "%s%H"
				   "Content-Length: %zu\r\n"
				   "\r\n"
				   "%b", expires, mb->end ?
				   "Content-Type: application/pidf+xml\r\n" :
				   "", etag_print, p->etag, mb->end, mb->buf,
				   mb->end);
	if (err)
		mem_deref(o);
	else if (doc)
		p->sent = p->line->presence;

	mem_deref(mb);

	return err;
}


static void pub_timer(void *arg);


/* Take the publication away from its server (not from a dead one: it
 * would only be sent again and again; it expires there by itself) */
static void unpublish(struct pub *p)
{
	const struct sfo_server *srv = p->srv;

	if (p->answered && srv && srv->ua && srv->alive != SFO_ALIVE_DOWN)
		(void)publish(p, false, 0);

	pub_drop(p);
}


/* The new server holds the line's presence: the others go */
static void unpublish_others(const struct pub *keep)
{
	struct le *le = list_head(&pres.pubs);

	sfo_published(keep->line, keep->srv);

	while (le) {
		struct pub *p = le->data;

		le = le->next;
		if (p != keep && p->line == keep->line)
			unpublish(p);
	}
}


static void pub_failed(struct pub *p, const char *what)
{
	uint64_t wait = sfo_backoff_ms(p->line, ++p->fails, rand_u32());

	warning("srvfailover: %s: presence PUBLISH through server %u: %s;"
		" again in %llu s\n", p->line->user, p->srv->prio, what,
		(unsigned long long)(wait / 1000));

	p->etag = mem_deref(p->etag);
	tmr_start(&p->tmr, wait, pub_timer, p);
}


static void pub_answered(struct pub *p, const struct sip_msg *msg)
{
	const struct sip_hdr *etag = sip_msg_xhdr(msg, "SIP-ETag");
	const struct sip_hdr *exp = sip_msg_hdr(msg, SIP_HDR_EXPIRES);
	uint32_t secs = 0;

	if (!etag) {
		pub_failed(p, "no SIP-ETag in its 2xx");
		return;
	}

	p->etag = mem_deref(p->etag);
	if (pl_strdup(&p->etag, &etag->val)) {
		pub_failed(p, "out of memory");
		return;
	}

	if (!exp || sfo_delta_seconds(&secs, &exp->val) || !secs)
		secs = p->srv->pubint;
	p->expires = min(secs, p->srv->pubint);
	p->answered = true;
	p->fails = 0;

	if (pub_current(p->line) == p)
		unpublish_others(p);

	/* the state changed while the PUBLISH was out */
	if (p->sent != p->line->presence) {
		if (publish(p, true, p->srv->pubint))
			pub_failed(p, "not sent");
		return;
	}

	tmr_start(&p->tmr, p->expires * 900ULL, pub_timer, p);
}


static void resp_handler(int err, const struct sip_msg *msg, void *arg)
{
	struct out *o = arg;
	struct pub *p = o->p;
	char what[64];

	if (msg && msg->scode < 200)
		return;

	/* its line moved on, or its server went */
	if (pres.stopping || !p->srv || !p->le.list) {
		mem_deref(o);
		return;
	}

	if (err)
		re_snprintf(what, sizeof(what), "%m", err);
	else
		re_snprintf(what, sizeof(what), "%u %r", msg->scode,
			    &msg->reason);

	if (!err && msg->scode < 300)
		pub_answered(p, msg);
	else if (!err && msg->scode == 412 && p->etag) {
		/* the server forgot it: publish it anew */
		p->etag = mem_deref(p->etag);
		if (publish(p, true, p->srv->pubint))
			pub_failed(p, "not sent");
	}
	else
		pub_failed(p, what);

	mem_deref(o);
}


static void pub_timer(void *arg)
{
	struct pub *p = arg;

	if (publish(p, !p->etag, p->srv->pubint))
		pub_failed(p, "not sent");
}


/* baresip's presence status of the line's user agents, all of them */
static void status_set(struct sfo_line *line, enum sfo_presence st)
{
	struct le *le;

	line->presence = st;

	LIST_FOREACH(&line->servers, le) {
		struct sfo_server *srv = le->data;

		if (srv->ua)
			ua_presence_status_set(srv->ua,
					       (enum presence_status)st);
	}
}


/* Publish the line's presence through srv (NULL: nowhere) */
static void pub_move(struct sfo_line *line, struct sfo_server *srv)
{
	struct pub *cur = pub_current(line), *p;

	if (cur && cur->srv == srv)
		return;

	/* never answered: nothing to keep it for */
	if (cur && !cur->answered)
		pub_drop(cur);

	if (!srv) {
		sfo_published(line, NULL);
		cur = pub_current(line);
		while (cur) {
			unpublish(cur);
			cur = pub_current(line);
		}
		return;
	}

	/* as presence.so does on a first registration */
	if (line->presence == SFO_PRES_UNKNOWN)
		status_set(line, SFO_PRES_OPEN);

	p = mem_zalloc(sizeof(*p), pub_destructor);
	if (!p)
		return;

	p->line = line;
	p->srv = srv;
	tmr_init(&p->tmr);
	list_append(&pres.pubs, &p->le, p);

	if (publish(p, true, srv->pubint))
		pub_failed(p, "not sent");
}


/**
 * The line's working server may have changed (called after every event
 * the core took): its contacts' subscriptions and its publication move
 * there. Without a working server, or while the line settles, what
 * there is stays.
 */
void presence_update(struct sfo_line *line)
{
	struct le *le;

	if (pres.stopping || !wanted() || !line->working ||
	    sfo_line_settling(line))
		return;

	LIST_FOREACH(&pres.watches, le) {
		struct watch *w = le->data;

		if (follow_line(w->f) == line)
			follow_move(w->f, line->working);
	}

	pub_move(line, sfo_publish_server(line));
}


/** A server's user agent goes: what went through it first */
void presence_server_gone(const struct sfo_server *srv)
{
	struct le *le;

	LIST_FOREACH(&pres.watches, le) {
		struct watch *w = le->data;

		follow_server_gone(w->f, srv);
	}

	le = list_head(&pres.pubs);
	while (le) {
		struct pub *p = le->data;

		le = le->next;
		if (p->srv != srv)
			continue;

		if (p->answered && pub_current(srv->line) == p)
			sfo_published(srv->line, NULL);
		p->srv = NULL;
		pub_drop(p);
	}
}


/** The line goes (reload): its contacts' subscriptions and its
 * publication first (the contacts stay, their presence unknown) */
void presence_line_gone(const struct sfo_line *line)
{
	struct le *le = list_head(&pres.watches);
	struct pub *p;

	while (le) {
		struct watch *w = le->data;

		le = le->next;
		if (follow_line(w->f) == line)
			mem_deref(w);
	}

	while ((p = pub_current(line)))
		unpublish(p);
}


/* Hand a p2p contact at one of a line's servers to the module: the
 * same contact, its presence parameter saying so */
static int take(struct contacts *contacts, struct contact *c,
		struct sfo_line *line, const struct pl *p2p)
{
	bool cur = contacts_current(contacts) == c;
	struct contact *nc = NULL;
	struct watch *w = NULL;
	char *orig = NULL, *text = NULL;
	struct pl pl;
	int err;

	err  = str_dup(&orig, contact_str(c));
	err |= re_sdprintf(&text, "%b%s%s", orig, (size_t)(p2p->p -
			   contact_str(c)), "srvfailover",
			   p2p->p + p2p->l);
	if (err)
		goto out;

	contact_remove(contacts, c);   /* presence.so lets it go */

	pl_set_str(&pl, text);
	err = contact_add(contacts, &nc, &pl);
	if (err) {
		/* as it was, rather than lost */
		pl_set_str(&pl, orig);
		(void)contact_add(contacts, &nc, &pl);
		goto out;
	}

	if (cur)
		contacts_set_current(contacts, nc);

	w = mem_zalloc(sizeof(*w), watch_destructor);
	err = w ? follow_alloc(&w->f, &kind, line, contact_uri(nc), w) :
		ENOMEM;
	if (err)
		goto out;

	w->contact = mem_ref(nc);
	list_append(&pres.watches, &w->le, w);
	info("srvfailover: %s: presence of %s through the line's working"
	     " server\n", line->user, contact_uri(nc));
	presence_update(line);

 out:
	if (err) {
		warning("srvfailover: %s: presence of %s not taken over:"
			" %m\n", line->user, orig ? orig : "a contact", err);
		mem_deref(w);
	}
	mem_deref(orig);
	mem_deref(text);

	return err;
}


/* The p2p contacts at the lines' servers (presence.so has not
 * subscribed yet: it waits a second after loading) */
static void take_contacts(void)
{
	struct contacts *contacts = baresip_contacts();
	struct le *le = list_head(contact_list(contacts));

	while (le) {
		struct contact *c = le->data;
		struct sip_addr *addr = contact_addr(c);
		struct sfo_line *line;
		struct pl val;

		le = le->next;

		if (msg_param_decode(&addr->params, "presence", &val) ||
		    pl_strcasecmp(&val, "p2p"))
			continue;

		line = sfo_line_of_peer(shell_lines(), contact_uri(c));
		if (line)
			(void)take(contacts, c, line, &val);
	}
}


/* presence.so set the status of baresip's current user agent (1.0.0)
 * or of every one (1.1.0): a line whose user agents changed takes it */
static void status_sync(void)
{
	struct le *le, *se;

	if (pres.stopping)
		return;

	LIST_FOREACH(shell_lines(), le) {
		struct sfo_line *line = le->data;
		struct pub *p;

		LIST_FOREACH(&line->servers, se) {
			struct sfo_server *srv = se->data;
			enum sfo_presence st;

			if (!srv->ua)
				continue;

			st = (enum sfo_presence)ua_presence_status(srv->ua);
			if (st != line->presence) {
				status_set(line, st);
				break;
			}
		}

		p = pub_current(line);
		if (p && p->answered && p->sent != line->presence &&
		    publish(p, true, p->srv->pubint))
			pub_failed(p, "not sent");
	}
}


static int online_handler(struct re_printf *pf, void *arg)
{
	int err = hookv[0].orig(pf, arg);

	status_sync();
	return err;
}


static int offline_handler(struct re_printf *pf, void *arg)
{
	int err = hookv[1].orig(pf, arg);

	status_sync();
	return err;
}


static int presence_handler(struct re_printf *pf, void *arg)
{
	int err = hookv[2].orig(pf, arg);

	status_sync();
	return err;
}


static void start(void *arg)
{
	(void)arg;

	if (!wanted())
		return;

	hookv[0].h = online_handler;
	hookv[1].h = offline_handler;
	hookv[2].h = presence_handler;
	(void)hook_install(&pres.hook, hookv, ARRAY_SIZE(hookv));

	take_contacts();
}


int presence_init(void)
{
	memset(&pres, 0, sizeof(pres));

	/* presence.so and contact.so may load after this module */
	tmr_init(&pres.tmr);
	tmr_start(&pres.tmr, 0, start, NULL);

	return 0;
}


/** baresip quits: un-SUBSCRIBE and un-PUBLISH, within the quit budget */
void presence_stop(void)
{
	struct le *le;

	if (pres.stopping)
		return;

	list_flush(&pres.watches);

	LIST_FOREACH(shell_lines(), le) {
		struct sfo_line *line = le->data;

		pub_move(line, NULL);
	}

	pres.stopping = true;
}


void presence_close(void)
{
	tmr_cancel(&pres.tmr);
	presence_stop();
	list_flush(&pres.pubs);
	hook_remove(&pres.hook, "presence" MOD_EXT);
}
