/**
 * @file dial.c  Outgoing calls through the right server, and again
 *
 * menu.so's dialling commands (the console, ctrl_tcp, mqtt and httpd all
 * use them) place the call through a user agent that menu picks. To
 * choose the server before the INVITE leaves, the module puts its own
 * handler in front of each (seam_dialv: "dial", and "dialdir" in 1.1.0):
 * it picks the user agent (working server, or the server the URI names)
 * and has the seam run menu's handler with it.
 *
 * libre reports no 100 Trying and gives up on an INVITE only after 32 s.
 * trace.c passes every provisional answer on (100 Trying included); a
 * timer per INVITE gives up after the server's retry budget. A failed
 * INVITE is placed again through the next server, as the core decides.
 */
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"
#include "seam.h"


/* One outgoing call, through one server after the other */
struct attempt {
	struct le le;
	struct sfo_invite inv;
	struct call *call;         /* NULL between two tries            */
	char *target;              /* what to dial again                */
	struct tmr budget;
	struct tmr redial;
	bool gave_up;              /* the budget ran out: our hang-up   */
	char branch[64];           /* Via branch of the INVITE that went */
};

/* What the dial command asked for, while menu's handler runs */
static struct {
	const char *target;
	bool bypass;
	struct attempt *again;     /* set while placing it again        */
	struct attempt *adopted;   /* the attempt its INVITE started    */
} pending;

static struct list attempts;
static struct tmr restore_tmr;     /* current UA back to working    */
static struct hook menu;           /* menu's commands, our dials     */
static struct hook_cmd dialv[2];   /* per seam_dialv: menu's handler */


static void attempt_destructor(void *arg)
{
	struct attempt *a = arg;

	tmr_cancel(&a->budget);
	tmr_cancel(&a->redial);
	list_unlink(&a->le);
	mem_deref(a->target);

	if (pending.adopted == a)
		pending.adopted = NULL;
	if (pending.again == a)
		pending.again = NULL;
}


static struct attempt *attempt_of(const struct call *call)
{
	struct le *le;

	LIST_FOREACH(&attempts, le) {
		struct attempt *a = le->data;

		if (a->call == call)
			return a;
	}

	return NULL;
}


/* Give up an INVITE that has no provisional answer: it comes back at
 * once as CALL_CLOSED, with this text */
static void give_up(struct attempt *a, const char *text)
{
	if (!a->call || a->inv.provisional)
		return;

	a->gave_up = true;
	ua_hangup(a->inv.srv->ua, a->call, 0, text);
}


static void budget_handler(void *arg)
{
	struct attempt *a = arg;
	char text[80];

	re_snprintf(text, sizeof(text), "no answer to INVITE after %u"
		    " retransmissions", a->inv.srv->retries);
	give_up(a, text);
}


void dial_transport_error(const struct sfo_server *srv, const char *text)
{
	struct le *le = list_head(&attempts);

	while (le) {
		struct attempt *a = le->data;

		le = le->next;
		if (a->inv.srv == srv)
			give_up(a, text);
	}
}


static void budget_start(struct attempt *a)
{
	uint64_t now = shell_now(), at = sfo_invite_deadline(&a->inv);

	tmr_start(&a->budget, at > now ? at - now : 0, budget_handler, a);
}


/* The INVITE of a call through one of our servers is about to leave */
static void adopt(struct sfo_server *srv, struct call *call)
{
	struct attempt *a = pending.again;
	const char *target = pending.target;

	if (!a) {
		a = mem_zalloc(sizeof(*a), attempt_destructor);
		if (!a)
			return;

		tmr_init(&a->budget);
		tmr_init(&a->redial);
		sfo_invite_start(&a->inv, srv, pending.bypass, shell_now());

		if (target ? str_dup(&a->target, target) :
		    sfo_redial_target(&a->target, srv, call_peeruri(call))) {
			mem_deref(a);
			return;
		}

		list_append(&attempts, &a->le, a);
	}

	a->call = call;
	a->gave_up = false;
	a->branch[0] = '\0';
	pending.adopted = a;
	budget_start(a);
	probe_ping(srv);
}


/* ua_connect() failed after the INVITE's event: baresip freed the call
 * without closing it, so the attempt must let go of it now */
