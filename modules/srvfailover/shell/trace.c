/**
 * @file trace.c  What the SIP stack does not tell: read off the wire
 *
 * libre reports no 100 Trying, ignores Retry-After, sends refresh
 * REGISTERs (and late un-REGISTERs) on its own, answers every challenge
 * again, and believes any expiry a registrar grants. Its SIP trace hook
 * sees every message in and out before the stack acts on it; the few
 * that matter are decoded here (sip_msg_decode) and passed to the core
 * or to dial.c (the Via branch of each INVITE, so that only an answer to
 * that INVITE counts). A message counts for the line of its From user.
 * With baresip's own `sip_trace yes`, the module takes the hook over.
 */
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"
#include "seam.h"


/* The server a message is for (tx) or from (rx). Its line by the From
 * user (several lines may share a server); the server by its address
 * when it has one (DNS targets share their To), else by the To URI,
 * which is sip:user@server for our REGISTER and OPTIONS */
static struct sfo_server *server_of(const struct sip_msg *msg,
				    const struct sa *peer)
{
	struct sfo_server *by_to = NULL;
	struct le *le, *se;

	LIST_FOREACH(shell_lines(), le) {
		struct sfo_line *line = le->data;

		if (pl_strcmp(&msg->from.uri.user, line->user))
			continue;

		LIST_FOREACH(&line->servers, se) {
			struct sfo_server *srv = se->data;
			uint16_t port = sfo_server_port(srv);
			struct sa sa;

			if (!sa_set_str(&sa, srv->host, port) &&
			    sa_cmp(&sa, peer, SA_ALL))
				return srv;

			if (!by_to && !srv->unresolved &&
			    !pl_strcasecmp(&msg->to.uri.host, srv->host) &&
			    (msg->to.uri.port ? msg->to.uri.port : port) ==
			    port)
				by_to = srv;
		}
	}

	return by_to;
}


static void retry_after(const struct sip_msg *msg, const struct sa *peer)
{
	const struct sip_hdr *hdr = sip_msg_hdr(msg, SIP_HDR_RETRY_AFTER);
	struct sfo_server *srv;
	uint32_t secs;

	if (!hdr || sfo_delta_seconds(&secs, &hdr->val))
		return;

	srv = dial_server_of(msg);
	sfo_retry_after(srv ? srv : server_of(msg, peer), secs);
}


/* An un-REGISTER asks for expires 0, in the header or the Contact */
static bool unregister(const struct sip_msg *msg)
{
	const struct sip_hdr *hdr = sip_msg_hdr(msg, SIP_HDR_EXPIRES);
	const struct sip_hdr *ct = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	struct pl v;

	if (hdr && !pl_strcmp(&hdr->val, "0"))
		return true;

	return ct && !re_regex(ct->val.p, ct->val.l, "expires=[0-9]+", &v) &&
		!pl_strcmp(&v, "0");
}


/* A REGISTER goes out: libre's refresh is watched within the budget,
 * and every one gets a CRLF from the probe socket beside it, so that an
 * ICMP error is seen for it too */
static void register_sent(struct sfo_server *srv, const struct sip_msg *msg)
{
	if (!srv)
		return;

	pl_strcpy(&msg->callid, srv->reg_callid, sizeof(srv->reg_callid));
	srv->no_reg_ok = false;
	sfo_refresh_sent(srv, shell_now());
	probe_ping(srv);
}


/* An un-REGISTER goes out: its answer is known by Call-ID and CSeq.
 * One of an older registration (another Call-ID) while the server is to
 * be registered is late: once the registrar has answered it, the binding
 * is gone */
static void unregister_sent(struct sfo_server *srv, const struct sip_msg *msg)
{
	if (!srv)
		return;

	pl_strcpy(&msg->callid, srv->unreg_callid,
		  sizeof(srv->unreg_callid));
	srv->unreg_cseq = msg->cseq.num;

	if ((srv->reg != SFO_REG_OK && srv->reg != SFO_REG_PENDING) ||
	    !pl_strcmp(&msg->callid, srv->reg_callid))
		return;

	pl_strcpy(&msg->callid, srv->stale_callid,
		  sizeof(srv->stale_callid));
}


