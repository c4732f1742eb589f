/* Presence: what a contact's PIDF document says (as presence.so reads
 * it), where the phone's own presence is published, which line a
 * contact belongs to */
#include <stdlib.h>
#include "harness.h"


static int parse(enum sfo_presence *st, const char *body, const char **why)
{
	struct pl pl;

	pl_set_str(&pl, body);
	*why = NULL;

	return sfo_pidf_parse(st, &pl, why);
}


#define PIDF(basic, extra) \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n" \
	"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\r\n" \
	"    xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\"\r\n" \
	"    entity=\"sip:200@127.0.0.2\">\r\n" \
	"  <tuple id=\"t1\"><status><basic>" basic "</basic></status>" \
	"</tuple>\r\n" extra "</presence>\r\n"


static void test_pidf_reads_basic_and_activities(void **s)
{
	enum sfo_presence st = SFO_PRES_UNKNOWN;
	const char *why;
	(void)s;

	assert_int_equal(0, parse(&st, PIDF("open", ""), &why));
	assert_int_equal(SFO_PRES_OPEN, st);

	assert_int_equal(0, parse(&st, PIDF("closed", ""), &why));
	assert_int_equal(SFO_PRES_CLOSED, st);

	/* blanks around the text, any case; a prefix on the element */
	assert_int_equal(0, parse(&st, "<presence><tuple><status>"
				  "<p:basic> OPEN\n</p:basic></status>"
				  "</tuple></presence>", &why));
	assert_int_equal(SFO_PRES_OPEN, st);

	/* RFC 4480 activities, whatever their prefix */
	assert_int_equal(0, parse(&st, PIDF("open",
		"<dm:person><rpid:activities><rpid:on-the-phone/>"
		"</rpid:activities></dm:person>"), &why));
	assert_int_equal(SFO_PRES_BUSY, st);
	assert_int_equal(0, parse(&st, PIDF("open",
		"<person><activities><busy /></activities></person>"), &why));
	assert_int_equal(SFO_PRES_BUSY, st);
	assert_int_equal(0, parse(&st, PIDF("open",
		"<person><activities><busy/><away/></activities></person>"),
		&why));
	assert_int_equal(SFO_PRES_CLOSED, st);

	/* an empty activities element says nothing */
	assert_int_equal(0, parse(&st, PIDF("open",
		"<dm:person><rpid:activities/></dm:person>"), &why));
	assert_int_equal(SFO_PRES_OPEN, st);

	/* no body: no state yet */
	assert_int_equal(0, parse(&st, "", &why));
	assert_int_equal(SFO_PRES_UNKNOWN, st);
}


static void bad_doc(const char *body, const char *why_part)
{
	enum sfo_presence st = SFO_PRES_BUSY;
	const char *why;

	assert_int_not_equal(0, parse(&st, body, &why));
	assert_non_null(why);
	assert_non_null(strstr(why, why_part));
	assert_int_equal(SFO_PRES_BUSY, st);
}


static void test_pidf_refuses_what_does_not_read(void **s)
{
	char *big;
	(void)s;

	bad_doc("not xml at all", "no <basic>");
	bad_doc("<presence><tuple><status></status></tuple></presence>",
		"no <basic>");
	bad_doc("<presence><basic>open", "no <basic>");
	bad_doc("<", "no <basic>");
	bad_doc("<basic", "no <basic>");

	big = malloc(SFO_PIDF_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', SFO_PIDF_MAX + 1);
	memcpy(big, PIDF("open", ""), strlen(PIDF("open", "")));
	big[SFO_PIDF_MAX + 1] = '\0';
	bad_doc(big, "larger than 16384 bytes");
	free(big);
}


static void test_publish_server_is_the_working_one_with_pubint(void **s)
{
	(void)s;
	assert_int_equal(0, load(
		"<sip:100@127.0.0.2>;pubint=600;sfo_mode=cisco\n"
		"<sip:100@127.0.0.3>\n"
		"<sip:100@127.0.0.4>;pubint=60\n"));
	sfo_start(line1(), 0);
	assert_null(sfo_publish_server(line1()));

	ok(1, 10);
	assert_ptr_equal(srv(1), sfo_publish_server(line1()));
	assert_int_equal(600, srv(1)->pubint);

	/* a working server without pubint publishes nothing */
	line1()->working = srv(2);
	assert_null(sfo_publish_server(line1()));
	line1()->working = srv(3);
	assert_ptr_equal(srv(3), sfo_publish_server(line1()));
}


static void test_contact_belongs_to_the_line_of_the_server_it_names(void **s)
{
	struct sfo_line *l2;
	(void)s;
	assert_int_equal(0, load(
		"<sip:100@127.0.0.2>\n"
		"<sip:100@127.0.0.3:5070;transport=tcp>\n"
		"<sip:101@[::1]>\n"));
	l2 = list_ledata(list_tail(&H.lines));

	assert_ptr_equal(line1(), sfo_line_of_peer(&H.lines,
						    "sip:200@127.0.0.2"));
	assert_ptr_equal(line1(), sfo_line_of_peer(&H.lines,
		"sip:200@127.0.0.3:5070;transport=tcp"));
	assert_ptr_equal(l2, sfo_line_of_peer(&H.lines, "sip:300@[::1]"));

	assert_null(sfo_line_of_peer(&H.lines, "sip:200@127.0.0.3:5071"));
	assert_null(sfo_line_of_peer(&H.lines, "sip:200@127.0.0.9"));
	assert_null(sfo_line_of_peer(&H.lines, "sip:200"));
	assert_null(sfo_line_of_peer(&H.lines, ""));
	assert_null(sfo_line_of_peer(&H.lines, NULL));
}


static void test_presence_names_as_baresip_shows_them(void **s)
{
	(void)s;
	assert_string_equal("Online", sfo_presence_name(SFO_PRES_OPEN));
	assert_string_equal("Offline", sfo_presence_name(SFO_PRES_CLOSED));
	assert_string_equal("Busy", sfo_presence_name(SFO_PRES_BUSY));
	assert_string_equal("Unknown", sfo_presence_name(SFO_PRES_UNKNOWN));
}


static void test_json_and_status_show_where_presence_is_published(void **s)
{
	struct re_printf pf = {out_print, NULL};
	(void)s;
	up("cisco", ";pubint=60");

	out[0] = '\0';
	assert_int_equal(0, sfo_status_json(&pf, &H.lines, 100));
	assert_non_null(strstr(out, "\"presence\":null"));

	line1()->presence = SFO_PRES_CLOSED;
	sfo_published(line1(), srv(1));
	out[0] = '\0';
	assert_int_equal(0, sfo_status_json(&pf, &H.lines, 100));
	assert_non_null(strstr(out, "\"presence\":{\"prio\":1,"
			       "\"status\":\"Offline\"}"));
	out[0] = '\0';
	assert_int_equal(0, sfo_status_print(&pf, &H.lines, 100));
	assert_non_null(strstr(out, "presence: Offline (server 1)"));

	sfo_published(line1(), NULL);
	out[0] = '\0';
	assert_int_equal(0, sfo_status_print(&pf, &H.lines, 100));
	assert_null(strstr(out, "presence:"));
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_pidf_reads_basic_and_activities),
		T(test_pidf_refuses_what_does_not_read),
		T(test_publish_server_is_the_working_one_with_pubint),
		T(test_contact_belongs_to_the_line_of_the_server_it_names),
		T(test_presence_names_as_baresip_shows_them),
		T(test_json_and_status_show_where_presence_is_published),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
