/**
 * @file core.c  Events in, actions out: the life of a line
 *
 * Every event updates what is known of one server, then update() runs
 * the mode policy, sends what is due (REGISTER, un-REGISTER, probes),
 * picks the working server and reports what changed, once.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "sfo_core.h"


static void update(struct sfo_line *line, uint64_t now);


static void wake(struct sfo_line *line, uint64_t now)
{
	if (line->ops && line->ops->wake)
		line->ops->wake(line, sfo_next_wake(line, now), line->arg);
}


static uint32_t next_rnd(struct sfo_line *line)
{
	uint32_t x = line->rnd;

	/* xorshift32: jitter that tests can replay from a seed */
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	line->rnd = x;

	return x;
}


static uint64_t interval_ms(const struct sfo_line *line)
{
	return 1000ULL * (line->mode == SFO_SEQUENTIAL ?
			  line->fallback_interval : line->probe_interval);
}


/* A registered server is watched with OPTIONS at the probe interval in
 * every mode, so that a dead one is noticed while the line is idle, not
 * at its next re-REGISTER. Others follow their mode's interval. */
static uint64_t next_check(const struct sfo_server *srv, uint64_t now)
{
	const struct sfo_line *line = srv->line;

	if (srv->reg == SFO_REG_OK)
		return now + 1000ULL * line->probe_interval;

	return now + interval_ms(line);
}


static void report(const struct sfo_line *line, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	if (!line->ops || !line->ops->report)
		return;

	va_start(ap, fmt);
	if (!re_vsdprintf(&msg, fmt, ap))
		line->ops->report(line, msg, line->arg);
	va_end(ap);

	mem_deref(msg);
}


/* What a server said, for people and JSON: a reason phrase may hold
 * any bytes, and cutting it may split a character; keep it ASCII */
static void set_text(struct sfo_server *srv, uint16_t scode,
		     const char *text)
{
	size_t i;

	srv->last_code = scode;
	str_ncpy(srv->last_text, text ? text : "", sizeof(srv->last_text));

	for (i = 0; srv->last_text[i]; i++) {
		unsigned char c = srv->last_text[i];

		if (c < 0x20 || c > 0x7e)
			srv->last_text[i] = '?';
	}
}


static void unreg(struct sfo_server *srv)
{
	struct sfo_line *line = srv->line;

	if (line->ops && line->ops->unreg)
		line->ops->unreg(srv, line->arg);
}


/* The registrar answered, and said no to this user or these credentials
 * (trying again soon would only feed a PBX's fail2ban), or said yes in a
 * way that holds no registration (a 2xx granting an absurd expiry) */
static bool refusal(uint16_t scode)
{
	return (scode >= 200 && scode < 300) || scode == 401 ||
		scode == 403 || scode == 404 || scode == 407;
}


/* A request to this server failed: SIP code, transport error or
 * no answer. A failed REGISTER also stops the stack's own retries:
 * when to try again is the core's decision. A refused registration
 * stays shown, with the registrar's answer, until a REGISTER succeeds:
 * an OPTIONS answer says nothing of the credentials. */
static void fail(struct sfo_server *srv, uint16_t scode, const char *text,
		 uint64_t now)
{
	struct sfo_line *line = srv->line;
	bool registration = srv->req == SFO_REQ_REGISTER ||
		srv->reg == SFO_REG_OK || srv->reg == SFO_REG_PENDING;

	if (!srv->refused || registration)
		set_text(srv, scode, text);
	++srv->failures;
	srv->good = 0;
	srv->lost = 0;
	srv->refresh_at = 0;
	srv->crossed = false;

	/* a server that stays dead is checked (OPTIONS) less and less
	 * often; sequential probes keep the fallback interval */
	if (srv->req == SFO_REQ_OPTIONS && srv->alive == SFO_ALIVE_DOWN &&
	    line->mode != SFO_SEQUENTIAL)
		++srv->dead_checks;
	srv->alive = SFO_ALIVE_DOWN;
	srv->silent = !scode;
	srv->req = SFO_REQ_NONE;
	srv->probing = false;
	srv->probe_at = now + (interval_ms(line) <<
			       min(srv->dead_checks, SFO_DEAD_CHECK_SHIFT));

	if (registration) {
		srv->reg = SFO_REG_FAILED;
		srv->refused = refusal(scode);
		++srv->reg_fails;
		srv->retry_at = now + sfo_backoff_ms(line, srv->reg_fails,
						     next_rnd(line));
		unreg(srv);
	}
	else if (srv->reg == SFO_REG_FAILED && !srv->refused) {
		srv->reg = SFO_REG_IDLE;
	}

	/* REGISTER probes (sequential) wait for the back-off too */
	if (srv->refused && srv->probe_at < srv->retry_at)
		srv->probe_at = srv->retry_at;

	/* a 503 with Retry-After: out of use for that long */
	if (srv->retry_after) {
		uint64_t until = now + 1000ULL * srv->retry_after;

		if (srv->retry_at < until)
			srv->retry_at = until;
		if (srv->probe_at < until)
			srv->probe_at = until;
		srv->retry_after = 0;
	}
}


