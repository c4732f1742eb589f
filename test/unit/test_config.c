/* The srvfailover file: lines, servers, parameters and every bad value */
#include <stdio.h>
#include "harness.h"


static void test_config_same_user_forms_one_line_in_priority_order(void **s)
{
	(void)s;
	assert_int_equal(0, load(
		"# a comment\n"
		"<sip:100@127.0.0.2;transport=udp>;auth_pass=pw;regint=600\n"
		"\n"
		"  <sip:100@127.0.0.3:5070;transport=tcp>;regint=300  \n"
		"<sip:101@127.0.0.2>\n"));

	assert_int_equal(2, list_count(&H.lines));
	assert_string_equal("100", line1()->user);
	assert_int_equal(2, list_count(&line1()->servers));
	assert_int_equal(600, srv(1)->regint);
	assert_int_equal(300, srv(2)->regint);
	assert_string_equal("sip:127.0.0.2", srv(1)->uri);
	assert_string_equal("sip:127.0.0.3:5070", srv(2)->uri);
	assert_string_equal("tcp", srv(2)->transport);
	assert_string_equal("sip:100@127.0.0.3:5070;transport=tcp",
			    srv(2)->probe_uri);
	assert_int_equal(SFO_PARALLEL, line1()->mode);
}


static void test_config_account_never_registers_by_itself(void **s)
{
	(void)s;
	load("<sip:100@127.0.0.2>;auth_pass=pw;regint=600;sfo_retries=2"
	     ";sfo_mode=cisco;mwi=no;pubint=600;rwait=80\n");

	/* the rwait in use is given when the user agent is made */
	assert_string_equal("<sip:100@127.0.0.2>;auth_pass=pw;regint=0"
			    ";mwi=no;pubint=0", srv(1)->account);
	assert_int_equal(80, srv(1)->rwait);
	assert_true(srv(1)->no_mwi);
	assert_int_equal(600, srv(1)->pubint);
	assert_int_equal(2, srv(1)->retries);
}


static void test_config_mode_default_and_per_line_override(void **s)
{
	struct sfo_line *l2;
	(void)s;
	load_mode("<sip:100@127.0.0.2>;sfo_mode=sequential\n"
		  "<sip:101@127.0.0.2>\n", SFO_CISCO);

	l2 = list_ledata(list_tail(&H.lines));
	assert_int_equal(SFO_SEQUENTIAL, line1()->mode);
	assert_int_equal(SFO_CISCO, l2->mode);
}


static void test_config_line_parameters(void **s)
{
	(void)s;
	assert_int_equal(0, load(
		"<sip:100@127.0.0.2>;sfo_failback=probes:3"
		";sfo_probe_interval=5;sfo_fallback_interval=60"
		";sfo_retry_base=2;sfo_retry_max=64"
		";sfo_failover_codes=503,5??,6??;sfo_keepalive=register"
		";sfo_keepalive_loss=3\n"));

	assert_true(line1()->ka_register);
	assert_int_equal(3, line1()->ka_loss);

	assert_int_equal(SFO_FB_PROBES, line1()->fb);
	assert_int_equal(3, line1()->fb_value);
	assert_int_equal(5, line1()->probe_interval);
	assert_int_equal(60, line1()->fallback_interval);
	assert_int_equal(2, line1()->retry_base);
	assert_int_equal(64, line1()->retry_max);
	assert_true(sfo_codes_match(&line1()->codes, 502));
	assert_true(sfo_codes_match(&line1()->codes, 603));
	assert_false(sfo_codes_match(&line1()->codes, 486));
}


/* One bad value: error with file, line and key; only its line is out */
static void bad(const char *text, const char *expect)
{
	char buf[512];
	unsigned errc;

	re_snprintf(buf, sizeof(buf), "%s<sip:200@127.0.0.9>;regint=60\n",
		    text);
	errc = load(buf);

	assert_true(errc >= 1);
	if (!strstr(H.errors, expect))
		fail_msg("'%s' not in '%s'", expect, H.errors);
	assert_int_equal(1, list_count(&H.lines));
	assert_string_equal("200", line1()->user);
}


