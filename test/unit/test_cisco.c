/* Cisco mode: only the reachable server of highest priority registers */
#include "harness.h"


/* Start a cisco line and answer every check: alive[i] for server i+1 */
static void start_checked(const char *extra, bool a1, bool a2, bool a3)
{
	static char text[512];

	re_snprintf(text, sizeof(text), THREE("cisco", "%s"), extra);
	load(text);
	sfo_start(line1(), 0);
	(a1 ? alive : dead)(1, 5);
	(a2 ? alive : dead)(2, 5);
	(a3 ? alive : dead)(3, 5);
}


static void test_cisco_checks_all_servers_without_registering(void **s)
{
	(void)s;
	load(THREE("cisco", ""));
	sfo_start(line1(), 0);

	assert_true(has("options 1"));
	assert_true(has("options 2"));
	assert_true(has("options 3"));
	assert_false(has("reg 1"));
	assert_false(has("reg 2"));
	assert_false(has("reg 3"));
}


static void test_cisco_registers_highest_reachable_only(void **s)
{
	(void)s;
	start_checked("", true, true, true);

	assert_int_equal(1, count("reg 1"));
	assert_false(has("reg 2"));
	assert_false(has("reg 3"));
	ok(1, 20);
	assert_ptr_equal(srv(1), line1()->working);
	assert_string_equal("Registered", state(1));
	assert_string_equal("Reachable", state(2));
	assert_string_equal("Reachable", state(3));
}


static void test_cisco_waits_for_main_check_before_registering_lower(
	void **s)
{
	(void)s;
	load(THREE("cisco", ""));
	sfo_start(line1(), 0);
	alive(2, 3);
	alive(3, 3);
	assert_false(has("reg 2"));

	alive(1, 8);
	assert_true(has("reg 1"));
	assert_false(has("reg 2"));
}


static void test_cisco_skips_unreachable_main(void **s)
{
	(void)s;
	start_checked("", false, true, true);

	assert_false(has("reg 1"));
	assert_true(has("reg 2"));
	ok(2, 20);
	assert_ptr_equal(srv(2), line1()->working);
	assert_string_equal("Unreachable", state(1));
	assert_string_equal("Registered", state(2));
	assert_string_equal("Reachable", state(3));
}


static void test_cisco_fails_over_to_next_reachable_on_503(void **s)
{
	(void)s;
	start_checked("", true, false, true);
	ok(1, 20);

	clear();
	fail503(1, 1000);
	assert_true(has("unreg 1"));
	assert_false(has("reg 2"));
	assert_true(has("reg 3"));
	ok(3, 1010);
	assert_ptr_equal(srv(3), line1()->working);
	assert_string_equal("Registration failed", state(1));
	assert_true(reported("working server 1 -> 3"));
}


static void test_cisco_fails_back_and_unregisters_lower(void **s)
{
	uint64_t t;
	(void)s;
	start_checked("", true, true, true);
	ok(1, 20);
	fail503(1, 1000);
	ok(2, 1010);
	assert_ptr_equal(srv(2), line1()->working);

	/* server 1 is checked again at the probe interval (30 s) */
	t = srv(1)->probe_at;
	assert_int_equal(31000, t);
	clear();
	sfo_tick(line1(), t);
	assert_true(has("options 1"));
	alive(1, t + 5);

	/* its registration back-off may still run: wait it out */
	sfo_tick(line1(), srv(1)->retry_at);
	assert_true(has("reg 1"));
	assert_false(has("unreg 2"));
	assert_string_equal("Registered", state(2));

	ok(1, srv(1)->retry_at + 10);
	assert_true(pos("reg 1") < pos("unreg 2"));
	assert_ptr_equal(srv(1), line1()->working);
	assert_string_equal("Reachable", state(2));
	assert_int_equal(1, line1()->failbacks);
	assert_true(reported("working server 2 -> 1"));
	assert_true(reported("fail-back: server 1 registered again"));
}


/* A wrong password or a 403: server 1 stays "Registration failed" with
 * the registrar's answer whatever its checks say, the line stays on
 * server 2, and server 1 is tried again only on the back-off */
static void test_cisco_refused_registration_stays_failed(void **s)
{
	uint64_t t;
	(void)s;
	start_checked("", true, true, true);
	sfo_reg_failed(srv(1), 403, "403 Forbidden", 20);
	ok(2, 30);
	assert_ptr_equal(srv(2), line1()->working);
	assert_string_equal("Registration failed", state(1));

	/* checks: alive, yet still refused, with its own code shown */
	clear();
	t = srv(1)->probe_at;
	assert_true(t >= srv(1)->retry_at && srv(1)->retry_at >= 20 + 15000);
	sfo_tick(line1(), t - 1);
	assert_false(has("reg 1"));
	assert_false(has("options 1"));
	assert_ptr_equal(srv(2), line1()->working);

	sfo_tick(line1(), t);
	assert_true(has("options 1"));
	sfo_options_answer(srv(1), srv(1)->req_id, 404, "404 Not Found",
			   t + 5);
	assert_string_equal("Registration failed", state(1));
	assert_int_equal(403, srv(1)->last_code);
	assert_true(has("reg 1"));           /* the back-off's attempt */
	assert_ptr_equal(srv(2), line1()->working);

	/* refused again: a longer wait; then it is accepted */
	sfo_reg_failed(srv(1), 401, "401 Unauthorized", t + 10);
	assert_int_equal(401, srv(1)->last_code);
	assert_true(srv(1)->retry_at - (t + 10) > t - 20);
	assert_ptr_equal(srv(2), line1()->working);
	assert_string_equal("Registered", state(2));

	sfo_tick(line1(), srv(1)->retry_at);
	alive(1, srv(1)->retry_at + 5);
	ok(1, srv(1)->retry_at + 10);
	assert_ptr_equal(srv(1), line1()->working);
	assert_false(srv(1)->refused);
}


