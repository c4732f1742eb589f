/**
 * @file mqtt.c  The phone's state on an MQTT broker, for its fleet
 *
 * With srvfailover_mqtt_broker set in baresip's config, the module
 * publishes, retained, on PREFIX/ID/state what core/fleet.c writes: at
 * each (re)connection and after every change (a state change or switch
 * reported, gathered per turn of the main loop); each switch also as
 * one message on PREFIX/ID/event. Its Last Will, retained on the state
 * topic, says the phone is offline, and so does the phone when baresip
 * quits. It reconnects by itself with back-off (the broker down at
 * start, restarted, a duplicate id); the phone works on meanwhile.
 *
 * libmosquitto (baresip-core depends on libmosquitto1 in both suites)
 * is opened when MQTT is configured, not linked: the module loads
 * where it is absent, and needs no development package to build. Its
 * socket is in libre's main loop; no thread.
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"
#include "seam.h"


enum {
	KEEPALIVE = 30,          /* s, MQTT keep-alive                   */
	TICK_MS = 1000,          /* libmosquitto's housekeeping          */
	GATHER_MS = 20,          /* changes of one burst, one message    */
	RETRY_MAX = 30,          /* s, longest wait between attempts     */
	CONNECT_MS = 10000,      /* an attempt without CONNACK fails     */
	ERR_NO_CONN = 4,         /* libmosquitto's MOSQ_ERR_NO_CONN      */
	ERR_ERRNO = 14,          /* MOSQ_ERR_ERRNO: errno says           */
	QOS = 1,
};

struct mosquitto;

/* The libmosquitto functions used (its API of 1.x and 2.x) */
static struct {
	int (*lib_init)(void);
	struct mosquitto *(*new_)(const char *id, bool clean, void *obj);
	void (*destroy)(struct mosquitto *m);
	int (*username_pw_set)(struct mosquitto *m, const char *user,
			       const char *pw);
	int (*will_set)(struct mosquitto *m, const char *topic, int len,
			const void *payload, int qos, bool retain);
	int (*tls_set)(struct mosquitto *m, const char *cafile,
		       const char *capath, const char *certfile,
		       const char *keyfile,
		       int (*pw_cb)(char *buf, int size, int rw, void *u));
	int (*connect_async)(struct mosquitto *m, const char *host,
			     int port, int keepalive);
	int (*disconnect)(struct mosquitto *m);
	int (*publish)(struct mosquitto *m, int *mid, const char *topic,
		       int len, const void *payload, int qos, bool retain);
	int (*socket)(struct mosquitto *m);
	int (*loop_read)(struct mosquitto *m, int max_packets);
	int (*loop_write)(struct mosquitto *m, int max_packets);
	int (*loop_misc)(struct mosquitto *m);
	bool (*want_write)(struct mosquitto *m);
	void (*connect_callback_set)(struct mosquitto *m,
				     void (*cb)(struct mosquitto *, void *,
						int));
	void (*disconnect_callback_set)(struct mosquitto *m,
					void (*cb)(struct mosquitto *, void *,
						   int));
	const char *(*strerror)(int err);
	const char *(*connack_string)(int code);
} mo;

static struct {
	void *lib;
	struct mosquitto *m;
	char host[256];
	uint16_t port;
	char id[129];
	char state_topic[300];
	char event_topic[300];
	struct seam_fd watch;    /* the socket libre watches             */
	bool connected;
	uint64_t attempt_at;     /* the attempt under way began          */
	bool down_said;          /* "not connected" logged this outage   */
	unsigned fails;
	struct tmr tick;         /* housekeeping, and the next attempt   */
	struct tmr gather;
} mq = {.watch = {.fd = -1}};


static const char *key_broker = "srvfailover_mqtt_broker";


/* What went wrong, in words */
static const char *why(int err)
{
	return err == ERR_ERRNO ? strerror(errno) : mo.strerror(err);
}


