/* The web page's requests: routes, methods, bad requests, changes */
#include <stdio.h>
#include "harness.h"
#include "sfo_web.h"


/* A request: "GET /path" (HTTP/1.1 with Host, no body) */
static enum sfo_web_act route_in(struct sfo_web_req *req, const char *line,
				 const char *ver, bool host, uint32_t clen,
				 bool chunked)
{
	struct sfo_web_in in;
	const char *sp = strchr(line, ' ');

	memset(&in, 0, sizeof(in));
	in.met.p = line;
	in.met.l = sp - line;
	pl_set_str(&in.path, sp + 1);
	pl_set_str(&in.ver, ver);
	in.host = host;
	in.clen = clen;
	in.chunked = chunked;

	return sfo_web_route(req, &in);
}


static enum sfo_web_act route(struct sfo_web_req *req, const char *line)
{
	return route_in(req, line, "1.1", true, 0, false);
}


static uint16_t scode(const char *line)
{
	struct sfo_web_req req;

	return route(&req, line) == SFO_WEB_ERROR ? req.scode : 200;
}


static void test_web_routes_page_status_and_server_actions(void **s)
{
	struct sfo_web_req req;
	(void)s;

	assert_int_equal(SFO_WEB_PAGE, route(&req, "GET /"));
	assert_false(req.head);
	assert_int_equal(SFO_WEB_PAGE, route(&req, "HEAD /"));
	assert_true(req.head);
	assert_int_equal(SFO_WEB_STATUS, route(&req, "GET /status.json"));
	assert_int_equal(200, req.scode);

	assert_int_equal(SFO_WEB_DISABLE,
			 route(&req, "POST /servers/100/2/disable"));
	assert_string_equal("100", req.user);
	assert_int_equal(2, req.prio);
	assert_true(sfo_web_changes(req.act));

	assert_int_equal(SFO_WEB_ENABLE,
			 route(&req, "POST /servers/%2B49.100/3/enable"));
	assert_string_equal("+49.100", req.user);
	assert_int_equal(3, req.prio);
	assert_int_equal(SFO_WEB_DISABLE,
			 route(&req, "POST /servers/m%C3%BCller/1/disable"));
	assert_string_equal("m\xc3\xbcller", req.user);

	assert_false(sfo_web_changes(SFO_WEB_PAGE));
	assert_false(sfo_web_changes(SFO_WEB_STATUS));

	/* the file again: a change, so behind the password */
	assert_int_equal(SFO_WEB_RELOAD, route(&req, "POST /reload"));
	assert_true(sfo_web_changes(SFO_WEB_RELOAD));
}


static void test_web_other_paths_are_404(void **s)
{
	(void)s;

	assert_int_equal(404, scode("GET /index.html"));
	assert_int_equal(404, scode("GET /status.json/"));
	assert_int_equal(404, scode("GET /status"));
	assert_int_equal(404, scode("POST /servers"));
	assert_int_equal(404, scode("POST /servers/"));
	assert_int_equal(404, scode("POST /servers/100"));
	assert_int_equal(404, scode("POST /servers/100/2"));
	assert_int_equal(404, scode("POST /servers/100/2/"));
	assert_int_equal(404, scode("POST /servers/100/2/reboot"));
	assert_int_equal(404, scode("POST /servers/100/2/disable/"));
	assert_int_equal(404, scode("POST /servers/100/2/disable/x"));
	assert_int_equal(404, scode("POST /serversX/100/2/disable"));
	assert_int_equal(404, scode("PUT /nowhere"));
}


static void test_web_other_methods_are_405_with_allow(void **s)
{
	struct sfo_web_req req;
	(void)s;

	assert_int_equal(SFO_WEB_ERROR, route(&req, "POST /"));
	assert_int_equal(405, req.scode);
	assert_string_equal("GET, HEAD", req.allow);

	assert_int_equal(SFO_WEB_ERROR, route(&req, "DELETE /status.json"));
	assert_int_equal(405, req.scode);

	assert_int_equal(SFO_WEB_ERROR,
			 route(&req, "GET /servers/100/2/disable"));
	assert_int_equal(405, req.scode);
	assert_string_equal("POST", req.allow);
	assert_false(sfo_web_changes(req.act));

	assert_int_equal(SFO_WEB_ERROR, route(&req, "GET /reload"));
	assert_int_equal(405, req.scode);
	assert_string_equal("POST", req.allow);

	/* methods are case-sensitive */
	assert_int_equal(405, scode("get /"));
	assert_int_equal(405, scode("post /servers/100/1/enable"));
}


