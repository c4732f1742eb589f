/* reload: a changed srvfailover file applied to a running line. A server
 * whose text did not change keeps its state and gets nothing; new ones
 * start, removed ones are un-REGISTERed and go, changed ones do both */
#include "harness.h"


#define S1 "<sip:100@127.0.0.2;transport=udp>;regint=600"
#define S2 "<sip:100@127.0.0.3;transport=udp>;regint=600"
#define S3 "<sip:100@127.0.0.4;transport=udp>;regint=600"
#define S4 "<sip:100@127.0.0.5;transport=udp>;regint=600"

static struct list fresh;


static int fresh_setup(void **state)
{
	list_init(&fresh);
	return setup(state);
}


static int fresh_teardown(void **state)
{
	list_flush(&fresh);
	return teardown(state);
}


/* The file as it is now, parsed beside the running lines */
static struct sfo_line *parse(const char *text)
{
	struct re_printf pf = {h_errprint, NULL};
	unsigned errc = 0;
	struct pl pl;

	list_flush(&fresh);
	pl_set_str(&pl, text);
	assert_int_equal(0, sfo_config_parse(&fresh, "srvfailover", &pl,
					     SFO_PARALLEL, &pf, &errc));
	assert_int_equal(0, errc);

	return list_ledata(list_head(&fresh));
}


/* Apply the new text to line 100; the actions it caused */
static void reload(const char *text, uint64_t now)
{
	struct sfo_line *f = parse(text);

	clear();
	if (!sfo_line_same(line1(), f))
		sfo_line_update(line1(), f, now);
}


static void test_reload_same_file_changes_nothing(void **s)
{
	(void)s;
	up("cisco", "");
	assert_true(sfo_line_same(line1(), parse(
		S1 ";sfo_mode=cisco\n" S2 "\n" S3 "\n")));

	/* the order of an account's parameters is its text: a change */
	assert_false(sfo_line_same(line1(), parse(
		S1 ";sfo_mode=cisco;auth_pass=x\n" S2 "\n" S3 "\n")));
	assert_false(sfo_line_same(line1(), parse(
		S1 ";sfo_mode=cisco\n" S2 "\n")));
	assert_false(sfo_line_same(line1(), parse(
		S1 ";sfo_mode=parallel\n" S2 "\n" S3 "\n")));
}


static void test_reload_removed_server_unregisters_and_goes(void **s)
{
	struct sfo_server *keep2;
	(void)s;
	up("parallel", "");
	keep2 = srv(2);
	keep2->failures = 4;

	reload(S1 ";sfo_mode=parallel\n" S2 "\n", 100);

	assert_int_equal(2, list_count(&line1()->servers));
	assert_true(has("unreg 3"));
	assert_true(has("removed sip:127.0.0.4"));
	/* the others keep their state, figures and registration */
	assert_ptr_equal(keep2, srv(2));
	assert_int_equal(4, srv(2)->failures);
	assert_string_equal("Registered*", state(1));
	assert_string_equal("Registered", state(2));
	assert_false(has("reg 1"));
	assert_false(has("reg 2"));
	assert_false(has("unreg 1"));
	assert_false(has("unreg 2"));
}


static void test_reload_new_server_starts_as_its_mode_wants(void **s)
{
	(void)s;
	up("parallel", "");

	reload(S1 ";sfo_mode=parallel\n" S2 "\n" S3 "\n" S4 "\n", 100);

	assert_int_equal(4, list_count(&line1()->servers));
	assert_true(has("added sip:127.0.0.5"));
	assert_true(has("reg 4"));            /* parallel: registers it */
	assert_int_equal(1, count("reg 4"));
	assert_false(has("reg 1") || has("reg 2") || has("reg 3"));
	assert_int_equal(4, srv(4)->prio);
}


