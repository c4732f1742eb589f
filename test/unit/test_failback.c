/* Fail-back policies, calls, deactivate/activate and mode changes */
#include "harness.h"


/* cisco line registered on server 2 after server 1 failed at t=1000 */
static void cisco_on_two(const char *extra)
{
	static char text[512];

	re_snprintf(text, sizeof(text), THREE("cisco", "%s"), extra);
	load(text);
	sfo_start(line1(), 0);
	alive(1, 5);
	alive(2, 5);
	alive(3, 5);
	ok(1, 20);
	fail503(1, 1000);
	ok(2, 1010);
	assert_ptr_equal(srv(2), line1()->working);
}


/* time t: every check due goes out; all answer, but server 'down' */
static void checks(uint64_t t, unsigned down)
{
	struct le *le;

	sfo_tick(line1(), t);

	LIST_FOREACH(&line1()->servers, le) {
		struct sfo_server *sv = le->data;

		if (sv->req != SFO_REQ_OPTIONS)
			continue;

		if (sv->prio == down)
			dead(sv->prio, t);
		else
			alive(sv->prio, t);
	}
}


static void check_one(uint64_t t)
{
	checks(t, 0);
}


static void test_failback_immediate_on_first_good_check(void **s)
{
	(void)s;
	cisco_on_two(";sfo_failback=immediate;sfo_retry_base=1");
	clear();
	check_one(31000);
	assert_true(has("reg 1"));
}


static void test_failback_never_stays_on_backup_until_it_fails(void **s)
{
	(void)s;
	cisco_on_two(";sfo_failback=never;sfo_retry_base=1");
	clear();
	check_one(31000);
	check_one(61000);
	assert_false(has("reg 1"));
	assert_string_equal("Reachable", state(1));

	fail503(2, 70000);
	assert_true(has("reg 1"));
	ok(1, 70010);
	assert_ptr_equal(srv(1), line1()->working);
}


static void test_failback_after_n_good_checks_in_a_row(void **s)
{
	(void)s;
	cisco_on_two(";sfo_failback=probes:3;sfo_retry_base=1");
	clear();
	check_one(31000);
	check_one(61000);
	assert_false(has("reg 1"));

	/* a bad check in between starts the count again */
	checks(91000, 1);
	check_one(121000);
	check_one(151000);
	assert_false(has("reg 1"));
	check_one(181000);
	assert_true(has("reg 1"));
}


static void test_failback_after_time_on_backup(void **s)
{
	(void)s;
	cisco_on_two(";sfo_failback=delay:100;sfo_retry_base=1");
	clear();
	check_one(31000);
	check_one(61000);
	check_one(91000);
	assert_false(has("reg 1"));

	/* on the backup since 1010: the core wakes itself at 101010 */
	checks(101010, 0);
	assert_true(has("reg 1"));
}


static void test_switch_waits_for_call_to_end(void **s)
{
	(void)s;
	cisco_on_two(";sfo_retry_base=1");
	sfo_calls(srv(2), 1, 2000);
	clear();
	check_one(31000);
	assert_false(has("reg 1"));
	assert_ptr_equal(srv(2), line1()->working);

	sfo_calls(srv(2), 0, 40000);
	assert_true(has("reg 1"));
	ok(1, 40010);
	assert_true(has("unreg 2"));
}


static void test_call_keeps_old_server_registered_until_it_ends(void **s)
{
	(void)s;
	up("cisco", "");
	sfo_calls(srv(1), 1, 100);

	/* the admin takes server 1 away: the call still keeps it */
	clear();
	sfo_set_mode(line1(), SFO_SEQUENTIAL, 200);
	assert_false(has("unreg 1"));
	sfo_set_active(srv(1), false, 300);
	assert_true(has("unreg 1"));
}


static void test_call_on_dead_server_does_not_hold_the_line(void **s)
{
	(void)s;
	cisco_on_two("");
	sfo_calls(srv(2), 1, 2000);
	clear();
	fail503(2, 3000);
	assert_true(has("reg 3"));
	ok(3, 3010);
	assert_ptr_equal(srv(3), line1()->working);
}