static void test_web_malformed_requests_are_400(void **s)
{
	struct sfo_web_req req;
	(void)s;

	assert_int_equal(400, scode("POST /servers/100/x/disable"));
	assert_int_equal(400, scode("POST /servers/100/0/disable"));
	assert_int_equal(400, scode("POST /servers/100/-1/disable"));
	assert_int_equal(400, scode("POST /servers/100/99999/disable"));
	assert_int_equal(400, scode("POST /servers//1/disable"));
	assert_int_equal(400, scode("POST /servers/10%/1/disable"));
	assert_int_equal(400, scode("POST /servers/10%zz/1/disable"));
	assert_int_equal(400, scode("POST /servers/1%200/1/disable"));
	assert_int_equal(400, scode("POST /servers/1%0a0/1/disable"));
	/* UTF-8 user IDs, as config.c accepts them; nothing else */
	assert_int_equal(400, scode("POST /servers/m%FCller/1/disable"));
	assert_int_equal(400, scode("POST /servers/m%C3/1/disable"));
	assert_int_equal(400, scode("POST /servers/a%22b/1/disable"));
	assert_int_equal(400, scode("GET *"));
	assert_int_equal(400, scode("GET status.json"));

	/* a body, a Transfer-Encoding, no Host, another HTTP */
	route_in(&req, "POST /servers/100/1/disable", "1.1", true, 3, false);
	assert_int_equal(400, req.scode);
	route_in(&req, "POST /servers/100/1/disable", "1.1", true, 0, true);
	assert_int_equal(400, req.scode);
	route_in(&req, "GET /", "1.1", false, 0, false);
	assert_int_equal(400, req.scode);
	route_in(&req, "GET /", "2.0", true, 0, false);
	assert_int_equal(400, req.scode);
	assert_false(sfo_web_changes(req.act));

	/* HTTP/1.0 needs no Host */
	assert_int_equal(SFO_WEB_PAGE,
			 route_in(&req, "GET /", "1.0", false, 0, false));
}


static int apply(struct sfo_web_req *req, const char *line)
{
	struct re_printf pf = {out_print, NULL};

	out[0] = '\0';
	route(req, line);

	return sfo_web_apply(&pf, &H.lines, req, 1000);
}


static void test_web_disable_and_enable_a_server(void **s)
{
	struct sfo_web_req req;
	(void)s;
	up("cisco", ";auth_pass=s3cret");

	assert_int_equal(0, apply(&req, "POST /servers/100/3/disable"));
	assert_int_equal(200, req.scode);
	assert_string_equal("Deactivated", state(3));
	assert_string_equal("{\"user\":\"100\",\"prio\":3,"
			    "\"uri\":\"sip:127.0.0.4\","
			    "\"state\":\"Deactivated\"}", out);

	assert_int_equal(0, apply(&req, "POST /servers/100/3/enable"));
	assert_int_equal(200, req.scode);
	assert_string_not_equal("Deactivated", state(3));
	assert_null(strstr(out, "s3cret"));

	/* the working one: the line moves to server 2 */
	assert_int_equal(0, apply(&req, "POST /servers/100/1/disable"));
	assert_string_equal("Deactivated", state(1));
	assert_true(has("reg 2"));
}


static void test_web_unknown_server_is_404_and_changes_nothing(void **s)
{
	struct sfo_web_req req;
	(void)s;
	up("cisco", "");
	clear();

	assert_int_equal(0, apply(&req, "POST /servers/999/1/disable"));
	assert_int_equal(404, req.scode);
	assert_non_null(strstr(req.msg, "no line '999'"));

	assert_int_equal(0, apply(&req, "POST /servers/100/7/disable"));
	assert_int_equal(404, req.scode);
	assert_non_null(strstr(req.msg, "has no server 7"));

	assert_int_equal(0, apply(&req, "GET /status.json"));
	assert_int_equal(400, req.scode);

	assert_string_equal("", out);
	assert_int_equal(0, H.nacts);
	assert_string_equal("Registered", state(1));
}


