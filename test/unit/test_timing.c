/* Timing rules: retry budgets, the last server's full time, Retry-After */
#include "harness.h"


static void test_budget_is_retries_not_32_seconds(void **s)
{
	(void)s;
	load("<sip:100@127.0.0.2>;sfo_mode=parallel\n"
	     "<sip:100@127.0.0.3>;sfo_retries=1\n");
	sfo_start(line1(), 0);

	assert_int_equal(3500, srv(1)->req_deadline);
	assert_int_equal(500, srv(2)->req_deadline);
}


static void test_last_server_left_gets_the_full_time(void **s)
{
	(void)s;
	load(THREE("sequential", ""));
	sfo_start(line1(), 0);
	fail503(1, 10);
	assert_int_equal(10 + 3500, srv(2)->req_deadline);
	fail503(2, 20);

	/* nothing else left: 64 * T1, as a UDP transaction */
	assert_int_equal(20 + 32000, srv(3)->req_deadline);
}


static void test_retry_after_keeps_server_out_of_use(void **s)
{
	(void)s;
	up("cisco", ";sfo_probe_interval=5");

	sfo_retry_after(srv(1), 600);
	fail503(1, 1000);
	assert_int_equal(601000, srv(1)->retry_at);
	assert_int_equal(601000, srv(1)->probe_at);
	ok(2, 1010);

	clear();
	sfo_tick(line1(), 600999);
	assert_false(has("options 1"));
	assert_false(has("reg 1"));
	sfo_tick(line1(), 601000);
	assert_true(has("options 1"));
}


static void test_retry_after_is_capped(void **s)
{
	(void)s;
	load(THREE("parallel", ""));
	sfo_start(line1(), 0);
	sfo_retry_after(srv(1), 999999);
	fail503(1, 0);

	assert_int_equal(3600000, srv(1)->retry_at);
}


/* A Retry-After too big for 32 bits is the cap, not its wrapped value */
static void test_retry_after_header_value_range(void **s)
{
	static const struct {
		const char *val;
		int err;
		uint32_t secs;
	} v[] = {
		{"120", 0, 120},
		{"120 (lunch)", 0, 120},
		{"30;duration=10", 0, 30},
		{"4294967296", 0, UINT32_MAX},
		{"00000000000000000007", 0, 7},
		{"99999999999999999999999", 0, UINT32_MAX},
		{"", EINVAL, 0},
		{"soon", EINVAL, 0},
		{"-5", EINVAL, 0},
	};
	struct pl pl;
	uint32_t secs;
	size_t i;
	(void)s;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		pl_set_str(&pl, v[i].val);
		secs = 0;
		assert_int_equal(v[i].err, sfo_delta_seconds(&secs, &pl));
		assert_int_equal(v[i].secs, secs);
	}
}


static void test_keepalive_loss_threshold(void **s)
{
	uint64_t t;
	(void)s;
	up("cisco", ";sfo_probe_interval=10;sfo_keepalive_loss=2");

	/* the first keep-alive is lost: checked again at once */
	t = srv(1)->probe_at;
	sfo_tick(line1(), t);
	alive(2, t);
	alive(3, t);
	clear();
	sfo_tick(line1(), t + 3500);
	assert_string_equal("Registered", state(1));
	assert_true(has("options 1"));

	/* the second one too: the server is dead */
	sfo_tick(line1(), t + 7000);
	assert_string_equal("Registration failed", state(1));
	assert_true(reported("no answer to 2 keep-alives in a row"));
}


static void test_keepalive_answer_resets_the_count(void **s)
{
	uint64_t t;
	(void)s;
	up("cisco", ";sfo_probe_interval=10;sfo_keepalive_loss=2");

	t = srv(1)->probe_at;
	sfo_tick(line1(), t);
	sfo_tick(line1(), t + 3500);
	alive(1, t + 3600);
	assert_int_equal(0, srv(1)->lost);
	assert_string_equal("Registered", state(1));
}


static void test_keepalive_by_register_refreshes(void **s)
{
	(void)s;
	load(THREE("sequential", ";sfo_keepalive=register"));
	sfo_start(line1(), 0);
	ok(1, 10);

	/* no OPTIONS to the registered server */
	clear();
	sfo_tick(line1(), 100000);
	assert_false(has("options 1"));

	/* the stack's refresh must be answered within the budget */
	sfo_refresh_sent(srv(1), 200000);
	assert_int_equal(203500, srv(1)->req_deadline);
	ok(1, 200100);
	assert_int_equal(SFO_REQ_NONE, srv(1)->req);

	sfo_refresh_sent(srv(1), 300000);
	sfo_tick(line1(), 303500);
	assert_string_equal("Registration failed", state(1));
}


/* Time passes with every check answered at once */
static void answered_until(uint64_t from, uint64_t to)
{
	uint64_t t;
	unsigned p;

	for (t = from; t < to; t += 1000) {
		sfo_tick(line1(), t);
		for (p = 1; p <= 3; p++) {
			if (srv(p)->req == SFO_REQ_OPTIONS)
				alive(p, t);
		}
	}
}


/* regint=600: a registrar granting more is kept; the module refreshes
 * at 300 s, libre would wait 90 % of the grant */