/* A request to srv is out: answered within its budget, or failed */
static void await(struct sfo_server *srv, enum sfo_req req, uint64_t now)
{
	srv->req = req;
	srv->req_sent = now;
	srv->req_deadline = now + sfo_request_budget(srv);
}


/* A REGISTER from a new register client of the UA */
static void register_now(struct sfo_server *srv, uint64_t now)
{
	char text[64];
	int err;

	await(srv, SFO_REQ_REGISTER, now);
	err = srv->line->ops->reg(srv, srv->line->arg);
	if (err) {
		re_snprintf(text, sizeof(text), "REGISTER not sent: %m", err);
		fail(srv, 0, text, now);
	}
}


static void send_register(struct sfo_server *srv, bool probe, uint64_t now)
{
	srv->reg = SFO_REG_PENDING;
	srv->probing = probe;
	register_now(srv, now);
}


/* A registration made again by a new register client: libre
 * un-REGISTERs the client it frees, with the same Contact, and a
 * registrar that handles that after the new REGISTER (two processes at
 * once) removes the new binding while its 200 OK lists it. So the one
 * in use is withdrawn first, and the REGISTER goes once that is
 * answered (sfo_unregistered) or its budget is over; the server stays
 * what it is meanwhile. */
static void withdraw(struct sfo_server *srv, uint64_t now)
{
	await(srv, SFO_REQ_UNREGISTER, now);
	unreg(srv);
}


static void send_options(struct sfo_server *srv, uint64_t now)
{
	struct sfo_line *line = srv->line;
	static unsigned req_id;
	char text[64];
	int err;

	await(srv, SFO_REQ_OPTIONS, now);
	srv->req_id = ++req_id;

	err = line->ops->options(srv, line->arg);
	if (err) {
		re_snprintf(text, sizeof(text), "OPTIONS not sent: %m", err);
		fail(srv, 0, text, now);
	}
}


static void act(struct sfo_line *line, struct sfo_server *srv, uint64_t now)
{
	if (sfo_register_due(line, srv, now)) {
		send_register(srv, false, now);
	}
	else if (!sfo_wants_registered(line, srv) &&
		 (srv->reg == SFO_REG_OK || srv->reg == SFO_REG_PENDING)) {

		if (srv->probing)
			srv->probe_at = now + interval_ms(line);

		srv->reg = SFO_REG_IDLE;
		srv->req = SFO_REQ_NONE;
		srv->probing = false;
		srv->refresh_at = 0;
		unreg(srv);
	}
	else if (srv->refresh_at && now >= srv->refresh_at &&
		 srv->reg == SFO_REG_OK && srv->req == SFO_REQ_NONE) {

		srv->refresh_at = 0;
		withdraw(srv, now);
	}
	else if (sfo_probe_due(line, srv, now)) {

		if (line->mode == SFO_SEQUENTIAL && srv->reg != SFO_REG_OK &&
		    !srv->silent)
			send_register(srv, true, now);
		else
			send_options(srv, now);
	}
}


