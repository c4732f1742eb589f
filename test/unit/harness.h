/*
 * harness.h  Drives the core: a config text in, recorded actions out
 *
 * Each action the core asks for is recorded as a short string
 * ("reg 1", "unreg 2", "options 3", "working 2": the number is the
 * place of the server in the line: its priority, but for DNS targets);
 * tests look for them
 * and feed answers back with the time passed in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* each suite uses some of these helpers */
#pragma GCC diagnostic ignored "-Wunused-function"
#include <re.h>
#include "sfo_core.h"

enum { MAXREC = 256 };

#define THREE(mode, extra) \
	"<sip:100@127.0.0.2;transport=udp>;regint=600;sfo_mode=" mode extra \
	"\n<sip:100@127.0.0.3;transport=udp>;regint=600" \
	"\n<sip:100@127.0.0.4;transport=udp>;regint=600\n"


static struct {
	struct list lines;
	char acts[MAXREC][32];
	unsigned nacts;
	char reports[MAXREC][200];
	unsigned nreports;
	int reg_err;             /* what the next REGISTER send returns */
	uint64_t wake;
	char errors[16384];
} H;


static void rec(const char *fmt, ...)
{
	va_list ap;

	if (H.nacts >= MAXREC)
		return;

	va_start(ap, fmt);
	re_vsnprintf(H.acts[H.nacts++], sizeof(H.acts[0]), fmt, ap);
	va_end(ap);
}


static int h_reg(struct sfo_server *srv, void *arg)
{
	(void)arg;
	rec("reg %u", srv->order);
	return H.reg_err;
}


static void h_unreg(struct sfo_server *srv, void *arg)
{
	(void)arg;
	rec("unreg %u", srv->order);
}


static int h_options(struct sfo_server *srv, void *arg)
{
	(void)arg;
	rec("options %u", srv->order);
	return 0;
}


static void h_working(struct sfo_line *line, void *arg)
{
	(void)arg;
	if (line->working)
		rec("working %u", line->working->order);
	else
		rec("working none");
}


static void h_report(const struct sfo_line *line, const char *msg,
		     void *arg)
{
	(void)line;
	(void)arg;
	if (H.nreports < MAXREC)
		str_ncpy(H.reports[H.nreports++], msg, sizeof(H.reports[0]));
}


static void h_wake(struct sfo_line *line, uint64_t at, void *arg)
{
	(void)line;
	(void)arg;
	H.wake = at;
}


static int h_added(struct sfo_server *srv, void *arg)
{
	(void)arg;
	rec("added %s", srv->uri);
	return 0;
}


static void h_removed(struct sfo_server *srv, void *arg)
{
	(void)arg;
	rec("removed %s", srv->uri);
}


static const struct sfo_ops h_ops = {
	h_reg, h_unreg, h_options, h_working, h_report, h_wake,
	h_added, h_removed
};


static int h_errprint(const char *p, size_t size, void *arg)
{
	size_t n = strlen(H.errors);
	(void)arg;

	if (n + size < sizeof(H.errors)) {
		memcpy(H.errors + n, p, size);
		H.errors[n + size] = '\0';
	}
	return 0;
}


/* What a command or a refusal printed (out_print), for the tests */
static char out[16384];

static int out_print(const char *p, size_t size, void *arg)
{
	size_t n = strlen(out);
	(void)arg;

	if (n + size >= sizeof(out))
		return ENOMEM;

	memcpy(out + n, p, size);
	out[n + size] = '\0';

	return 0;
}


static void clear(void)
{
	H.nacts = 0;
	H.nreports = 0;
}


/* Parse a config text (len bytes: NULs too); every line gets the
 * recording ops */
static unsigned load_len(const char *text, size_t len, enum sfo_mode mode)
{
	struct re_printf pf = {h_errprint, NULL};
	unsigned errc = 0;
	struct pl pl;
	struct le *le;

	pl.p = text;
	pl.l = len;
	assert_int_equal(0, sfo_config_parse(&H.lines, "srvfailover", &pl,
					     mode, &pf, &errc));

	LIST_FOREACH(&H.lines, le)
		sfo_line_set_ops(le->data, &h_ops, NULL, 12345);

	return errc;
}


static unsigned load_mode(const char *text, enum sfo_mode mode)
{
	return load_len(text, strlen(text), mode);
}


static unsigned load(const char *text)
{
	return load_mode(text, SFO_PARALLEL);
}


static struct sfo_line *line1(void)
{
	return list_ledata(list_head(&H.lines));
}


static struct sfo_server *srv(unsigned prio)
{
	return sfo_server_find(line1(), prio);
}


static bool has(const char *act)
{
	unsigned i;

	for (i = 0; i < H.nacts; i++) {
		if (0 == strcmp(H.acts[i], act))
			return true;
	}

	return false;
}


/* Position of an action in the record, -1 when absent */
static int pos(const char *act)
{
	unsigned i;

	for (i = 0; i < H.nacts; i++) {
		if (0 == strcmp(H.acts[i], act))
			return (int)i;
	}

	return -1;
}


static unsigned count(const char *act)
{
	unsigned i, n = 0;

	for (i = 0; i < H.nacts; i++)
		n += 0 == strcmp(H.acts[i], act);

	return n;
}


static bool reported(const char *part)
{
	unsigned i;

	for (i = 0; i < H.nreports; i++) {
		if (strstr(H.reports[i], part))
			return true;
	}

	return false;
}


static const char *state(unsigned prio)
{
	return sfo_state_name(srv(prio)->state);
}


static void ok(unsigned prio, uint64_t now)
{
	sfo_registered(srv(prio), 200, "200 OK", now);
}


static void fail503(unsigned prio, uint64_t now)
{
	sfo_reg_failed(srv(prio), 503, "503 Service Unavailable", now);
}


static void alive(unsigned prio, uint64_t now)
{
	sfo_options_answer(srv(prio), srv(prio)->req_id, 200, "200 OK", now);
}


static void dead(unsigned prio, uint64_t now)
{
	sfo_options_answer(srv(prio), srv(prio)->req_id, 0,
			   "Connection refused", now);
}


/* A line of three servers, started and settled: cisco checked all of
 * them alive; server 1 registered; parallel registered all three */
static void up(const char *mode, const char *extra)
{
	char text[512];

	re_snprintf(text, sizeof(text), THREE("%s", "%s"), mode, extra);
	load(text);
	sfo_start(line1(), 0);

	if (!strcmp(mode, "cisco")) {
		alive(1, 5);
		alive(2, 5);
		alive(3, 5);
	}

	ok(1, 10);

	if (!strcmp(mode, "parallel")) {
		ok(2, 10);
		ok(3, 10);
	}
}


static int setup(void **state)
{
	(void)state;
	memset(&H, 0, sizeof(H));
	list_init(&H.lines);
	return 0;
}


static int teardown(void **state)
{
	(void)state;
	list_flush(&H.lines);
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

