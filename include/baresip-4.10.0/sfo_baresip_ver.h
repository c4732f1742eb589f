/**
 * @file sfo_baresip_ver.h  What srvfailover uses of upstream baresip
 *                           4.10.0 that differs from Debian's 1.x
 *
 * Since 4.0.0 the UA events are "bevents": one handler gets the event
 * value and reads the user agent, call and text through getters. The
 * values are those of enum bevent_ev, named here as the shell knows them.
 * info() and warning() are macros over _info() and _warning() (3.20).
 * A build for 1.x loaded into 4.x (or the reverse) fails in dlopen,
 * before any of our code runs; between 4.x releases baresip_version()
 * tells them apart.
 */

#define SFO_BARESIP_VERSION "4.10.0"

/* enum bevent_ev of baresip 4.x (the same numbers since 2.12) */
enum ua_event {
	UA_EVENT_REGISTERING = 0,
	UA_EVENT_REGISTER_OK = 1,
	UA_EVENT_REGISTER_FAIL = 2,
	UA_EVENT_UNREGISTERING = 3,
	UA_EVENT_FALLBACK_OK = 4,
	UA_EVENT_FALLBACK_FAIL = 5,
	UA_EVENT_MWI_NOTIFY = 6,
	UA_EVENT_CREATE = 7,
	UA_EVENT_SHUTDOWN = 8,
	UA_EVENT_EXIT = 9,
	UA_EVENT_CALL_INCOMING = 10,
	UA_EVENT_CALL_OUTGOING = 11,
	UA_EVENT_CALL_RINGING = 12,
	UA_EVENT_CALL_PROGRESS = 13,
	UA_EVENT_CALL_ANSWERED = 14,
	UA_EVENT_CALL_ESTABLISHED = 15,
	UA_EVENT_CALL_CLOSED = 16,
	UA_EVENT_CALL_LOCAL_SDP = 28,   /* prm "offer": INVITE about to go */
};

struct account;
struct bevent;
struct pl;

typedef void (bevent_h)(enum ua_event ev, struct bevent *event, void *arg);

int  bevent_register(bevent_h *eh, void *arg);
void bevent_unregister(bevent_h *eh);
const char *bevent_str(enum ua_event ev);
struct ua *bevent_get_ua(const struct bevent *event);
struct call *bevent_get_call(const struct bevent *event);
const char *bevent_get_text(const struct bevent *event);
int  bevent_ua_emit(enum ua_event ev, struct ua *ua, const char *fmt, ...);

const char *baresip_version(void);

/* ua_unregister() sends at once, even with a REGISTER in flight (seam) */
void ua_stop_register(struct ua *ua);
const char *ua_local_cuser(const struct ua *ua);

/* A module's own event, to ctrl_tcp and mqtt (a switch: seam.h) */
void module_event(const char *module, const char *event, struct ua *ua,
		  struct call *call, const char *fmt, ...);

/* ua_connect() takes the URI as given: a bare user ID needs this */
int  account_uri_complete_strdup(const struct account *acc, char **strp,
				 const struct pl *uri);

void _info(bool safe, const char *fmt, ...);
void _warning(bool safe, const char *fmt, ...);
#define info(...) _info(false, __VA_ARGS__)
#define warning(...) _warning(false, __VA_ARGS__)
