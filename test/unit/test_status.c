/* Status table, JSON status and the /srvfailover commands */
#include "harness.h"


static int run(const char *prm, uint64_t now)
{
	struct re_printf pf = {out_print, NULL};

	out[0] = '\0';
	return sfo_command(&pf, &H.lines, prm, now);
}


static void started(void)
{
	load(THREE("parallel", ";auth_pass=s3cret"));
	sfo_start(line1(), 0);
	ok(1, 10);
	ok(2, 10);
	fail503(3, 10);
}


/* The first element of an array, and an integer: re 4.x made struct
 * odict_entry opaque (with RE_ARRAY_SIZE), older re has no getters */
static const struct odict *first_of(const struct odict *o, const char *key)
{
	const struct odict_entry *e = odict_get_type(o, ODICT_ARRAY, key);

	assert_non_null(e);
#ifdef RE_ARRAY_SIZE
	e = list_ledata(list_head(&odict_entry_array(e)->lst));
	return odict_entry_object(e);
#else
	e = list_ledata(list_head(&e->u.odict->lst));
	return e->u.odict;
#endif
}


static int64_t int_of(const struct odict *o, const char *key)
{
	uint64_t n = 0;

	assert_true(odict_get_number(o, &n, key));
	return (int64_t)n;
}


static void test_json_follows_the_contract(void **s)
{
	struct odict *o = NULL;
	const struct odict *l0, *s0;
	(void)s;
	started();

	assert_int_equal(0, run("json", 5000));
	assert_int_equal(0, json_decode_odict(&o, 16, out, strlen(out), 8));

	l0 = first_of(o, "lines");
	assert_string_equal("100", odict_string(l0, "user"));
	assert_string_equal("parallel", odict_string(l0, "mode"));
	assert_int_equal(1, int_of(l0, "working"));

	s0 = first_of(l0, "servers");
	assert_int_equal(1, int_of(s0, "prio"));
	assert_string_equal("sip:127.0.0.2", odict_string(s0, "uri"));
	assert_string_equal("Registered*", odict_string(s0, "state"));
	assert_int_equal(4, int_of(s0, "since_s"));
	assert_null(strstr(out, "s3cret"));
	assert_non_null(strstr(out, "\"state\":\"Registration failed\""));

	mem_deref(o);
}


static void test_json_stays_ascii_whatever_the_server_says(void **s)
{
	(void)s;
	load(THREE("parallel", ""));
	sfo_start(line1(), 0);
	sfo_reg_failed(srv(1), 503, "503 \xc3\xa9t\xc3 \x01\"x\"", 10);

	assert_string_equal("503 ??t? ?\"x\"", srv(1)->last_text);
	assert_int_equal(0, run("json", 20));
	assert_non_null(strstr(out, "503 ??t? ?\\\"x\\\""));
}


static void test_json_working_null_when_none(void **s)
{
	(void)s;
	load(THREE("cisco", ""));
	sfo_start(line1(), 0);

	assert_int_equal(0, run("json", 0));
	assert_non_null(strstr(out, "\"working\":null"));
	assert_non_null(strstr(out, "\"state\":\"Standby\""));
}


static void test_status_table_for_people(void **s)
{
	(void)s;
	started();

	assert_int_equal(0, run(NULL, 1000));
	assert_non_null(strstr(out, "line 100: mode parallel"));
	assert_non_null(strstr(out, "working 1"));
	assert_non_null(strstr(out, "Registered*"));
	assert_non_null(strstr(out, "503 Service Unavailable"));
	assert_null(strstr(out, "s3cret"));
	assert_int_equal(0, run("status", 1000));
	assert_non_null(strstr(out, "sip:127.0.0.4"));
}


static void test_summary_leaves_deactivated_servers_out(void **s)
{
	(void)s;
	started();
	run("disable 100 3", 100);

	assert_int_equal(0, run("summary", 200));
	assert_string_equal("100: sip:127.0.0.2 Registered* (working),"
			    " sip:127.0.0.3 Registered\n", out);
	assert_int_equal(0, run("status", 200));
	assert_non_null(strstr(out, "Deactivated"));
}


static void test_command_disable_and_enable(void **s)
{
	(void)s;
	started();

	assert_int_equal(0, run("disable 100 2", 100));
	assert_string_equal("Deactivated", state(2));
	assert_non_null(strstr(out, "Deactivated"));
	assert_int_equal(0, run("enable 100 2", 200));
	assert_string_equal("Registering", state(2));
}


static void test_command_mode(void **s)
{
	(void)s;
	started();

	assert_int_equal(0, run("mode 100 cisco", 100));
	assert_int_equal(SFO_CISCO, line1()->mode);
	assert_non_null(strstr(out, "mode cisco"));
}


static void test_command_bad_arguments_are_named(void **s)
{
	(void)s;
	started();

	assert_int_equal(EINVAL, run("restart", 0));
	assert_non_null(strstr(out, "unknown command 'restart'"));
	assert_int_equal(EINVAL, run("disable 999 1", 0));
	assert_non_null(strstr(out, "no line '999'"));
	assert_int_equal(EINVAL, run("disable 100 7", 0));
	assert_non_null(strstr(out, "has no server '7'"));
	assert_int_equal(EINVAL, run("disable 100 x", 0));
	assert_int_equal(EINVAL, run("enable 100", 0));
	assert_non_null(strstr(out, "usage"));
	assert_int_equal(EINVAL, run("mode 100 turbo", 0));
	assert_non_null(strstr(out, "unknown mode 'turbo'"));
	assert_int_equal(EINVAL, run("disable 100 1 2", 0));
	assert_non_null(strstr(out, "too many arguments"));
	assert_int_equal(SFO_PARALLEL, line1()->mode);
	assert_string_equal("Registered*", state(1));
}


/* A user ID is matched whole (not by its first 63 bytes), UTF-8 too,
 * and the JSON of a UTF-8 one is valid (escaped or as it is) */
static void test_command_user_ids_whole_and_utf8(void **s)
{
	static const char u63[] = "123456789012345678901234567890"
		"123456789012345678901234567890123";
	char text[256], cmd[128];
	(void)s;

	re_snprintf(text, sizeof(text), "<sip:%s@127.0.0.2>\n"
		    "<sip:m\xc3\xbcller@127.0.0.2>\n", u63);
	assert_int_equal(0, load(text));

	re_snprintf(cmd, sizeof(cmd), "disable %sX 1", u63);
	assert_int_equal(EINVAL, run(cmd, 0));
	assert_non_null(strstr(out, "no line '"));
	assert_false(srv(1)->deactivated);

	re_snprintf(cmd, sizeof(cmd), "disable %s 1", u63);
	assert_int_equal(0, run(cmd, 0));
	assert_true(srv(1)->deactivated);

	assert_int_equal(0, run("disable m\xc3\xbcller 1", 0));
	assert_int_equal(EINVAL, run("disable m\xfcller 1", 0));
	assert_non_null(strstr(out, "no line 'm\\xfcller'"));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_json_follows_the_contract),
		T(test_command_user_ids_whole_and_utf8),
		T(test_json_stays_ascii_whatever_the_server_says),
		T(test_json_working_null_when_none),
		T(test_status_table_for_people),
		T(test_summary_leaves_deactivated_servers_out),
		T(test_command_disable_and_enable),
		T(test_command_mode),
		T(test_command_bad_arguments_are_named),
	};

	return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
