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
	load(THREE("cisco", ";sfo_probe_interval=5"));
	sfo_start(line1(), 0);
	alive(1, 5);
	alive(2, 5);
	alive(3, 5);
	ok(1, 10);

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


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_budget_is_retries_not_32_seconds),
		T(test_last_server_left_gets_the_full_time),
		T(test_retry_after_keeps_server_out_of_use),
		T(test_retry_after_is_capped),
	};

	return cmocka_run_group_tests_name("timing", tests, NULL, NULL);
}