static void expire(struct sfo_line *line, uint64_t now)
{
	char text[64];
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		struct sfo_server *srv = le->data;

		if (srv->req == SFO_REQ_NONE || now < srv->req_deadline)
			continue;

		if (srv->req == SFO_REQ_UNREGISTER) {
			register_now(srv, now);
			continue;
		}

		/* a registered server may lose a few keep-alives */
		if (srv->req == SFO_REQ_OPTIONS && srv->reg == SFO_REG_OK &&
		    ++srv->lost < line->ka_loss) {
			srv->req = SFO_REQ_NONE;
			srv->probe_at = now;
			continue;
		}

		if (srv->lost > 1)
			re_snprintf(text, sizeof(text), "no answer to %u"
				    " keep-alives in a row", srv->lost);
		else
			re_snprintf(text, sizeof(text), "no answer after %u"
				    " retransmissions", srv->retries);
		fail(srv, 0, text, now);
	}
}


static bool first_active(const struct sfo_line *line,
			 const struct sfo_server *w)
{
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		const struct sfo_server *s = le->data;

		if (!s->deactivated && !s->unresolved)
			return s == w;
	}

	return false;
}


static bool higher_failed(const struct sfo_line *line,
			  const struct sfo_server *w)
{
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		const struct sfo_server *s = le->data;

		if (s == w)
			break;

		if (!s->deactivated && (s->alive == SFO_ALIVE_DOWN ||
					s->reg == SFO_REG_FAILED))
			return true;
	}

	return false;
}


static void retarget(struct sfo_line *line, uint64_t now)
{
	bool failback;

	if (line->mode != SFO_PARALLEL)
		line->target = sfo_choose(line, now, &failback);
}


static struct sfo_server *working_of(const struct sfo_line *line,
				     uint64_t now)
{
	const struct sfo_server *t = line->target, *w = line->working;
	bool failback;

	if (line->mode == SFO_PARALLEL)
		return sfo_choose(line, now, &failback);

	if (t && t->reg == SFO_REG_OK)
		return line->target;

	if (w && w->reg == SFO_REG_OK && !w->deactivated)
		return line->working;

	return NULL;
}


/* back: the line was on a backup because a higher server had failed */
static void switch_reason(struct sfo_line *line,
			  const struct sfo_server *old,
			  const struct sfo_server *w, bool back)
{
	char *r = line->reason;
	size_t sz = sizeof(line->reason);

	if (!old)
		re_snprintf(r, sz, "server %u registered", w->prio);
	else if (old->deactivated)
		re_snprintf(r, sz, "server %u deactivated", old->prio);
	else if (w && w->order < old->order && back)
		re_snprintf(r, sz, "fail-back: server %u registered again",
			    w->prio);
	else if (w && w->order < old->order)
		re_snprintf(r, sz, "server %u registered, higher priority",
			    w->prio);
	else if (old->reg != SFO_REG_OK)
		re_snprintf(r, sz, "server %u: %s", old->prio, old->last_text);
	else
		re_snprintf(r, sz, "mode %s", sfo_mode_name(line->mode));
}


static void count_switch(struct sfo_line *line,
			 const struct sfo_server *from,
			 const struct sfo_server *to)
{
	if (to->order > from->order)
		++line->failovers;
	else if (to->order < from->order)
		++line->failbacks;
}


/* A switch that passes through "no working server" (cisco, sequential:
 * the next server registers after the old one failed) is still one
 * switch, from the server lost to the server found, counted once.
 * Returns true when the working server changed; *fromp is the one left. */
static bool set_working(struct sfo_line *line, uint64_t now,
			struct sfo_server **fromp)
{
	struct sfo_server *old = line->working;
	struct sfo_server *w = working_of(line, now);
	struct sfo_server *from = old ? old : line->lost;
	bool back = line->degraded;

	if (w && first_active(line, w))
		line->degraded = false;
	else if (w && higher_failed(line, w))
		line->degraded = true;

	if (w == old)
		return false;

	/* across a gap the reason is the loss, unless this is a fail-back */
	if (old || !from || (w && w->order < from->order))
		switch_reason(line, from, w, back);

	if (old && (!w || w->order > old->order))
		line->degraded = true;

	/* a higher server answering late at start is no fail-back */
	if (w && from && from != w && (back || w->order > from->order))
		count_switch(line, from, w);

	line->working = w;
	line->switched_at = now;
	line->lost = w ? NULL : from;
	*fromp = from;

	return true;
}


