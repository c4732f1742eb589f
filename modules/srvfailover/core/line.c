/**
 * @file line.c  Lines and servers: the objects, their names and numbers
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "sfo_core.h"


static const char *mode_names[] = {"parallel", "cisco", "sequential"};

static const char *state_names[] = {
	"Registered*", "Registered", "Registering", "Registration failed",
	"Reachable", "Unreachable", "Standby", "Deactivated",
};


static void server_destructor(void *arg)
{
	struct sfo_server *srv = arg;

	list_unlink(&srv->le);
	mem_deref(srv->account);
	mem_deref(srv->uri);
	mem_deref(srv->transport);
	mem_deref(srv->probe_uri);
	mem_deref(srv->host);
	mem_deref(srv->dns);
	mem_deref(srv->entry);
}


static void line_destructor(void *arg)
{
	struct sfo_line *line = arg;

	list_unlink(&line->le);
	list_flush(&line->servers);
	mem_deref(line->user);
}


int sfo_line_alloc(struct sfo_line **linep, const char *user)
{
	struct sfo_line *line;
	int err;

	if (!linep || !user)
		return EINVAL;

	line = mem_zalloc(sizeof(*line), line_destructor);
	if (!line)
		return ENOMEM;

	err = str_dup(&line->user, user);
	if (err) {
		mem_deref(line);
		return err;
	}

	line->mode = SFO_PARALLEL;
	line->fb = SFO_FB_IMMEDIATE;
	line->probe_interval = 30;
	line->fallback_interval = 120;
	line->retry_base = 30;
	line->retry_max = 1800;
	line->ka_loss = 1;
	str_ncpy(line->codes.v[0], "503", sizeof(line->codes.v[0]));
	line->codes.n = 1;
	line->rnd = 1;

	*linep = line;

	return 0;
}


/** A server of a line with the defaults, not in its list yet */
int sfo_server_alloc(struct sfo_server **srvp, struct sfo_line *line)
{
	struct sfo_server *srv;

	if (!line || !srvp)
		return EINVAL;

	srv = mem_zalloc(sizeof(*srv), server_destructor);
	if (!srv)
		return ENOMEM;

	srv->line = line;
	srv->regint = 3600;
	srv->retries = 3;
	srv->state = SFO_ST_STANDBY;
	srv->rtt = -1;

	*srvp = srv;

	return 0;
}


/** Append a server of the next priority to a line */
int sfo_server_add(struct sfo_line *line, struct sfo_server **srvp)
{
	struct sfo_server *srv;
	int err;

	err = sfo_server_alloc(&srv, line);
	if (err)
		return err;

	srv->prio = list_count(&line->servers) + 1;
	srv->order = srv->prio;
	list_append(&line->servers, &srv->le, srv);

	*srvp = srv;

	return 0;
}


void sfo_line_set_ops(struct sfo_line *line, const struct sfo_ops *ops,
		      void *arg, uint32_t seed)
{
	if (!line)
		return;

	line->ops = ops;
	line->arg = arg;
	line->rnd = seed ? seed : 1;
}


struct sfo_line *sfo_line_find(const struct list *lines, const char *user)
{
	struct le *le;

	for (le = list_head(lines); le; le = le->next) {
		struct sfo_line *line = le->data;

		if (0 == str_cmp(line->user, user))
			return line;
	}

	return NULL;
}


struct sfo_server *sfo_server_find(const struct sfo_line *line,
				   unsigned prio)
{
	struct le *le;

	for (le = list_head(line ? &line->servers : NULL); le; le = le->next) {
		struct sfo_server *srv = le->data;

		if (srv->prio == prio)
			return srv;
	}

	return NULL;
}


const char *sfo_mode_name(enum sfo_mode mode)
{
	return (unsigned)mode < ARRAY_SIZE(mode_names) ?
		mode_names[mode] : "?";
}


int sfo_mode_parse(enum sfo_mode *modep, const char *s)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mode_names); i++) {
		if (0 == str_casecmp(s, mode_names[i])) {
			*modep = (enum sfo_mode)i;
			return 0;
		}
	}

	return EINVAL;
}


const char *sfo_state_name(enum sfo_state st)
{
	return (unsigned)st < ARRAY_SIZE(state_names) ?
		state_names[st] : "?";
}


/** The server's port: given, else the default of its transport */
uint16_t sfo_server_port(const struct sfo_server *srv)
{
	if (srv->port)
		return srv->port;

	return !str_casecmp(srv->transport, "tls") ? 5061 : 5060;
}