static void connect_failed(struct attempt *a)
{
	if (!a)
		return;

	tmr_cancel(&a->budget);
	a->call = NULL;
}


static void redial_handler(void *arg)
{
	struct attempt *a = arg;
	struct sfo_server *srv = a->inv.srv;
	struct call *call = NULL;
	int err;

	info("srvfailover: %s: placing the call to %s again through"
	     " server %u %s\n", srv->line->user, a->target, srv->prio,
	     srv->uri);

	/* hangup, hold and the rest act on the current UA's call */
	seam_current_set(srv->ua);

	pending.again = a;
	pending.adopted = NULL;
	err = seam_connect(srv->ua, &call, a->target);
	pending.again = NULL;

	if (err) {
		char text[64];

		connect_failed(pending.adopted);

		re_snprintf(text, sizeof(text), "INVITE not sent: %m", err);
		if (sfo_invite_failed(&a->inv, 0, text, shell_now()) ==
		    SFO_INV_RETRY) {
			tmr_start(&a->redial, 1, redial_handler, a);
			return;
		}
		ui_output(baresip_uis(), "srvfailover: %s: call to %s"
			  " failed: %s\n", srv->line->user, a->target,
			  a->inv.why);
		mem_deref(a);
	}
}


static void restore_handler(void *arg)
{
	shell_current_working(arg);
}


/* After the closing call is gone: the current UA back to the working
 * server, so that the next bare dial and hangup use it */
static void restore_current(struct sfo_line *line)
{
	tmr_start(&restore_tmr, 1, restore_handler, line);
}


static void closed(struct attempt *a, struct call *call, const char *prm)
{
	struct sfo_line *line = a->inv.srv->line;
	uint16_t scode = call_scode(call);
	enum sfo_verdict v;

	tmr_cancel(&a->budget);
	a->call = NULL;

	/* the user hung up: nothing failed */
	if (!a->gave_up && call_state(call) == CALL_STATE_TERMINATED) {
		mem_deref(a);
		restore_current(line);
		return;
	}

	v = sfo_invite_failed(&a->inv, a->gave_up ? 0 : scode,
			      prm ? prm : "?", shell_now());

	switch (v) {

	case SFO_INV_RETRY:
		/* not from inside baresip's own event */
		tmr_start(&a->redial, 1, redial_handler, a);
		break;

	case SFO_INV_FAILED:
		warning("srvfailover: %s: call to %s failed: %s\n",
			line->user, a->target, a->inv.why);
		ui_output(baresip_uis(), "srvfailover: %s: call to %s"
			  " failed: %s\n", line->user, a->target,
			  a->inv.why);
		mem_deref(a);
		restore_current(line);
		break;

	default:
		mem_deref(a);
		restore_current(line);
		break;
	}
}


void dial_ua_event(struct sfo_server *srv, enum ua_event ev,
		   struct call *call, const char *prm)
{
	struct attempt *a = attempt_of(call);

	switch (ev) {

	case UA_EVENT_CALL_LOCAL_SDP:
		if (!a && !str_cmp(prm, "offer") &&
		    call_state(call) == CALL_STATE_OUTGOING)
			adopt(srv, call);
		break;

	case UA_EVENT_CALL_RINGING:
	case UA_EVENT_CALL_PROGRESS:
		if (a) {
			a->inv.provisional = true;
			tmr_cancel(&a->budget);
		}
		break;

	case UA_EVENT_CALL_ESTABLISHED:
		mem_deref(a);
		break;

	case UA_EVENT_CALL_CLOSED:
		if (a)
			closed(a, call, prm);
		else
			restore_current(srv->line);
		break;

	default:
		break;
	}
}


static struct attempt *attempt_of_msg(const struct sip_msg *msg)
{
	struct le *le;

	LIST_FOREACH(&attempts, le) {
		struct attempt *a = le->data;

		if (a->call && !pl_strcmp(&msg->callid, call_id(a->call)))
			return a;
	}

	return NULL;
}


/**
 * One of our INVITEs goes out (again after a challenge: a new branch).
 * Its first send comes before baresip knows the call's Call-ID: it is
 * the INVITE of the attempt adopted just now.
 */
