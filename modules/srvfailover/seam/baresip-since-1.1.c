/**
 * @file baresip-since-1.1.c  The seam's part that baresip 1.1.0 and 4.x
 *                            share
 *
 * No current user agent (menu follows the calls' events for hangup and
 * accept), a switch is also a module event (ctrl_tcp and baresip's mqtt
 * show it), and menu's dialdir takes its user agent from carg->data.
 */
#include <re.h>
#include "sfo_baresip.h"
#include "seam.h"


void seam_switch_event(struct ua *ua, const char *user, unsigned from,
		       unsigned to, const char *reason)
{
	module_event("srvfailover", "switch", ua, NULL, "%s,%u,%u,%s", user,
		     from, to, reason);
}


struct ua *seam_current(void)
{
	return NULL;
}


void seam_current_set(struct ua *ua)
{
	(void)ua;
}


int seam_dialdir_run(re_printf_h *h, struct re_printf *pf,
		     const struct cmd_arg *carg, struct ua *ua)
{
	struct cmd_arg arg = *carg;

	if (ua)
		arg.data = ua;

	return h(pf, &arg);
}
