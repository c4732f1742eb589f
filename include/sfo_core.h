/**
 * @file sfo_core.h  srvfailover's functional core: lines, servers, modes
 *
 * Plain C over plain data. Events go in (registered, failed with code X,
 * probe answered, timer fired, calls changed), actions come out through
 * struct sfo_ops (register server 2, unregister server 3, probe server 1,
 * wake me at t). Time is always an argument, in milliseconds; the core
 * never reads a clock and never calls baresip.
 */

/* re 3.9 renamed it (re 4.x has only the new name) */
#ifndef ARRAY_SIZE
#define ARRAY_SIZE RE_ARRAY_SIZE
#endif

enum sfo_mode {
	SFO_PARALLEL = 0,
	SFO_CISCO,
	SFO_SEQUENTIAL,
};

enum sfo_failback {
	SFO_FB_IMMEDIATE = 0,
	SFO_FB_PROBES,      /* after N good checks in a row    */
	SFO_FB_DELAY,       /* after N seconds on the backup   */
	SFO_FB_NEVER,       /* stay until the current one fails */
};

/* What is shown per server; names as in the Duetto manual */
enum sfo_state {
	SFO_ST_REGISTERED_WORKING = 0,
	SFO_ST_REGISTERED,
	SFO_ST_REGISTERING,
	SFO_ST_REG_FAILED,
	SFO_ST_REACHABLE,
	SFO_ST_UNREACHABLE,
	SFO_ST_STANDBY,
	SFO_ST_DEACTIVATED,
};

enum sfo_reg {
	SFO_REG_IDLE = 0,
	SFO_REG_PENDING,
	SFO_REG_OK,
	SFO_REG_FAILED,
};

enum sfo_alive {
	SFO_ALIVE_UNKNOWN = 0,
	SFO_ALIVE_UP,
	SFO_ALIVE_DOWN,
};

enum sfo_req {
	SFO_REQ_NONE = 0,
	SFO_REQ_REGISTER,
	SFO_REQ_OPTIONS,
	SFO_REQ_UNREGISTER,        /* before registering a server again */
};

enum {
	SFO_CODES_MAX = 16,
	SFO_T1_MS = 500,
	SFO_RETRY_AFTER_MAX = 3600,  /* s: longest Retry-After honoured */
	SFO_TARGETS_MAX = 8,         /* hosts used of one DNS name      */
	SFO_DEAD_CHECK_SHIFT = 2,    /* a dead server: checks 1, 2, 4 x
					further apart                   */
	SFO_USER_MAX = 63,           /* bytes of a user ID              */
	SFO_MWI_BODY_MAX = 4096,     /* bytes of a message-summary      */
	SFO_PIDF_MAX = 16384,        /* bytes of a presence document    */
	SFO_PUBINT_MIN = 60,         /* s: shortest presence PUBLISH    */
	SFO_START_DELAY_MAX = 3600,  /* s: srvfailover_start_delay      */
};

/* A contact's presence, or the phone's own (baresip's order) */
enum sfo_presence {
	SFO_PRES_UNKNOWN = 0,
	SFO_PRES_OPEN,
	SFO_PRES_CLOSED,
	SFO_PRES_BUSY,
};

/* Failover codes: three characters each, digits or '?' */
struct sfo_codes {
	char v[SFO_CODES_MAX][4];
	unsigned n;
};

struct sfo_line;

struct sfo_server {
	struct le le;
	struct sfo_line *line;
	unsigned prio;             /* 1 = main, as configured           */
	unsigned order;            /* place in the line, targets apart  */
	unsigned rank;             /* DNS target: 0 primary, 1 secondary */
	char *dns;                 /* the name it came from, if any     */
	char *entry;               /* DNS: the account, before routing  */
	bool unresolved;           /* a name with no target yet         */
	bool fresh;                /* reload: new, its UA still to make */
	char *account;             /* ua_alloc() line; holds secrets    */
	char *uri;                 /* sip:host[:port], for people       */
	char *transport;           /* udp, tcp or tls                   */
	char *probe_uri;           /* OPTIONS target, with user part    */
	char *host;                /* for matching dialled URIs         */
	uint16_t port;             /* 0 when not given                  */
	uint32_t regint;           /* registration expiry, seconds      */
	uint32_t rwait;            /* % of a grant libre waits before it
				      refreshes; 0: libre's own (90)    */
	unsigned retries;          /* no-answer budget, retransmissions */

