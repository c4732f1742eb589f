/**
 * @file seam.h  What differs between baresip 1.0.0, 1.1.0 and 4.x,
 *               behind one interface
 *
 * baresip-1.0.0.c (Debian bookworm), baresip-1.1.0.c (trixie) and
 * baresip-4.10.0.c (upstream) each implement it, with what several
 * share (baresip-1x.c: the two Debian ones; baresip-since-1.1.c: 1.1.0
 * and 4.x); the Makefile compiles those of the baresip it builds for,
 * with that version's include/baresip-VERSION/sfo_baresip_ver.h. The
 * rest of the shell does not know which one runs.
 */

/** The baresip version this build is for, e.g. "1.0.0" */
extern const char seam_version[];

/** True when the running baresip is this version: it has the version's
 * own functions (1.x), or says the same release (4.x) */
bool seam_symbols(void);

/** The running baresip's version where it can say (4.x), else NULL */
const char *seam_running_version(void);

/** A user agent's event, as the shell reads it */
typedef void (seam_event_h)(struct ua *ua, enum ua_event ev,
			    struct call *call, const char *prm);

/** Have h called for every user agent event (one handler at a time) */
int  seam_event_register(seam_event_h *h);
void seam_event_unregister(void);

/** The name baresip gives an event number */
const char *seam_event_str(enum ua_event ev);

/** Raise MWI_NOTIFY on ua with a NOTIFY's body, as mwi.so would */
void seam_mwi_notify(struct ua *ua, const uint8_t *body, size_t len);

/** The user part of the Contact ua registers (4.x: never a GRUU) */
const char *seam_contact_user(const struct ua *ua);

/** Stop registering ua: an un-REGISTER once the REGISTER in flight, if
 * any, is answered (and only if it was registered) */
void seam_unregister(struct ua *ua);

/** A descriptor libre watches (re 4.x keeps a handle for it) */
struct seam_fd {
	int fd;                 /* -1: none */
	void *handle;
};

/** Watch fd for flags (a new fd ends the watch of the old one) */
int  seam_fd_listen(struct seam_fd *w, int fd, int flags, fd_h *h,
		    void *arg);

/** End the watch, if any */
void seam_fd_close(struct seam_fd *w);

/** The line's working server changed (0: none), for baresip's own
 * event listeners where the version has module events */
void seam_switch_event(struct ua *ua, const char *user, unsigned from,
		       unsigned to, const char *reason);

/** The user agent a dial without a choice uses, NULL if none */
struct ua *seam_current(void);

/** Make ua the one that bare dials and hangup use, where baresip can */
void seam_current_set(struct ua *ua);

/** Place a call to uri (a bare user ID too) through ua */
int  seam_connect(struct ua *ua, struct call **callp, const char *uri);

/** One of menu's commands that place a call */
struct seam_dial {
	const char *name;
	/* run menu's handler h so that it places the call through ua
	 * (NULL: as menu would by itself) */
	int (*run)(re_printf_h *h, struct re_printf *pf,
		   const struct cmd_arg *carg, struct ua *ua);
};

/** dialdir's run where menu reads carg->data (1.1.0 and later) */
int  seam_dialdir_run(re_printf_h *h, struct re_printf *pf,
		      const struct cmd_arg *carg, struct ua *ua);

/** menu's dialling commands of this version */
extern const struct seam_dial seam_dialv[];
extern const size_t seam_dialc;