static void test_config_unknown_mode(void **s)
{
	(void)s;
	bad("<sip:100@127.0.0.2>;sfo_mode=fast\n",
	    "srvfailover:1: sfo_mode: unknown mode 'fast'");
}


static void test_config_bad_uri(void **s)
{
	(void)s;
	bad("<sip:100@127.0.0.2>\nsip:100@127.0.0.3\n",
	    "srvfailover:2: uri: no <...> around the address");
}


static void test_config_duplicate_server(void **s)
{
	(void)s;
	bad("<sip:100@127.0.0.2>\n<sip:100@127.0.0.2:5060>\n",
	    "srvfailover:2: uri: duplicate server");
}


/* A TLS server without a port is on 5061, not 5060 */
static void test_config_tls_default_port_duplicate(void **s)
{
	(void)s;
	bad("<sip:100@127.0.0.2;transport=tls>\n"
	    "<sip:100@127.0.0.2:5061;transport=tls>\n",
	    "srvfailover:2: uri: duplicate server");
	list_flush(&H.lines);
	H.errors[0] = '\0';
	assert_int_equal(0, load("<sip:100@127.0.0.2;transport=tls>\n"
				 "<sip:100@127.0.0.2:5060;transport=tls>\n"));
	assert_int_equal(5061, sfo_server_port(srv(1)));
	assert_int_equal(5060, sfo_server_port(srv(2)));
}


static void test_config_no_user(void **s)
{
	(void)s;
	bad("<sip:127.0.0.2>\n", "srvfailover:1: uri:");
}


static void test_config_out_of_range_number(void **s)
{
	(void)s;
	bad("<sip:100@127.0.0.2>;sfo_retries=11\n",
	    "srvfailover:1: sfo_retries: 11 is out of range 0..10");
}


static void test_config_not_a_number(void **s)
{
	(void)s;
	bad("<sip:100@127.0.0.2>;regint=soon\n",
	    "srvfailover:1: regint: 'soon' is not a number");
}


static void test_config_line_key_on_second_server(void **s)
{
	(void)s;
	bad("<sip:100@127.0.0.2>\n<sip:100@127.0.0.3>;sfo_mode=cisco\n",
	    "srvfailover:2: sfo_mode: only allowed on the first server");
}


static void test_config_unknown_parameter(void **s)
{
	(void)s;
	bad("<sip:100@127.0.0.2>;sfo_colour=red\n",
	    "srvfailover:1: sfo_colour: unknown parameter");
}


static void test_config_bad_transport(void **s)
{
	(void)s;
	bad("<sip:100@127.0.0.2;transport=sctp>\n",
	    "srvfailover:1: transport: 'sctp'");
}


static void test_config_bad_failback_and_codes(void **s)
{
	(void)s;
	bad("<sip:100@127.0.0.2>;sfo_failback=probes:0\n",
	    "sfo_failback: 'probes:0'");
	list_flush(&H.lines);
	H.errors[0] = '\0';
	bad("<sip:100@127.0.0.2>;sfo_failover_codes=5x3\n",
	    "sfo_failover_codes: '5x3'");
}


static void test_config_bad_keepalive(void **s)
{
	(void)s;
	bad("<sip:100@127.0.0.2>;sfo_keepalive=ping\n",
	    "srvfailover:1: sfo_keepalive: 'ping' is not options or register");
	list_flush(&H.lines);
	H.errors[0] = '\0';
	bad("<sip:100@127.0.0.2>;sfo_keepalive_loss=0\n",
	    "srvfailover:1: sfo_keepalive_loss: 0 is out of range 1..10");
}


static void test_config_retry_max_below_base(void **s)
{
	(void)s;
	bad("# the line starts here\n"
	    "<sip:100@127.0.0.2>;sfo_retry_base=60;sfo_retry_max=30\n",
	    "srvfailover:2: sfo_retry_max: 30 is below sfo_retry_base 60");
}