static int conf_str(const char *key, char *buf, size_t size)
{
	buf[0] = '\0';

	return conf_get_str(conf_cur(), key, buf, size);
}


static int sym(void **fp, const char *name)
{
	*fp = dlsym(mq.lib, name);

	return *fp ? 0 : ENOENT;
}


/* libmosquitto opened, its functions found */
static int lib_open(void)
{
	int err = 0;

	mq.lib = dlopen("libmosquitto.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!mq.lib)
		return ENOENT;

	err |= sym((void **)&mo.lib_init, "mosquitto_lib_init");
	err |= sym((void **)&mo.new_, "mosquitto_new");
	err |= sym((void **)&mo.destroy, "mosquitto_destroy");
	err |= sym((void **)&mo.username_pw_set,
		   "mosquitto_username_pw_set");
	err |= sym((void **)&mo.will_set, "mosquitto_will_set");
	err |= sym((void **)&mo.tls_set, "mosquitto_tls_set");
	err |= sym((void **)&mo.connect_async, "mosquitto_connect_async");
	err |= sym((void **)&mo.disconnect, "mosquitto_disconnect");
	err |= sym((void **)&mo.publish, "mosquitto_publish");
	err |= sym((void **)&mo.socket, "mosquitto_socket");
	err |= sym((void **)&mo.loop_read, "mosquitto_loop_read");
	err |= sym((void **)&mo.loop_write, "mosquitto_loop_write");
	err |= sym((void **)&mo.loop_misc, "mosquitto_loop_misc");
	err |= sym((void **)&mo.want_write, "mosquitto_want_write");
	err |= sym((void **)&mo.connect_callback_set,
		   "mosquitto_connect_callback_set");
	err |= sym((void **)&mo.disconnect_callback_set,
		   "mosquitto_disconnect_callback_set");
	err |= sym((void **)&mo.strerror, "mosquitto_strerror");
	err |= sym((void **)&mo.connack_string, "mosquitto_connack_string");

	return err ? ENOENT : 0;
}


static void publish(const char *topic, bool retain,
		    int (*print)(struct re_printf *pf, void *arg), void *arg)
{
	struct mbuf *mb = mbuf_alloc(2048);
	struct re_printf pf = {shell_print_mbuf, mb};
	int err;

	if (!mb)
		return;

	err = print(&pf, arg);
	if (!err)
		err = mo.publish(mq.m, NULL, topic, (int)mb->end, mb->buf,
				 QOS, retain);
	if (err)
		warning("srvfailover: MQTT: %s not published: %s\n", topic,
			why(err));

	mem_deref(mb);
}


static int state_print(struct re_printf *pf, void *arg)
{
	bool online = arg != NULL;

	return sfo_fleet_state_json(pf, shell_lines(), mq.id, online,
				    shell_now());
}


static void watch(void);


static void state_publish(void)
{
	if (!mq.connected)
		return;

	publish(mq.state_topic, true, state_print, (void *)1);
	watch();
}


static void io_handler(int flags, void *arg);


/* libre watches the socket: reads always, writes while some wait */
static void watch(void)
{
	int fd = mq.m ? mo.socket(mq.m) : -1;
	int flags = FD_READ;

	if (fd < 0) {
		seam_fd_close(&mq.watch);
		return;
	}

	if (mo.want_write(mq.m))
		flags |= FD_WRITE;

	(void)seam_fd_listen(&mq.watch, fd, flags, io_handler, NULL);
}


static void attempt(void *arg);
static void tick(void *arg);


/* The next attempt, 1 2 4 ... 30 s after a failure (a random 50-100 %
 * of it, so that a site's phones do not come back in one second) */
static void retry_later(void)
{
	uint32_t secs = mq.fails < 5 ? 1u << mq.fails : RETRY_MAX;
	uint64_t ms;

	if (secs > RETRY_MAX)
		secs = RETRY_MAX;
	ms = (uint64_t)secs * 500 + rand_u32() % (secs * 500 + 1);
	++mq.fails;
	tmr_start(&mq.tick, ms, attempt, NULL);
}


static void lost(const char *why)
{
	mq.connected = false;
	seam_fd_close(&mq.watch);

	if (!mq.down_said)
		warning("srvfailover: MQTT: %s:%u: %s; trying again\n",
			mq.host, mq.port, why);
	mq.down_said = true;

	retry_later();
}


static void io_handler(int flags, void *arg)
{
	int err = 0;
	(void)arg;

	if (flags & FD_READ)
		err = mo.loop_read(mq.m, 1);
	if (!err && (flags & FD_WRITE))
		err = mo.loop_write(mq.m, 1);

	if (err) {
		lost(why(err));
		return;
	}

	watch();
}


static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	(void)m;
	(void)obj;

	if (rc) {
		lost(mo.connack_string(rc));
		return;
	}

	mq.connected = true;
	mq.fails = 0;
	mq.down_said = false;
	info("srvfailover: MQTT: connected to %s:%u as %s\n", mq.host,
	     mq.port, mq.id);
	state_publish();
	tmr_start(&mq.tick, TICK_MS, tick, NULL);
}


