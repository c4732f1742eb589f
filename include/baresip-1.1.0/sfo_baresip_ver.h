/**
 * @file sfo_baresip_ver.h  What srvfailover uses of baresip 1.1.0
 *                           (Debian trixie) that differs from 1.0.0
 *
 * The functions that exist only in this version are weak: a build for
 * the other Debian baresip still loads, and the seam's check refuses it
 * with a clear line instead of the dynamic linker's (a 4.x build, or
 * this one in 4.x, is refused by the dynamic linker).
 */

#define SFO_BARESIP_VERSION "1.1.0"

/* enum ua_event of baresip 1.1.0 (1.0.0 numbers them differently) */
enum ua_event {
	UA_EVENT_REGISTERING = 0,
	UA_EVENT_REGISTER_OK = 1,
	UA_EVENT_REGISTER_FAIL = 2,
	UA_EVENT_UNREGISTERING = 3,
	UA_EVENT_FALLBACK_OK = 4,
	UA_EVENT_FALLBACK_FAIL = 5,
	UA_EVENT_MWI_NOTIFY = 6,
	UA_EVENT_SHUTDOWN = 7,
	UA_EVENT_EXIT = 8,
	UA_EVENT_CALL_INCOMING = 9,
	UA_EVENT_CALL_RINGING = 10,
	UA_EVENT_CALL_PROGRESS = 11,
	UA_EVENT_CALL_ANSWERED = 12,
	UA_EVENT_CALL_ESTABLISHED = 13,
	UA_EVENT_CALL_CLOSED = 14,
	UA_EVENT_CALL_LOCAL_SDP = 25,   /* prm "offer": INVITE about to go */
};

struct account;
struct mbuf;

/* A module's own event, to ctrl_tcp and mqtt (a switch: seam.h) */
__attribute__((weak)) void module_event(const char *module,
					const char *event, struct ua *ua,
					struct call *call,
					const char *fmt, ...);

/* ua_connect() takes the URI as given: a bare user ID needs this */
__attribute__((weak)) int account_uri_complete(const struct account *acc,
					       struct mbuf *buf,
					       const char *uri);

#include "sfo_baresip_1x.h"
