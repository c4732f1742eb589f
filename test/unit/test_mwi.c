/* Voicemail: the message-summary a NOTIFY carries, which server holds
 * the line's subscription, when to subscribe again, what is shown */
#include "harness.h"


static int parse(struct sfo_summary *sum, const char *body,
		 const char **why)
{
	struct pl pl;

	pl_set_str(&pl, body);
	*why = NULL;

	return sfo_summary_parse(sum, &pl, why);
}


static void test_summary_reads_rfc3842_body(void **s)
{
	struct sfo_summary sum;
	const char *why;
	(void)s;

	assert_int_equal(0, parse(&sum, "Messages-Waiting: yes\r\n"
				  "Message-Account: sip:100@127.0.0.2\r\n"
				  "Voice-Message: 3/5 (1/0)\r\n", &why));
	assert_true(sum.waiting);
	assert_int_equal(3, sum.new_msgs);
	assert_int_equal(5, sum.old_msgs);

	/* bare LF, any case, blanks, no counts: 0/0 */
	assert_int_equal(0, parse(&sum, "messages-waiting:NO\n\n", &why));
	assert_false(sum.waiting);
	assert_int_equal(0, sum.new_msgs);
	assert_int_equal(0, sum.old_msgs);

	assert_int_equal(0, parse(&sum, "Messages-Waiting: yes\r\n"
				  "voice-message:  4294967295 / 0\r\n"
				  "Fax-Message: 1/1\r\n", &why));
	assert_int_equal(4294967295u, sum.new_msgs);
}


static void bad_body(const char *body, const char *why_part)
{
	struct sfo_summary sum = {true, 7, 8};
	const char *why;

	assert_int_not_equal(0, parse(&sum, body, &why));
	assert_non_null(why);
	assert_non_null(strstr(why, why_part));
	/* the lamp is left as it was */
	assert_true(sum.waiting);
	assert_int_equal(7, sum.new_msgs);
	assert_int_equal(8, sum.old_msgs);
}


static void test_summary_refuses_what_does_not_read(void **s)
{
	static char huge[SFO_MWI_BODY_MAX + 64];
	(void)s;

	bad_body("", "no Messages-Waiting");
	bad_body("Voice-Message: 1/2\r\n", "no Messages-Waiting");
	bad_body("Messages-Waiting: maybe\r\n", "not yes or no");
	bad_body("Messages-Waiting: yes\r\nVoice-Message: 4294967296/0\r\n",
		 "out of range");
	bad_body("Messages-Waiting: yes\r\nVoice-Message: "
		 "99999999999999999999999/0\r\n", "out of range");
	bad_body("Messages-Waiting: yes\r\nVoice-Message: -1/0\r\n",
		 "not a number");
	bad_body("Messages-Waiting: yes\r\nVoice-Message: 3\r\n",
		 "not NEW/OLD");
	bad_body("Messages-Waiting: yes\r\nVoice-Message: /2\r\n",
		 "missing");
	bad_body("Messages-Waiting: yes\r\n<html>\r\n", "NAME: VALUE");

	memset(huge, 'x', sizeof(huge) - 1);
	memcpy(huge, "Messages-Waiting: yes\r\nX-Pad: ", 30);
	bad_body(huge, "larger than");
}


static void test_mwi_server_is_the_working_one_unless_mwi_no(void **s)
{
	(void)s;
	up("cisco", "");

	assert_ptr_equal(srv(1), sfo_mwi_server(line1()));

	fail503(1, 100);
	alive(2, 150);
	ok(2, 200);
	assert_ptr_equal(srv(2), line1()->working);
	assert_ptr_equal(srv(2), sfo_mwi_server(line1()));

	srv(2)->no_mwi = true;
	assert_null(sfo_mwi_server(line1()));
}


static void test_mwi_none_before_a_working_server(void **s)
{
	(void)s;
	load(THREE("cisco", ""));
	sfo_start(line1(), 0);

	assert_null(line1()->working);
	assert_null(sfo_mwi_server(line1()));
}


static void test_mwi_waits_while_a_higher_server_registers(void **s)
{
	(void)s;
	load(THREE("parallel", ""));
	sfo_start(line1(), 0);

	/* server 2 answers first: working for a moment */
	ok(2, 10);
	assert_ptr_equal(srv(2), line1()->working);
	assert_true(sfo_line_settling(line1()));

	ok(1, 20);
	assert_ptr_equal(srv(1), line1()->working);
	assert_false(sfo_line_settling(line1()));
}


static void test_mwi_does_not_wait_for_a_failed_server(void **s)
{
	(void)s;
	load(THREE("parallel", ""));
	sfo_start(line1(), 0);

	fail503(1, 5);
	ok(2, 10);
	assert_ptr_equal(srv(2), line1()->working);
	assert_false(sfo_line_settling(line1()));
}


