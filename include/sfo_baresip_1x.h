/**
 * @file sfo_baresip_1x.h  What the Debian baresips (1.0.0 and 1.1.0)
 *                          have and 4.x has not
 *
 * UA events with the user agent, call and text as arguments (4.x:
 * bevents), info()/warning() as functions (4.x: macros), and a
 * ua_unregister() that lets the register client go (4.x sends at once).
 */

typedef void (ua_event_h)(struct ua *ua, enum ua_event ev,
			  struct call *call, const char *prm, void *arg);

int  uag_event_register(ua_event_h *eh, void *arg);
void uag_event_unregister(ua_event_h *eh);
const char *uag_event_str(enum ua_event ev);
void ua_event(struct ua *ua, enum ua_event ev, struct call *call,
	      const char *fmt, ...);
void ua_unregister(struct ua *ua);

void info(const char *fmt, ...);
void warning(const char *fmt, ...);
