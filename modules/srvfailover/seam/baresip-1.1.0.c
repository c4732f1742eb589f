/**
 * @file baresip-1.1.0.c  The seam for baresip 1.1.0 (Debian trixie)
 *
 * ua_connect() takes the URI as given. menu's dial takes its user agent
 * from a trailing index into uag_list() ("dial 200 1"; its carg->data
 * path loses the URI). The rest is 4.x's too (baresip-since-1.1.c).
 */
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "seam.h"


const char seam_version[] = SFO_BARESIP_VERSION;


bool seam_symbols(void)
{
	return account_uri_complete != NULL && module_event != NULL;
}


int seam_connect(struct ua *ua, struct call **callp, const char *uri)
{
	struct mbuf *mb = mbuf_alloc(64);
	char *full = NULL;
	int err;

	if (!mb)
		return ENOMEM;

	err = account_uri_complete(ua_account(ua), mb, uri);
	if (err)
		goto out;

	mb->pos = 0;
	err = mbuf_strdup(mb, &full, mb->end);
	if (err)
		goto out;

	err = ua_connect(ua, callp, NULL, full, VIDMODE_ON);

 out:
	mem_deref(full);
	mem_deref(mb);
	return err;
}


static int ua_index(const struct ua *ua)
{
	struct le *le;
	int i = 0;

	LIST_FOREACH(uag_list(), le) {
		if (le->data == ua)
			return i;
		++i;
	}

	return -1;
}


/* "dial URI" -> "dial URI N"; a dial that names its own index, or no
 * URI (menu redials the last one), stays as the user wrote it */
static int dial_run(re_printf_h *h, struct re_printf *pf,
		    const struct cmd_arg *carg, struct ua *ua)
{
	struct cmd_arg arg = *carg;
	char *prm = NULL;
	int i = ua_index(ua), err;

	if (i < 0 || !str_isset(carg->prm) || strchr(carg->prm, ' '))
		return h(pf, (void *)carg);

	err = re_sdprintf(&prm, "%s %d", carg->prm, i);
	if (err)
		return err;

	arg.prm = prm;
	err = h(pf, &arg);
	mem_deref(prm);

	return err;
}


const struct seam_dial seam_dialv[] = {
	{"dial",    dial_run},
	{"dialdir", seam_dialdir_run},
};

const size_t seam_dialc = ARRAY_SIZE(seam_dialv);
