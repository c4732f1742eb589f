/* Sequential mode: one server at a time, higher ones probed by REGISTER */
#include "harness.h"


static void start_on_two(const char *extra)
{
	static char text[512];

	re_snprintf(text, sizeof(text), THREE("sequential", "%s"), extra);
	load(text);
	sfo_start(line1(), 0);
	fail503(1, 10);
	ok(2, 20);
}


static void test_sequential_registers_only_main_at_start(void **s)
{
	(void)s;
	load(THREE("sequential", ""));
	sfo_start(line1(), 0);

	assert_true(has("reg 1"));
	assert_false(has("reg 2"));
	assert_false(has("reg 3"));
	assert_false(has("options 2"));
	ok(1, 10);
	assert_string_equal("Registered", state(1));
	assert_string_equal("Standby", state(2));
	assert_string_equal("Standby", state(3));
}


static void test_sequential_moves_to_next_on_failure(void **s)
{
	(void)s;
	load(THREE("sequential", ""));
	sfo_start(line1(), 0);
	ok(1, 10);

	clear();
	sfo_reg_failed(srv(1), 0, "Connection refused", 1000);
	assert_true(has("reg 2"));
	assert_false(has("reg 3"));
	ok(2, 1010);
	assert_ptr_equal(srv(2), line1()->working);
	assert_string_equal("Registration failed", state(1));
	assert_string_equal("Registered", state(2));
	assert_string_equal("Standby", state(3));
}


static void test_sequential_walks_down_the_list(void **s)
{
	(void)s;
	load(THREE("sequential", ""));
	sfo_start(line1(), 0);
	fail503(1, 10);
	fail503(2, 20);
	assert_true(has("reg 3"));
	ok(3, 30);
	assert_ptr_equal(srv(3), line1()->working);
}


static void test_sequential_probes_higher_at_fallback_interval(void **s)
{
	(void)s;
	start_on_two(";sfo_fallback_interval=120");

	clear();
	sfo_tick(line1(), 10 + 119999);
	assert_false(has("reg 1"));
	sfo_tick(line1(), 10 + 120000);
	assert_true(has("reg 1"));
	assert_false(has("reg 3"));
	assert_false(has("unreg 2"));
}


static void test_sequential_fails_back_when_primary_answers(void **s)
{
	(void)s;
	start_on_two("");
	sfo_tick(line1(), srv(1)->probe_at);

	clear();
	ok(1, 121000);
	assert_ptr_equal(srv(1), line1()->working);
	assert_true(has("unreg 2"));
	assert_string_equal("Registered", state(1));
	assert_string_equal("Standby", state(2));
	assert_int_equal(1, line1()->failbacks);
}


static void test_sequential_failed_probe_keeps_backup(void **s)
{
	uint64_t t;
	(void)s;
	start_on_two("");
	t = srv(1)->probe_at;
	sfo_tick(line1(), t);

	clear();
	fail503(1, t + 5);
	assert_false(has("unreg 2"));
	assert_ptr_equal(srv(2), line1()->working);
	assert_int_equal(t + 5 + 120000, srv(1)->probe_at);

	sfo_tick(line1(), t + 5 + 120000);
	assert_true(has("reg 1"));
}


/* A higher server that did not answer at all is asked with OPTIONS at
 * the fallback interval (no back-off: the interval is the user's), and
 * REGISTER-probed as soon as it answers; one that answered 503 keeps
 * its REGISTER probes (above) */
static void test_sequential_silent_higher_checked_then_probed(void **s)
{
	uint64_t t;
	unsigned i;
	(void)s;
	load(THREE("sequential", ";sfo_fallback_interval=120"
		   ";sfo_probe_interval=86400"));
	sfo_start(line1(), 0);
	sfo_reg_failed(srv(1), 0, "Connection refused (ICMP)", 10);
	ok(2, 20);

	t = 10 + 120000;
	for (i = 0; i < 3; i++) {
		assert_int_equal(t, srv(1)->probe_at);
		clear();
		sfo_tick(line1(), t);
		assert_true(has("options 1"));
		assert_false(has("reg 1"));
		dead(1, t);
		t += 120000;
	}

	clear();
	sfo_tick(line1(), t);
	alive(1, t + 5);
	assert_true(has("reg 1"));
	ok(1, t + 10);
	assert_ptr_equal(srv(1), line1()->working);
	assert_true(has("unreg 2"));
}


/* All servers silent: each is checked at the fallback interval, however
 * fast its checks fail (ICMP), never in a loop; the first that answers
 * is registered */
static void test_sequential_all_silent_checked_at_fallback_interval(void **s)
{
	uint64_t t = 60000;
	unsigned i;
	(void)s;
	load(THREE("sequential", ";sfo_fallback_interval=60"));
	sfo_start(line1(), 0);
	sfo_reg_failed(srv(1), 0, "Connection refused (ICMP)", 0);
	sfo_reg_failed(srv(2), 0, "Connection refused (ICMP)", 0);
	sfo_reg_failed(srv(3), 0, "Connection refused (ICMP)", 0);
	assert_null(line1()->working);

	for (i = 0; i < 3; i++) {
		clear();
		sfo_tick(line1(), t - 1);
		assert_false(has("options 1"));
		sfo_tick(line1(), t);
		assert_true(has("options 3"));
		dead(1, t);
		dead(2, t);
		dead(3, t);
		assert_int_equal(1, count("options 1"));
		assert_false(has("reg 1"));
		assert_int_equal(t + 60000, srv(1)->probe_at);
		t += 60000;
	}

	clear();
	sfo_tick(line1(), t);
	alive(2, t + 5);
	assert_true(has("reg 2"));
	assert_false(has("reg 1"));
}


static void test_sequential_all_down_retries_with_growing_waits(void **s)
{
	uint64_t t = 0, prev = 0;
	unsigned i;
	(void)s;
	load(THREE("sequential", ";sfo_retry_base=10;sfo_retry_max=80"));
	sfo_start(line1(), 0);
	fail503(1, 0);
	fail503(2, 0);
	fail503(3, 0);
	assert_null(line1()->working);

	for (i = 1; i <= 5; i++) {
		uint64_t w = 10000ULL << (i - 1);

		if (w > 80000)
			w = 80000;

		t = srv(1)->retry_at;
		assert_in_range(t - prev, w / 2, w);

		clear();
		sfo_tick(line1(), t - 1);
		assert_false(has("reg 1"));
		sfo_tick(line1(), t);
		assert_true(has("reg 1"));
		prev = t;
		fail503(1, t);
	}
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sequential_registers_only_main_at_start),
		T(test_sequential_moves_to_next_on_failure),
		T(test_sequential_walks_down_the_list),
		T(test_sequential_probes_higher_at_fallback_interval),
		T(test_sequential_fails_back_when_primary_answers),
		T(test_sequential_failed_probe_keeps_backup),
		T(test_sequential_silent_higher_checked_then_probed),
		T(test_sequential_all_down_retries_with_growing_waits),
		T(test_sequential_all_silent_checked_at_fallback_interval),
	};

	return cmocka_run_group_tests_name("sequential", tests, NULL, NULL);
}
