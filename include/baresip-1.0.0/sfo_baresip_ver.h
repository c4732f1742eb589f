/**
 * @file sfo_baresip_ver.h  What srvfailover uses of baresip 1.0.0
 *                           (Debian bookworm) that 1.1.0 changed
 *
 * The functions that exist only in this version are weak: a build for
 * the other Debian baresip still loads, and the seam's check refuses it
 * with a clear line instead of the dynamic linker's (a 4.x build, or
 * this one in 4.x, is refused by the dynamic linker).
 */

#define SFO_BARESIP_VERSION "1.0.0"

/* enum ua_event of baresip 1.0.0; 1.1.0 renumbers it */
enum ua_event {
	UA_EVENT_REGISTERING = 0,
	UA_EVENT_REGISTER_OK = 1,
	UA_EVENT_REGISTER_FAIL = 2,
	UA_EVENT_UNREGISTERING = 3,
	UA_EVENT_MWI_NOTIFY = 4,
	UA_EVENT_SHUTDOWN = 5,
	UA_EVENT_EXIT = 6,
	UA_EVENT_CALL_INCOMING = 7,
	UA_EVENT_CALL_RINGING = 8,
	UA_EVENT_CALL_PROGRESS = 9,
	UA_EVENT_CALL_ESTABLISHED = 10,
	UA_EVENT_CALL_CLOSED = 11,
	UA_EVENT_CALL_LOCAL_SDP = 22,   /* prm "offer": INVITE about to go */
};

struct ua;

/* menu's dial and hangup act on the current user agent */
__attribute__((weak)) void uag_current_set(struct ua *ua);
__attribute__((weak)) struct ua *uag_current(void);

#include "sfo_baresip_1x.h"