/* The switch, reported once, after the state changes that led to it */
static void announce(struct sfo_line *line, const struct sfo_server *from)
{
	const struct sfo_server *w = line->working;

	if (!w)
		report(line, "%s: no working server (%s)", line->user,
		       line->reason);
	else if (from && from != w)
		report(line, "%s: working server %u -> %u %s (%s)",
		       line->user, from->prio, w->prio, w->uri, line->reason);
	else
		report(line, "%s: working server %u %s (%s)", line->user,
		       w->prio, w->uri, line->reason);

	if (line->ops && line->ops->working)
		line->ops->working(line, line->arg);
}


static void report_states(struct sfo_line *line, uint64_t now)
{
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		struct sfo_server *srv = le->data;
		enum sfo_state st = sfo_state_of(line, srv);
		bool why = st != SFO_ST_REGISTERING && srv->last_text[0];

		if (st == srv->state)
			continue;

		report(line, "%s: server %u %s: %s -> %s%s%s%s",
		       line->user, srv->prio, srv->uri,
		       sfo_state_name(srv->state), sfo_state_name(st),
		       why ? " (" : "", why ? srv->last_text : "",
		       why ? ")" : "");

		srv->state = st;
		srv->since = now;
	}
}


static void update(struct sfo_line *line, uint64_t now)
{
	struct sfo_server *from = NULL;
	unsigned passes = 0;
	bool changed;
	struct le *le;

	/* an action may bring an event back at once: finish this pass */
	if (line->busy) {
		line->again = true;
		return;
	}

	line->busy = 1;

	do {
		line->again = false;

		expire(line, now);
		retarget(line, now);

		LIST_FOREACH(&line->servers, le)
			act(line, le->data, now);

		retarget(line, now);
		changed = set_working(line, now, &from);
		report_states(line, now);
		if (changed)
			announce(line, from);

	} while (line->again && ++passes < 8);

	line->busy = 0;
	wake(line, now);
}


/** Start a line: first checks or registrations, as its mode says */
void sfo_start(struct sfo_line *line, uint64_t now)
{
	struct le *le;

	if (!line)
		return;

	LIST_FOREACH(&line->servers, le) {
		struct sfo_server *srv = le->data;

		srv->probe_at = now;
		srv->since = now;
	}

	update(line, now);
}


void sfo_tick(struct sfo_line *line, uint64_t now)
{
	if (line)
		update(line, now);
}


/** A 2xx to REGISTER, first or refresh */
void sfo_registered(struct sfo_server *srv, uint16_t scode,
		    const char *text, uint64_t now)
{
	if (!srv)
		return;

	if (srv->req == SFO_REQ_REGISTER) {
		srv->rtt = (int)(now - srv->req_sent);
		srv->req = SFO_REQ_NONE;
	}

	/* a sequential probe: the next one after the fallback interval */
	srv->probe_at = srv->probing ? now + interval_ms(srv->line) :
		now + 1000ULL * srv->line->probe_interval;

	set_text(srv, scode, text);
	srv->reg = SFO_REG_OK;
	srv->refused = false;
	srv->alive = SFO_ALIVE_UP;
	srv->silent = false;
	srv->dead_checks = 0;
	srv->reg_fails = 0;
	srv->retry_at = 0;
	++srv->good;

	/* made again from the next tick (the main loop) */
	if (srv->crossed) {
		srv->crossed = false;
		srv->refresh_at = now + 1;
		report(srv->line, "%s: server %u %s: a late un-REGISTER"
		       " crossed the REGISTER; registering again",
		       srv->line->user, srv->prio, srv->uri);
	}

	update(srv->line, now);
}


/** A REGISTER failed: SIP code (scode > 0) or transport error text */
void sfo_reg_failed(struct sfo_server *srv, uint16_t scode,
		    const char *text, uint64_t now)
{
	if (!srv)
		return;

	/* the late end of a registration the core already gave up */
	if (srv->req != SFO_REQ_REGISTER && srv->reg != SFO_REG_OK &&
	    srv->reg != SFO_REG_PENDING)
		return;

	fail(srv, scode, text, now);
	update(srv->line, now);
}