void dial_invite_sent(const struct sip_msg *msg)
{
	struct attempt *a = attempt_of_msg(msg);

	if (!a && pending.adopted && !pending.adopted->branch[0])
		a = pending.adopted;

	if (!a || !pl_strcmp(&msg->via.branch, a->branch))
		return;  /* not ours, or a retransmission */

	/* a new branch on the same call: the INVITE again, authenticated */
	if (a->branch[0]) {
		sfo_invite_resent(&a->inv, shell_now());
		budget_start(a);
	}

	pl_strcpy(&msg->via.branch, a->branch, sizeof(a->branch));
}


/**
 * A 1xx to one of our INVITEs: the server is alive, whatever follows.
 * Only the answer to the INVITE that went (its Via branch) counts.
 */
void dial_provisional(const struct sip_msg *msg)
{
	struct attempt *a = attempt_of_msg(msg);

	if (!a || pl_strcmp(&msg->via.branch, a->branch))
		return;

	a->inv.provisional = true;
	tmr_cancel(&a->budget);
}


/** The server one of our INVITEs went to, by its Call-ID */
struct sfo_server *dial_server_of(const struct sip_msg *msg)
{
	struct attempt *a = attempt_of_msg(msg);

	return a ? a->inv.srv : NULL;
}


/* In front of menu's dialling command i: choose the user agent, then
 * dial as usual. The target is the first word ("dialdir 200 sendrecv") */
static int hooked(size_t i, struct re_printf *pf, void *arg)
{
	const struct cmd_arg *carg = arg;
	struct sfo_server *srv;
	bool bypass = false;
	struct pl word;
	char *target = NULL;
	int err;

	if (!re_regex(carg->prm, str_len(carg->prm), "[^ ]+", &word)) {
		err = pl_strdup(&target, &word);
		if (err)
			return err;
	}

	err = sfo_route(&srv, shell_lines(), shell_current_line(), target,
			&bypass, pf);
	if (err) {
		warning("srvfailover: %s: call not placed (no usable"
			" server)\n", target);
		mem_deref(target);
		return err;
	}

	pending.target = target;
	pending.bypass = bypass;
	pending.adopted = NULL;
	err = seam_dialv[i].run(dialv[i].orig, pf, carg,
				srv ? srv->ua : NULL);
	pending.target = NULL;
	pending.bypass = false;
	mem_deref(target);

	/* menu reports the failure; the call is gone already */
	if (err && pending.adopted) {
		connect_failed(pending.adopted);
		mem_deref(pending.adopted);
	}
	pending.adopted = NULL;

	return err;
}


static int hook0(struct re_printf *pf, void *arg)
{
	return hooked(0, pf, arg);
}


static int hook1(struct re_printf *pf, void *arg)
{
	return hooked(1, pf, arg);
}


static re_printf_h * const hookv[] = {hook0, hook1};


/**
 * Dial uri as menu's dial would, routed and failed over as a dial is
 * (contact's dialcontact, message.c)
 */
int dial_uri(struct re_printf *pf, const char *uri)
{
	struct cmd_arg carg;

	if (!dialv[0].orig)
		return ENOENT;

	memset(&carg, 0, sizeof(carg));
	carg.prm = (char *)uri;

	return hooked(0, pf, &carg);
}


static void hooks_install(void *arg)
{
	size_t i;
	(void)arg;

	for (i = 0; i < seam_dialc && i < ARRAY_SIZE(dialv); i++) {
		dialv[i].name = seam_dialv[i].name;
		dialv[i].h = hookv[i];
		dialv[i].orig = NULL;
	}

	if (hook_install(&menu, dialv, i))
		warning("srvfailover: no dial command (menu.so): bare dials"
			" use baresip's default user agent\n");
}


static struct tmr hook_tmr;


int dial_init(void)
{
	list_init(&attempts);
	memset(&pending, 0, sizeof(pending));
	tmr_init(&restore_tmr);

	/* menu.so may load after this module: wait for the main loop */
	tmr_init(&hook_tmr);
	tmr_start(&hook_tmr, 0, hooks_install, NULL);

	return 0;
}


/** baresip is quitting: forget every call, stop every timer */
void dial_stop(void)
{
	tmr_cancel(&restore_tmr);
	list_flush(&attempts);
}


void dial_close(void)
{
	tmr_cancel(&hook_tmr);
	tmr_cancel(&restore_tmr);
	list_flush(&attempts);
	hook_remove(&menu, "menu" MOD_EXT);
}