/* What libre reads of a 2xx to its REGISTER */
struct grant {
	const char *cuser;         /* our Contact: its user,             */
	const struct sa *laddr;    /* address                            */
	enum sip_transp tp;        /* and transport                      */
	struct pl text;            /* the expiry granted to it, as said, */
	uint32_t secs;             /* and as libre reads it              */
};


/* Our Contact, as libre finds it (user, address, transport), and the
 * expiry granted to it, as libre reads it (in 32 bits, wrapping): its
 * expires parameter, else the Expires header, else 3600 */
static bool contact_expires(const struct sip_hdr *hdr,
			    const struct sip_msg *msg, void *arg)
{
	struct grant *g = arg;
	struct sip_addr addr;
	struct pl tp = PL("udp"), v;
	struct sa host;

	if (sip_addr_decode(&addr, &hdr->val) ||
	    pl_strcmp(&addr.uri.user, g->cuser) ||
	    sa_set(&host, &addr.uri.host, addr.uri.port) ||
	    !sa_cmp(&host, g->laddr, SA_ADDR))
		return false;

	(void)msg_param_decode(&addr.uri.params, "transport", &tp);
	if (pl_strcasecmp(&tp, sip_transp_name(g->tp)))
		return false;

	if (msg_param_decode(&addr.params, "expires", &v))
		v = msg->expires;

	g->text = v;
	g->secs = pl_isset(&v) ? pl_u32(&v) : 3600;

	return true;
}


/* The answer to a REGISTER: a late un-REGISTER's (the binding is
 * gone), the one withdrawing the registration before the module
 * registers again, or to the registration in use. The core judges the
 * expiry granted: one the stack cannot keep (0, or one that wraps
 * libre's timer to a tight loop) is a failure, tried again on the
 * back-off; one longer than asked is kept and refreshed by the core. */
static void registered(const struct sip_msg *msg, const struct sa *peer,
		       const struct sa *local, enum sip_transp tp)
{
	struct sfo_server *srv = server_of(msg, peer);
	struct grant g = {NULL, local, tp, PL_INIT, 0};
	char text[80];

	if (!srv)
		return;

	/* baresip 2.5 and later raise REGISTER_OK for this answer too
	 * (to an un-REGISTER of 4.x's ua_unregister()) */
	srv->no_reg_ok = msg->cseq.num == srv->unreg_cseq &&
		!pl_strcmp(&msg->callid, srv->unreg_callid);

	if (srv->stale_callid[0] &&
	    !pl_strcmp(&msg->callid, srv->stale_callid)) {
		srv->stale_callid[0] = '\0';
		sfo_binding_lost(srv, shell_now());
		return;
	}

	if (pl_strcmp(&msg->callid, srv->reg_callid))
		return;

	if (srv->req == SFO_REQ_UNREGISTER) {
		sfo_unregistered(srv, shell_now());
		return;
	}

	/* a registrar that names no Contact of ours: libre keeps what it
	 * asked */
	g.cuser = seam_contact_user(srv->ua);
	if (!sip_msg_hdr_apply(msg, true, SIP_HDR_CONTACT, contact_expires,
			       &g))
		g.secs = srv->regint;

	if (!sfo_granted(srv, g.secs, shell_now()))
		return;

	re_snprintf(text, sizeof(text), "%u %r, but registrar granted"
		    " expires=%r", msg->scode, &msg->reason, &g.text);
	srv->no_reg_ok = true;
	sfo_reg_failed(srv, msg->scode, text, shell_now());
}