static void test_web_post_only_from_this_page_or_no_page(void **s)
{
	struct pl origin, host;
	(void)s;

	pl_set_str(&host, "127.0.0.1:8088");

	assert_true(sfo_web_origin_ok(NULL, &host));
	pl_set_str(&origin, "http://127.0.0.1:8088");
	assert_true(sfo_web_origin_ok(&origin, &host));
	pl_set_str(&origin, "HTTP://127.0.0.1:8088");
	assert_true(sfo_web_origin_ok(&origin, &host));

	pl_set_str(&origin, "http://evil.example");
	assert_false(sfo_web_origin_ok(&origin, &host));
	pl_set_str(&origin, "null");
	assert_false(sfo_web_origin_ok(&origin, &host));
	pl_set_str(&origin, "http://127.0.0.1:8089");
	assert_false(sfo_web_origin_ok(&origin, &host));
	pl_set_str(&origin, "https://127.0.0.1:8088");
	assert_false(sfo_web_origin_ok(&origin, &host));
	pl_set_str(&origin, "http://127.0.0.1:8088");
	assert_false(sfo_web_origin_ok(&origin, NULL));
}


static void listen_ok(const char *val, const char *want)
{
	struct sa sa;
	bool off = true;
	char buf[64];

	assert_int_equal(0, sfo_web_listen_parse(&sa, &off, val));
	assert_false(off);
	re_snprintf(buf, sizeof(buf), "%J", &sa);
	assert_string_equal(want, buf);
}


static void test_web_listen_address_values(void **s)
{
	const char *bad[] = {"", "127.0.0.1:", "127.0.0.1:0",
		"127.0.0.1:65536", "127.0.0.1:80x", ":8088", "localhost:80",
		"[::1", "[::1]x", "[::1]:", "1.2.3:80"};
	struct sa sa;
	bool off = false;
	size_t i;
	(void)s;

	listen_ok("127.0.0.1:8088", "127.0.0.1:8088");
	listen_ok("127.0.0.10", "127.0.0.10:8088");
	listen_ok("0.0.0.0:80", "0.0.0.0:80");
	listen_ok("[::1]:9000", "[::1]:9000");
	listen_ok("::1", "[::1]:8088");

	assert_int_equal(0, sfo_web_listen_parse(&sa, &off, "off"));
	assert_true(off);
	assert_int_equal(0, sfo_web_listen_parse(&sa, &off, "OFF"));
	assert_true(off);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (sfo_web_listen_parse(&sa, &off, bad[i]) != EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	}
}


static void test_web_page_knows_every_state_and_loads_nothing(void **s)
{
	struct re_printf pf = {out_print, NULL};
	char name[40];
	int st;
	(void)s;

	out[0] = '\0';
	assert_int_equal(0, sfo_web_page(&pf, false));
	assert_non_null(strstr(out, "data-writable='0'"));
	assert_non_null(strstr(out, "status.json"));

	for (st = SFO_ST_REGISTERED_WORKING; st <= SFO_ST_DEACTIVATED; st++) {
		re_snprintf(name, sizeof(name), "['%s',",
			    sfo_state_name((enum sfo_state)st));
		if (!strstr(out, name))
			fail_msg("the page lacks %s", name);
	}

	assert_null(strstr(out, "http://"));
	assert_null(strstr(out, "https://"));
	assert_null(strstr(out, "src="));
	assert_null(strstr(out, "<link"));
	assert_null(strstr(out, "innerHTML"));

	out[0] = '\0';
	assert_int_equal(0, sfo_web_page(&pf, true));
	assert_non_null(strstr(out, "data-writable='1'"));
}


/* Digest nonces: each is good for one change, for its whole life */
static const uint64_t secret[2] = {0x0123456789abcdefULL, 42};


static struct pl nonce_new(struct sfo_web_nonces *ns, char *buf,
			   uint64_t now)
{
	struct pl pl;

	assert_int_equal(0, sfo_web_nonce_new(ns, buf, SFO_WEB_NONCE_SIZE,
					      now));
	assert_int_equal(SFO_WEB_NONCE_SIZE - 1, strlen(buf));
	pl_set_str(&pl, buf);

	return pl;
}


static void test_web_nonce_is_good_for_one_change(void **s)
{
	struct sfo_web_nonces ns;
	char a[SFO_WEB_NONCE_SIZE], b[SFO_WEB_NONCE_SIZE];
	struct pl na, nb;
	(void)s;

	sfo_web_nonces_init(&ns, secret);
	na = nonce_new(&ns, a, 1000);
	nb = nonce_new(&ns, b, 1000);
	assert_string_not_equal(a, b);

	assert_int_equal(0, sfo_web_nonce_use(&ns, &na, 2000));
	assert_int_equal(EALREADY, sfo_web_nonce_use(&ns, &na, 2000));
	assert_int_equal(EALREADY, sfo_web_nonce_use(&ns, &na, 3000));

	/* the other one was handed out before, used after: fine, once */
	assert_int_equal(0, sfo_web_nonce_use(&ns, &nb, 4000));
	assert_int_equal(EALREADY, sfo_web_nonce_use(&ns, &nb, 4000));
}