/* A server that stays dead is checked 1, 2, then 4 intervals apart,
 * each check sent twice at most: a minute of a dead server costs a few
 * packets, not a check with all its retransmissions every interval */
static void test_cisco_dead_server_checks_back_off(void **s)
{
	static const uint64_t gap[] = {30000, 60000, 120000, 120000};
	uint64_t t = 5;
	size_t i;
	(void)s;
	start_checked("", true, false, true);
	assert_int_equal(3, sfo_check_retransmits(srv(1)));

	for (i = 0; i < ARRAY_SIZE(gap); i++) {
		assert_int_equal(t + gap[i], srv(2)->probe_at);
		t += gap[i];
		clear();
		sfo_tick(line1(), t);
		assert_true(has("options 2"));
		assert_int_equal(1, sfo_check_retransmits(srv(2)));
		dead(2, t);
	}

	sfo_tick(line1(), srv(2)->probe_at);
	t = srv(2)->probe_at;
	alive(2, t);
	assert_int_equal(0, srv(2)->dead_checks);
	assert_int_equal(SFO_ALIVE_UP, srv(2)->alive);
	assert_int_equal(3, sfo_check_retransmits(srv(2)));
}


static void test_cisco_no_answer_to_check_is_unreachable(void **s)
{
	(void)s;
	load(THREE("cisco", ""));
	sfo_start(line1(), 0);
	alive(2, 5);
	alive(3, 5);
	sfo_tick(line1(), 3500);

	assert_string_equal("Unreachable", state(1));
	assert_true(has("reg 2"));
}


static void test_cisco_check_answer_codes(void **s)
{
	(void)s;
	load(THREE("cisco", ";sfo_failover_codes=5??"));
	sfo_start(line1(), 0);

	/* any final answer is alive, but the failover codes */
	sfo_options_answer(srv(1), srv(1)->req_id, 404, "404 Not Found", 5);
	sfo_options_answer(srv(2), srv(2)->req_id, 500, "500 Oops", 5);
	sfo_options_answer(srv(3), srv(3)->req_id, 503, "503 Busy", 5);

	assert_string_equal("Registering", state(1));
	assert_string_equal("Unreachable", state(2));
	assert_string_equal("Unreachable", state(3));
}


static void test_cisco_late_answer_to_abandoned_check_is_ignored(void **s)
{
	unsigned old;
	(void)s;
	load(THREE("cisco", ""));
	sfo_start(line1(), 0);
	old = srv(1)->req_id;
	sfo_tick(line1(), 3500);
	assert_string_equal("Unreachable", state(1));

	sfo_options_answer(srv(1), old, 200, "200 OK", 20000);
	assert_string_equal("Unreachable", state(1));
}


static void test_cisco_registered_server_is_watched_while_idle(void **s)
{
	(void)s;
	start_checked("", true, true, true);
	ok(1, 20);
	clear();
	sfo_tick(line1(), 30019);
	assert_false(has("options 1"));
	sfo_tick(line1(), 30020);
	assert_true(has("options 1"));
	assert_false(has("reg 2"));
	alive(2, 30020);
	alive(3, 30020);

	/* no answer within the budget: the server is dead, fail over */
	sfo_tick(line1(), 30020 + 3500);
	assert_true(has("unreg 1"));
	assert_true(has("reg 2"));
	assert_string_equal("Registration failed", state(1));
	assert_true(reported("no answer"));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_cisco_checks_all_servers_without_registering),
		T(test_cisco_registers_highest_reachable_only),
		T(test_cisco_waits_for_main_check_before_registering_lower),
		T(test_cisco_skips_unreachable_main),
		T(test_cisco_fails_over_to_next_reachable_on_503),
		T(test_cisco_fails_back_and_unregisters_lower),
		T(test_cisco_refused_registration_stays_failed),
		T(test_cisco_dead_server_checks_back_off),
		T(test_cisco_no_answer_to_check_is_unreachable),
		T(test_cisco_check_answer_codes),
		T(test_cisco_late_answer_to_abandoned_check_is_ignored),
		T(test_cisco_registered_server_is_watched_while_idle),
	};

	return cmocka_run_group_tests_name("cisco", tests, NULL, NULL);
}
