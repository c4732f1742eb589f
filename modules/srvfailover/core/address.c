/**
 * @file address.c  One text line of the srvfailover file, checked before
 *                  libre decodes it
 *
 * The line is written like a line of baresip's accounts:
 *
 *   ["Display Name"] <sip:USER@HOST[:PORT][;uri-params]>[;params]
 *
 * libre's decoders accept more than the module can serve (tel: and sips:
 * URIs, IPv6 addresses without brackets, ports above 65535, the rest of
 * the line as parameters), and a line that cannot be read may hold a
 * password anywhere. So: every problem is named here by what it is, and
 * no error ever quotes the line; values are quoted through
 * sfo_quote_print() only, shortened and escaped.
 */
#include <string.h>
#include <strings.h>
#include <re.h>
#include "sfo_core.h"


enum {
	QUOTE_MAX = 40,            /* bytes of a value shown in an error */
};


/* Where a password may start in a value that swallowed the next
 * parameter ("600auth_pass=x", a ';' missing): after "pass" */
static size_t secret_at(const struct pl *pl)
{
	size_t i;

	for (i = 0; i + 4 <= pl->l; i++) {
		if (!strncasecmp(pl->p + i, "pass", 4))
			return i + 4;
	}

	return pl->l;
}


/**
 * Print untrusted text: printable ASCII as it is, any other byte as
 * \xNN, at most QUOTE_MAX bytes and never past "pass", then "..."
 *
 * @param pf   Where to print
 * @param arg  The text (const struct pl *)
 *
 * @return 0 if success, otherwise errorcode
 */
int sfo_quote_print(struct re_printf *pf, void *arg)
{
	const struct pl *pl = arg;
	size_t i, n = pl ? min(secret_at(pl), (size_t)QUOTE_MAX) : 0;
	int err = 0;

	for (i = 0; i < n && !err; i++) {
		uint8_t b = (uint8_t)pl->p[i];

		if (b < 0x20 || b >= 0x7f || b == '\\')
			err = re_hprintf(pf, "\\x%02x", b);
		else
			err = re_hprintf(pf, "%c", b);
	}

	if (!err && pl && pl->l > n)
		err = re_hprintf(pf, "...");

	return err;
}


/* Length of the UTF-8 sequence at p (at most l bytes), 0 if invalid */
static size_t utf8_len(const uint8_t *p, size_t l)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	else if ((p[0] & 0xe0) == 0xc0)
		n = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;

	if (n > l)
		return 0;

	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}

	/* overlong forms, UTF-16 surrogates, beyond Unicode */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp > 0x10ffff)
		return 0;

	return n;
}


/**
 * Is this text usable as a line's user ID everywhere: the console and
 * ctrl_tcp split words at spaces, JSON must be valid UTF-8, and names
 * are never cut
 *
 * @param user The user ID
 * @param why  The reason when it is not
 *
 * @return true if it is
 */
bool sfo_user_valid(const struct pl *user, const char **why)
{
	const uint8_t *p = (const uint8_t *)user->p;
	size_t i = 0, n;

	if (!user->l)
		return *why = "no user ID", false;

	if (user->l > SFO_USER_MAX)
		return *why = "user ID longer than 63 bytes", false;

	while (i < user->l) {
		if (p[i] <= 0x20 || p[i] == 0x7f || p[i] == '"' ||
		    p[i] == '\\')
			return *why = "user ID with a space, quote or"
				" control character", false;

		n = utf8_len(p + i, user->l - i);
		if (!n)
			return *why = "user ID is not valid UTF-8", false;
		i += n;
	}

	return true;
}


/* A name or an IPv4 address; inside brackets an IPv6 address */
static bool host_chars(const char *p, size_t l, bool v6)
{
	size_t i;

	for (i = 0; i < l; i++) {
		char ch = p[i];

		if ((ch >= '0' && ch <= '9') || ch == '.' ||
		    (v6 && (ch == ':' || (ch >= 'a' && ch <= 'f') ||
			    (ch >= 'A' && ch <= 'F'))))
			continue;

		if (!v6 && ((ch >= 'a' && ch <= 'z') ||
			    (ch >= 'A' && ch <= 'Z') || ch == '-' ||
			    ch == '_'))
			continue;

		return false;
	}

	return l > 0;
}


/**
 * Split "host[:port]" or "[v6][:port]": the host without brackets, and
 * what follows it (":port", or empty)
 *
 * @return NULL, or what is wrong with the brackets or colons
 */
const char *sfo_hostport_split(const struct pl *hp, struct pl *host,
			       struct pl *port)
{
	const char *c;

