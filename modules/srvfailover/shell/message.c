/**
 * @file message.c  contact's message and dialcontact through the line's
 *                  working server
 *
 * contact.so sends a MESSAGE to the current contact through baresip's
 * current user agent (1.0.0) or the one its request URI finds (1.1.0,
 * registered or not), and dials it the same way, bypassing the module's
 * routing. The module puts its own handlers in front (hook.c): a MESSAGE
 * goes through the working server, the peer rewritten when it names one
 * of the line's servers (core/route.c), and once more through the next
 * server when the first one fails at the transport, draws an ICMP error
 * or a failover code; not after no answer, for the MESSAGE may have
 * arrived. dialcontact is a dial (dial.c): of the contact's user ID
 * when its URI names one of the line's servers, else of the URI.
 */
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"


enum { MESSAGE_TRIES = 2 };

/* One MESSAGE, through one server and perhaps the next */
struct msg {
	struct le le;              /* in msgs while it may be sent again */
	struct sfo_invite inv;     /* the servers tried, as for a call   */
	char *peer;                /* what the user sent it to           */
	char *text;
	unsigned tries;
	bool done;                 /* delivered or given up              */
};

/* One request of it that is out: libre holds it until its answer */
struct out {
	struct msg *m;
	unsigned n;                /* its try: an older one's is stale   */
};

static struct hook contact;
static struct hook_cmd contactv[] = {
	{"message",     NULL, NULL},
	{"dialcontact", NULL, NULL},
};
static struct list msgs;
static struct tmr hook_tmr;


static void msg_destructor(void *arg)
{
	struct msg *m = arg;

	list_unlink(&m->le);
	mem_deref(m->peer);
	mem_deref(m->text);
}


static void out_destructor(void *arg)
{
	struct out *o = arg;

	mem_deref(o->m);
}


static void resp_handler(int err, const struct sip_msg *msg, void *arg);


static int send_via(struct msg *m)
{
	struct sfo_server *srv = m->inv.srv;
	char *target = NULL;
	struct out *o;
	int err;

	o = mem_zalloc(sizeof(*o), out_destructor);
	if (!o)
		return ENOMEM;

	o->m = mem_ref(m);
	o->n = ++m->tries;

	err = sfo_request_target(&target, srv, m->peer);
	if (!err) {
		info("srvfailover: %s: MESSAGE to %s through server %u %s\n",
		     srv->line->user, target, srv->prio, srv->uri);
		err = message_send(srv->ua, target, m->text, resp_handler,
				   o);
		probe_ping(srv);  /* an ICMP error for it comes to us */
	}

	if (err)
		mem_deref(o);
	mem_deref(target);

	return err;
}


static void finish(struct msg *m, const char *text)
{
	const struct sfo_line *line = m->inv.srv->line;

	m->done = true;
	list_unlink(&m->le);
	if (!text)
		return;

	if (m->inv.why[0])
		text = m->inv.why;

	warning("srvfailover: %s: MESSAGE to %s not delivered: %s\n",
		line->user, m->peer, text);
	ui_output(baresip_uis(), "srvfailover: %s: MESSAGE to %s not"
		  " delivered: %s\n", line->user, m->peer, text);
}


/* The server failed the MESSAGE: once more through the next one */
static void again(struct msg *m, uint16_t scode, const char *text)
{
	char why[80];
	int err;

	if (m->tries >= MESSAGE_TRIES ||
	    sfo_invite_failed(&m->inv, scode, text, shell_now()) !=
	    SFO_INV_RETRY) {
		finish(m, text);
		return;
	}

	err = send_via(m);
	if (err) {
		re_snprintf(why, sizeof(why), "not sent: %m", err);
		(void)sfo_invite_failed(&m->inv, 0, why, shell_now());
		finish(m, why);
	}
}


