/* Outgoing calls: routing, server bypass and INVITE failover */
#include "harness.h"


/* The server of a dial; NULL also when refused (out says why) */
static struct sfo_server *route(const char *dial, bool *bypass)
{
	struct re_printf pf = {out_print, NULL};
	struct sfo_server *srv;
	int err;

	out[0] = '\0';
	err = sfo_route(&srv, &H.lines, line1(), dial, bypass, &pf);
	assert_true(err == 0 || (err == EACCES && out[0] && !srv));

	return srv;
}


static void test_route_bare_user_id_uses_working_server(void **s)
{
	bool bypass;
	(void)s;
	up("parallel", "");

	assert_ptr_equal(srv(1), route("200", &bypass));
	assert_false(bypass);
	fail503(1, 100);
	assert_ptr_equal(srv(2), route("200", &bypass));
}


static void test_route_full_uri_of_a_server_bypasses_priorities(void **s)
{
	bool bypass;
	(void)s;
	up("parallel", "");

	assert_ptr_equal(srv(3), route("200@127.0.0.4", &bypass));
	assert_true(bypass);
	assert_ptr_equal(srv(2), route("sip:200@127.0.0.3:5060", &bypass));
	assert_ptr_equal(srv(2), route("<sip:200@127.0.0.3;transport=udp>",
				       &bypass));
	assert_null(route("200@127.0.0.3:5070", &bypass));
	assert_false(bypass);
}


static void test_redial_target_drops_the_first_server_host(void **s)
{
	char *t = NULL;
	(void)s;
	up("parallel", "");

	assert_int_equal(0, sfo_redial_target(&t, srv(1),
					      "sip:200@127.0.0.2;x=y"));
	assert_string_equal("200", t);
	t = mem_deref(t);
	assert_int_equal(0, sfo_redial_target(&t, srv(1),
					      "sip:200@example.org"));
	assert_string_equal("sip:200@example.org", t);
	mem_deref(t);
}


static void test_message_target_is_the_user_at_the_server_used(void **s)
{
	char *t = NULL;
	(void)s;
	load("<sip:100@127.0.0.2;transport=udp>;sfo_mode=cisco\n"
	     "<sip:100@127.0.0.3:5070;transport=tcp>\n");

	/* a contact at server 1, through server 2: the same user there */
	assert_int_equal(0, sfo_request_target(&t, srv(2),
					       "sip:200@127.0.0.2"));
	assert_string_equal("sip:200@127.0.0.3:5070;transport=tcp", t);
	t = mem_deref(t);

	assert_int_equal(0, sfo_request_target(&t, srv(1),
					       "sip:200@127.0.0.3:5070"));
	assert_string_equal("sip:200@127.0.0.2", t);
	t = mem_deref(t);

	/* anywhere else: as it is */
	assert_int_equal(0, sfo_request_target(&t, srv(2),
					       "sip:200@example.org"));
	assert_string_equal("sip:200@example.org", t);
	mem_deref(t);
}


static void test_message_route_is_the_working_server(void **s)
{
	(void)s;
	up("cisco", "");
	fail503(1, 100);
	alive(2, 150);
	ok(2, 200);

	assert_ptr_equal(srv(2), sfo_request_route(&H.lines, NULL,
						   "sip:200@127.0.0.2"));
	assert_ptr_equal(srv(2), sfo_request_route(&H.lines, line1(),
						   "sip:200@example.org"));
	assert_ptr_equal(srv(2), sfo_request_route(&H.lines, NULL, "200"));
}


static void test_route_unknown_host_is_left_alone(void **s)
{
	bool bypass;
	(void)s;
	up("parallel", "");

	assert_null(route("200@127.0.0.77", &bypass));
	assert_null(route("", &bypass));
}


static void test_invite_503_goes_to_next_server(void **s)
{
	struct sfo_invite inv;
	(void)s;
	up("parallel", "");

	sfo_invite_start(&inv, srv(1), false, 1000);
	assert_int_equal(SFO_INV_RETRY, sfo_invite_failed(&inv, 503,
				"503 Service Unavailable", 1005));
	assert_ptr_equal(srv(2), inv.srv);
	assert_int_equal(1005, inv.sent);

	/* a plain 503 sends the call elsewhere, not the registration */
	assert_string_equal("Registered*", state(1));
	assert_int_equal(1, srv(1)->failures);
	assert_int_equal(503, srv(1)->last_code);
}