	/* what the core knows */
	bool deactivated;
	enum sfo_reg reg;
	enum sfo_alive alive;
	enum sfo_req req;          /* request in flight, if any         */
	uint64_t req_sent;
	uint64_t req_deadline;
	unsigned req_id;           /* matches answers to OPTIONS probes */
	bool probing;              /* REGISTER sent as a probe          */
	uint64_t probe_at;         /* next check of a non-working one   */
	uint64_t retry_at;         /* no REGISTER before (back-off)     */
	uint64_t refresh_at;       /* our own refresh of a registration
				      granted longer than asked         */
	uint32_t rwait_use;        /* the rwait its user agent must have:
				      another than configured when the
				      grant wraps libre's wait (0: the
				      configured one)                   */
	uint32_t retry_after;      /* s, from the 503 being handled     */
	unsigned reg_fails;        /* consecutive registration failures */
	bool refused;              /* the registrar refused the user or
				      the credentials (401/403/404/407):
				      until a REGISTER succeeds         */
	unsigned good;             /* consecutive good answers          */
	unsigned lost;             /* keep-alives lost in a row         */
	unsigned dead_checks;      /* checks failed while already down  */
	bool silent;               /* its last failure drew no SIP answer
				      (no answer, ICMP, transport)      */
	unsigned calls;
	bool no_mwi;               /* mwi=no: no voicemail here         */
	uint32_t pubint;           /* s between presence PUBLISHes; 0:
				      the phone publishes nothing here  */

	/* what is shown */
	enum sfo_state state;
	uint64_t since;
	uint16_t last_code;
	char last_text[64];
	unsigned failures;
	int rtt;                   /* ms, -1 when never measured        */

	void *ua;                  /* the shell's handle                */
	uint32_t ua_rwait;         /* the rwait it was made with        */

	/* the shell's notes from the wire */
	uint16_t challenge;        /* the last challenge (401/407) to a
				      REGISTER since the attempt began
				      or a 2xx                          */
	char reg_callid[64];       /* Call-ID of the registration in use */
	char stale_callid[64];     /* an older one's un-REGISTER, late   */
	char unreg_callid[64];     /* the last un-REGISTER sent: Call-ID */
	uint32_t unreg_cseq;       /* and CSeq                           */
	bool no_reg_ok;            /* the last 2xx read is no
				      registration: it answered an
				      un-REGISTER, or its grant was
				      refused (REGISTER_OK says it is)  */
	bool crossed;              /* a late un-REGISTER was answered
				      while a REGISTER was out          */
};

struct sfo_ops {
	/* send REGISTER; an error counts as a transport failure */
	int  (*reg)(struct sfo_server *srv, void *arg);
	/* stop registering (un-REGISTER if registered) */
	void (*unreg)(struct sfo_server *srv, void *arg);
	/* send OPTIONS; the answer comes back with srv->req_id */
	int  (*options)(struct sfo_server *srv, void *arg);
	/* the working server changed: line->working */
	void (*working)(struct sfo_line *line, void *arg);
	/* one report line for people: a state change or a switch */
	void (*report)(const struct sfo_line *line, const char *msg,
		       void *arg);
	/* call sfo_tick() at this time (0: nothing pending) */
	void (*wake)(struct sfo_line *line, uint64_t at, void *arg);
	/* a DNS target came or went: make or drop its user agent */
	int  (*added)(struct sfo_server *srv, void *arg);
	void (*removed)(struct sfo_server *srv, void *arg);
};

/* What a message-summary (RFC 3842) says of the voice messages */
struct sfo_summary {
	bool waiting;
	uint32_t new_msgs;
	uint32_t old_msgs;
};

/* A line's voicemail: its subscription and the lamp */
struct sfo_mwi {
	bool held;                 /* a subscription answered a NOTIFY  */
	unsigned prio;             /* the server the last NOTIFY came
				      from                              */
	struct sfo_summary sum;
};

/* How a subscription ended, for when to subscribe again */
struct sfo_sub_end {
	int err;                   /* no answer, transport              */
	uint16_t scode;            /* a final answer to the SUBSCRIBE   */
	bool terminated;           /* a NOTIFY said terminated ...      */
	char reason[16];           /* ... with this reason (or "")      */
	uint32_t retry_after;      /* s, 0 when not given               */
};

/* One host a DNS name resolved to */
struct sfo_target {
	char host[64];
	uint16_t port;
};

struct sfo_line {
	struct le le;
	char *user;
	enum sfo_mode mode;
	enum sfo_failback fb;
	unsigned fb_value;         /* probes, or seconds               */
	uint32_t probe_interval;   /* s, cisco OPTIONS checks           */
	uint32_t fallback_interval;/* s, sequential REGISTER probes     */
	uint32_t retry_base;       /* s, registration back-off base     */
	uint32_t retry_max;        /* s, registration back-off maximum  */
	bool ka_register;          /* watch registered servers by their
				      refreshes, not by OPTIONS         */
	uint32_t ka_loss;          /* lost OPTIONS in a row = dead      */
	struct sfo_codes codes;
	struct list servers;       /* in priority order                 */

