/**
 * @file resolve.c  The DNS lookups of servers given as a name
 *
 * As a Yealink phone in failover mode: SRV (_sip._udp, _sip._tcp or
 * _sips._tcp) in priority, then weight order, else A, else AAAA, with
 * baresip's own DNS client (its dns_server setting). A port in the URI
 * means no SRV (RFC 3263). The answer goes to the core as the list of
 * targets; the lookup runs again when the records' TTL ends, or after a
 * while when it failed.
 */
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"


enum {
	TTL_MIN = 5,          /* s: never ask more often than this      */
	TTL_MAX = 3600,
	RETRY = 30,           /* s: after a failed lookup               */
};

/* An SRV record waiting for the address of its target */
struct srvrec {
	char target[64];
	uint16_t port;
	uint16_t pri;
	uint16_t weight;
};

struct resolver {
	struct le le;
	struct sfo_line *line;
	unsigned prio;
	char *name;
	char *transport;
	uint16_t port;              /* from the URI, 0 when none        */
	struct dns_query *q;
	struct tmr tmr;
	struct srvrec srvv[SFO_TARGETS_MAX];
	size_t srvc, srvi;          /* SRV records, the one asked for   */
	struct sfo_target tv[SFO_TARGETS_MAX];
	size_t tc;
	int64_t ttl;                /* the shortest, -1 before any      */
	bool aaaa;                  /* the name's AAAA was asked for    */
};

static struct list resolvers;

static void lookup(struct resolver *r);


static void resolver_destructor(void *arg)
{
	struct resolver *r = arg;

	tmr_cancel(&r->tmr);
	list_unlink(&r->le);
	mem_deref(r->q);
	mem_deref(r->name);
	mem_deref(r->transport);
}


static struct dnsc *dnsc(void)
{
	return net_dnsc(baresip_network());
}


static void ttl_min(struct resolver *r, int64_t ttl)
{
	if (r->ttl < 0 || ttl < r->ttl)
		r->ttl = ttl;
}


static void again(void *arg)
{
	lookup(arg);
}


static void done(struct resolver *r)
{
	uint64_t next = r->ttl < TTL_MIN ? TTL_MIN :
		r->ttl > TTL_MAX ? TTL_MAX : (uint64_t)r->ttl;

	if (!r->tc) {
		char text[96];

		re_snprintf(text, sizeof(text), "DNS: no SRV, A or AAAA"
			    " record for %s", r->name);
		warning("srvfailover: %s: %s\n", r->line->user, text);
		sfo_targets_failed(r->line, r->prio, text, shell_now());
		next = RETRY;
	}
	else {
		sfo_targets_set(r->line, r->prio, r->tv, r->tc, shell_now());
	}

	tmr_start(&r->tmr, next * 1000, again, r);
}


static void add_target(struct resolver *r, const struct sa *sa,
		       uint16_t port)
{
	if (r->tc >= SFO_TARGETS_MAX)
		return;

	re_snprintf(r->tv[r->tc].host, sizeof(r->tv[0].host), "%j", sa);
	r->tv[r->tc].port = port;
	++r->tc;
}


static uint16_t default_port(const struct resolver *r)
{
	return !str_casecmp(r->transport, "tls") ? 5061 : 5060;
}


static void addr_handler(int err, const struct dnshdr *hdr,
			 struct list *ansl, struct list *authl,
			 struct list *addl, void *arg);


/* Ask for the address of a name: A first, AAAA when there is none */
static int ask_addr(struct resolver *r, const char *name, uint16_t type)
{
	r->q = mem_deref(r->q);

	return dnsc_query(&r->q, dnsc(), name, type, DNS_CLASS_IN, true,
			  addr_handler, r);
}


static void next_srv(struct resolver *r)
{
	while (r->srvi < r->srvc) {
		if (!ask_addr(r, r->srvv[r->srvi].target, DNS_TYPE_A))
			return;
		++r->srvi;
	}

	done(r);
}


static void addr_handler(int err, const struct dnshdr *hdr,
			 struct list *ansl, struct list *authl,
			 struct list *addl, void *arg)
{
	struct resolver *r = arg;
	bool srv = r->srvc > 0;
	uint16_t port = srv ? r->srvv[r->srvi].port :
		r->port ? r->port : default_port(r);
	bool any = false;
	struct le *le;
	(void)hdr;
	(void)authl;
	(void)addl;