static void test_reload_changed_server_starts_again(void **s)
{
	struct sfo_server *old2;
	(void)s;
	up("parallel", "");
	old2 = srv(2);

	reload(S1 ";sfo_mode=parallel\n"
	       "<sip:100@127.0.0.3;transport=udp>;regint=300\n" S3 "\n", 100);

	assert_true(has("unreg 2"));
	assert_true(has("removed sip:127.0.0.3"));
	assert_true(has("added sip:127.0.0.3"));
	assert_true(has("reg 2"));
	assert_true(pos("unreg 2") < pos("reg 2"));
	assert_ptr_not_equal(old2, srv(2));
	assert_int_equal(300, srv(2)->regint);
	assert_false(has("reg 1") || has("reg 3"));

	/* rwait is the module's too: the same text without it is not */
	clear();
	reload(S1 ";sfo_mode=parallel\n"
	       "<sip:100@127.0.0.3;transport=udp>;regint=300;rwait=50\n"
	       S3 "\n", 200);
	assert_true(has("removed sip:127.0.0.3"));
	assert_int_equal(50, srv(2)->rwait);
}


static void test_reload_reordered_servers_keep_their_state(void **s)
{
	struct sfo_server *a, *b, *c;
	(void)s;
	up("parallel", "");
	a = srv(1);
	b = srv(2);
	c = srv(3);

	reload(S3 ";sfo_mode=parallel\n" S1 "\n" S2 "\n", 100);

	assert_ptr_equal(c, srv(1));
	assert_ptr_equal(a, srv(2));
	assert_ptr_equal(b, srv(3));
	assert_int_equal(1, c->order);
	assert_false(has("unreg 1") || has("unreg 2") || has("unreg 3"));
	assert_false(has("reg 1") || has("reg 2") || has("reg 3"));
	/* every one registered: the new first is the working one */
	assert_ptr_equal(c, line1()->working);
	assert_string_equal("Registered*", state(1));
}


static void test_reload_mode_and_line_parameters(void **s)
{
	(void)s;
	up("cisco", ";sfo_probe_interval=30");
	assert_int_equal(30, line1()->probe_interval);

	/* the line's own parameters are not its servers': none restarts */
	reload(S1 ";sfo_mode=sequential;sfo_probe_interval=5"
	       ";sfo_failback=never;sfo_failover_codes=503,6??\n"
	       S2 "\n" S3 "\n", 100);

	assert_int_equal(SFO_SEQUENTIAL, line1()->mode);
	assert_int_equal(5, line1()->probe_interval);
	assert_int_equal(SFO_FB_NEVER, line1()->fb);
	assert_true(sfo_codes_match(&line1()->codes, 603));
	assert_false(has("unreg 1"));
	assert_false(has("removed sip:127.0.0.2"));
	assert_string_equal("Registered", state(1));
}


static void test_reload_removing_the_working_server_moves_on(void **s)
{
	(void)s;
	up("cisco", "");
	assert_ptr_equal(srv(1), line1()->working);

	reload(S2 ";sfo_mode=cisco\n" S3 "\n", 100);

	assert_true(has("unreg 1"));
	assert_true(has("removed sip:127.0.0.2"));
	/* the new first server registers (it was checked alive) */
	assert_true(has("reg 1"));
	ok(1, 120);
	assert_ptr_equal(srv(1), line1()->working);
	assert_string_equal("sip:127.0.0.3", line1()->working->uri);
}


static void test_reload_stop_and_busy(void **s)
{
	(void)s;
	up("parallel", "");
	assert_false(sfo_line_busy(line1()));
	sfo_calls(srv(2), 1, 50);
	assert_true(sfo_line_busy(line1()));
	sfo_calls(srv(2), 0, 60);

	clear();
	sfo_line_stop(line1());
	assert_int_equal(0, list_count(&line1()->servers));
	assert_int_equal(3, count("unreg 1") + count("unreg 2") +
			 count("unreg 3"));
	assert_null(line1()->working);
}


#define R(t) cmocka_unit_test_setup_teardown(t, fresh_setup, fresh_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		R(test_reload_same_file_changes_nothing),
		R(test_reload_removed_server_unregisters_and_goes),
		R(test_reload_new_server_starts_as_its_mode_wants),
		R(test_reload_changed_server_starts_again),
		R(test_reload_reordered_servers_keep_their_state),
		R(test_reload_mode_and_line_parameters),
		R(test_reload_removing_the_working_server_moves_on),
		R(test_reload_stop_and_busy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