/** A UDP server given by an address (not a name): what the shell's ICMP
 * probe socket and own OPTIONS checks serve */
bool sfo_server_udp_addr(const struct sfo_server *srv)
{
	struct sa sa;

	return !str_casecmp(srv->transport, "udp") &&
		!sa_set_str(&sa, srv->host, sfo_server_port(srv));
}


/**
 * The delta-seconds at the start of a SIP header value ("120",
 * "120 (lunch)", "120;duration=60"). A number too big for 32 bits is
 * UINT32_MAX, never its wrapped value.
 *
 * @param secs The number
 * @param val  The header value
 *
 * @return 0 if success, EINVAL when the value does not start with digits
 */
int sfo_delta_seconds(uint32_t *secs, const struct pl *val)
{
	struct pl d;

	if (!val || !val->l || !isdigit((unsigned char)val->p[0]))
		return EINVAL;

	d.p = val->p;
	for (d.l = 0; d.l < val->l; d.l++) {
		if (!isdigit((unsigned char)d.p[d.l]))
			break;
	}

	while (d.l > 1 && d.p[0] == '0')
		pl_advance(&d, 1);

	*secs = sfo_pl_isnum(&d) ? pl_u32(&d) : UINT32_MAX;

	return 0;
}


/**
 * Time until a request with this many retransmissions is given up:
 * T1 doubling after each send, as a UDP client transaction does
 * (3 retransmissions: 0.5 + 1 + 2 = 3.5 s).
 */
uint32_t sfo_budget_ms(unsigned retries)
{
	if (retries > 10)
		retries = 10;

	return SFO_T1_MS * ((1u << retries) - 1) + (retries ? 0 : SFO_T1_MS);
}


/* No other server of the line is left to try */
static bool last_hope(const struct sfo_server *srv)
{
	struct le *le;

	LIST_FOREACH(&srv->line->servers, le) {
		const struct sfo_server *s = le->data;

		if (s != srv && !s->deactivated &&
		    s->alive != SFO_ALIVE_DOWN && s->reg != SFO_REG_FAILED)
			return false;
	}

	return true;
}


/**
 * How long a request to this server may go unanswered: its retry budget,
 * but the full 64*T1 when it is the last server left, as Yealink does
 */
uint32_t sfo_request_budget(const struct sfo_server *srv)
{
	if (last_hope(srv))
		return 64 * SFO_T1_MS;

	return sfo_budget_ms(srv->retries);
}


/**
 * How often a check may be retransmitted: a server known dead is only
 * asked whether it is back (once again, against a lost packet), and a
 * check that goes unanswered changes nothing but waits for the next
 */
unsigned sfo_check_retransmits(const struct sfo_server *srv)
{
	return srv->alive == SFO_ALIVE_DOWN ? 1 : srv->retries;
}


/**
 * Registration back-off after consecutive failures (RFC 5626 4.5):
 * min(max, base * 2^(fails-1)), then a random 50..100 % of it
 */
uint32_t sfo_backoff_ms(const struct sfo_line *line, unsigned fails,
			uint32_t rnd)
{
	uint64_t w = line->retry_base;

	while (fails > 1 && w < line->retry_max) {
		w *= 2;
		--fails;
	}

	if (w > line->retry_max)
		w = line->retry_max;

	w *= 1000;

	return (uint32_t)(w / 2 + rnd % (w / 2 + 1));
}


/** True if pl is a plain decimal number of at most 9 digits */
bool sfo_pl_isnum(const struct pl *pl)
{
	size_t i;

	if (!pl || !pl->l || pl->l > 9)
		return false;

	for (i = 0; i < pl->l; i++) {
		if (!isdigit((unsigned char)pl->p[i]))
			return false;
	}

	return true;
}


static bool code_ok(const struct pl *pl)
{
	size_t i;

	if (pl->l != 3 || pl->p[0] < '1' || pl->p[0] > '6')
		return pl->l == 3 && pl->p[0] == '?';

	for (i = 1; i < 3; i++) {
		if (pl->p[i] != '?' && !isdigit((unsigned char)pl->p[i]))
			return false;
	}

	return true;
}


/** Parse a failover list such as "503,5??,6??" */
int sfo_codes_parse(struct sfo_codes *codes, const struct pl *pl)
{
	struct sfo_codes c;
	struct pl rest = *pl, tok;

	memset(&c, 0, sizeof(c));

	while (rest.l) {
		const char *comma = pl_strchr(&rest, ',');

		tok.p = rest.p;
		tok.l = comma ? (size_t)(comma - rest.p) : rest.l;
		pl_advance(&rest, tok.l + (comma ? 1 : 0));

		if (!code_ok(&tok) || c.n >= SFO_CODES_MAX)
			return EINVAL;

		pl_strcpy(&tok, c.v[c.n++], sizeof(c.v[0]));
	}

	if (!c.n)
		return EINVAL;

	*codes = c;

	return 0;
}


