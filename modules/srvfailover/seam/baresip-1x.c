/**
 * @file baresip-1x.c  The seam's part that the Debian baresips (1.0.0
 *                     and 1.1.0) share: UA events with arguments, libre's
 *                     fd_listen() by descriptor, ua_unregister(), and no
 *                     baresip_version() to ask
 */
#include <re.h>
#include "sfo_baresip.h"
#include "seam.h"


static seam_event_h *event_h;


const char *seam_running_version(void)
{
	return NULL;
}


static void event_handler(struct ua *ua, enum ua_event ev,
			  struct call *call, const char *prm, void *arg)
{
	(void)arg;

	event_h(ua, ev, call, prm);
}


int seam_event_register(seam_event_h *h)
{
	event_h = h;

	return uag_event_register(event_handler, NULL);
}


void seam_event_unregister(void)
{
	uag_event_unregister(event_handler);
}


int seam_fd_listen(struct seam_fd *w, int fd, int flags, fd_h *h,
		   void *arg)
{
	if (w->fd >= 0 && w->fd != fd)
		fd_close(w->fd);

	w->fd = fd;

	return fd_listen(fd, flags, h, arg);
}


void seam_fd_close(struct seam_fd *w)
{
	if (w->fd >= 0)
		fd_close(w->fd);

	w->fd = -1;
}


const char *seam_contact_user(const struct ua *ua)
{
	return ua_cuser(ua);
}


/* 1.x's ua_unregister() lets the register client go: libre sends the
 * un-REGISTER after the request in flight */
void seam_unregister(struct ua *ua)
{
	ua_unregister(ua);
}


const char *seam_event_str(enum ua_event ev)
{
	return uag_event_str(ev);
}


void seam_mwi_notify(struct ua *ua, const uint8_t *body, size_t len)
{
	ua_event(ua, UA_EVENT_MWI_NOTIFY, NULL, "%b", body, len);
}
