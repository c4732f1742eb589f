/**
 * @file shell.c  srvfailover's only contact with baresip
 *
 * Turns baresip's UA events, option answers and timers into core events,
 * and core actions into baresip calls. Owns the user agents of the
 * servers, the timers and the commands.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"
#include "seam.h"


/* The timer of one line, and its working server as last announced */
struct wake {
	struct le le;
	struct tmr tmr;
	struct sfo_line *line;
	unsigned working;        /* 0: none                              */
	unsigned before_gap;     /* the one it had before none           */
};

/* A user agent kept for a DNS target that went (park()) */
struct parked {
	struct le le;
	struct ua *ua;
	char *account;
	uint32_t rwait;
};

static struct list lines;
static struct list wakes;
static struct list parked;
static struct sfo_server *in_register; /* ua_register() is running   */
static bool stopping;                  /* baresip is quitting          */
static const struct ua *destroying;    /* server_down() destroys it    */
static bool refused;                   /* another baresip: not loaded  */
static struct tmr quit_tmr;            /* baresip quits: not for 32 s  */
static struct tmr remake_tmr;          /* user agents to make anew     */

enum {
	QUIT_WAIT_MS = 1500,   /* answers to the last un-REGISTERs */
};


uint64_t shell_now(void)
{
	return tmr_jiffies();
}


/** re_printf into an mbuf (arg): what the shell's answers are built in */
int shell_print_mbuf(const char *p, size_t size, void *arg)
{
	return mbuf_write_mem(arg, (const uint8_t *)p, size);
}


struct list *shell_lines(void)
{
	return &lines;
}


static void parked_destructor(void *arg)
{
	struct parked *pk = arg;

	list_unlink(&pk->le);
	mem_deref(pk->account);
}


static void wake_destructor(void *arg)
{
	struct wake *w = arg;

	tmr_cancel(&w->tmr);
	list_unlink(&w->le);
}


struct sfo_server *shell_server_of_ua(const struct ua *ua)
{
	struct le *le, *se;

	LIST_FOREACH(&lines, le) {
		struct sfo_line *line = le->data;

		LIST_FOREACH(&line->servers, se) {
			struct sfo_server *srv = se->data;

			if (srv->ua == ua)
				return srv;
		}
	}

	return NULL;
}


static struct sfo_server *server_of_options(unsigned req_id)
{
	struct le *le, *se;

	LIST_FOREACH(&lines, le) {
		struct sfo_line *line = le->data;

		LIST_FOREACH(&line->servers, se) {
			struct sfo_server *srv = se->data;

			if (srv->req == SFO_REQ_OPTIONS &&
			    srv->req_id == req_id)
				return srv;
		}
	}

	return NULL;
}


/* Back to regint 0, so that baresip never registers it by itself
 * (it re-registers every UA with a regint when the network changes) */
static void do_unregister(struct sfo_server *srv, void *arg)
{
	(void)arg;

	if (stopping)
		return;

	seam_unregister(srv->ua);
	(void)account_set_regint(ua_account(srv->ua), 0);
}


static int server_up(struct sfo_server *srv, void *arg);
static void server_down(struct sfo_server *srv, void *arg);


/* A new register client of the UA: one made with regint 0 has none */
static int register_ua(struct sfo_server *srv)
{
	int err;

	err  = account_set_regint(ua_account(srv->ua), srv->regint);
	err |= ua_update_account(srv->ua);
	if (err)
		return err;

	srv->challenge = 0;

	/* a synchronous failure comes back as the return value */
	in_register = srv;
	err = ua_register(srv->ua);
	in_register = NULL;

	return err;
}


/* The core chose another rwait for the server (its grant wraps libre's
 * refresh timer to a loop): only a user agent made anew has it. Not
 * under a call, which would end with it. */
static int ua_remake(struct sfo_server *srv)
{
	int err;

	if (!list_isempty(ua_calls(srv->ua)))
		return EBUSY;

	info("srvfailover: line %s server %u %s: the registrar's grant"
	     " wraps libre's refresh timer: its user agent is made anew"
	     " with rwait=%u\n", srv->line->user, srv->prio, srv->uri,
	     sfo_rwait(srv));

	do_unregister(srv, NULL);
	server_down(srv, NULL);
	err = server_up(srv, NULL);
	shell_current_working(srv->line);

	return err ? err : register_ua(srv);
}


