/* Failover mode: a server given as a DNS name, primary and secondary */
#include "harness.h"


#define DNS(mode) \
	"<sip:100@pbx.test;transport=udp>;regint=600;sfo_mode=" mode \
	";sfo_retry_base=1;sfo_retry_max=1\n" \
	"<sip:100@127.0.0.9;transport=udp>;regint=600\n"

static const struct sfo_target two[] = {
	{"127.0.0.2", 5060}, {"127.0.0.3", 5060}
};


static struct sfo_server *nth(unsigned order)
{
	struct le *le;

	LIST_FOREACH(&line1()->servers, le) {
		struct sfo_server *s = le->data;

		if (s->order == order)
			return s;
	}

	return NULL;
}


static const char *st(unsigned order)
{
	return sfo_state_name(nth(order)->state);
}


static void test_dns_name_waits_for_its_targets(void **s)
{
	(void)s;
	load(DNS("sequential"));
	assert_string_equal("pbx.test", srv(1)->dns);
	assert_true(srv(1)->unresolved);
	sfo_start(line1(), 0);

	/* the primary first: nothing is sent before the name resolves */
	assert_false(has("reg 1"));
	assert_false(has("reg 2"));
	assert_string_equal("Standby", state(1));
	assert_string_equal("Standby", state(2));

	/* a name that does not resolve: the next server, then */
	sfo_targets_failed(line1(), 1, "DNS: no record", 100);
	assert_true(has("reg 2"));
}


static void test_dns_cisco_waits_for_the_name_too(void **s)
{
	(void)s;
	load(DNS("cisco"));
	sfo_start(line1(), 0);
	alive(2, 5);
	assert_false(has("reg 2"));

	sfo_targets_set(line1(), 1, two, 2, 10);
	alive(1, 15);
	assert_true(has("reg 1"));
	assert_false(has("reg 3"));
}


static void test_dns_targets_take_the_entry_place_in_order(void **s)
{
	(void)s;
	load(DNS("cisco"));
	sfo_start(line1(), 0);
	assert_int_equal(0, sfo_targets_set(line1(), 1, two, 2, 10));

	assert_int_equal(3, list_count(&line1()->servers));
	assert_true(has("added sip:127.0.0.2:5060"));
	assert_true(has("added sip:127.0.0.3:5060"));
	assert_int_equal(1, nth(1)->prio);
	assert_int_equal(1, nth(2)->prio);
	assert_int_equal(2, nth(3)->prio);
	assert_int_equal(0, nth(1)->rank);
	assert_int_equal(1, nth(2)->rank);
	assert_string_equal("<sip:100@pbx.test;transport=udp>;regint=0"
			    ";mwi=no;pubint=0"
			    ";outbound=\"sip:127.0.0.2:5060;transport=udp\"",
			    nth(1)->account);
	assert_string_equal("sip:100@127.0.0.3:5060;transport=udp",
			    nth(2)->probe_uri);
}


static void test_dns_registers_with_primary_first(void **s)
{
	(void)s;
	load(DNS("sequential"));
	sfo_start(line1(), 0);
	sfo_targets_set(line1(), 1, two, 2, 10);
	ok(2, 20);

	assert_true(has("reg 1"));
	sfo_registered(nth(1), 200, "200 OK", 30);
	assert_ptr_equal(nth(1), line1()->working);
	assert_true(has("unreg 3"));
	assert_string_equal("Standby", st(2));
	assert_string_equal("Standby", st(3));
}


static void test_dns_secondary_works_while_primary_down(void **s)
{
	(void)s;
	load(DNS("cisco"));
	sfo_start(line1(), 0);
	sfo_targets_set(line1(), 1, two, 2, 10);
	sfo_options_answer(nth(1), nth(1)->req_id, 200, "200 OK", 11);
	sfo_options_answer(nth(2), nth(2)->req_id, 200, "200 OK", 11);
	sfo_options_answer(nth(3), nth(3)->req_id, 200, "200 OK", 11);
	sfo_registered(nth(1), 200, "200 OK", 20);
	assert_ptr_equal(nth(1), line1()->working);

	sfo_reg_failed(nth(1), 503, "503 Service Unavailable", 100);
	sfo_registered(nth(2), 200, "200 OK", 110);
	assert_ptr_equal(nth(2), line1()->working);

	/* as soon as the primary is back, it is the working server */
	sfo_tick(line1(), nth(1)->probe_at);
	sfo_options_answer(nth(1), nth(1)->req_id, 200, "200 OK",
			   nth(1)->probe_at);
	clear();
	sfo_registered(nth(1), 200, "200 OK", 40000);
	assert_ptr_equal(nth(1), line1()->working);
	assert_true(has("unreg 2"));
}


