/**
 * @file seam.h  What differs between baresip 1.0.0 and 1.1.0, behind one
 *               interface
 *
 * baresip-1.0.0.c (Debian bookworm) and baresip-1.1.0.c (trixie) each
 * implement it; the Makefile compiles the one for the baresip it builds
 * for, with that version's include/baresip-VERSION/sfo_baresip_ver.h.
 * The rest of the shell does not know which one runs.
 */

/** The baresip version this build is for, e.g. "1.0.0" */
extern const char seam_version[];

/** True when the running baresip has this version's own functions */
bool seam_symbols(void);

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

/** menu's dialling commands of this version */
extern const struct seam_dial seam_dialv[];
extern const size_t seam_dialc;