static bool remake_due(const struct sfo_server *srv)
{
	return srv->req == SFO_REQ_REGISTER && srv->ua &&
		srv->ua_rwait != sfo_rwait(srv);
}


static struct sfo_server *remake_next(void)
{
	struct le *le, *se;

	LIST_FOREACH(&lines, le) {
		struct sfo_line *line = le->data;

		LIST_FOREACH(&line->servers, se) {
			if (remake_due(se->data))
				return se->data;
		}
	}

	return NULL;
}


/* One at a time: a failure acts on the line (DNS targets may go) */
static void remake_handler(void *arg)
{
	struct sfo_server *srv;
	char text[64];
	int err;
	(void)arg;

	while (!stopping && (srv = remake_next())) {
		err = ua_remake(srv);
		if (!err)
			continue;

		re_snprintf(text, sizeof(text), err == EBUSY ?
			    "grant wraps libre's timer; in a call" :
			    "REGISTER not sent: %m", err);
		sfo_reg_failed(srv, 0, text, shell_now());
	}
}


/* A user agent is made anew from the main loop, never inside the
 * handlers of its own answer */
static int do_register(struct sfo_server *srv, void *arg)
{
	(void)arg;

	if (stopping)
		return ESHUTDOWN;

	if (remake_due(srv)) {
		tmr_start(&remake_tmr, 0, remake_handler, NULL);
		return 0;
	}

	return register_ua(srv);
}


static void options_handler(int err, const struct sip_msg *msg, void *arg)
{
	unsigned req_id = (unsigned)(uintptr_t)arg;
	struct sfo_server *srv;
	char text[64];

	/* the answer may come after the core gave up, or after close */
	srv = stopping ? NULL : server_of_options(req_id);
	if (!srv)
		return;

	if (err || !msg) {
		re_snprintf(text, sizeof(text), "%m", err);
		sfo_options_answer(srv, req_id, 0, text, shell_now());
		return;
	}

	re_snprintf(text, sizeof(text), "%u %r", msg->scode, &msg->reason);
	sfo_options_answer(srv, req_id, msg->scode, text, shell_now());
}


static int do_options(struct sfo_server *srv, void *arg)
{
	(void)arg;

	if (stopping)
		return ESHUTDOWN;

	probe_ping(srv);

	/* the module's own, for a UDP server by address: keepalive.c */
	if (sfo_server_udp_addr(srv))
		return keepalive_send(srv);

	return ua_options_send(srv->ua, srv->probe_uri, options_handler,
			       (void *)(uintptr_t)srv->req_id);
}


/* An ICMP error (probe.c) or another transport error for srv: the
 * request in flight to it fails now, not at its timeout */
void shell_transport_error(struct sfo_server *srv, int err)
{
	char text[80];

	if (stopping)
		return;

	re_snprintf(text, sizeof(text), "%m (ICMP)", err);

	if (srv->req == SFO_REQ_REGISTER)
		sfo_reg_failed(srv, 0, text, shell_now());
	else if (srv->req == SFO_REQ_OPTIONS)
		sfo_options_answer(srv, srv->req_id, 0, text, shell_now());

	dial_transport_error(srv, text);
	msg_transport_error(srv, text);
}


static bool line_owns(const struct sfo_line *line, const struct ua *ua)
{
	const struct sfo_server *srv = shell_server_of_ua(ua);

	return srv && srv->line == line;
}


/* The line of baresip's current user agent; NULL when it is none of
 * ours or there is none (1.1.0): the core then takes the first line */
struct sfo_line *shell_current_line(void)
{
	struct sfo_server *srv = shell_server_of_ua(seam_current());

	return srv ? srv->line : NULL;
}


/**
 * A bare "/dial 200" goes through baresip's current UA: make it the
 * working server's. Not while the user is in a call on the current UA
 * (hangup acts on it), nor when the current UA is another line's.
 */
void shell_current_working(const struct sfo_line *line)
{
	struct ua *cur;

	if (stopping || !line->working || !line->working->ua)
		return;

	cur = seam_current();

	if (cur && !list_isempty(ua_calls(cur)))
		return;

	if (!cur || line_owns(line, cur) || !shell_server_of_ua(cur))
		seam_current_set(line->working->ua);
}