static void test_parallel_working_kept_while_it_carries_a_call(void **s)
{
	(void)s;
	load(THREE("parallel", ""));
	sfo_start(line1(), 0);
	ok(2, 10);
	sfo_calls(srv(2), 1, 20);
	ok(1, 30);
	assert_ptr_equal(srv(2), line1()->working);
	sfo_calls(srv(2), 0, 40);
	assert_ptr_equal(srv(1), line1()->working);
}


static void test_deactivate_working_moves_to_next(void **s)
{
	(void)s;
	up("cisco", "");

	clear();
	sfo_set_active(srv(1), false, 100);
	assert_true(has("unreg 1"));
	assert_true(has("reg 2"));
	assert_string_equal("Deactivated", state(1));
	ok(2, 110);
	assert_ptr_equal(srv(2), line1()->working);
	assert_true(reported("deactivated"));
}


static void test_deactivated_server_is_never_registered_or_checked(void **s)
{
	(void)s;
	load(THREE("parallel", ""));
	sfo_set_active(srv(3), false, 0);
	clear();
	sfo_start(line1(), 0);
	sfo_tick(line1(), 1000000);

	assert_false(has("reg 3"));
	assert_false(has("options 3"));
	assert_string_equal("Deactivated", state(3));
}


static void test_activate_rejoins_and_fails_back(void **s)
{
	(void)s;
	up("cisco", "");
	sfo_set_active(srv(1), false, 100);
	ok(2, 110);

	clear();
	sfo_set_active(srv(1), true, 200);
	assert_true(has("options 1"));
	alive(1, 210);
	assert_true(has("reg 1"));
	ok(1, 220);
	assert_true(has("unreg 2"));
	assert_ptr_equal(srv(1), line1()->working);
}


static void test_all_servers_down_retry_without_storm(void **s)
{
	unsigned i, regs;
	uint64_t t;
	(void)s;
	load(THREE("parallel", ""));
	sfo_start(line1(), 0);

	/* every REGISTER fails at once: ten simulated minutes */
	clear();
	for (t = 0; t <= 600000; t += 100) {
		struct le *le;

		sfo_tick(line1(), t);
		LIST_FOREACH(&line1()->servers, le) {
			struct sfo_server *sv = le->data;

			if (sv->reg == SFO_REG_PENDING)
				fail503(sv->prio, t);
		}
	}

	/* 15-30 s, 30-60, 60-120, 120-240, 240-480: at most 6 each */
	for (i = 1, regs = 0; i <= 3; i++) {
		char act[16];

		re_snprintf(act, sizeof(act), "reg %u", i);
		assert_in_range(count(act), 3, 6);
		regs += count(act);
	}
	assert_in_range(regs, 9, 18);
	assert_null(line1()->working);
}


static void test_mode_change_parallel_to_cisco_keeps_one(void **s)
{
	(void)s;
	up("parallel", "");

	clear();
	sfo_set_mode(line1(), SFO_CISCO, 100);
	assert_true(has("unreg 2"));
	assert_true(has("unreg 3"));
	assert_false(has("unreg 1"));
	assert_string_equal("Registered", state(1));
}


static void test_mode_change_cisco_to_parallel_registers_all(void **s)
{
	(void)s;
	up("cisco", "");

	clear();
	sfo_set_mode(line1(), SFO_PARALLEL, 100);
	assert_true(has("reg 2"));
	assert_true(has("reg 3"));
	assert_string_equal("Registered*", state(1));
}


static void test_every_state_change_reported_once(void **s)
{
	unsigned i, n = 0;
	(void)s;
	load(THREE("parallel", ""));
	sfo_start(line1(), 0);
	ok(1, 10);
	ok(1, 20);
	ok(1, 30);

	for (i = 0; i < H.nreports; i++)
		n += strstr(H.reports[i], "server 1") &&
			strstr(H.reports[i], "-> Registered*") != NULL;

	assert_int_equal(1, n);
}