/* The bug of the remembered last 32 answers: after 32 other changes a
 * captured one worked again. Not after any number now. */
static void test_web_nonce_refused_after_many_other_changes(void **s)
{
	struct sfo_web_nonces ns;
	char a[SFO_WEB_NONCE_SIZE], w[SFO_WEB_NONCE_SIZE];
	char other[200][SFO_WEB_NONCE_SIZE];
	struct pl na, nw, no;
	unsigned i;
	(void)s;

	sfo_web_nonces_init(&ns, secret);
	na = nonce_new(&ns, a, 1000);
	nw = nonce_new(&ns, w, 1000);   /* handed out, not used (yet) */
	assert_int_equal(0, sfo_web_nonce_use(&ns, &na, 1000));

	for (i = 0; i < ARRAY_SIZE(other); i++) {
		no = nonce_new(&ns, other[i], 1000 + i);
		assert_int_equal(0, sfo_web_nonce_use(&ns, &no, 1000 + i));
		if (sfo_web_nonce_use(&ns, &na, 1000 + i) != EALREADY)
			fail_msg("accepted again after %u other changes", i);
	}

	for (i = 0; i < ARRAY_SIZE(other); i++) {
		pl_set_str(&no, other[i]);
		assert_int_equal(EALREADY, sfo_web_nonce_use(&ns, &no, 2000));
	}

	/* so many changes later, an unused old nonce is refused as well
	 * (the client asks again with a new one, stale=true) */
	assert_int_equal(EALREADY, sfo_web_nonce_use(&ns, &nw, 2000));
}


static void test_web_nonces_used_out_of_order_once_each(void **s)
{
	static const unsigned order[] = {3, 0, 4, 1, 2};
	struct sfo_web_nonces ns;
	char n[5][SFO_WEB_NONCE_SIZE];
	struct pl pl;
	unsigned i;
	(void)s;

	sfo_web_nonces_init(&ns, secret);
	for (i = 0; i < ARRAY_SIZE(n); i++)
		nonce_new(&ns, n[i], 100);

	for (i = 0; i < ARRAY_SIZE(order); i++) {
		pl_set_str(&pl, n[order[i]]);
		assert_int_equal(0, sfo_web_nonce_use(&ns, &pl, 200));
		assert_int_equal(EALREADY, sfo_web_nonce_use(&ns, &pl, 200));
	}

	for (i = 0; i < ARRAY_SIZE(n); i++) {
		pl_set_str(&pl, n[i]);
		assert_int_equal(EALREADY, sfo_web_nonce_use(&ns, &pl, 300));
	}
}


/* The window: the highest number used and the 63 before it are told
 * apart; anything older counts as used (the client asks again) */
static void test_web_nonce_window_edge(void **s)
{
	struct sfo_web_nonces ns;
	char n[SFO_WEB_NONCE_WINDOW + 1][SFO_WEB_NONCE_SIZE];
	struct pl pl;
	unsigned i;
	(void)s;

	sfo_web_nonces_init(&ns, secret);
	for (i = 0; i < ARRAY_SIZE(n); i++)
		nonce_new(&ns, n[i], 100);

	pl_set_str(&pl, n[SFO_WEB_NONCE_WINDOW]);
	assert_int_equal(0, sfo_web_nonce_use(&ns, &pl, 100));
	pl_set_str(&pl, n[1]);
	assert_int_equal(0, sfo_web_nonce_use(&ns, &pl, 100));
	assert_int_equal(EALREADY, sfo_web_nonce_use(&ns, &pl, 100));
	pl_set_str(&pl, n[0]);
	assert_int_equal(EALREADY, sfo_web_nonce_use(&ns, &pl, 100));
}