/* A switch, told to baresip's event listeners (1.1.0) and the fleet:
 * across a gap without a working server, from the one before the gap
 * (the core counts it as one switch) */
static void do_working(struct sfo_line *line, void *arg)
{
	struct wake *w = arg;
	unsigned to = line->working ? line->working->prio : 0;
	unsigned from = w->working ? w->working : w->before_gap;
	const struct sfo_server *first;
	struct ua *ua;

	shell_current_working(line);

	w->before_gap = to ? 0 : w->working;
	w->working = to;
	if (from == to)
		return;

	first = list_ledata(list_head(&line->servers));
	ua = line->working ? line->working->ua : first ? first->ua : NULL;
	if (ua)
		seam_switch_event(ua, line->user, from, to, line->reason);
	mqtt_switched(line, from, to);
}


static void do_report(const struct sfo_line *line, const char *msg,
		      void *arg)
{
	(void)line;
	(void)arg;

	info("srvfailover: %s\n", msg);
	ui_output(baresip_uis(), "srvfailover: %s\n", msg);
	mqtt_changed();
}


static void wake_handler(void *arg)
{
	struct wake *w = arg;

	if (!stopping)
		sfo_tick(w->line, shell_now());
}


static void do_wake(struct sfo_line *line, uint64_t at, void *arg)
{
	struct wake *w = arg;
	uint64_t now = shell_now();
	(void)line;

	if (!at)
		tmr_cancel(&w->tmr);
	else
		tmr_start(&w->tmr, at > now ? at - now : 0, wake_handler, w);

	/* the core has taken an event in: voicemail and presence may
	 * move */
	if (!stopping) {
		mwi_update(line);
		presence_update(line);
		file_line_idle(line);
	}
}


static const struct sfo_ops ops = {
	do_register,
	do_unregister,
	do_options,
	do_working,
	do_report,
	do_wake,
	server_up,
	server_down,
};


/* "503 Service Unavailable" -> 503; an errno text -> 0 */
static uint16_t scode_of(const char *prm)
{
	struct pl code;

	if (!prm || re_regex(prm, str_len(prm), "[0-9]+ ", &code) ||
	    code.p != prm || code.l != 3)
		return 0;

	return (uint16_t)pl_u32(&code);
}


static void call_count(struct sfo_server *srv, struct ua *ua,
		       enum ua_event ev)
{
	unsigned n = list_count(ua_calls(ua));

	/* a closing call is still listed while its event runs */
	if (ev == UA_EVENT_CALL_CLOSED && n)
		--n;

	sfo_calls(srv, n, shell_now());
}


/* baresip quits once no SIP request is pending. One to a dead server (an
 * un-REGISTER libre sends after the request it waited for, an OPTIONS)
 * would hold it for 32 to 64 s: after a moment for the answers of live
 * servers, the rest is abandoned */
static void quit_handler(void *arg)
{
	(void)arg;

	info("srvfailover: quitting: requests still unanswered are"
	     " abandoned\n");
	sip_close(uag_sip(), true);

	/* baresip closes the SIP stack once the last user agent is gone;
	 * when a module held one while the user agents were stopped
	 * (presence.so does, for a subscription still unanswered, and lets
	 * it go during the next one's SHUTDOWN) that moment never comes
	 * and baresip never quits. This is what it would have done then
	 * (and nothing, when it has done it already). */
	sip_close(uag_sip(), false);
}


static void ua_event_handler(struct ua *ua, enum ua_event ev,
			     struct call *call, const char *prm)
{
	struct sfo_server *srv;

	/* baresip quits: calls close, user agents go; nothing more to do,
	 * and no user agent or call of ours may be touched again. (One UA
	 * that ua_destroy() takes away says SHUTDOWN too: not a quit.) */
	if (ev == UA_EVENT_SHUTDOWN && !stopping && ua != destroying) {
		stopping = true;
		/* answers still come, for user agents about to go */
		trace_close();
		dial_stop();
		msg_stop();
		mwi_close();
		presence_stop();
		mqtt_stop();
		resolve_close();
		keepalive_close();
		tmr_start(&quit_tmr, QUIT_WAIT_MS, quit_handler, NULL);
	}

	srv = stopping ? NULL : shell_server_of_ua(ua);
	if (!srv)
		return;

