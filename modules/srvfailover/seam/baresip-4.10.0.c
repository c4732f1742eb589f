/**
 * @file baresip-4.10.0.c  The seam for upstream baresip 4.x (4.10.0)
 *
 * Events are bevents, read through getters; libre (re 4.x) watches a
 * descriptor through a handle. ua_connect() takes the URI as given.
 * menu's dial takes its user agent from carg->data, as dialdir does
 * (baresip-since-1.1.c, with the rest 1.1.0 and 4.x share). A
 * build refuses any other release than its own: the struct layouts and
 * event numbers it was built with are not promised between releases.
 */
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "seam.h"


const char seam_version[] = SFO_BARESIP_VERSION;

static seam_event_h *event_h;


bool seam_symbols(void)
{
	return !str_cmp(baresip_version(), SFO_BARESIP_VERSION);
}


const char *seam_running_version(void)
{
	return baresip_version();
}


static void event_handler(enum ua_event ev, struct bevent *event, void *arg)
{
	(void)arg;

	event_h(bevent_get_ua(event), ev, bevent_get_call(event),
		bevent_get_text(event));
}


int seam_event_register(seam_event_h *h)
{
	event_h = h;

	return bevent_register(event_handler, NULL);
}


void seam_event_unregister(void)
{
	bevent_unregister(event_handler);
}


void seam_fd_close(struct seam_fd *w)
{
	w->handle = fd_close(w->handle);
	w->fd = -1;
}


int seam_fd_listen(struct seam_fd *w, int fd, int flags, fd_h *h,
		   void *arg)
{
	struct re_fhs *fhs;
	int err;

	if (w->fd >= 0 && w->fd != fd)
		seam_fd_close(w);

	w->fd = fd;
	fhs = w->handle;
	err = fd_listen(&fhs, fd, flags, h, arg);
	w->handle = fhs;

	return err;
}


/* ua_cuser() is the public GRUU once there is one */
const char *seam_contact_user(const struct ua *ua)
{
	return ua_local_cuser(ua);
}


/* 4.x's ua_unregister() sends the un-REGISTER at once, on the register
 * client of a REGISTER still in flight: libre then writes into the
 * client after freeing it (re 4.10 sipreg_unregister()). Letting the
 * client go, as 1.x's ua_unregister() does, waits for that answer. */
void seam_unregister(struct ua *ua)
{
	ua_stop_register(ua);
}


const char *seam_event_str(enum ua_event ev)
{
	return bevent_str(ev);
}


void seam_mwi_notify(struct ua *ua, const uint8_t *body, size_t len)
{
	(void)bevent_ua_emit(UA_EVENT_MWI_NOTIFY, ua, "%b", body, len);
}


int seam_connect(struct ua *ua, struct call **callp, const char *uri)
{
	struct pl pl;
	char *full = NULL;
	int err;

	pl_set_str(&pl, uri);
	err = account_uri_complete_strdup(ua_account(ua), &full, &pl);
	if (!err)
		err = ua_connect(ua, callp, NULL, full, VIDMODE_ON);

	mem_deref(full);
	return err;
}


/* menu's dial takes the user agent from carg->data too (the URI from
 * carg->prm); one that names its own ("dial 200 1") stays as written */
static int dial_run(re_printf_h *h, struct re_printf *pf,
		    const struct cmd_arg *carg, struct ua *ua)
{
	if (strchr(str_isset(carg->prm) ? carg->prm : "", ' '))
		return h(pf, (void *)carg);

	return seam_dialdir_run(h, pf, carg, ua);
}


const struct seam_dial seam_dialv[] = {
	{"dial",    dial_run},
	{"dialdir", seam_dialdir_run},
};

const size_t seam_dialc = RE_ARRAY_SIZE(seam_dialv);
