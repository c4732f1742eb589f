/**
 * @file sfo_web.h  The web page's part of the core: requests as plain data
 *
 * What a request asks for (routing, method and message checks), what a
 * POST changes, the listen address and the page itself. No HTTP server
 * in here: the shell (http.c) reads the request into struct sfo_web_in,
 * asks sfo_web_route() and sends what it says.
 */

enum {
	SFO_WEB_PORT = 8088,         /* srvfailover_http_listen default */
	SFO_WEB_NONCE_LIFE = 300000, /* ms a digest nonce can be used    */
	SFO_WEB_NONCE_WINDOW = 64,   /* used nonces told apart by number */
	SFO_WEB_NONCE_SIZE = 65,     /* its text: 64 hex digits and NUL  */
};

enum sfo_web_act {
	SFO_WEB_ERROR = 0,           /* req->scode, reason and msg say why */
	SFO_WEB_PAGE,                /* GET /            the HTML page     */
	SFO_WEB_STATUS,              /* GET /status.json sfo_status_json() */
	SFO_WEB_DISABLE,             /* POST /servers/USER/PRIO/disable    */
	SFO_WEB_ENABLE,              /* POST /servers/USER/PRIO/enable     */
	SFO_WEB_RELOAD,              /* POST /reload (the shell's)         */
};

/* A request, as far as routing needs it */
struct sfo_web_in {
	struct pl met;               /* "GET"                              */
	struct pl path;              /* "/status.json", without ?query     */
	struct pl ver;               /* "1.1"                              */
	uint32_t clen;               /* Content-Length, 0 when absent      */
	bool chunked;                /* a Transfer-Encoding was given      */
	bool host;                   /* a Host header was given            */
};

/* What to do with it */
struct sfo_web_req {
	enum sfo_web_act act;
	bool head;                   /* HEAD: a GET without its body       */
	uint16_t scode;              /* 200, or the error                  */
	const char *reason;
	const char *allow;           /* 405: the methods the path takes    */
	char msg[128];               /* an error explained, for people     */
	char user[64];               /* SFO_WEB_DISABLE/ENABLE: the server */
	unsigned prio;
};

/*
 * Digest nonces, each good for one change: a captured request cannot be
 * played again, however many changes come between. A nonce is its
 * number, the time it was handed out and a MAC of both with a secret of
 * the process; handing one out stores nothing. What is remembered is
 * which numbers were used: a bit for each of the SFO_WEB_NONCE_WINDOW
 * numbers up to the highest one used (older ones count as used).
 */
struct sfo_web_nonces {
	uint64_t secret[2];          /* random, of this process          */
	uint64_t next;               /* number of the next nonce, from 1 */
	uint64_t top;                /* highest number used, 0: none     */
	uint64_t used;               /* bit i: number top - i was used   */
};


/* web.c */
enum sfo_web_act sfo_web_route(struct sfo_web_req *req,
			       const struct sfo_web_in *in);
void sfo_web_fail(struct sfo_web_req *req, uint16_t scode,
		  const char *fmt, ...);
bool sfo_web_changes(enum sfo_web_act act);
int  sfo_web_apply(struct re_printf *pf, struct list *lines,
		   struct sfo_web_req *req, uint64_t now);
bool sfo_web_origin_ok(const struct pl *origin, const struct pl *host);
int  sfo_web_listen_parse(struct sa *addr, bool *off, const char *val);
void sfo_web_nonces_init(struct sfo_web_nonces *ns,
			 const uint64_t secret[2]);
int  sfo_web_nonce_new(struct sfo_web_nonces *ns, char *buf, size_t size,
		       uint64_t now);
int  sfo_web_nonce_use(struct sfo_web_nonces *ns, const struct pl *nonce,
		       uint64_t now);


/* page.c */
int sfo_web_page(struct re_printf *pf, bool writable);