static void test_invite_unanswered_server_is_dead_for_registration(
	void **s)
{
	struct sfo_invite inv;
	(void)s;
	up("parallel", "");

	sfo_invite_start(&inv, srv(1), false, 1000);
	assert_int_equal(SFO_INV_RETRY, sfo_invite_failed(&inv, 0,
				"no answer to INVITE", 4500));
	assert_string_equal("Registration failed", state(1));
	assert_ptr_equal(srv(2), line1()->working);
}


static void test_invite_503_with_retry_after_keeps_server_out(void **s)
{
	struct sfo_invite inv;
	(void)s;
	up("parallel", "");

	sfo_invite_start(&inv, srv(1), false, 1000);
	sfo_retry_after(srv(1), 60);
	assert_int_equal(SFO_INV_RETRY, sfo_invite_failed(&inv, 503,
				"503 Service Unavailable", 1005));
	assert_string_equal("Registration failed", state(1));
	assert_int_equal(61005, srv(1)->retry_at);
	assert_ptr_equal(srv(2), line1()->working);
}


static void test_invite_failover_codes_and_final_answers(void **s)
{
	struct sfo_invite inv;
	(void)s;
	up("parallel", ";sfo_failover_codes=5??,6??");

	sfo_invite_start(&inv, srv(1), false, 1000);
	assert_int_equal(SFO_INV_RETRY,
			 sfo_invite_failed(&inv, 600, "600 Busy", 1001));
	assert_int_equal(SFO_INV_DONE,
			 sfo_invite_failed(&inv, 486, "486 Busy Here", 1002));
	assert_int_equal(SFO_INV_DONE,
			 sfo_invite_failed(&inv, 404, "404 Not Found", 1002));
	assert_ptr_equal(srv(2), inv.srv);
	assert_string_equal("Registered*", state(1));
}


static void test_invite_callee_answer_is_not_failed_over(void **s)
{
	struct sfo_invite inv;
	(void)s;
	up("parallel", "");

	sfo_invite_start(&inv, srv(1), false, 1000);
	assert_int_equal(SFO_INV_DONE,
			 sfo_invite_failed(&inv, 603, "603 Decline", 1001));
	assert_string_equal("Registered*", state(1));
}


static void test_invite_after_100_trying_is_the_callees_answer(void **s)
{
	struct sfo_invite inv;
	(void)s;
	up("parallel", "");

	sfo_invite_start(&inv, srv(1), false, 1000);
	inv.provisional = true;
	assert_int_equal(SFO_INV_DONE, sfo_invite_failed(&inv, 503,
				"503 Service Unavailable", 1001));
	assert_string_equal("Registered*", state(1));
}


/* 100 Trying, then 407: the authenticated INVITE is a new attempt whose
 * 503 or silence still moves the call */
static void test_invite_resent_after_challenge_starts_afresh(void **s)
{
	struct sfo_invite inv;
	(void)s;
	up("parallel", "");

	sfo_invite_start(&inv, srv(1), false, 1000);
	inv.provisional = true;          /* the 100 Trying before the 407 */
	sfo_invite_resent(&inv, 1200);
	assert_false(inv.provisional);
	assert_int_equal(4700, sfo_invite_deadline(&inv));
	assert_int_equal(SFO_INV_RETRY, sfo_invite_failed(&inv, 503,
				"503 Service Unavailable", 1300));
	assert_ptr_equal(srv(2), inv.srv);
}


static void test_invite_no_answer_budget(void **s)
{
	struct sfo_invite inv;
	(void)s;
	up("parallel", "");

	sfo_invite_start(&inv, srv(1), false, 1000);
	assert_int_equal(4500, sfo_invite_deadline(&inv));
	assert_int_equal(SFO_INV_RETRY, sfo_invite_failed(&inv, 0,
				"no provisional answer", 4500));
	assert_int_equal(8000, sfo_invite_deadline(&inv));
}