static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	(void)m;
	(void)obj;

	if (rc && mq.connected)
		lost("connection lost");
}


static void tick(void *arg)
{
	int err;
	(void)arg;

	err = mo.loop_misc(mq.m);
	if (err && err != ERR_NO_CONN) {
		lost(why(err));
		return;
	}

	if (!mq.connected && shell_now() > mq.attempt_at + CONNECT_MS) {
		lost("no answer to CONNECT");
		return;
	}

	watch();
	tmr_start(&mq.tick, TICK_MS, tick, NULL);
}


static void attempt(void *arg)
{
	int err;
	(void)arg;

	mq.attempt_at = shell_now();
	err = mo.connect_async(mq.m, mq.host, mq.port, KEEPALIVE);
	if (err) {
		lost(why(err));
		return;
	}

	watch();
	tmr_start(&mq.tick, TICK_MS, tick, NULL);
}


static int will_print(struct re_printf *pf, void *arg)
{
	(void)arg;

	return sfo_fleet_state_json(pf, shell_lines(), mq.id, false, 0);
}


/* The Last Will, the account and TLS of the connection */
static int client_setup(const char *user, const char *pw,
			const char *cafile)
{
	struct mbuf *mb = mbuf_alloc(128);
	struct re_printf pf = {shell_print_mbuf, mb};
	int err;

	if (!mb)
		return ENOMEM;

	err = will_print(&pf, NULL);
	if (!err)
		err = mo.will_set(mq.m, mq.state_topic, (int)mb->end, mb->buf,
				  QOS, true);
	mem_deref(mb);

	if (!err && str_isset(user))
		err = mo.username_pw_set(mq.m, user, pw[0] ? pw : NULL);
	if (!err && str_isset(cafile))
		err = mo.tls_set(mq.m, cafile, NULL, NULL, NULL, NULL);

	mo.connect_callback_set(mq.m, on_connect);
	mo.disconnect_callback_set(mq.m, on_disconnect);

	return err;
}