	LIST_FOREACH(ansl, le) {
		const struct dnsrr *rr = le->data;
		struct sa sa;

		if (err || (rr->type != DNS_TYPE_A &&
			    rr->type != DNS_TYPE_AAAA))
			continue;

		if (rr->type == DNS_TYPE_A)
			sa_set_in(&sa, rr->rdata.a.addr, port);
		else
			sa_set_in6(&sa, rr->rdata.aaaa.addr, port);

		add_target(r, &sa, port);
		ttl_min(r, rr->ttl);
		any = true;
	}

	/* no A for the name itself: its AAAA, once */
	if (!any && !srv && !r->tc && !r->aaaa) {
		r->aaaa = true;
		if (!ask_addr(r, r->name, DNS_TYPE_AAAA))
			return;
	}

	if (srv) {
		++r->srvi;
		next_srv(r);
		return;
	}

	done(r);
}


/* SRV records in priority order, then the heavier first */
static void srv_add(struct resolver *r, const struct dnsrr *rr)
{
	struct srvrec rec;
	size_t i;

	if (r->srvc >= SFO_TARGETS_MAX)
		return;

	str_ncpy(rec.target, rr->rdata.srv.target, sizeof(rec.target));
	rec.port = rr->rdata.srv.port;
	rec.pri = rr->rdata.srv.pri;
	rec.weight = rr->rdata.srv.weight;

	for (i = r->srvc; i > 0; i--) {
		const struct srvrec *p = &r->srvv[i - 1];

		if (p->pri < rec.pri ||
		    (p->pri == rec.pri && p->weight >= rec.weight))
			break;

		r->srvv[i] = *p;
	}

	r->srvv[i] = rec;
	++r->srvc;
}


static void srv_handler(int err, const struct dnshdr *hdr,
			struct list *ansl, struct list *authl,
			struct list *addl, void *arg)
{
	struct resolver *r = arg;
	(void)hdr;
	(void)authl;
	(void)addl;

	if (!err) {
		struct le *le;

		LIST_FOREACH(ansl, le) {
			const struct dnsrr *rr = le->data;

			if (rr->type != DNS_TYPE_SRV)
				continue;

			srv_add(r, rr);
			ttl_min(r, rr->ttl);
		}
	}

	if (r->srvc) {
		next_srv(r);
		return;
	}

	/* no SRV: the name's own address */
	if (ask_addr(r, r->name, DNS_TYPE_A))
		done(r);
}


static void lookup(struct resolver *r)
{
	char name[128];
	int err;

	r->srvc = r->srvi = r->tc = 0;
	r->ttl = -1;
	r->aaaa = false;

	if (r->port) {
		if (ask_addr(r, r->name, DNS_TYPE_A))
			done(r);
		return;
	}

	re_snprintf(name, sizeof(name), "%s.%s",
		    !str_casecmp(r->transport, "tls") ? "_sips._tcp" :
		    !str_casecmp(r->transport, "tcp") ? "_sip._tcp" :
		    "_sip._udp", r->name);

	r->q = mem_deref(r->q);
	err = dnsc_query(&r->q, dnsc(), name, DNS_TYPE_SRV, DNS_CLASS_IN,
			 true, srv_handler, r);
	if (err && ask_addr(r, r->name, DNS_TYPE_A))
		done(r);
}


/** Resolve a server given as a DNS name; its targets go to the core */
int resolve_start(struct sfo_server *srv)
{
	struct resolver *r;
	int err;

	r = mem_zalloc(sizeof(*r), resolver_destructor);
	if (!r)
		return ENOMEM;

	r->line = srv->line;
	r->prio = srv->prio;
	r->port = srv->port;
	tmr_init(&r->tmr);

	err  = str_dup(&r->name, srv->dns);
	err |= str_dup(&r->transport, srv->transport);
	if (err) {
		mem_deref(r);
		return err;
	}

	list_append(&resolvers, &r->le, r);

	/* from the main loop: the line is not wired to the shell yet */
	tmr_start(&r->tmr, 0, again, r);

	return 0;
}


void resolve_close(void)
{
	list_flush(&resolvers);
}