static bool stale(const struct sip_msg *msg)
{
	const struct sip_hdr *hdr = sip_msg_hdr(msg, msg->scode == 401 ?
						SIP_HDR_WWW_AUTHENTICATE :
						SIP_HDR_PROXY_AUTHENTICATE);
	struct pl v;

	return hdr && !re_regex(hdr->val.p, hdr->val.l, "stale=[a-zA-Z]+",
				&v) && !pl_strcasecmp(&v, "true");
}


/* A REGISTER challenged twice in a row (the same 401 or 407, not for a
 * stale nonce): the credentials just sent are wrong. libre would answer
 * again up to its loop limit (about 16 REGISTERs); failing it here,
 * before libre reads the answer, ends the register client first, and
 * libre lets it go. A refresh with an old nonce is challenged once.
 * Only the registration in use counts, not an un-REGISTER. */
static void challenged(const struct sip_msg *msg, const struct sa *peer)
{
	struct sfo_server *srv = server_of(msg, peer);
	char text[80];

	if (!srv || srv->req == SFO_REQ_UNREGISTER ||
	    pl_strcmp(&msg->callid, srv->reg_callid))
		return;

	if (srv->challenge != msg->scode || stale(msg)) {
		srv->challenge = msg->scode;
		return;
	}

	srv->challenge = 0;
	re_snprintf(text, sizeof(text), "%u %r (credentials refused)",
		    msg->scode, &msg->reason);
	sfo_reg_failed(srv, msg->scode, text, shell_now());
}


static void message(bool tx, const struct sip_msg *msg,
		    const struct sa *peer, const struct sa *local,
		    enum sip_transp tp)
{
	if (tx) {
		if (!pl_strcmp(&msg->met, "INVITE"))
			dial_invite_sent(msg);
		else if (!pl_strcmp(&msg->met, "REGISTER") && !unregister(msg))
			register_sent(server_of(msg, peer), msg);
		else if (!pl_strcmp(&msg->met, "REGISTER"))
			unregister_sent(server_of(msg, peer), msg);
		return;
	}

	if (msg->scode < 200 && !pl_strcmp(&msg->cseq.met, "INVITE"))
		dial_provisional(msg);
	else if (msg->scode == 503)
		retry_after(msg, peer);
	else if ((msg->scode == 401 || msg->scode == 407) &&
		 !pl_strcmp(&msg->cseq.met, "REGISTER"))
		challenged(msg, peer);
	else if (msg->scode >= 200 && msg->scode < 300 &&
		 !pl_strcmp(&msg->cseq.met, "REGISTER"))
		registered(msg, peer, local, tp);
}


static void trace_handler(bool tx, enum sip_transp tp, const struct sa *src,
			  const struct sa *dst, const uint8_t *pkt,
			  size_t len, void *arg)
{
	struct sip_msg *msg = NULL;
	struct mbuf *mb;
	(void)arg;

	/* decode only what matters: REGISTER and INVITE out; 1xx, 2xx,
	 * 401, 407 and 503 in */
	if (len < 12)
		return;
	if (tx && memcmp(pkt, "REGISTER ", 9) && memcmp(pkt, "INVITE ", 7))
		return;
	if (!tx && (memcmp(pkt, "SIP/2.0 ", 8) ||
		    (pkt[8] != '1' && pkt[8] != '2' &&
		     memcmp(pkt + 8, "503", 3) && memcmp(pkt + 8, "401", 3) &&
		     memcmp(pkt + 8, "407", 3))))
		return;

	mb = mbuf_alloc(len);
	if (!mb)
		return;

	(void)mbuf_write_mem(mb, pkt, len);
	mb->pos = 0;

	if (!sip_msg_decode(&msg, mb))
		message(tx, msg, tx ? dst : src, tx ? src : dst, tp);

	mem_deref(msg);
	mem_deref(mb);
}


void trace_init(void)
{
	sip_set_trace_handler(uag_sip(), trace_handler);
}


void trace_close(void)
{
	if (uag_sip())
		sip_set_trace_handler(uag_sip(), NULL);
}