static void test_longer_grant_is_kept_and_refreshed_at_half(void **s)
{
	(void)s;
	up("cisco", "");

	assert_int_equal(0, sfo_granted(srv(1), 999999999, 1000));
	ok(1, 1000);
	assert_int_equal(301000, srv(1)->refresh_at);
	assert_int_equal(301000, sfo_next_wake(line1(), 300000));

	answered_until(2000, 300000);
	clear();
	sfo_tick(line1(), 300999);
	assert_false(has("unreg 1"));
	sfo_tick(line1(), 301000);

	/* the registration in use is withdrawn first: libre's un-REGISTER
	 * of the client it frees must not reach the registrar after the
	 * new REGISTER (it would remove the new binding) */
	assert_true(has("unreg 1"));
	assert_false(has("reg 1"));
	assert_int_equal(SFO_REQ_UNREGISTER, srv(1)->req);
	sfo_unregistered(srv(1), 301010);
	assert_false(has("reg 1"));
	assert_int_equal(301011, sfo_next_wake(line1(), 301010));
	sfo_tick(line1(), 301011);
	assert_true(has("reg 1"));
	assert_int_equal(SFO_REQ_REGISTER, srv(1)->req);
	assert_string_equal("Registered", state(1));
	assert_ptr_equal(srv(1), line1()->working);

	/* the refresh's answer arms the next one */
	assert_int_equal(0, sfo_granted(srv(1), 999999999, 301050));
	ok(1, 301050);
	assert_int_equal(601050, srv(1)->refresh_at);

	/* granted what was asked, or less: libre refreshes by itself */
	assert_int_equal(0, sfo_granted(srv(1), 600, 700000));
	assert_int_equal(0, srv(1)->refresh_at);
	assert_int_equal(0, sfo_granted(srv(1), 60, 700000));
	assert_int_equal(0, srv(1)->refresh_at);
}


/* libre waits expires * 900 ms in 32 bits: 2^32 - 1 s wraps to 49.7
 * days (kept), and 0 is no binding */
static void test_grant_the_stack_cannot_keep_is_refused(void **s)
{
	(void)s;
	up("cisco", "");

	assert_int_equal(0, sfo_granted(srv(1), 4294967295u, 100));
	assert_int_equal(0, sfo_granted(srv(1), 4772185, 100));
	assert_int_equal(0, sfo_rwait(srv(1)));
	assert_int_equal(ERANGE, sfo_granted(srv(1), 0, 100));
	assert_int_equal(EINVAL, sfo_granted(NULL, 600, 100));
}


/* 4772186 s wraps libre's wait at 90 % to 104 ms (a REGISTER loop):
 * kept, with another rwait (89 %: 49 days), by a user agent made anew
 * at once (the shell does it from the main loop); the next grant of
 * the same is refreshed at half the regint */
static void test_grant_wrapping_libre_wait_takes_another_rwait(void **s)
{
	(void)s;
	up("cisco", "");

	assert_int_equal(0, sfo_granted(srv(1), 4772186, 1000));
	assert_int_equal(89, sfo_rwait(srv(1)));
	assert_int_equal(1001, srv(1)->refresh_at);
	clear();
	ok(1, 1000);
	assert_false(has("unreg 1"));
	sfo_tick(line1(), 1001);
	assert_true(has("unreg 1"));
	sfo_unregistered(srv(1), 1005);
	sfo_tick(line1(), 1006);
	assert_true(pos("unreg 1") < pos("reg 1"));
	assert_int_equal(SFO_REQ_REGISTER, srv(1)->req);
	assert_string_equal("Registered", state(1));

	assert_int_equal(0, sfo_granted(srv(1), 4772186, 1050));
	ok(1, 1050);
	assert_int_equal(89, sfo_rwait(srv(1)));
	assert_int_equal(301050, srv(1)->refresh_at);
}


/* 47721859 s at 90 % wraps 2^32 ms ten times over to 140 ms (its
 * product with the rwait alone passes 2^32 already); at 89 % it is 44
 * days */
static void test_grant_wrapping_libre_wait_many_times(void **s)
{
	(void)s;
	up("cisco", "");

	assert_int_equal(0, sfo_granted(srv(1), 47721859, 1000));
	assert_int_equal(89, sfo_rwait(srv(1)));
	assert_int_equal(1001, srv(1)->refresh_at);
}


/* A configured rwait is the one libre starts from, and the one the
 * core moves from: 4772186 s at 50 % is 27 days; 8589935 s at 50 %
 * wraps to 204 ms, 49 % does not */
static void test_configured_rwait_is_kept_unless_it_wraps(void **s)
{
	(void)s;
	up("cisco", ";rwait=50");

	assert_int_equal(50, sfo_rwait(srv(1)));
	assert_int_equal(0, sfo_granted(srv(1), 4772186, 100));
	assert_int_equal(50, sfo_rwait(srv(1)));
	assert_int_equal(0, sfo_granted(srv(1), 8589935, 100));
	assert_int_equal(49, sfo_rwait(srv(1)));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_budget_is_retries_not_32_seconds),
		T(test_grant_wrapping_libre_wait_takes_another_rwait),
		T(test_grant_wrapping_libre_wait_many_times),
		T(test_configured_rwait_is_kept_unless_it_wraps),
		T(test_last_server_left_gets_the_full_time),
		T(test_retry_after_keeps_server_out_of_use),
		T(test_retry_after_is_capped),
		T(test_retry_after_header_value_range),
		T(test_keepalive_loss_threshold),
		T(test_keepalive_answer_resets_the_count),
		T(test_keepalive_by_register_refreshes),
		T(test_longer_grant_is_kept_and_refreshed_at_half),
		T(test_grant_the_stack_cannot_keep_is_refused),
	};

	return cmocka_run_group_tests_name("timing", tests, NULL, NULL);
}