	struct sfo_server *target; /* cisco/sequential: where to be     */
	struct sfo_server *working;
	struct sfo_server *lost;   /* working server before a gap       */
	bool degraded;             /* left a server because it failed   */
	uint64_t switched_at;
	unsigned failovers;
	unsigned failbacks;
	char reason[160];          /* why the last switch happened      */
	bool rejected;             /* the config had an error here      */
	unsigned cfg_line;         /* its first server's line in the file */
	uint32_t rnd;
	struct sfo_mwi mwi;
	enum sfo_presence presence;/* the phone's own, as published     */
	unsigned published;        /* the server holding it; 0: none    */

	const struct sfo_ops *ops;
	void *arg;
	unsigned busy;
	bool again;
};


/* An outgoing call and the servers it went through */
struct sfo_invite {
	struct sfo_server *srv;    /* the server of the current attempt */
	bool bypass;               /* dialled to that server by name    */
	bool provisional;          /* any 1xx, 100 Trying included      */
	uint64_t sent;
	uint32_t tried;            /* a bit per priority                */
	char why[512];             /* what each server did              */
};

enum sfo_verdict {
	SFO_INV_DONE = 0,          /* the callee's answer: leave it     */
	SFO_INV_RETRY,             /* place it again through inv->srv   */
	SFO_INV_FAILED,            /* every server tried: inv->why      */
};


/* line.c */
int  sfo_line_alloc(struct sfo_line **linep, const char *user);
int  sfo_server_alloc(struct sfo_server **srvp, struct sfo_line *line);
int  sfo_server_add(struct sfo_line *line, struct sfo_server **srvp);
void sfo_line_set_ops(struct sfo_line *line, const struct sfo_ops *ops,
		      void *arg, uint32_t seed);
struct sfo_line *sfo_line_find(const struct list *lines, const char *user);
struct sfo_server *sfo_server_find(const struct sfo_line *line,
				   unsigned prio);
void sfo_server_drop(struct sfo_line *line, struct sfo_server *s);
void sfo_line_renumber(struct sfo_line *line);
int  sfo_start_delay_parse(uint32_t *secs, const char *val);
uint64_t sfo_start_delay_ms(uint32_t secs, uint32_t rnd);
const char *sfo_mode_name(enum sfo_mode mode);
int  sfo_mode_parse(enum sfo_mode *modep, const char *s);
const char *sfo_state_name(enum sfo_state st);
bool sfo_pl_isnum(const struct pl *pl);
int  sfo_delta_seconds(uint32_t *secs, const struct pl *val);
uint16_t sfo_server_port(const struct sfo_server *srv);
bool sfo_server_udp_addr(const struct sfo_server *srv);
uint32_t sfo_budget_ms(unsigned retries);
uint32_t sfo_request_budget(const struct sfo_server *srv);
unsigned sfo_check_retransmits(const struct sfo_server *srv);
uint32_t sfo_backoff_ms(const struct sfo_line *line, unsigned fails,
			uint32_t rnd);
int  sfo_codes_parse(struct sfo_codes *codes, const struct pl *pl);
bool sfo_codes_match(const struct sfo_codes *codes, uint16_t scode);
int  sfo_failback_parse(struct sfo_line *line, const struct pl *pl);
int  sfo_failback_print(struct re_printf *pf, const struct sfo_line *line);


/* core.c */
void sfo_start(struct sfo_line *line, uint64_t now);
void sfo_tick(struct sfo_line *line, uint64_t now);
void sfo_registered(struct sfo_server *srv, uint16_t scode,
		    const char *text, uint64_t now);
void sfo_reg_failed(struct sfo_server *srv, uint16_t scode,
		    const char *text, uint64_t now);
void sfo_options_answer(struct sfo_server *srv, unsigned req_id,
			uint16_t scode, const char *text, uint64_t now);
void sfo_calls(struct sfo_server *srv, unsigned calls, uint64_t now);
void sfo_set_active(struct sfo_server *srv, bool active, uint64_t now);
void sfo_set_mode(struct sfo_line *line, enum sfo_mode mode, uint64_t now);
void sfo_call_failed(struct sfo_server *srv, uint16_t scode,
		     const char *text, uint64_t now);
void sfo_retry_after(struct sfo_server *srv, uint32_t secs);
void sfo_refresh_sent(struct sfo_server *srv, uint64_t now);
int  sfo_granted(struct sfo_server *srv, uint32_t expires, uint64_t now);
uint32_t sfo_rwait(const struct sfo_server *srv);
void sfo_binding_lost(struct sfo_server *srv, uint64_t now);
void sfo_unregistered(struct sfo_server *srv, uint64_t now);
uint64_t sfo_next_wake(const struct sfo_line *line, uint64_t now);