/* A late un-REGISTER removed server 1's binding: the registration in use
 * is withdrawn first, and the new REGISTER goes only once that is
 * answered, so that the registrar cannot handle the withdrawal after
 * it; the line stays on server 1 meanwhile */
static void test_binding_lost_withdraws_then_registers(void **s)
{
	(void)s;
	up("cisco", "");
	clear();
	sfo_binding_lost(srv(1), 1000);
	assert_true(has("unreg 1"));
	assert_false(has("reg 1"));
	assert_true(reported("binding removed by a late un-REGISTER"));
	assert_string_equal("Registered", state(1));
	assert_ptr_equal(srv(1), line1()->working);

	sfo_tick(line1(), 1100);
	sfo_binding_lost(srv(1), 1100);
	assert_false(has("reg 1"));
	assert_int_equal(1, count("unreg 1"));

	sfo_unregistered(srv(1), 1200);
	assert_false(has("reg 1"));
	sfo_tick(line1(), 1201);
	assert_true(pos("unreg 1") < pos("reg 1"));
	assert_int_equal(SFO_REQ_REGISTER, srv(1)->req);
	ok(1, 1210);
	assert_string_equal("Registered", state(1));
	assert_int_equal(1, count("reg 1"));
}


/* ... and when the withdrawal is never answered, the REGISTER goes at
 * the end of its budget, not later and not as a failure */
static void test_binding_lost_unanswered_withdrawal(void **s)
{
	uint64_t t;
	(void)s;
	up("cisco", "");
	sfo_binding_lost(srv(1), 1000);
	t = srv(1)->req_deadline;
	clear();
	sfo_tick(line1(), t - 1);
	assert_false(has("reg 1"));
	sfo_tick(line1(), t);
	assert_true(has("reg 1"));
	assert_string_equal("Registered", state(1));
	sfo_unregistered(srv(1), t + 5);
	assert_int_equal(1, count("reg 1"));
}


/* ... and when it is answered while a REGISTER is out (the registrar may
 * have handled either last): after that REGISTER's 2xx, from the next
 * tick, the same withdrawal and REGISTER */
static void test_binding_lost_while_registering(void **s)
{
	(void)s;
	up("cisco", "");
	sfo_refresh_sent(srv(1), 1000);
	assert_int_equal(SFO_REQ_REGISTER, srv(1)->req);
	clear();
	sfo_binding_lost(srv(1), 1010);
	assert_false(has("unreg 1"));
	ok(1, 1020);
	assert_false(has("unreg 1"));
	assert_true(reported("a late un-REGISTER crossed the REGISTER"));
	sfo_tick(line1(), 1021);
	assert_true(has("unreg 1"));
	assert_false(has("reg 1"));
	sfo_unregistered(srv(1), 1030);
	sfo_tick(line1(), 1031);
	assert_true(pos("unreg 1") < pos("reg 1"));
	ok(1, 1040);
	sfo_tick(line1(), 1041);
	assert_int_equal(1, count("unreg 1"));
	assert_int_equal(1, count("reg 1"));
	assert_string_equal("Registered", state(1));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_failback_immediate_on_first_good_check),
		T(test_failback_never_stays_on_backup_until_it_fails),
		T(test_failback_after_n_good_checks_in_a_row),
		T(test_failback_after_time_on_backup),
		T(test_switch_waits_for_call_to_end),
		T(test_call_keeps_old_server_registered_until_it_ends),
		T(test_call_on_dead_server_does_not_hold_the_line),
		T(test_parallel_working_kept_while_it_carries_a_call),
		T(test_deactivate_working_moves_to_next),
		T(test_deactivated_server_is_never_registered_or_checked),
		T(test_activate_rejoins_and_fails_back),
		T(test_all_servers_down_retry_without_storm),
		T(test_mode_change_parallel_to_cisco_keeps_one),
		T(test_mode_change_cisco_to_parallel_registers_all),
		T(test_every_state_change_reported_once),
		T(test_binding_lost_withdraws_then_registers),
		T(test_binding_lost_unanswered_withdrawal),
		T(test_binding_lost_while_registering),
	};

	return cmocka_run_group_tests_name("failback", tests, NULL, NULL);
}