	if (hp->l && hp->p[0] == '[') {
		c = pl_strchr(hp, ']');
		if (!c || c == hp->p + 1)
			return "IPv6 address without its closing ']'";
		host->p = hp->p + 1;
		host->l = (size_t)(c - host->p);
		port->p = c + 1;
	}
	else {
		c = pl_strchr(hp, ':');
		host->p = hp->p;
		host->l = c ? (size_t)(c - hp->p) : hp->l;
		port->p = hp->p + host->l;
		if (c && memchr(c + 1, ':', hp->l - host->l - 1))
			return "IPv6 address without brackets: write"
				" [ADDRESS]";
	}

	port->l = hp->l - (size_t)(port->p - hp->p);

	return NULL;
}


/* host[:port] or [v6][:port]: the port, if any, 1..65535 */
static const char *hostport_check(const struct pl *hp)
{
	bool v6 = hp->l && hp->p[0] == '[';
	struct pl host, port;
	const char *why;
	size_t i;

	if (!hp->l)
		return "no host";

	why = sfo_hostport_split(hp, &host, &port);
	if (why)
		return why;

	if (!host_chars(host.p, host.l, v6))
		return v6 ? "not an IPv6 address inside the brackets" :
			"the host is not a name or an address";

	if (!port.l)
		return NULL;

	if (port.p[0] != ':' || port.l < 2 || port.l > 6)
		return "port out of range 1..65535";

	for (i = 1; i < port.l; i++) {
		if (port.p[i] < '0' || port.p[i] > '9')
			return "port out of range 1..65535";
	}

	pl_advance(&port, 1);
	if (!pl_u32(&port) || pl_u32(&port) > 65535)
		return "port out of range 1..65535";

	return NULL;
}


/* sip:USER@HOSTPORT[;params]: the scheme and the host part */
static const char *uri_check(const struct pl *uri)
{
	struct pl hp;
	const char *at, *end;

	if (uri->l >= 5 && !strncasecmp(uri->p, "sips:", 5))
		return "sips: URIs are not supported; write"
			" <sip:...;transport=tls>";

	if (uri->l < 4 || strncasecmp(uri->p, "sip:", 4))
		return "not a sip: URI (tel: and others are not supported)";

	at = pl_strchr(uri, '@');
	if (!at)
		return "no user ID (write <sip:USER@HOST>)";

	if (memchr(uri->p + 4, ':', (size_t)(at - uri->p) - 4))
		return "a password in the URI (write it as ;auth_pass=)";

	hp.p = at + 1;
	hp.l = uri->l - (size_t)(hp.p - uri->p);
	for (end = hp.p; end < hp.p + hp.l; end++) {
		if (*end == ';' || *end == '?')
			break;
	}
	hp.l = (size_t)(end - hp.p);

	return hostport_check(&hp);
}


/* After the '>': ;name=value pairs, quotes closed, no second address */
static const char *params_check(const struct pl *params)
{
	bool quoted = false;
	size_t i;

	for (i = 0; i < params->l; i++) {
		char ch = params->p[i];

		if (ch == '"')
			quoted = !quoted;
		else if (!quoted && (ch == '<' || ch == '>'))
			return "several addresses on one line (one server"
				" per line)";
	}

	if (quoted)
		return "a quoted parameter value is not closed";

	if (params->l && params->p[0] != ';')
		return "text after the address that is not a ;parameter";

	return NULL;
}


/**
 * Check one server line before decoding it
 *
 * @param text The line, trimmed
 * @param why  The reason when it cannot be served
 *
 * @return 0 if it may be decoded, EINVAL if not (why set)
 */
int sfo_address_check(const struct pl *text, const char **why)
{
	const char *lt = pl_strchr(text, '<'), *gt, *p;
	struct pl uri, params;

	/* the display name: a NUL there would end the account's text for
	 * baresip, and the line would silently be nothing */
	for (p = text->p; p < (lt ? lt : text->p + text->l); p++) {
		if ((uint8_t)*p < 0x20 && *p != '\t') {
			*why = "a control character before the address";
			return EINVAL;
		}
	}

	if (!lt) {
		*why = "no <...> around the address (write"
			" <sip:USER@HOST>;params, as in baresip's accounts)";
		return EINVAL;
	}

	uri.p = lt + 1;
	uri.l = text->l - (size_t)(uri.p - text->p);
	gt = pl_strchr(&uri, '>');
	if (!gt) {
		*why = "no '>' closing the address";
		return EINVAL;
	}

	uri.l = (size_t)(gt - uri.p);
	params.p = gt + 1;
	params.l = text->l - (size_t)(params.p - text->p);

	*why = uri_check(&uri);
	if (!*why)
		*why = params_check(&params);

	return *why ? EINVAL : 0;
}