/* A flood of challenges (401s) stores nothing, pushes nothing out */
static void test_web_nonces_handed_out_cost_nothing(void **s)
{
	struct sfo_web_nonces ns;
	char first[SFO_WEB_NONCE_SIZE], x[SFO_WEB_NONCE_SIZE];
	struct pl pl;
	unsigned i;
	(void)s;

	sfo_web_nonces_init(&ns, secret);
	pl = nonce_new(&ns, first, 10);
	for (i = 0; i < 100000; i++)
		nonce_new(&ns, x, 10 + i / 100);

	assert_int_equal(0, ns.top);
	assert_int_equal(0, ns.used);
	assert_int_equal(5 * sizeof(uint64_t), sizeof(ns));

	assert_int_equal(0, sfo_web_nonce_use(&ns, &pl, 5000));
	assert_int_equal(EALREADY, sfo_web_nonce_use(&ns, &pl, 5000));
}


static void test_web_nonce_lives_five_minutes(void **s)
{
	struct sfo_web_nonces ns;
	char a[SFO_WEB_NONCE_SIZE], b[SFO_WEB_NONCE_SIZE];
	struct pl na, nb;
	(void)s;

	sfo_web_nonces_init(&ns, secret);
	na = nonce_new(&ns, a, 1000);
	nb = nonce_new(&ns, b, 1000);

	assert_int_equal(ETIMEDOUT, sfo_web_nonce_use(&ns, &na,
				1000 + SFO_WEB_NONCE_LIFE + 1));
	assert_int_equal(0, sfo_web_nonce_use(&ns, &nb,
					      1000 + SFO_WEB_NONCE_LIFE));

	/* a clock that went back: not before it was made */
	na = nonce_new(&ns, a, 5000);
	assert_int_equal(ETIMEDOUT, sfo_web_nonce_use(&ns, &na, 4999));
	assert_int_equal(0, sfo_web_nonce_use(&ns, &na, 5000));
}


static void test_web_nonce_not_ours_is_refused(void **s)
{
	static const uint64_t other_secret[2] = {1, 2};
	struct sfo_web_nonces ns, other;
	char a[SFO_WEB_NONCE_SIZE], f[SFO_WEB_NONCE_SIZE + 8];
	struct pl na, pl;
	size_t i;
	(void)s;

	sfo_web_nonces_init(&ns, secret);
	sfo_web_nonces_init(&other, other_secret);
	na = nonce_new(&ns, a, 1000);

	/* any digit changed: number, time or MAC */
	for (i = 0; i < na.l; i++) {
		strcpy(f, a);
		f[i] = f[i] == '0' ? '1' : '0';
		pl_set_str(&pl, f);
		if (sfo_web_nonce_use(&ns, &pl, 1000) != EAUTH)
			fail_msg("digit %zu changed: accepted", i);
	}

	/* another process's, cut, longer, not hex, empty */
	pl = nonce_new(&other, f, 1000);
	assert_int_equal(EAUTH, sfo_web_nonce_use(&ns, &pl, 1000));
	pl.p = a;
	pl.l = na.l - 1;
	assert_int_equal(EAUTH, sfo_web_nonce_use(&ns, &pl, 1000));
	re_snprintf(f, sizeof(f), "%s00", a);
	pl_set_str(&pl, f);
	assert_int_equal(EAUTH, sfo_web_nonce_use(&ns, &pl, 1000));
	strcpy(f, a);
	f[40] = 'g';
	pl_set_str(&pl, f);
	assert_int_equal(EAUTH, sfo_web_nonce_use(&ns, &pl, 1000));
	pl_set_str(&pl, "");
	assert_int_equal(EAUTH, sfo_web_nonce_use(&ns, &pl, 1000));

	/* the real one still works, once */
	assert_int_equal(0, sfo_web_nonce_use(&ns, &na, 1000));
	assert_int_equal(EALREADY, sfo_web_nonce_use(&ns, &na, 1000));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_web_routes_page_status_and_server_actions),
		T(test_web_other_paths_are_404),
		T(test_web_other_methods_are_405_with_allow),
		T(test_web_malformed_requests_are_400),
		T(test_web_disable_and_enable_a_server),
		T(test_web_unknown_server_is_404_and_changes_nothing),
		T(test_web_post_only_from_this_page_or_no_page),
		T(test_web_listen_address_values),
		T(test_web_page_knows_every_state_and_loads_nothing),
		T(test_web_nonce_is_good_for_one_change),
		T(test_web_nonce_refused_after_many_other_changes),
		T(test_web_nonces_used_out_of_order_once_each),
		T(test_web_nonce_window_edge),
		T(test_web_nonces_handed_out_cost_nothing),
		T(test_web_nonce_lives_five_minutes),
		T(test_web_nonce_not_ours_is_refused),
	};

	return cmocka_run_group_tests_name("web", tests, NULL, NULL);
}