static void test_config_errors_never_show_the_password(void **s)
{
	(void)s;
	bad("<sip:100@127.0.0.2>;auth_pass=s3cret;sfo_mode=x\n"
	    "<sip:100@127.0.0.2;transport=sctp>;auth_pass=s3cret\n",
	    "sfo_mode");
	assert_null(strstr(H.errors, "s3cret"));
}


static void test_config_codes_and_budget(void **s)
{
	struct sfo_codes c;
	struct pl pl;
	(void)s;

	pl_set_str(&pl, "503,4?8");
	assert_int_equal(0, sfo_codes_parse(&c, &pl));
	assert_true(sfo_codes_match(&c, 503));
	assert_true(sfo_codes_match(&c, 408));
	assert_false(sfo_codes_match(&c, 404));
	pl_set_str(&pl, "50");
	assert_int_equal(EINVAL, sfo_codes_parse(&c, &pl));
	pl_set_str(&pl, "503,,");
	assert_int_equal(EINVAL, sfo_codes_parse(&c, &pl));

	assert_int_equal(3500, sfo_budget_ms(3));
	assert_int_equal(500, sfo_budget_ms(1));
	assert_int_equal(500, sfo_budget_ms(0));
}


static void test_config_long_number_is_out_of_range(void **s)
{
	(void)s;
	bad("<sip:100@127.0.0.2>;regint=1234567890\n",
	    "srvfailover:1: regint: 1234567890 is out of range 10..604800");
	list_flush(&H.lines);
	H.errors[0] = '\0';
	bad("<sip:100@127.0.0.2>;sfo_retries=99999999999999999999\n",
	    "sfo_retries: 99999999999999999999 is out of range 0..10");
	list_flush(&H.lines);
	H.errors[0] = '\0';
	bad("<sip:100@127.0.0.2>;pubint=5\n",
	    "pubint: 5 is out of range: 0 (off) or 60..604800");
	list_flush(&H.lines);
	H.errors[0] = '\0';
	bad("<sip:100@127.0.0.2>;rwait=99\n",
	    "rwait: 99 is out of range 5..95");
}


/* baresip's own accounts syntax: display name, BOM, CRLF */
static void test_config_accepts_accounts_syntax(void **s)
{
	(void)s;
	assert_int_equal(0, load(
		"\xef\xbb\xbf\"Alice\" <sip:100@127.0.0.2>;regint=60\r\n"
		"Alice <sip:100@127.0.0.3;transport=tcp>;auth_pass=pw\r\n"));

	assert_int_equal(1, list_count(&H.lines));
	assert_int_equal(2, list_count(&line1()->servers));
	assert_string_equal("\"Alice\" <sip:100@127.0.0.2>;regint=0;mwi=no"
			    ";pubint=0", srv(1)->account);
	assert_int_equal(0, srv(1)->pubint);
	assert_string_equal("tcp", srv(2)->transport);
}


/* What libre would take but the module cannot serve: refused at load */
static void test_config_refuses_what_cannot_be_served(void **s)
{
	static const struct {
		const char *line;
		const char *error;
	} v[] = {
		{"<tel:+100>", "srvfailover:1: uri: not a sip: URI"},
		{"<sips:100@127.0.0.2>", "srvfailover:1: uri: sips: URIs"},
		{"<sip:100@127.0.0.2;auth_pass=x",
		 "srvfailover:1: uri: no '>' closing"},
		{"<sip:100@::1>", "uri: IPv6 address without brackets"},
		{"<sip:100@[::1>", "uri: IPv6 address without its closing"},
		{"<sip:100@127.0.0.2:99999>", "uri: port out of range"},
		{"<sip:100@127.0.0.2:0>", "uri: port out of range"},
		{"<sip:100@pbx\"x\".example.com>", "uri: the host is not"},
		{"<sip:100@[fe80::1%eth0]>", "uri: not an IPv6 address"},
		{"<sip:100@127.0.0.2>;regint=60 <sip:100@127.0.0.3>",
		 "uri: several addresses on one line"},
		{"<sip:100@127.0.0.2> x", "uri: text after the address"},
		{"<sip:100:pw@127.0.0.2>", "uri: a password in the URI"},
		{"<sip:100@127.0.0.2>;auth_pass=\"abc",
		 "uri: a quoted parameter value is not closed"},
	};
	char text[256];
	size_t i;
	(void)s;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		list_flush(&H.lines);
		H.errors[0] = '\0';
		re_snprintf(text, sizeof(text), "%s\n", v[i].line);
		bad(text, v[i].error);
	}
}