static void test_invite_skips_servers_known_dead(void **s)
{
	struct sfo_invite inv;
	(void)s;
	up("parallel", "");
	fail503(2, 500);

	sfo_invite_start(&inv, srv(1), false, 1000);
	assert_int_equal(SFO_INV_RETRY, sfo_invite_failed(&inv, 0,
				"Connection refused", 1001));
	assert_ptr_equal(srv(3), inv.srv);
}


static void test_invite_all_servers_fail_once_with_every_reason(void **s)
{
	struct sfo_invite inv;
	(void)s;
	up("parallel", "");

	sfo_invite_start(&inv, srv(1), false, 1000);
	assert_int_equal(SFO_INV_RETRY, sfo_invite_failed(&inv, 503,
				"503 Service Unavailable", 1001));
	assert_int_equal(SFO_INV_RETRY, sfo_invite_failed(&inv, 0,
				"no provisional answer", 4501));
	assert_int_equal(SFO_INV_FAILED, sfo_invite_failed(&inv, 0,
				"Connection refused", 4502));
	assert_string_equal("server 1 sip:127.0.0.2: 503 Service Unavailable;"
			    " server 2 sip:127.0.0.3: no provisional answer;"
			    " server 3 sip:127.0.0.4: Connection refused",
			    inv.why);
}


static void test_invite_bypass_is_not_failed_over(void **s)
{
	struct sfo_invite inv;
	(void)s;
	up("parallel", "");

	sfo_invite_start(&inv, srv(3), true, 1000);
	assert_int_equal(SFO_INV_FAILED, sfo_invite_failed(&inv, 503,
				"503 Service Unavailable", 1001));
	assert_string_equal("server 3 sip:127.0.0.4: 503 Service Unavailable",
			    inv.why);
}


/* A dial naming a TLS server's host and 5061 is that server's */
static void test_route_tls_server_default_port(void **s)
{
	bool bypass;
	(void)s;
	assert_int_equal(0, load("<sip:100@127.0.0.2;transport=tls>\n"
				 "<sip:100@127.0.0.3;transport=tls>\n"));

	assert_ptr_equal(srv(2), route("200@127.0.0.3:5061", &bypass));
	assert_true(bypass);
	assert_null(route("200@127.0.0.3:5060", &bypass));
}


/* Nothing goes out through a deactivated server, and a line with no
 * usable server refuses a bare dial with the reason */
static void test_route_refuses_when_no_server_is_usable(void **s)
{
	bool bypass;
	(void)s;
	up("cisco", "");

	sfo_set_active(srv(1), false, 100);
	sfo_set_active(srv(2), false, 100);
	assert_null(route("200@127.0.0.2", &bypass));
	assert_non_null(strstr(out, "server 1 sip:127.0.0.2 is deactivated"));

	sfo_set_active(srv(3), false, 100);
	assert_null(route("200", &bypass));
	assert_non_null(strstr(out, "srvfailover: 100: call to 200 not placed:"
			       " no usable server (server 1 sip:127.0.0.2:"
			       " Deactivated; server 2"));

	sfo_set_active(srv(3), true, 200);
	assert_ptr_equal(srv(3), route("200", &bypass));
	assert_string_equal("", out);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_route_refuses_when_no_server_is_usable),
		T(test_route_tls_server_default_port),
		T(test_invite_resent_after_challenge_starts_afresh),
		T(test_route_bare_user_id_uses_working_server),
		T(test_route_full_uri_of_a_server_bypasses_priorities),
		T(test_route_unknown_host_is_left_alone),
		T(test_redial_target_drops_the_first_server_host),
		T(test_invite_503_goes_to_next_server),
		T(test_invite_unanswered_server_is_dead_for_registration),
		T(test_invite_503_with_retry_after_keeps_server_out),
		T(test_invite_failover_codes_and_final_answers),
		T(test_invite_callee_answer_is_not_failed_over),
		T(test_invite_after_100_trying_is_the_callees_answer),
		T(test_invite_no_answer_budget),
		T(test_invite_skips_servers_known_dead),
		T(test_invite_all_servers_fail_once_with_every_reason),
		T(test_invite_bypass_is_not_failed_over),
		T(test_message_target_is_the_user_at_the_server_used),
		T(test_message_route_is_the_working_server),
	};

	return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
