/**
 * @file fleet.c  What a phone tells its fleet: its state and each switch
 *
 * Published on an MQTT broker by the shell (mqtt.c), read by
 * srvfailover-ctl fleet. The state is the json command's object with
 * the phone's name and "online"; the Last Will and the state of a phone
 * that quits say only {"phone":ID,"online":false}. A switch is one
 * event: the line, the server it left and the one it went to (their
 * priorities, or null for none) and why.
 */
#include <string.h>
#include <re.h>
#include "sfo_core.h"


/** PREFIX/ID/state: the phone's whole state, or that it is offline */
int sfo_fleet_state_json(struct re_printf *pf, const struct list *lines,
			 const char *phone, bool online, uint64_t now)
{
	struct odict *o = NULL;
	int err;

	err = online ? sfo_status_odict(&o, lines, now) : odict_alloc(&o, 4);
	if (err)
		return err;

	err  = odict_entry_add(o, "phone", ODICT_STRING, phone);
	err |= odict_entry_add(o, "online", ODICT_BOOL, online);
	if (!err)
		err = json_encode_odict(pf, o);

	mem_deref(o);

	return err;
}


static int prio_add(struct odict *o, const char *key, unsigned prio)
{
	return prio ? odict_entry_add(o, key, ODICT_INT, (int64_t)prio) :
		odict_entry_add(o, key, ODICT_NULL);
}


/** PREFIX/ID/event: the line went from server `from` to `to` (0: none) */
int sfo_fleet_event_json(struct re_printf *pf, const char *phone,
			 const struct sfo_line *line, unsigned from,
			 unsigned to)
{
	struct odict *o = NULL;
	int err;

	err = odict_alloc(&o, 8);
	if (err)
		return err;

	err  = odict_entry_add(o, "phone", ODICT_STRING, phone);
	err |= odict_entry_add(o, "user", ODICT_STRING, line->user);
	err |= prio_add(o, "from", from);
	err |= prio_add(o, "to", to);
	err |= odict_entry_add(o, "reason", ODICT_STRING, line->reason);
	err |= odict_entry_add(o, "failovers", ODICT_INT,
			       (int64_t)line->failovers);
	err |= odict_entry_add(o, "failbacks", ODICT_INT,
			       (int64_t)line->failbacks);
	if (!err)
		err = json_encode_odict(pf, o);

	mem_deref(o);

	return err;
}


/**
 * srvfailover_mqtt_broker: HOST, HOST:PORT, [IPv6] or [IPv6]:PORT; the
 * port 1883, or 8883 with TLS, when not given
 */
int sfo_fleet_broker_parse(char *host, size_t size, uint16_t *port,
			   const char *val, bool tls)
{
	struct pl v, h, p = PL_INIT;
	const char *colon;

	pl_set_str(&v, val ? val : "");
	if (!v.l)
		return EINVAL;

	if (v.p[0] == '[') {
		const char *rb = pl_strchr(&v, ']');

		if (!rb)
			return EINVAL;
		h.p = v.p + 1;
		h.l = (size_t)(rb - h.p);
		p.p = rb + 1;
		p.l = v.l - (size_t)(p.p - v.p);
		if (p.l && p.p[0] != ':')
			return EINVAL;
	}
	else {
		colon = pl_strchr(&v, ':');
		h.p = v.p;
		h.l = colon ? (size_t)(colon - v.p) : v.l;
		p.p = colon ? colon : v.p + v.l;
		p.l = colon ? v.l - h.l : 0;
		if (colon && memchr(colon + 1, ':', p.l - 1))
			return EINVAL;
	}

	if (!h.l || h.l >= size || pl_strchr(&h, ' '))
		return EINVAL;

	*port = tls ? 8883 : 1883;
	if (p.l) {
		pl_advance(&p, 1);
		if (!sfo_pl_isnum(&p) || !pl_u32(&p) || pl_u32(&p) > 65535)
			return EINVAL;
		*port = (uint16_t)pl_u32(&p);
	}

	return pl_strcpy(&h, host, size);
}


/** A topic level the phone writes: not empty, no wildcard, no '/'
 * (prefix: '/' allowed between its own levels) */
bool sfo_fleet_topic_ok(const char *s, bool prefix)
{
	size_t i, n = str_len(s);

	if (!n || n > 128 || (prefix && (s[0] == '/' || s[n - 1] == '/')))
		return false;

	for (i = 0; i < n; i++) {
		if (s[i] == '+' || s[i] == '#' || (uint8_t)s[i] < 0x20 ||
		    (!prefix && s[i] == '/'))
			return false;
	}

	return true;
}