/** The answer to an OPTIONS check; scode 0 is a transport error */
void sfo_options_answer(struct sfo_server *srv, unsigned req_id,
			uint16_t scode, const char *text, uint64_t now)
{
	const struct sfo_line *line;

	if (!srv || srv->req != SFO_REQ_OPTIONS || srv->req_id != req_id)
		return;

	line = srv->line;
	srv->rtt = (int)(now - srv->req_sent);

	/* any final answer means alive, but 503 and the failover codes */
	if (!scode || sfo_codes_match(&line->codes, scode)) {
		fail(srv, scode, text, now);
	}
	else {
		if (!srv->refused)
			set_text(srv, scode, text);
		srv->req = SFO_REQ_NONE;
		srv->alive = SFO_ALIVE_UP;
		srv->silent = false;
		srv->dead_checks = 0;
		srv->lost = 0;
		++srv->good;
		srv->probe_at = next_check(srv, now);

		if (srv->reg == SFO_REG_FAILED && !srv->refused)
			srv->reg = SFO_REG_IDLE;
	}

	update(srv->line, now);
}


/**
 * A call failed at this server. Dead for a call (no answer, transport
 * error) is dead for registration too, and so is a server that asked for
 * rest (Retry-After); a plain 503 only sends the call elsewhere, and is
 * counted.
 */
void sfo_call_failed(struct sfo_server *srv, uint16_t scode,
		     const char *text, uint64_t now)
{
	if (!srv)
		return;

	if (scode && !srv->retry_after) {
		set_text(srv, scode, text);
		++srv->failures;
		return;
	}

	fail(srv, scode, text, now);
	update(srv->line, now);
}


/**
 * The 503 about to be reported for this server carried Retry-After
 * (the shell reads it before the stack reports the failure)
 */
void sfo_retry_after(struct sfo_server *srv, uint32_t secs)
{
	if (srv)
		srv->retry_after = min(secs, SFO_RETRY_AFTER_MAX);
}


/**
 * The registrar dropped the binding of a registered server: an
 * un-REGISTER of an older registration (libre sends it when the request
 * it waited for ends, up to a minute after the server was given up)
 * arrived after the new REGISTER. Register again, the registration in
 * use withdrawn first (withdraw()). Answered while a REGISTER is out,
 * which of the two the registrar handled last is unknown: the same
 * after that REGISTER's 2xx.
 */
void sfo_binding_lost(struct sfo_server *srv, uint64_t now)
{
	struct sfo_line *line;

	if (!srv)
		return;

	line = srv->line;
	if (srv->req == SFO_REQ_REGISTER &&
	    (srv->reg == SFO_REG_OK || srv->reg == SFO_REG_PENDING)) {
		srv->crossed = true;
		return;
	}

	if (srv->reg != SFO_REG_OK || srv->req != SFO_REQ_NONE)
		return;

	report(line, "%s: server %u %s: binding removed by a late"
	       " un-REGISTER; registering again", line->user, srv->prio,
	       srv->uri);

	withdraw(srv, now);
	update(line, now);
}


/**
 * The registrar answered the un-REGISTER that withdrew a registration:
 * the REGISTER goes at the next tick, at once but from the main loop,
 * not from the handler of this answer
 */
void sfo_unregistered(struct sfo_server *srv, uint64_t now)
{
	if (!srv || srv->req != SFO_REQ_UNREGISTER)
		return;

	srv->req_deadline = now + 1;
	wake(srv->line, now);
}


/* libre waits rwait % of the granted expiry before it refreshes,
 * counted in milliseconds in 32 bits: past 2^32 ms the wait wraps */
#define LIBRE_RWAIT 90

static bool wait_fits(uint32_t expires, uint32_t rwait, uint64_t half)
{
	uint64_t ms = (uint64_t)expires * rwait * 10;

	return ms <= UINT32_MAX || (uint32_t)ms >= half;
}


/* The rwait nearest the one in use (libre takes 5 to 95) whose wait
 * for this grant is no tight loop; 0 if none */
static uint32_t rwait_fit(uint32_t expires, uint32_t cur, uint64_t half)
{
	uint32_t d;

	for (d = 1; d <= 90; d++) {
		if (cur >= 5 + d && wait_fits(expires, cur - d, half))
			return cur - d;
		if (cur + d <= 95 && wait_fits(expires, cur + d, half))
			return cur + d;
	}

	return 0;
}


/**
 * The rwait the server's user agent must be made with: the one the core
 * chose for a grant, else the configured one
 *
 * @return 5 to 95, or 0 for libre's own
 */
