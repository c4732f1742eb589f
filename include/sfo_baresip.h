/**
 * @file sfo_baresip.h  The parts of the baresip API srvfailover uses
 *
 * Debian ships no baresip.h. These declarations are ours, kept minimal,
 * and test/check_symbols.sh checks every function below against the
 * symbols /usr/bin/baresip exports (4.x: libbaresip.so). What is here is
 * the same in baresip 1.0.0 (bookworm), 1.1.0 (trixie) and 4.10.0
 * (upstream); what differs is in include/baresip-VERSION/sfo_baresip_ver.h,
 * picked by the Makefile (what only the two Debian ones have:
 * sfo_baresip_1x.h).
 * Only the shell and the seam (modules/srvfailover/shell, seam) include
 * this file.
 */

struct ua;
struct call;
struct account;
struct commands;
struct ui_sub;
struct sip_msg;
struct conf;
struct network;


/* enum ua_event and what differs: one header per baresip version */
#include "sfo_baresip_ver.h"

enum call_state {
	CALL_STATE_IDLE = 0,
	CALL_STATE_INCOMING,
	CALL_STATE_OUTGOING,
	CALL_STATE_RINGING,
	CALL_STATE_EARLY,
	CALL_STATE_ESTABLISHED,
	CALL_STATE_TERMINATED,
	CALL_STATE_UNKNOWN,
};

enum vidmode {
	VIDMODE_OFF = 0,
	VIDMODE_ON = 1,
};

typedef void (options_resp_h)(int err, const struct sip_msg *msg,
			      void *arg);

int  ua_alloc(struct ua **uap, const char *aor);
int  ua_connect(struct ua *ua, struct call **callp,
		const char *from_uri, const char *req_uri,
		enum vidmode vmode);
void ua_hangup(struct ua *ua, struct call *call,
	       uint16_t scode, const char *reason);
int  ua_update_account(struct ua *ua);
int  ua_register(struct ua *ua);
unsigned ua_destroy(struct ua *ua);
struct account *ua_account(const struct ua *ua);
const char *account_aor(const struct account *acc);
struct list *ua_calls(const struct ua *ua);
int  ua_options_send(struct ua *ua, const char *uri,
		     options_resp_h *resph, void *arg);
struct list *uag_list(void);
int  account_set_regint(struct account *acc, uint32_t regint);
struct sip *uag_sip(void);
struct network *baresip_network(void);
struct dnsc *net_dnsc(const struct network *net);

/* Voicemail: the module subscribes as mwi.so would (shell/mwi.c) */
const char *ua_cuser(const struct ua *ua);
const char *ua_outbound(const struct ua *ua);
struct sipevent_sock *uag_sipevent_sock(void);
int  account_auth(const struct account *acc, char **username,
		  char **password, const char *realm);

/* contact.so's current contact, and a MESSAGE (shell/message.c) */
struct contact;
struct contacts;
struct contacts *baresip_contacts(void);
struct contact *contacts_current(const struct contacts *contacts);
const char *contact_uri(const struct contact *c);
int  message_send(struct ua *ua, const char *peer, const char *msg,
		  sip_resp_h *resph, void *arg);

/* presence.so's contacts and status (shell/presence.c) */
enum presence_status {
	PRESENCE_UNKNOWN = 0,
	PRESENCE_OPEN,
	PRESENCE_CLOSED,
	PRESENCE_BUSY,
};

struct list *contact_list(const struct contacts *contacts);
struct sip_addr *contact_addr(const struct contact *c);
const char *contact_str(const struct contact *c);
int  contact_add(struct contacts *contacts, struct contact **contactp,
		 const struct pl *addr);
void contact_remove(struct contacts *contacts, struct contact *c);
void contacts_set_current(struct contacts *contacts, struct contact *cnt);
void contact_set_presence(struct contact *c, enum presence_status status);
const char *contact_presence_str(enum presence_status status);
enum presence_status ua_presence_status(const struct ua *ua);
void ua_presence_status_set(struct ua *ua,
			    const enum presence_status status);
int  sip_req_send(struct ua *ua, const char *method, const char *uri,
		  sip_resp_h *resph, void *arg, const char *fmt, ...);

const char *call_id(const struct call *call);
const char *call_peeruri(const struct call *call);
uint16_t call_scode(const struct call *call);
enum call_state call_state(const struct call *call);


/* Commands */
enum {
	CMD_PRM = (1<<0),
};

struct cmd_arg {
	char key;
	char *prm;
	void *data;
};

struct cmd {
	const char *name;
	char key;
	int flags;
	const char *desc;
	re_printf_h *h;
};

/* baresip 1.0.0's block of registered commands (src/cmd.c) */
struct cmds {
	struct le le;
	const struct cmd *cmdv;
	size_t cmdc;
};

int  cmd_register(struct commands *commands,
		  const struct cmd *cmdv, size_t cmdc);
void cmd_unregister(struct commands *commands, const struct cmd *cmdv);
struct commands *baresip_commands(void);
const struct cmd *cmd_find_long(const struct commands *commands,
				const char *name);
struct cmds *cmds_find(const struct commands *commands,
		       const struct cmd *cmdv);


/* Output, configuration and log */
void ui_output(struct ui_sub *uis, const char *fmt, ...);
struct ui_sub *baresip_uis(void);
int  conf_path_get(char *path, size_t sz);
struct conf *conf_cur(void);
