/* Parallel mode: every active server registered, Registered* works */
#include "harness.h"


static void test_parallel_registers_every_active_server_at_start(void **s)
{
	(void)s;
	load(THREE("parallel", ""));
	sfo_start(line1(), 0);

	assert_true(has("reg 1"));
	assert_true(has("reg 2"));
	assert_true(has("reg 3"));
	assert_false(has("options 1"));
	assert_string_equal("Registering", state(1));
}


static void test_parallel_bare_user_id_uses_highest_registered(void **s)
{
	(void)s;
	up("parallel", "");

	assert_ptr_equal(srv(1), line1()->working);
	assert_string_equal("Registered*", state(1));
	assert_string_equal("Registered", state(2));
	assert_string_equal("Registered", state(3));
}


static void test_parallel_higher_server_answering_late_becomes_working(
	void **s)
{
	(void)s;
	load(THREE("parallel", ";sfo_failback=never"));
	sfo_start(line1(), 0);
	ok(2, 10);
	assert_ptr_equal(srv(2), line1()->working);

	clear();
	ok(1, 20);
	assert_ptr_equal(srv(1), line1()->working);
	assert_true(has("working 1"));
	assert_int_equal(0, line1()->failbacks);
	assert_true(reported("server 1 registered, higher priority"));
	assert_string_equal("Registered*", state(1));
	assert_string_equal("Registered", state(2));
}


static void test_parallel_working_moves_to_next_when_main_fails_503(
	void **s)
{
	(void)s;
	up("parallel", "");

	clear();
	fail503(1, 1000);
	assert_ptr_equal(srv(2), line1()->working);
	assert_true(has("working 2"));
	assert_string_equal("Registration failed", state(1));
	assert_string_equal("Registered*", state(2));
	assert_int_equal(1, line1()->failovers);
	assert_true(reported("working server 1 -> 2"));
	assert_true(reported("503 Service Unavailable"));
}


static void test_parallel_failed_server_retried_after_backoff(void **s)
{
	uint64_t at;
	(void)s;
	load(THREE("parallel", ""));
	sfo_start(line1(), 0);
	ok(2, 10);
	ok(3, 10);
	fail503(1, 1000);
	at = srv(1)->retry_at;

	/* RFC 5626: between half and all of the 30 s base */
	assert_in_range(at - 1000, 15000, 30000);

	clear();
	sfo_tick(line1(), at - 1);
	assert_false(has("reg 1"));
	sfo_tick(line1(), at);
	assert_true(has("reg 1"));
}


/* A server that did not answer at all (no answer, ICMP, transport) gets
 * OPTIONS checks, which the module can stop, and a REGISTER only once
 * it answers: never a REGISTER libre would retransmit to it for 32 s */
static void test_parallel_silent_server_checked_before_register(void **s)
{
	uint64_t t;
	(void)s;
	load(THREE("parallel", ""));
	sfo_start(line1(), 0);
	ok(2, 10);
	ok(3, 10);
	sfo_reg_failed(srv(1), 0, "no answer after 3 retransmissions", 1000);
	assert_string_equal("Registration failed", state(1));

	clear();
	sfo_tick(line1(), srv(1)->retry_at);
	assert_false(has("reg 1"));

	/* still dead: checked less often, no REGISTER */
	t = srv(1)->probe_at;
	sfo_tick(line1(), t);
	assert_true(has("options 1"));
	dead(1, t + 5);
	assert_int_equal(t + 5 + 2 * 30000, srv(1)->probe_at);
	assert_false(has("reg 1"));

	/* it answers: REGISTER at once, its back-off being over */
	t = srv(1)->probe_at;
	sfo_tick(line1(), t);
	alive(1, t + 5);
	assert_true(has("reg 1"));
	ok(1, t + 10);
	assert_string_equal("Registered*", state(1));
}


static void test_parallel_fails_back_when_main_registers_again(void **s)
{
	(void)s;
	load(THREE("parallel", ""));
	sfo_start(line1(), 0);
	ok(1, 10);
	ok(2, 10);
	fail503(1, 1000);
	assert_ptr_equal(srv(2), line1()->working);

	sfo_tick(line1(), srv(1)->retry_at);
	clear();
	ok(1, 40000);
	assert_ptr_equal(srv(1), line1()->working);
	assert_int_equal(1, line1()->failbacks);
	assert_true(reported("fail-back"));
	assert_false(has("unreg 2"));
}


static void test_parallel_transport_error_fails_server(void **s)
{
	(void)s;
	load(THREE("parallel", ""));
	sfo_start(line1(), 0);
	ok(1, 10);
	ok(2, 10);
	clear();
	sfo_reg_failed(srv(1), 0, "Connection refused", 500);

	assert_true(has("unreg 1"));
	assert_ptr_equal(srv(2), line1()->working);
	assert_string_equal("Connection refused", srv(1)->last_text);
}


static void test_parallel_no_answer_within_budget_fails_server(void **s)
{
	(void)s;
	load(THREE("parallel", ""));
	sfo_start(line1(), 0);
	ok(2, 10);

	/* 3 retransmissions: 0.5 + 1 + 2 s */
	assert_int_equal(3500, H.wake);
	sfo_tick(line1(), 3499);
	assert_string_equal("Registering", state(1));
	sfo_tick(line1(), 3500);
	assert_string_equal("Registration failed", state(1));
	assert_true(reported("no answer"));
}


static void test_parallel_synchronous_send_error_is_a_failure(void **s)
{
	(void)s;
	load(THREE("parallel", ""));
	H.reg_err = ENETUNREACH;
	sfo_start(line1(), 0);

	assert_string_equal("Registration failed", state(1));
	assert_true(srv(1)->retry_at > 0);
	assert_true(reported("REGISTER not sent"));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_parallel_registers_every_active_server_at_start),
		T(test_parallel_bare_user_id_uses_highest_registered),
		T(test_parallel_higher_server_answering_late_becomes_working),
		T(test_parallel_working_moves_to_next_when_main_fails_503),
		T(test_parallel_failed_server_retried_after_backoff),
		T(test_parallel_silent_server_checked_before_register),
		T(test_parallel_fails_back_when_main_registers_again),
		T(test_parallel_transport_error_fails_server),
		T(test_parallel_no_answer_within_budget_fails_server),
		T(test_parallel_synchronous_send_error_is_a_failure),
	};

	return cmocka_run_group_tests_name("parallel", tests, NULL, NULL);
}