	switch (ev) {

	case UA_EVENT_REGISTER_OK:
		/* the answer to an un-REGISTER (baresip 2.5 and later
		 * say REGISTER_OK; the module's own go through
		 * seam_unregister(), whose answers say nothing, not
		 * every caller of ua_unregister() does), or a grant
		 * trace.c refused */
		if (srv->no_reg_ok) {
			srv->no_reg_ok = false;
			break;
		}

		srv->challenge = 0;
		sfo_registered(srv, scode_of(prm), prm, shell_now());
		break;

	case UA_EVENT_REGISTER_FAIL:
		if (srv != in_register)
			sfo_reg_failed(srv, scode_of(prm), prm, shell_now());
		break;

	case UA_EVENT_CALL_INCOMING:
	case UA_EVENT_CALL_RINGING:
	case UA_EVENT_CALL_PROGRESS:
	case UA_EVENT_CALL_ESTABLISHED:
	case UA_EVENT_CALL_CLOSED:
		call_count(srv, ua, ev);
		dial_ua_event(srv, ev, call, prm);
		break;

	case UA_EVENT_CALL_LOCAL_SDP:
		dial_ua_event(srv, ev, call, prm);
		break;

	default:
		break;
	}
}


static int cmd_handler(struct re_printf *pf, void *arg)
{
	const struct cmd_arg *carg = arg;
	const char *prm = carg ? carg->prm : NULL;

	/* reading the file is the shell's; the rest is the core's */
	if (sfo_command_is(prm, "reload"))
		return file_reload(pf);

	return sfo_command(pf, &lines, prm, shell_now());
}


static const struct cmd cmdv[] = {
	{"srvfailover", 0, CMD_PRM,
	 "Server failover: status|json|disable|enable|mode|reload",
	 cmd_handler},
};


/* presence.so ends all presence (its subscriptions, its watchers') on
 * any user agent's SHUTDOWN, which ua_destroy() raises. While it is
 * loaded, the user agent of a DNS target that went is kept, unused
 * (regint=0, pubint=0, mwi=no), and used again if the target comes
 * back. */
static bool park(struct ua *ua, const struct sfo_server *srv)
{
	struct parked *pk;

	if (!mod_find("presence" MOD_EXT))
		return false;

	pk = mem_zalloc(sizeof(*pk), parked_destructor);
	if (!pk || str_dup(&pk->account, srv->account)) {
		mem_deref(pk);
		return false;
	}

	pk->ua = ua;
	pk->rwait = srv->ua_rwait;
	list_append(&parked, &pk->le, pk);

	return true;
}


static struct ua *unpark(const struct sfo_server *srv)
{
	struct le *le;

	LIST_FOREACH(&parked, le) {
		struct parked *pk = le->data;
		struct ua *ua = pk->ua;

		if (str_cmp(pk->account, srv->account) ||
		    pk->rwait != sfo_rwait(srv))
			continue;

		mem_deref(pk);
		return ua;
	}

	return NULL;
}


/* The rwait in use (configured, or the core's for a grant) goes to
 * baresip as its account parameter: libre takes it from there only */
static int ua_make(struct ua **uap, const struct sfo_server *srv)
{
	uint32_t rwait = sfo_rwait(srv);
	char *acc = NULL;
	int err;

	if (!rwait)
		return ua_alloc(uap, srv->account);

	err = re_sdprintf(&acc, "%s;rwait=%u", srv->account, rwait);
	if (!err)
		err = ua_alloc(uap, acc);
	mem_deref(acc);

	return err;
}


/* A server's user agent, and its ICMP probe; a DNS name is resolved
 * first, its targets come back through server_up() */
static int server_up(struct sfo_server *srv, void *arg)
{
	struct ua *ua = NULL;
	int err;
	(void)arg;

	if (stopping)
		return ESHUTDOWN;

	if (srv->unresolved)
		return resolve_start(srv);

	ua = unpark(srv);
	err = ua ? 0 : ua_make(&ua, srv);
	if (err) {
		warning("srvfailover: line %s server %u %s: baresip"
			" rejects the account: %m\n", srv->line->user,
			srv->prio, srv->uri, err);
		return err;
	}

	srv->ua = ua;
	srv->ua_rwait = sfo_rwait(srv);
	probe_add(srv);

	return 0;
}


