/* What a phone tells its fleet (MQTT): its state, each switch, and the
 * broker and topic settings */
#include "harness.h"


static void test_fleet_broker_address(void **s)
{
	char host[64];
	uint16_t port;
	size_t i;
	static const char *bad[] = {"", ":1883", "h:", "h:0", "h:65536",
				    "h:x", "[::1", "[::1]x", "a b", "::1",
				    "h:1:2"};
	(void)s;

	assert_int_equal(0, sfo_fleet_broker_parse(host, sizeof(host), &port,
						   "127.0.0.60", false));
	assert_string_equal("127.0.0.60", host);
	assert_int_equal(1883, port);
	assert_int_equal(0, sfo_fleet_broker_parse(host, sizeof(host), &port,
						   "broker.lan", true));
	assert_int_equal(8883, port);
	assert_int_equal(0, sfo_fleet_broker_parse(host, sizeof(host), &port,
						   "broker.lan:1884", true));
	assert_int_equal(1884, port);
	assert_int_equal(0, sfo_fleet_broker_parse(host, sizeof(host), &port,
						   "[::1]:1885", false));
	assert_string_equal("::1", host);
	assert_int_equal(1885, port);
	assert_int_equal(0, sfo_fleet_broker_parse(host, sizeof(host), &port,
						   "[fd00::60]", false));
	assert_string_equal("fd00::60", host);
	assert_int_equal(1883, port);

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_not_equal(0, sfo_fleet_broker_parse(
			host, sizeof(host), &port, bad[i], false));
}


static void test_fleet_topics(void **s)
{
	(void)s;
	assert_true(sfo_fleet_topic_ok("pi-desk-12", false));
	assert_true(sfo_fleet_topic_ok("site/a/srvfailover", true));
	assert_false(sfo_fleet_topic_ok("a/b", false));
	assert_false(sfo_fleet_topic_ok("", false));
	assert_false(sfo_fleet_topic_ok("a+", false));
	assert_false(sfo_fleet_topic_ok("#", true));
	assert_false(sfo_fleet_topic_ok("/site", true));
	assert_false(sfo_fleet_topic_ok("site/", true));
	assert_false(sfo_fleet_topic_ok("a\nb", false));
}


static void test_fleet_state_and_event(void **s)
{
	struct re_printf pf = {out_print, NULL};
	(void)s;
	up("cisco", "");

	out[0] = '\0';
	assert_int_equal(0, sfo_fleet_state_json(&pf, &H.lines, "pi-1",
						 true, 100));
	assert_non_null(strstr(out, "{\"lines\":[{\"user\":\"100\","));
	assert_non_null(strstr(out, ",\"phone\":\"pi-1\",\"online\":true}"));
	assert_null(strstr(out, "auth_pass"));

	out[0] = '\0';
	assert_int_equal(0, sfo_fleet_state_json(&pf, &H.lines, "pi-1",
						 false, 100));
	assert_string_equal("{\"phone\":\"pi-1\",\"online\":false}", out);

	str_ncpy(line1()->reason, "server 1: 503 Service Unavailable",
		 sizeof(line1()->reason));
	line1()->failovers = 1;
	out[0] = '\0';
	assert_int_equal(0, sfo_fleet_event_json(&pf, "pi-1", line1(), 1, 2));
	assert_string_equal("{\"phone\":\"pi-1\",\"user\":\"100\",\"from\":1,"
			    "\"to\":2,\"reason\":\"server 1: 503 Service"
			    " Unavailable\",\"failovers\":1,\"failbacks\":0}",
			    out);
	out[0] = '\0';
	assert_int_equal(0, sfo_fleet_event_json(&pf, "pi-1", line1(), 2, 0));
	assert_non_null(strstr(out, "\"from\":2,\"to\":null"));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fleet_broker_address),
		T(test_fleet_topics),
		T(test_fleet_state_and_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
