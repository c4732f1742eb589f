/**
 * @file baresip-1.0.0.c  The seam for baresip 1.0.0 (Debian bookworm)
 *
 * baresip 1.0.0 has a current user agent: menu's dial and hangup use it,
 * and ua_connect() completes a bare user ID itself.
 */
#include <re.h>
#include "sfo_baresip.h"
#include "seam.h"


const char seam_version[] = SFO_BARESIP_VERSION;


bool seam_symbols(void)
{
	return uag_current && uag_current_set;
}


/* 1.0.0 has no module events: the UI and the log say it */
void seam_switch_event(struct ua *ua, const char *user, unsigned from,
		       unsigned to, const char *reason)
{
	(void)ua;
	(void)user;
	(void)from;
	(void)to;
	(void)reason;
}


struct ua *seam_current(void)
{
	return uag_current();
}


void seam_current_set(struct ua *ua)
{
	uag_current_set(ua);
}


int seam_connect(struct ua *ua, struct call **callp, const char *uri)
{
	return ua_connect(ua, callp, NULL, uri, VIDMODE_ON);
}


/* menu's dial is ua_connect(uag_current(), ...) */
static int dial_run(re_printf_h *h, struct re_printf *pf,
		    const struct cmd_arg *carg, struct ua *ua)
{
	if (ua)
		uag_current_set(ua);

	return h(pf, (void *)carg);
}


const struct seam_dial seam_dialv[] = {
	{"dial", dial_run},
};

const size_t seam_dialc = ARRAY_SIZE(seam_dialv);