static void test_dns_parallel_registers_one_target_and_fallback(void **s)
{
	(void)s;
	load(DNS("parallel"));
	sfo_start(line1(), 0);
	assert_true(has("reg 2"));
	clear();
	sfo_targets_set(line1(), 1, two, 2, 10);

	assert_true(has("reg 1"));
	assert_false(has("reg 2"));
	assert_false(has("reg 3"));
	assert_int_equal(SFO_REG_PENDING, nth(3)->reg);
	sfo_registered(nth(1), 200, "200 OK", 20);
	sfo_registered(nth(3), 200, "200 OK", 20);
	assert_string_equal("Registered*", st(1));
	assert_string_equal("Standby", st(2));
	assert_string_equal("Registered", st(3));

	clear();
	sfo_reg_failed(nth(1), 0, "Connection refused", 100);
	assert_true(has("reg 2"));
	sfo_registered(nth(2), 200, "200 OK", 110);
	assert_string_equal("Registered*", st(2));

	/* the primary did not answer: it is checked before its next
	 * REGISTER; once it answers (its back-off over), the secondary
	 * goes */
	clear();
	sfo_tick(line1(), nth(1)->retry_at);
	assert_false(has("reg 1"));
	assert_true(nth(1)->probe_at >= nth(1)->retry_at);
	sfo_tick(line1(), nth(1)->probe_at);
	assert_true(has("options 1"));
	sfo_options_answer(nth(1), nth(1)->req_id, 200, "200 OK",
			   nth(1)->probe_at + 5);
	assert_true(has("reg 1"));
	sfo_registered(nth(1), 200, "200 OK", nth(1)->probe_at + 10);
	assert_true(has("unreg 2"));
	assert_string_equal("Registered*", st(1));
}


static void test_dns_new_answer_keeps_state_of_targets_that_stay(void **s)
{
	static const struct sfo_target other[] = {
		{"127.0.0.3", 5060}, {"127.0.0.4", 5070}
	};
	(void)s;
	load(DNS("parallel"));
	sfo_start(line1(), 0);
	sfo_targets_set(line1(), 1, two, 2, 10);
	sfo_reg_failed(nth(1), 503, "503 Service Unavailable", 20);
	sfo_registered(nth(2), 200, "200 OK", 30);

	clear();
	sfo_targets_set(line1(), 1, two, 2, 40);
	assert_false(has("added sip:127.0.0.2:5060"));
	assert_false(has("removed sip:127.0.0.2:5060"));
	assert_false(has("removed sip:127.0.0.3:5060"));

	sfo_targets_set(line1(), 1, other, 2, 50);
	assert_true(has("removed sip:127.0.0.2:5060"));
	assert_true(has("added sip:127.0.0.4:5070"));
	assert_false(has("removed sip:127.0.0.3:5060"));
	assert_string_equal("sip:127.0.0.3:5060", nth(1)->uri);
	assert_string_equal("Registered*", st(1));
	assert_int_equal(3, list_count(&line1()->servers));
}


static void test_dns_failure_is_shown(void **s)
{
	(void)s;
	load(DNS("cisco"));
	sfo_start(line1(), 0);
	sfo_targets_failed(line1(), 1, "DNS: no SRV or A record", 10);

	assert_string_equal("Unreachable", state(1));
	assert_string_equal("DNS: no SRV or A record", srv(1)->last_text);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_dns_name_waits_for_its_targets),
		T(test_dns_cisco_waits_for_the_name_too),
		T(test_dns_targets_take_the_entry_place_in_order),
		T(test_dns_registers_with_primary_first),
		T(test_dns_secondary_works_while_primary_down),
		T(test_dns_parallel_registers_one_target_and_fallback),
		T(test_dns_new_answer_keeps_state_of_targets_that_stay),
		T(test_dns_failure_is_shown),
	};

	return cmocka_run_group_tests_name("dns", tests, NULL, NULL);
}
