/**
 * @file check.c  At load: is this the baresip we were built for, and is
 *                anything else driving our servers' registrations?
 *
 * A build for another baresip would misread every event number (and
 * crash baresip at quit), so it must refuse to run, with one line that
 * says what to install. The event names tell the Debian baresips apart
 * (seam_event_str() names each number); a 4.x build asks baresip its
 * version (seam_symbols()).
 */
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"
#include "seam.h"


/* The events the shell reads, by the names baresip gives them */
static const struct {
	enum ua_event ev;
	const char *name;
} eventv[] = {
	{UA_EVENT_REGISTER_OK,      "REGISTER_OK"},
	{UA_EVENT_REGISTER_FAIL,    "REGISTER_FAIL"},
	{UA_EVENT_SHUTDOWN,         "SHUTDOWN"},
	{UA_EVENT_CALL_INCOMING,    "CALL_INCOMING"},
	{UA_EVENT_CALL_RINGING,     "CALL_RINGING"},
	{UA_EVENT_CALL_PROGRESS,    "CALL_PROGRESS"},
	{UA_EVENT_CALL_ESTABLISHED, "CALL_ESTABLISHED"},
	{UA_EVENT_CALL_CLOSED,      "CALL_CLOSED"},
	{UA_EVENT_CALL_LOCAL_SDP,   "CALL_LOCAL_SDP"},
};

/* How the Debian baresips number SHUTDOWN: tells which one runs */
static const struct {
	int shutdown;
	const char *name;
} knownv[] = {
	{5, "1.0.0 (Debian bookworm)"},
	{7, "1.1.0 (Debian trixie)"},
};


static const char *running_baresip(void)
{
	const char *v = seam_running_version();
	size_t i;

	if (v)
		return v;

	for (i = 0; i < ARRAY_SIZE(knownv); i++) {
		if (!str_cmp(seam_event_str(knownv[i].shutdown), "SHUTDOWN"))
			return knownv[i].name;
	}

	return "an unknown version";
}


/* baresip's presence numbers are the core's (presence.c passes them);
 * baresip names them in colour */
static bool presence_same(void)
{
	int v;

	for (v = SFO_PRES_UNKNOWN; v <= SFO_PRES_BUSY; v++) {
		if (!strstr(contact_presence_str((enum presence_status)v),
			    sfo_presence_name((enum sfo_presence)v)))
			return false;
	}

	return true;
}


/**
 * Refuse a baresip other than the one of this build
 *
 * @return 0 if it is ours, ENOTSUP (and one warning line) if not
 */
int check_baresip(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(eventv); i++) {
		if (str_cmp(seam_event_str(eventv[i].ev), eventv[i].name))
			break;
	}

	if (i == ARRAY_SIZE(eventv) && seam_symbols() && presence_same())
		return 0;

	warning("srvfailover: built for baresip %s, but this baresip is"
		" %s: not loaded. Install the srvfailover build for this"
		" baresip (bookworm: baresip 1.0.0, trixie: 1.1.0, upstream:"
		" its own release), or"
		" rebuild it for this baresip with make\n", seam_version,
		running_baresip());

	return ENOTSUP;
}


/* The server of ours whose account has this address of record */
static const struct sfo_server *managed(const char *aor)
{
	struct le *le;

	LIST_FOREACH(uag_list(), le) {
		const struct ua *ua = le->data;
		const struct sfo_server *srv = shell_server_of_ua(ua);

		if (srv && !str_casecmp(aor, account_aor(ua_account(ua))))
			return srv;
	}

	return NULL;
}


/**
 * Say so when serreg.so or a line of baresip's accounts would also
 * register one of our servers: both would drive the same registration
 */
void check_rivals(void)
{
	struct le *le;

	if (mod_find("serreg.so"))
		warning("srvfailover: serreg.so is loaded too: it registers"
			" baresip's accounts by their prio and would fight"
			" srvfailover over the same registrations; remove"
			" 'module serreg.so' from baresip's config\n");

	LIST_FOREACH(uag_list(), le) {
		const struct ua *ua = le->data;
		const char *aor = account_aor(ua_account(ua));
		const struct sfo_server *srv;

		if (shell_server_of_ua(ua) || !(srv = managed(aor)))
			continue;

		warning("srvfailover: %s is in baresip's accounts and is"
			" server %u of line %s too: baresip (with its prio,"
			" fbregint and regint) and srvfailover would both"
			" register it; remove it from accounts\n", aor,
			srv->prio, srv->line->user);
	}
}