uint32_t sfo_rwait(const struct sfo_server *srv)
{
	if (!srv)
		return 0;

	return srv->rwait_use ? srv->rwait_use : srv->rwait;
}


/**
 * The expiry a registrar granted for the registration in use (its 2xx,
 * before the stack acts on it), as libre reads it. Longer than asked is
 * the registrar's right: the registration is kept, and refreshed at half
 * the regint asked, as a desk phone does (libre would wait rwait % of
 * the grant: weeks). The refresh is a new register client, from the
 * main loop, after the one in use is withdrawn (withdraw()). A grant
 * that wraps libre's wait to less than that (4772186 s
 * is 104 ms at 90 %) would be a REGISTER loop: the registration is
 * refreshed at once by a user agent made with an rwait that does not
 * wrap so.
 *
 * @return 0, EINVAL without a server, or ERANGE for an expiry the stack
 *         cannot keep: 0 (no binding), or one no rwait keeps
 */
int sfo_granted(struct sfo_server *srv, uint32_t expires, uint64_t now)
{
	uint32_t cur, fit;
	uint64_t half;

	if (!srv)
		return EINVAL;

	if (!expires)
		return ERANGE;

	half = srv->regint * 500ULL;
	cur = sfo_rwait(srv) ? sfo_rwait(srv) : LIBRE_RWAIT;
	if (wait_fits(expires, cur, half)) {
		srv->refresh_at = expires > srv->regint ? now + half : 0;
		return 0;
	}

	fit = rwait_fit(expires, cur, half);
	if (!fit)
		return ERANGE;

	/* at the next tick: from the main loop, not this answer's handler */
	srv->rwait_use = fit;
	srv->refresh_at = now + 1;

	return 0;
}


/**
 * The stack sent a refresh REGISTER to a registered server: it must be
 * answered within the server's budget, like any request of the module
 */
void sfo_refresh_sent(struct sfo_server *srv, uint64_t now)
{
	if (!srv || srv->reg != SFO_REG_OK || srv->req != SFO_REQ_NONE)
		return;

	await(srv, SFO_REQ_REGISTER, now);
	update(srv->line, now);
}


/** How many calls the server carries now */
void sfo_calls(struct sfo_server *srv, unsigned calls, uint64_t now)
{
	if (!srv || srv->calls == calls)
		return;

	srv->calls = calls;
	update(srv->line, now);
}


/** Deactivate or activate a server (admin) */
void sfo_set_active(struct sfo_server *srv, bool active, uint64_t now)
{
	if (!srv || srv->deactivated == !active)
		return;

	srv->deactivated = !active;
	set_text(srv, 0, active ? "activated by user" :
		 "deactivated by user");

	if (active) {
		srv->alive = SFO_ALIVE_UNKNOWN;
		srv->reg = SFO_REG_IDLE;
		srv->reg_fails = 0;
		srv->good = 0;
		srv->retry_at = 0;
		srv->probe_at = now;
	}

	update(srv->line, now);
}


void sfo_set_mode(struct sfo_line *line, enum sfo_mode mode, uint64_t now)
{
	struct le *le;

	if (!line || line->mode == mode)
		return;

	line->mode = mode;
	line->target = mode == SFO_PARALLEL ? NULL : line->working;

	LIST_FOREACH(&line->servers, le) {
		struct sfo_server *srv = le->data;

		srv->probe_at = now;
		srv->probing = false;
	}

	update(line, now);
}


static void earliest(uint64_t *at, uint64_t t, uint64_t now)
{
	if (t > now && (!*at || t < *at))
		*at = t;
}


/** When the line next needs sfo_tick(); 0 for never */
uint64_t sfo_next_wake(const struct sfo_line *line, uint64_t now)
{
	uint64_t at = 0;
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		const struct sfo_server *srv = le->data;

		if (srv->deactivated)
			continue;

		if (srv->req != SFO_REQ_NONE)
			earliest(&at, srv->req_deadline, now);

		earliest(&at, srv->probe_at, now);
		earliest(&at, srv->retry_at, now);
		earliest(&at, srv->refresh_at, now);
	}

	if (line->degraded && line->fb == SFO_FB_DELAY)
		earliest(&at, line->switched_at + line->fb_value * 1000ULL,
			 now);

	return at;
}