bool sfo_codes_match(const struct sfo_codes *codes, uint16_t scode)
{
	char s[4];
	unsigned i, j;

	if (!codes || scode < 100 || scode > 699)
		return false;

	(void)re_snprintf(s, sizeof(s), "%u", scode);

	for (i = 0; i < codes->n; i++) {
		for (j = 0; j < 3; j++) {
			if (codes->v[i][j] != '?' && codes->v[i][j] != s[j])
				break;
		}
		if (j == 3)
			return true;
	}

	return false;
}


/** Parse "immediate", "never", "probes:N" or "delay:SECONDS" */
int sfo_failback_parse(struct sfo_line *line, const struct pl *pl)
{
	struct pl name, val;
	uint32_t n;

	if (!pl_strcasecmp(pl, "immediate") || !pl_strcasecmp(pl, "never")) {
		line->fb = pl->p[0] == 'n' || pl->p[0] == 'N' ?
			SFO_FB_NEVER : SFO_FB_IMMEDIATE;
		line->fb_value = 0;
		return 0;
	}

	if (re_regex(pl->p, pl->l, "[a-z]+:[^]+", &name, &val) ||
	    name.p != pl->p || !sfo_pl_isnum(&val))
		return EINVAL;

	n = pl_u32(&val);

	if (!pl_strcasecmp(&name, "probes") && n >= 1 && n <= 100)
		line->fb = SFO_FB_PROBES;
	else if (!pl_strcasecmp(&name, "delay") && n >= 1 && n <= 86400)
		line->fb = SFO_FB_DELAY;
	else
		return EINVAL;

	line->fb_value = n;

	return 0;
}


int sfo_failback_print(struct re_printf *pf, const struct sfo_line *line)
{
	switch (line->fb) {

	case SFO_FB_PROBES:
		return re_hprintf(pf, "probes:%u", line->fb_value);

	case SFO_FB_DELAY:
		return re_hprintf(pf, "delay:%u", line->fb_value);

	case SFO_FB_NEVER:
		return re_hprintf(pf, "never");

	default:
		return re_hprintf(pf, "immediate");
	}
}


static void forget(struct sfo_line *line, const struct sfo_server *s)
{
	if (line->target == s)
		line->target = NULL;
	if (line->lost == s)
		line->lost = NULL;
	if (line->working == s)
		line->working = NULL;
}


/**
 * Take a server out of its line (a DNS target that went, a server gone
 * from the file): stopped (un-REGISTERed when registered), its user
 * agent dropped by the shell, forgotten, freed
 */
void sfo_server_drop(struct sfo_line *line, struct sfo_server *s)
{
	const struct sfo_ops *ops = line->ops;

	if (ops && s->reg != SFO_REG_IDLE && s->reg != SFO_REG_FAILED &&
	    !s->unresolved)
		ops->unreg(s, line->arg);

	if (ops && ops->removed && !s->unresolved)
		ops->removed(s, line->arg);

	forget(line, s);
	list_unlink(&s->le);
	mem_deref(s);
}


/** Each server's place in the line, and in its DNS name's group */
void sfo_line_renumber(struct sfo_line *line)
{
	unsigned order = 0, rank = 0, prio = 0;
	struct le *le;

	LIST_FOREACH(&line->servers, le) {
		struct sfo_server *s = le->data;

		rank = s->prio == prio ? rank + 1 : 0;
		prio = s->prio;
		s->order = ++order;
		s->rank = rank;
	}
}


/** srvfailover_start_delay: whole seconds, 0..SFO_START_DELAY_MAX */
int sfo_start_delay_parse(uint32_t *secs, const char *val)
{
	struct pl pl;

	pl_set_str(&pl, val);
	if (!sfo_pl_isnum(&pl) || pl.l > 4 ||
	    pl_u32(&pl) > SFO_START_DELAY_MAX)
		return EINVAL;

	*secs = pl_u32(&pl);

	return 0;
}


/** The phone's wait before its first REGISTERs: 0..secs s, in ms */
uint64_t sfo_start_delay_ms(uint32_t secs, uint32_t rnd)
{
	return secs ? rnd % ((uint64_t)secs * 1000 + 1) : 0;
}
