/**
 * @file keepalive.c  The module's own OPTIONS checks of UDP servers
 *
 * ua_options_send() starts a libre client transaction that nothing can
 * end: to a dead server it is retransmitted for 32 s, long after the
 * module gave the check up, and it holds baresip when it quits. For a
 * UDP server the module sends its OPTIONS itself: statelessly, through
 * libre's SIP socket (the registration's source port, so NAT bindings
 * stay), retransmitted on its own timer (T1 doubling, as RFC 3261 17.1.2)
 * only while the core waits for the answer, which is read by its Via
 * branch, and as often as the core says (a dead server: once). TCP and
 * TLS servers keep ua_options_send(): nothing is retransmitted there,
 * and a refused connection is reported at once.
 */
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"


enum {
	T2_MS = 4000,
};

/* One OPTIONS in flight */
struct check {
	struct le le;
	struct tmr tmr;
	struct sfo_server *srv;
	unsigned req_id;
	struct mbuf *mb;
	struct sa dst;
	char branch[24];
	uint32_t wait;             /* ms to the next retransmission     */
	unsigned left;             /* retransmissions left              */
};

static struct list checks;
static struct sip_lsnr *lsnr;


static void check_destructor(void *arg)
{
	struct check *c = arg;

	tmr_cancel(&c->tmr);
	list_unlink(&c->le);
	mem_deref(c->mb);
}


/* Until the core stops waiting for this check: it gave up, or moved on */
static void retransmit(void *arg)
{
	struct check *c = arg;
	const struct sfo_server *srv = c->srv;

	if (srv->req != SFO_REQ_OPTIONS || srv->req_id != c->req_id) {
		mem_deref(c);
		return;
	}

	if (c->left) {
		--c->left;
		c->mb->pos = 0;
		(void)sip_send(uag_sip(), NULL, SIP_TRANSP_UDP, &c->dst,
			       c->mb);
	}

	c->wait = min(2 * c->wait, (uint32_t)T2_MS);
	tmr_start(&c->tmr, c->wait, retransmit, c);
}


static int request(struct check *c, const struct sfo_server *srv)
{
	const char *hostport = srv->uri + 4;   /* after "sip:" */
	const char *user = srv->line->user;
	struct sa laddr;
	int err;

	err = sip_transp_laddr(uag_sip(), &laddr, SIP_TRANSP_UDP, &c->dst);
	if (err)
		return err;

	rand_str(c->branch, sizeof(c->branch));

	return mbuf_printf(c->mb,
			   "OPTIONS %s SIP/2.0\r\n"
			   "Via: SIP/2.0/UDP %J;branch=z9hG4bK%s;rport\r\n"
			   "Max-Forwards: 70\r\n"
			   "To: <sip:%s@%s>\r\n"
			   "From: <sip:%s@%s>;tag=%08x\r\n"
			   "Call-ID: %08x%08x@srvfailover\r\n"
			   "CSeq: 1 OPTIONS\r\n"
			   "Accept: application/sdp\r\n"
			   "Content-Length: 0\r\n"
			   "\r\n",
			   srv->probe_uri, &laddr, c->branch, user, hostport,
			   user, hostport, rand_u32(), rand_u32(),
			   rand_u32());
}


/**
 * Send an OPTIONS check to srv for the core's srv->req_id
 *
 * @return 0 if sent, otherwise errorcode
 */
int keepalive_send(struct sfo_server *srv)
{
	struct check *c;
	int err;

	c = mem_zalloc(sizeof(*c), check_destructor);
	if (!c)
		return ENOMEM;

	c->srv = srv;
	c->req_id = srv->req_id;
	c->wait = SFO_T1_MS;
	c->left = sfo_check_retransmits(srv);
	tmr_init(&c->tmr);
	c->mb = mbuf_alloc(512);
	err = c->mb ? 0 : ENOMEM;
	err = err ? err : sa_set_str(&c->dst, srv->host,
				     sfo_server_port(srv));
	err = err ? err : request(c, srv);
	if (!err) {
		c->mb->pos = 0;
		err = sip_send(uag_sip(), NULL, SIP_TRANSP_UDP, &c->dst,
			       c->mb);
	}

	if (err) {
		mem_deref(c);
		return err;
	}

	list_append(&checks, &c->le, c);
	tmr_start(&c->tmr, c->wait, retransmit, c);

	return 0;
}


static struct check *check_of(const struct sip_msg *msg)
{
	struct le *le;
	struct pl b;

	if (re_regex(msg->via.branch.p, msg->via.branch.l, "z9hG4bK[^]+",
		     &b))
		return NULL;

	LIST_FOREACH(&checks, le) {
		struct check *c = le->data;

		if (!pl_strcmp(&b, c->branch))
			return c;
	}

	return NULL;
}


/* A response no transaction of libre's took: one of our checks? */
static bool response_handler(const struct sip_msg *msg, void *arg)
{
	struct check *c = check_of(msg);
	struct sfo_server *srv;
	unsigned req_id;
	char text[64];
	(void)arg;

	if (!c)
		return false;

	if (msg->scode < 200)
		return true;

	srv = c->srv;
	req_id = c->req_id;
	mem_deref(c);

	re_snprintf(text, sizeof(text), "%u %r", msg->scode, &msg->reason);
	sfo_options_answer(srv, req_id, msg->scode, text, shell_now());

	return true;
}


/** The server's user agent goes: so do its checks */
void keepalive_remove(const struct sfo_server *srv)
{
	struct le *le = list_head(&checks);

	while (le) {
		struct check *c = le->data;

		le = le->next;
		if (c->srv == srv)
			mem_deref(c);
	}
}


int keepalive_init(void)
{
	list_init(&checks);

	return sip_listen(&lsnr, uag_sip(), false, response_handler, NULL);
}


/** baresip quits, or the module closes: nothing more is sent */
void keepalive_close(void)
{
	list_flush(&checks);
	lsnr = mem_deref(lsnr);
}