/* route.c */
int  sfo_route(struct sfo_server **srvp, const struct list *lines,
	       const struct sfo_line *line, const char *dial, bool *bypass,
	       struct re_printf *why);
int  sfo_redial_target(char **targetp, const struct sfo_server *srv,
		       const char *peer);
int  sfo_request_target(char **targetp, const struct sfo_server *srv,
			const char *peer);
struct sfo_server *sfo_request_route(const struct list *lines,
				     const struct sfo_line *line,
				     const char *peer);
struct sfo_line *sfo_line_of_peer(const struct list *lines,
				  const char *peer);
void sfo_invite_start(struct sfo_invite *inv, struct sfo_server *srv,
		      bool bypass, uint64_t now);
void sfo_invite_resent(struct sfo_invite *inv, uint64_t now);
uint64_t sfo_invite_deadline(const struct sfo_invite *inv);
enum sfo_verdict sfo_invite_failed(struct sfo_invite *inv, uint16_t scode,
				   const char *text, uint64_t now);


/* mwi.c */
int  sfo_summary_parse(struct sfo_summary *sum, const struct pl *body,
		       const char **why);
struct sfo_server *sfo_mwi_server(const struct sfo_line *line);
bool sfo_line_settling(const struct sfo_line *line);
int64_t sfo_resubscribe_ms(const struct sfo_line *line,
			   const struct sfo_sub_end *end, unsigned fails,
			   uint32_t rnd);
void sfo_mwi_notified(struct sfo_line *line, const struct sfo_server *srv,
		      const struct sfo_summary *sum);
void sfo_mwi_dropped(struct sfo_line *line);
int  sfo_mwi_print(struct re_printf *pf, const struct sfo_line *line);


/* presence.c */
int  sfo_pidf_parse(enum sfo_presence *st, const struct pl *body,
		    const char **why);
struct sfo_server *sfo_publish_server(const struct sfo_line *line);
const char *sfo_presence_name(enum sfo_presence st);
void sfo_published(struct sfo_line *line, const struct sfo_server *srv);
int  sfo_presence_print(struct re_printf *pf, const struct sfo_line *line);


/* reload.c */
bool sfo_line_same(const struct sfo_line *line,
		   const struct sfo_line *fresh);
bool sfo_line_busy(const struct sfo_line *line);
void sfo_line_stop(struct sfo_line *line);
void sfo_line_update(struct sfo_line *line, struct sfo_line *fresh,
		     uint64_t now);


/* targets.c */
int  sfo_targets_set(struct sfo_line *line, unsigned prio,
		     const struct sfo_target *tv, size_t tc, uint64_t now);
void sfo_targets_failed(struct sfo_line *line, unsigned prio,
			const char *text, uint64_t now);


/* policy.c */
struct sfo_server *sfo_choose(const struct sfo_line *line, uint64_t now,
			      bool *failback);
bool sfo_wants_registered(const struct sfo_line *line,
			  const struct sfo_server *srv);
bool sfo_probe_due(const struct sfo_line *line,
		   const struct sfo_server *srv, uint64_t now);
bool sfo_register_due(const struct sfo_line *line,
		      const struct sfo_server *srv, uint64_t now);
enum sfo_state sfo_state_of(const struct sfo_line *line,
			    const struct sfo_server *srv);


/* address.c */
int  sfo_quote_print(struct re_printf *pf, void *arg);
bool sfo_user_valid(const struct pl *user, const char **why);
int  sfo_address_check(const struct pl *text, const char **why);
const char *sfo_hostport_split(const struct pl *hp, struct pl *host,
			       struct pl *port);


/* config.c */
int sfo_config_parse(struct list *lines, const char *file,
		     const struct pl *text, enum sfo_mode mode,
		     struct re_printf *errpf, unsigned *errc);


/* status.c */
int sfo_status_print(struct re_printf *pf, const struct list *lines,
		     uint64_t now);
int sfo_status_json(struct re_printf *pf, const struct list *lines,
		    uint64_t now);
int sfo_status_summary(struct re_printf *pf, const struct list *lines);
int sfo_status_odict(struct odict **op, const struct list *lines,
		     uint64_t now);


/* fleet.c */
int sfo_fleet_state_json(struct re_printf *pf, const struct list *lines,
			 const char *phone, bool online, uint64_t now);
int sfo_fleet_event_json(struct re_printf *pf, const char *phone,
			 const struct sfo_line *line, unsigned from,
			 unsigned to);
int sfo_fleet_broker_parse(char *host, size_t size, uint16_t *port,
			   const char *val, bool tls);
bool sfo_fleet_topic_ok(const char *s, bool prefix);


/* command.c */
int sfo_command(struct re_printf *pf, struct list *lines, const char *prm,
		uint64_t now);
bool sfo_command_is(const char *prm, const char *verb);