static void test_config_mwi_no_is_the_modules_not_baresips(void **s)
{
	(void)s;
	assert_int_equal(0, load(
		"<sip:100@127.0.0.2>;regint=600;mwi=yes\n"
		"<sip:100@127.0.0.3>;regint=600;mwi=no\n"
		"<sip:100@127.0.0.4>;regint=600\n"));

	assert_false(srv(1)->no_mwi);
	assert_true(srv(2)->no_mwi);
	assert_false(srv(3)->no_mwi);

	/* mwi.so never subscribes through the module's user agents */
	assert_non_null(strstr(srv(1)->account, ";mwi=no"));
	assert_null(strstr(srv(1)->account, "mwi=yes"));
	assert_non_null(strstr(srv(3)->account, ";mwi=no"));
}


static void test_config_bad_mwi_value_names_key(void **s)
{
	(void)s;
	assert_int_equal(1, load("<sip:100@127.0.0.2>;mwi=maybe\n"));
	assert_non_null(strstr(H.errors, "srvfailover:1: mwi:"));
	assert_non_null(strstr(H.errors, "'maybe' is not yes or no"));
}


static int64_t after(const char *reason, uint16_t scode, uint32_t ra,
		     unsigned fails)
{
	struct sfo_sub_end end;

	memset(&end, 0, sizeof(end));
	end.scode = scode;
	end.retry_after = ra;
	if (reason) {
		end.terminated = true;
		str_ncpy(end.reason, reason, sizeof(end.reason));
	}

	return sfo_resubscribe_ms(line1(), &end, fails, 0);
}


static void test_resubscribe_as_rfc6665_says(void **s)
{
	uint32_t base;
	(void)s;
	up("cisco", "");
	base = line1()->retry_base * 1000;

	/* at once after deactivated, timeout, or a forgotten one (481) */
	assert_int_equal(0, after("deactivated", 0, 0, 1));
	assert_int_equal(0, after("timeout", 0, 0, 1));
	assert_int_equal(0, after(NULL, 481, 0, 1));

	/* and backing off when it keeps ending so */
	assert_true(after("deactivated", 0, 0, 2) >= base / 2);
	assert_true(after(NULL, 481, 0, 3) >= base / 2);

	/* never after rejected, noresource, invariant, no such event */
	assert_int_equal(-1, after("rejected", 0, 0, 1));
	assert_int_equal(-1, after("noresource", 0, 0, 1));
	assert_int_equal(-1, after("invariant", 0, 0, 1));
	assert_int_equal(-1, after(NULL, 489, 0, 1));
	assert_int_equal(-1, after(NULL, 404, 0, 1));

	/* Retry-After when given; never more than an hour */
	assert_int_equal(30000, after("probation", 0, 30, 1));
	assert_int_equal(20000, after(NULL, 503, 20, 1));
	assert_int_equal(SFO_RETRY_AFTER_MAX * 1000,
			 after("giveup", 0, 4000000000u, 1));

	/* no answer, probation without Retry-After: the line's back-off */
	assert_true(after(NULL, 0, 0, 1) >= base / 2);
	assert_true(after(NULL, 0, 0, 1) <= base);
	assert_true(after("probation", 0, 0, 1) >= base / 2);
}


static void test_json_mwi_null_then_counts(void **s)
{
	struct re_printf pf = {out_print, NULL};
	struct sfo_summary sum = {true, 3, 5};
	(void)s;
	up("cisco", "");

	out[0] = '\0';
	assert_int_equal(0, sfo_status_json(&pf, &H.lines, 100));
	assert_non_null(strstr(out, "\"mwi\":null"));

	sfo_mwi_notified(line1(), srv(2), &sum);
	out[0] = '\0';
	assert_int_equal(0, sfo_status_json(&pf, &H.lines, 100));
	assert_non_null(strstr(out, "\"mwi\":{\"prio\":2,\"waiting\":true,"
			       "\"new\":3,\"old\":5}"));

	out[0] = '\0';
	assert_int_equal(0, sfo_status_print(&pf, &H.lines, 100));
	assert_non_null(strstr(out, "voicemail: 3 new, 5 old, waiting"
			       " (server 2)"));

	sfo_mwi_dropped(line1());
	out[0] = '\0';
	assert_int_equal(0, sfo_status_json(&pf, &H.lines, 100));
	assert_non_null(strstr(out, "\"mwi\":null"));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_summary_reads_rfc3842_body),
		T(test_summary_refuses_what_does_not_read),
		T(test_mwi_server_is_the_working_one_unless_mwi_no),
		T(test_mwi_none_before_a_working_server),
		T(test_mwi_waits_while_a_higher_server_registers),
		T(test_mwi_does_not_wait_for_a_failed_server),
		T(test_config_mwi_no_is_the_modules_not_baresips),
		T(test_config_bad_mwi_value_names_key),
		T(test_resubscribe_as_rfc6665_says),
		T(test_json_mwi_null_then_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