static int settings(char *prefix, size_t size, char *cafile,
		    size_t casize)
{
	char val[300];

	(void)conf_str("srvfailover_mqtt_cafile", cafile, casize);
	(void)conf_str(key_broker, val, sizeof(val));
	if (sfo_fleet_broker_parse(mq.host, sizeof(mq.host), &mq.port, val,
				   cafile[0] != '\0')) {
		warning("srvfailover: %s: '%s' is not HOST[:PORT]; no MQTT\n",
			key_broker, val);
		return EINVAL;
	}

	if (conf_str("srvfailover_mqtt_id", mq.id, sizeof(mq.id)) &&
	    gethostname(mq.id, sizeof(mq.id) - 1))
		str_ncpy(mq.id, "baresip", sizeof(mq.id));
	if (conf_str("srvfailover_mqtt_topic", prefix, size))
		str_ncpy(prefix, "srvfailover", size);

	if (!sfo_fleet_topic_ok(mq.id, false) ||
	    !sfo_fleet_topic_ok(prefix, true)) {
		warning("srvfailover: srvfailover_mqtt_id '%s' or"
			" srvfailover_mqtt_topic '%s' is not a topic (no"
			" '+', '#', control characters; the id no '/');"
			" no MQTT\n", mq.id, prefix);
		return EINVAL;
	}

	re_snprintf(mq.state_topic, sizeof(mq.state_topic), "%s/%s/state",
		    prefix, mq.id);
	re_snprintf(mq.event_topic, sizeof(mq.event_topic), "%s/%s/event",
		    prefix, mq.id);

	return 0;
}


/** MQTT, when srvfailover_mqtt_broker is set: the first attempt */
int mqtt_init(void)
{
	char prefix[129], cafile[256], user[128], pw[128];
	int err;

	tmr_init(&mq.tick);
	tmr_init(&mq.gather);
	mq.watch.fd = -1;

	if (!conf_cur() || conf_str(key_broker, prefix, sizeof(prefix)))
		return 0;

	if (settings(prefix, sizeof(prefix), cafile, sizeof(cafile)))
		return 0;

	if (lib_open()) {
		warning("srvfailover: MQTT: libmosquitto.so.1 not found"
			" (Debian: libmosquitto1); no MQTT\n");
		return 0;
	}

	(void)conf_str("srvfailover_mqtt_user", user, sizeof(user));
	(void)conf_str("srvfailover_mqtt_password", pw, sizeof(pw));

	mo.lib_init();
	mq.m = mo.new_(mq.id, true, NULL);
	err = mq.m ? client_setup(user, pw, cafile) : ENOMEM;
	memset(pw, 0, sizeof(pw));
	if (err) {
		warning("srvfailover: MQTT: cannot set up the client: %s;"
			" no MQTT\n", why(err));
		mqtt_close();
		return 0;
	}

	info("srvfailover: MQTT: %s:%u, topics %s and %s\n", mq.host,
	     mq.port, mq.state_topic, mq.event_topic);
	tmr_start(&mq.tick, 0, attempt, NULL);

	return 0;
}


static void gather_handler(void *arg)
{
	(void)arg;
	state_publish();
}


/** Something a line shows changed: the state again, once per burst */
void mqtt_changed(void)
{
	if (mq.m)
		tmr_start(&mq.gather, GATHER_MS, gather_handler, NULL);
}


struct event {
	const struct sfo_line *line;
	unsigned from, to;
};


static int event_print(struct re_printf *pf, void *arg)
{
	const struct event *e = arg;

	return sfo_fleet_event_json(pf, mq.id, e->line, e->from, e->to);
}


/** The line went from server `from` to `to` (0: none): one event */
void mqtt_switched(const struct sfo_line *line, unsigned from,
		   unsigned to)
{
	struct event e = {line, from, to};

	if (mq.connected) {
		publish(mq.event_topic, false, event_print, &e);
		watch();
	}

	mqtt_changed();
}


/** baresip quits: offline, said before the connection closes */
void mqtt_stop(void)
{
	int i;

	if (!mq.m || !mq.connected)
		return;

	publish(mq.state_topic, true, state_print, NULL);
	for (i = 0; i < 10 && mo.want_write(mq.m); i++)
		if (mo.loop_write(mq.m, 1))
			break;
	(void)mo.disconnect(mq.m);
	(void)mo.loop_write(mq.m, 1);
	mq.connected = false;
}


void mqtt_close(void)
{
	tmr_cancel(&mq.tick);
	tmr_cancel(&mq.gather);
	seam_fd_close(&mq.watch);
	if (mq.m)
		mo.destroy(mq.m);
	mq.m = NULL;
	mq.connected = false;
}
