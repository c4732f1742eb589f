/**
 * @file shell.h  Shared by the files of the shell
 */

struct list *shell_lines(void);
int  shell_print_mbuf(const char *p, size_t size, void *arg);
struct sfo_server *shell_server_of_ua(const struct ua *ua);
void shell_current_working(const struct sfo_line *line);
struct sfo_line *shell_current_line(void);
int  shell_line_start(struct sfo_line *line, uint64_t delay);
void shell_line_stop(struct sfo_line *line);
uint64_t shell_now(void);
void shell_transport_error(struct sfo_server *srv, int err);

/* check.c */
int  check_baresip(void);
void check_rivals(void);

/* hook.c */
struct hook {
	struct cmd *copy;          /* registered in place of orig        */
	const struct cmd *orig;    /* the other module's block           */
	size_t n;
};

struct hook_cmd {
	const char *name;
	re_printf_h *h;            /* ours                               */
	re_printf_h *orig;         /* the other module's, filled in      */
};

int  hook_install(struct hook *hk, struct hook_cmd *v, size_t n);
void hook_remove(struct hook *hk, const char *module);

/* dial.c */
int  dial_uri(struct re_printf *pf, const char *uri);
int  dial_init(void);
void dial_close(void);
void dial_stop(void);
void dial_ua_event(struct sfo_server *srv, enum ua_event ev,
		   struct call *call, const char *prm);
void dial_transport_error(const struct sfo_server *srv, const char *text);
void dial_invite_sent(const struct sip_msg *msg);
void dial_provisional(const struct sip_msg *msg);
struct sfo_server *dial_server_of(const struct sip_msg *msg);

/* message.c */
int  msg_init(void);
void msg_transport_error(const struct sfo_server *srv, const char *text);
void msg_stop(void);
void msg_close(void);

/* file.c */
int  file_load(void);
int  file_reload(struct re_printf *pf);
void file_line_idle(const struct sfo_line *line);
void file_close(void);

/* follow.c */
struct follow;

struct follow_kind {
	const char *event;         /* "message-summary"                  */
	const char *accept;        /* its body's content type            */
	const char *what;          /* "voicemail", for the log           */
	uint32_t expires;          /* s asked for                        */
	/* a NOTIFY with a body through srv (first: the first one of that
	 * subscription); false: it did not read, nothing changes        */
	bool (*notifyh)(struct follow *f, const struct sfo_server *srv,
			const struct sip_msg *msg, bool first);
	/* what it held is gone                                          */
	void (*droph)(struct follow *f);
};

int  follow_alloc(struct follow **fp, const struct follow_kind *kind,
		  struct sfo_line *line, const char *peer, void *arg);
void follow_move(struct follow *f, struct sfo_server *srv);
void follow_server_gone(struct follow *f, const struct sfo_server *srv);
void follow_end(struct follow *f);
void follow_bad(const struct follow *f, const struct sfo_server *srv,
		const char *why);
void *follow_arg(const struct follow *f);
struct sfo_line *follow_line(const struct follow *f);
void follow_close(void);

/* mqtt.c */
int  mqtt_init(void);
void mqtt_changed(void);
void mqtt_switched(const struct sfo_line *line, unsigned from,
		   unsigned to);
void mqtt_stop(void);
void mqtt_close(void);

/* mwi.c */
void mwi_update(struct sfo_line *line);
void mwi_server_gone(const struct sfo_server *srv);
void mwi_line_gone(const struct sfo_line *line);
void mwi_close(void);

/* presence.c */
int  presence_init(void);
void presence_update(struct sfo_line *line);
void presence_server_gone(const struct sfo_server *srv);
void presence_line_gone(const struct sfo_line *line);
void presence_stop(void);
void presence_close(void);

/* trace.c */
void trace_init(void);
void trace_close(void);

/* resolve.c */
int  resolve_start(struct sfo_server *srv);
void resolve_close(void);

/* http.c */
int  http_init(void);
void http_close(void);

/* webconn.c */
struct webconn;
typedef void (webconn_req_h)(struct webconn *c, const struct http_msg *msg);
int  webconn_listen(const struct sa *addr, webconn_req_h *reqh);
int  webconn_reply(struct webconn *c, uint16_t scode, const char *reason,
		   const char *fmt, ...);
void webconn_close_after(struct webconn *c);
const struct sa *webconn_peer(const struct webconn *c);
void webconn_close(void);

/* keepalive.c */
int  keepalive_send(struct sfo_server *srv);
void keepalive_remove(const struct sfo_server *srv);
int  keepalive_init(void);
void keepalive_close(void);

/* probe.c */
void probe_add(struct sfo_server *srv);
void probe_remove(const struct sfo_server *srv);
void probe_ping(struct sfo_server *srv);
void probe_close(void);