static void test_config_user_ids_usable_everywhere(void **s)
{
	(void)s;
	assert_int_equal(0, load("<sip:m\xc3\xbcller@127.0.0.2>\n"));
	assert_string_equal("m\xc3\xbcller", line1()->user);

	list_flush(&H.lines);
	bad("<sip:m\xfcller@127.0.0.2>\n", "uri: user ID is not valid UTF-8");
	list_flush(&H.lines);
	H.errors[0] = '\0';
	bad("<sip:12345678901234567890123456789012345678901234567890"
	    "12345678901234@127.0.0.2>\n",
	    "uri: user ID longer than 63 bytes");
}


/* No input makes an error show a password: a marker in every place a
 * password can stand, in every kind of broken line */
static void test_config_errors_never_show_a_password_anywhere(void **s)
{
	static const char *lines[] = {
		"\"Alice\" sip:100@127.0.0.2;auth_pass=MARKERpw",
		"sip:100@127.0.0.2;auth_pass=MARKERpw;regint=60",
		"<sip:100@127.0.0.2>;auth_pass=\"MARKER\npw\";regint=60",
		"<sip:100:MARKERpw@127.0.0.2:99999>",
		"<tel:100>;auth_pass=MARKERpw",
		"<sip:100@127.0.0.2;auth_pass=MARKERpw",
		"<sip:100@127.0.0.2>;auth_pass=MARKERpw <sip:100@127.0.0.3>",
		"<sip:100@127.0.0.2>;auth_pass=MARKERpw;sfo_mode=MARKER",
		"<sip:100@127.0.0.2;transport=MARKER>;auth_pass=MARKERpw",
		"\xef\xbb\xbf<sip:100@127.0.0.2>;auth_pass=MARKERpw;regint=x",
		"<sip:100@127.0.0.2>;regint=600auth_pass=MARKERpw",
		"<sip:100@127.0.0.2>;sfo_mode=x\"auth_pass=MARKERpw\"",
	};
	char text[512];
	size_t i;
	(void)s;

	for (i = 0; i < ARRAY_SIZE(lines); i++) {
		list_flush(&H.lines);
		H.errors[0] = '\0';
		re_snprintf(text, sizeof(text), "%s\n", lines[i]);
		assert_true(load(text) >= 1);
		if (strstr(H.errors, "MARKERpw") || strstr(H.errors, "pw\""))
			fail_msg("a password in: %s", H.errors);
	}
}


/* Each error one line, short whatever the input, NULs and all; then a
 * count */
static void test_config_every_error_reaches_the_user(void **s)
{
	static char text[64 * 1024];
	size_t n = 0, i;
	const char *p;
	unsigned lines = 0;
	(void)s;

	for (i = 0; i < 40; i++)
		n += (size_t)re_snprintf(text + n, sizeof(text) - n,
					 "<sip:%u@127.0.0.2>;"
					 "sfo_mode=%0900u\n", (unsigned)i, 0);
	text[n++] = '\0';  /* a NUL byte, then one more bad line */
	n += (size_t)re_snprintf(text + n, sizeof(text) - n,
				 "\n<sip:99@127.0.0.2>;regint=x\n");

	assert_int_equal(42, load_len(text, n, SFO_PARALLEL));

	for (p = H.errors; (p = strchr(p, '\n')); p++)
		++lines;
	assert_int_equal(42 + 41 + 1, lines);
	assert_non_null(strstr(H.errors, "srvfailover:41: uri: a control"));
	assert_non_null(strstr(H.errors, "srvfailover:42: regint: 'x'"));
	assert_non_null(strstr(H.errors, "srvfailover: 42 errors,"
			       " 41 lines not started"));
	for (p = H.errors; *p; p = strchr(p, '\n') + 1)
		assert_true(strchr(p, '\n') - p < 200);
}