static void resp_handler(int err, const struct sip_msg *msg, void *arg)
{
	struct out *o = arg;
	struct msg *m = o->m;
	char text[80];

	/* given up, or sent again since this one went */
	if (m->done || o->n != m->tries)
		goto out;

	if (!err && msg->scode < 300) {
		info("srvfailover: %s: MESSAGE to %s: %u %r\n",
		     m->inv.srv->line->user, m->peer, msg->scode,
		     &msg->reason);
		finish(m, NULL);
		goto out;
	}

	if (err)
		re_snprintf(text, sizeof(text), "%m", err);
	else
		re_snprintf(text, sizeof(text), "%u %r", msg->scode,
			    &msg->reason);

	/* no answer: it may have arrived; a callee's answer is final */
	if (err == ETIMEDOUT || (!err && !sfo_codes_match(
				 &m->inv.srv->line->codes, msg->scode))) {
		finish(m, text);
		goto out;
	}

	again(m, err ? 0 : msg->scode, text);

 out:
	mem_deref(o);
}


/**
 * A transport error or ICMP for srv: a MESSAGE out to it fails now, not
 * after libre's 32 s (its answer, if one comes, is then stale)
 */
void msg_transport_error(const struct sfo_server *srv, const char *text)
{
	struct le *le = list_head(&msgs);

	while (le) {
		struct msg *m = le->data;

		le = le->next;
		if (m->inv.srv == srv)
			again(m, 0, text);
	}
}


static int message_handler(struct re_printf *pf, void *arg)
{
	const struct cmd_arg *carg = arg;
	struct contact *cnt = contacts_current(baresip_contacts());
	struct sfo_server *srv;
	const char *uri;
	struct msg *m;
	int err;

	if (!cnt || !str_isset(carg->prm) || list_isempty(shell_lines()))
		return contactv[0].orig(pf, arg);

	uri = contact_uri(cnt);
	srv = sfo_request_route(shell_lines(), shell_current_line(), uri);
	if (!srv || !srv->ua)
		return re_hprintf(pf, "srvfailover: MESSAGE to %s not sent:"
				  " no usable server\n", uri), EACCES;

	m = mem_zalloc(sizeof(*m), msg_destructor);
	if (!m)
		return ENOMEM;

	sfo_invite_start(&m->inv, srv, false, shell_now());
	err  = str_dup(&m->peer, uri);
	err |= str_dup(&m->text, carg->prm);
	if (!err) {
		list_append(&msgs, &m->le, m);
		err = send_via(m);
	}

	if (err) {
		(void)re_hprintf(pf, "srvfailover: MESSAGE to %s not sent:"
				 " %m\n", uri, err);
		finish(m, NULL);
	}

	mem_deref(m);

	return err;
}


/* The contact's user ID when it names one of the line's servers: dialled
 * as a bare user ID, through the working server and failed over; any
 * other URI as dial would */
static int dialcontact_handler(struct re_printf *pf, void *arg)
{
	struct contact *cnt = contacts_current(baresip_contacts());
	struct sfo_server *srv;
	char *target = NULL;
	const char *uri;
	int err;

	if (!cnt || list_isempty(shell_lines()))
		return contactv[1].orig(pf, arg);

	uri = contact_uri(cnt);
	srv = sfo_request_route(shell_lines(), shell_current_line(), uri);
	err = srv ? sfo_redial_target(&target, srv, uri) :
		str_dup(&target, uri);
	if (!err)
		err = dial_uri(pf, target);

	mem_deref(target);

	return err;
}


static void hooks_install(void *arg)
{
	(void)arg;

	contactv[0].h = message_handler;
	contactv[1].h = dialcontact_handler;

	/* without contact.so there is nothing to route */
	(void)hook_install(&contact, contactv, ARRAY_SIZE(contactv));
}


int msg_init(void)
{
	list_init(&msgs);

	/* contact.so may load after this module: wait for the main loop */
	tmr_init(&hook_tmr);
	tmr_start(&hook_tmr, 0, hooks_install, NULL);

	return 0;
}


/** baresip quits: the answers still to come find nothing to do */
void msg_stop(void)
{
	struct le *le;

	LIST_FOREACH(&msgs, le) {
		struct msg *m = le->data;

		m->done = true;
	}

	list_clear(&msgs);
}


void msg_close(void)
{
	tmr_cancel(&hook_tmr);
	msg_stop();
	hook_remove(&contact, "contact" MOD_EXT);
}