/* baresip's current UA must not stay pointing at a destroyed one */
static void server_down(struct sfo_server *srv, void *arg)
{
	const struct sfo_line *line = srv->line;
	struct ua *ua = srv->ua;
	(void)arg;

	probe_remove(srv);
	keepalive_remove(srv);
	mwi_server_gone(srv);
	presence_server_gone(srv);
	srv->ua = NULL;

	if (!ua)
		return;

	if (stopping)
		return;

	if (seam_current() == ua)
		seam_current_set(line->working && line->working->ua ?
				 line->working->ua : NULL);

	if (park(ua, srv))
		return;

	destroying = ua;
	ua_destroy(ua);
	destroying = NULL;
}


static int servers_create(struct sfo_line *line)
{
	struct le *le;
	int err = 0;

	LIST_FOREACH(&line->servers, le) {
		err = server_up(le->data, NULL);
		if (err)
			break;
	}

	return err;
}


static void servers_destroy(struct sfo_line *line)
{
	struct le *le;

	LIST_FOREACH(&line->servers, le)
		server_down(le->data, NULL);
}


static void first_steps(void *arg)
{
	struct wake *w = arg;

	if (!stopping)
		sfo_start(w->line, shell_now());
}


/**
 * A line of the file (in shell_lines()) starts: its user agents, its
 * timer, its first steps as its mode wants (after delay ms: the start
 * delay). A line whose user agents baresip refuses goes (ENOENT).
 */
int shell_line_start(struct sfo_line *line, uint64_t delay)
{
	struct wake *w;

	if (servers_create(line)) {
		servers_destroy(line);
		mem_deref(line);
		return ENOENT;
	}

	w = mem_zalloc(sizeof(*w), wake_destructor);
	if (!w) {
		servers_destroy(line);
		mem_deref(line);
		return ENOMEM;
	}

	w->line = line;
	tmr_init(&w->tmr);
	list_append(&wakes, &w->le, w);
	sfo_line_set_ops(line, &ops, w, rand_u32());
	if (delay)
		tmr_start(&w->tmr, delay, first_steps, w);
	else
		sfo_start(line, shell_now());

	return 0;
}


/** A line goes from the file: its servers un-REGISTERed, its user
 * agents, subscriptions and timer gone */
void shell_line_stop(struct sfo_line *line)
{
	mwi_line_gone(line);
	presence_line_gone(line);
	sfo_line_stop(line);
	mem_deref(line->arg);    /* its wake */
	mem_deref(line);
}


static int module_init(void)
{
	int err;

	stopping = false;
	tmr_init(&quit_tmr);
	tmr_init(&remake_tmr);

	/* before anything else: with the wrong numbering nothing is safe */
	refused = check_baresip() != 0;
	if (refused)
		return ENOTSUP;

	err  = seam_event_register(ua_event_handler);
	err |= cmd_register(baresip_commands(), cmdv, ARRAY_SIZE(cmdv));
	err |= dial_init();
	err |= msg_init();
	err |= presence_init();
	err |= keepalive_init();
	err |= http_init();
	trace_init();
	if (err)
		return err;

	/* the lines start as the file is applied (a reload from nothing) */
	err = file_load();
	if (err)
		return err;

	err = mqtt_init();
	if (err)
		return err;

	info("srvfailover: %u line%s (built for baresip %s)\n",
	     list_count(&lines), list_count(&lines) == 1 ? "" : "s",
	     seam_version);
	check_rivals();

	return 0;
}


/* baresip has destroyed every user agent before this runs */
static int module_close(void)
{
	if (refused)
		return 0;

	stopping = true;
	tmr_cancel(&quit_tmr);
	tmr_cancel(&remake_tmr);
	file_close();
	mqtt_close();
	mwi_close();
	presence_close();
	keepalive_close();
	trace_close();
	dial_close();
	msg_close();
	resolve_close();
	probe_close();
	http_close();
	cmd_unregister(baresip_commands(), cmdv);
	seam_event_unregister();
	list_flush(&wakes);
	list_flush(&parked);
	list_flush(&lines);

	return 0;
}


/* the one symbol baresip looks up (the rest is hidden: Makefile) */
EXPORT_SYM __attribute__((visibility("default")))
const struct mod_export exports = {
	"srvfailover",
	"application",
	module_init,
	module_close,
};