/* A line that begins with a NUL byte (or another control byte) was taken
 * with the byte as its display name: baresip saw an empty account */
static void test_config_control_byte_before_the_address_is_an_error(void **s)
{
	static const char text[] = "\0<sip:100@127.0.0.2>;regint=600\n"
		"\"Bob\x01\" <sip:101@127.0.0.2>\n"
		"\t\"Carol\"\t<sip:102@127.0.0.2>\n";
	(void)s;

	assert_int_equal(2, load_len(text, sizeof(text) - 1, SFO_PARALLEL));
	assert_non_null(strstr(H.errors, "srvfailover:1: uri: a control"
			       " character before the address"));
	assert_non_null(strstr(H.errors, "srvfailover:2: uri: a control"));
	assert_int_equal(1, list_count(&H.lines));
	assert_string_equal("102", line1()->user);
}


/* srvfailover_start_delay: seconds 0..3600; the wait is 0..S s */
static void test_config_start_delay(void **s)
{
	static const char *bad[] = {"", "x", "-1", "3601", "1.5", "99999",
				    " 5", "5s"};
	uint32_t secs = 7;
	size_t i;
	(void)s;

	assert_int_equal(0, sfo_start_delay_parse(&secs, "0"));
	assert_int_equal(0, secs);
	assert_int_equal(0, sfo_start_delay_parse(&secs, "3600"));
	assert_int_equal(3600, secs);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		secs = 7;
		assert_int_not_equal(0, sfo_start_delay_parse(&secs, bad[i]));
		assert_int_equal(7, secs);
	}

	assert_int_equal(0, sfo_start_delay_ms(0, 123456));
	assert_int_equal(0, sfo_start_delay_ms(10, 0));
	assert_int_equal(10000, sfo_start_delay_ms(10, 10000));
	assert_int_equal(0, sfo_start_delay_ms(10, 10001));
	assert_true(sfo_start_delay_ms(3600, UINT32_MAX) <= 3600000);
}


/* The README's examples must load as they are */
static void test_config_examples_load_without_errors(void **s)
{
	static const char *files[] = {
		"contrib/examples/srvfailover.parallel",
		"contrib/examples/srvfailover.cisco",
		"contrib/examples/srvfailover.sequential",
		"contrib/examples/srvfailover.failover",
	};
	static const enum sfo_mode modes[] = {
		SFO_PARALLEL, SFO_CISCO, SFO_SEQUENTIAL, SFO_SEQUENTIAL
	};
	char text[2048];
	size_t i, n;
	FILE *f;
	(void)s;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		f = fopen(files[i], "r");
		assert_non_null(f);
		n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		fclose(f);

		list_flush(&H.lines);
		assert_int_equal(0, load(text));
		assert_int_equal(1, list_count(&H.lines));
		assert_int_equal(modes[i], line1()->mode);
	}
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_config_same_user_forms_one_line_in_priority_order),
		T(test_config_account_never_registers_by_itself),
		T(test_config_mode_default_and_per_line_override),
		T(test_config_line_parameters),
		T(test_config_unknown_mode),
		T(test_config_bad_uri),
		T(test_config_duplicate_server),
		T(test_config_no_user),
		T(test_config_tls_default_port_duplicate),
		T(test_config_out_of_range_number),
		T(test_config_not_a_number),
		T(test_config_line_key_on_second_server),
		T(test_config_unknown_parameter),
		T(test_config_bad_transport),
		T(test_config_bad_failback_and_codes),
		T(test_config_bad_keepalive),
		T(test_config_retry_max_below_base),
		T(test_config_errors_never_show_the_password),
		T(test_config_codes_and_budget),
		T(test_config_control_byte_before_the_address_is_an_error),
		T(test_config_start_delay),
		T(test_config_examples_load_without_errors),
		T(test_config_long_number_is_out_of_range),
		T(test_config_accepts_accounts_syntax),
		T(test_config_refuses_what_cannot_be_served),
		T(test_config_user_ids_usable_everywhere),
		T(test_config_errors_never_show_a_password_anywhere),
		T(test_config_every_error_reaches_the_user),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
