/**
 * @file presence.c  Presence: what a contact's PIDF document says, and
 *                   where the phone's own presence is published
 *
 * The contacts' subscriptions and the phone's PUBLISH follow the working
 * server (the shell's presence.c moves them). A document is read as
 * baresip's presence.so reads it, so that a contact shows the same
 * whether the module or presence.so holds its subscription: <basic>open
 * is open, anything else closed; an activity "away" is closed, "busy"
 * or "on-the-phone" busy (RFC 3863, RFC 4480).
 */
#include <string.h>
#include <re.h>
#include "sfo_core.h"


/* The local name of an element: "rpid:busy" -> "busy" */
static void local_name(struct pl *name)
{
	const char *colon = pl_strchr(name, ':');

	if (colon)
		pl_advance(name, (size_t)(colon + 1 - name->p));
}


/* The next element's name at or after *rest; *rest moves past its '<' */
static bool next_element(struct pl *name, struct pl *rest)
{
	const char *lt;
	size_t n = 0;

	while ((lt = pl_strchr(rest, '<'))) {
		pl_advance(rest, (size_t)(lt + 1 - rest->p));

		/* no closing tags, declarations or comments */
		if (!rest->l || strchr("/?!", rest->p[0]))
			continue;

		while (n < rest->l && !strchr(" \t\r\n/>", rest->p[n]))
			++n;

		name->p = rest->p;
		name->l = n;
		local_name(name);

		return true;
	}

	return false;
}


/* The text of the element whose start tag *rest is in */
static bool element_text(struct pl *text, const struct pl *rest)
{
	const char *gt = pl_strchr(rest, '>');
	struct pl after;
	const char *lt;

	if (!gt)
		return false;

	after.p = gt + 1;
	after.l = rest->l - (size_t)(after.p - rest->p);
	lt = pl_strchr(&after, '<');
	if (!lt)
		return false;

	text->p = after.p;
	text->l = (size_t)(lt - after.p);

	while (text->l && strchr(" \t\r\n", text->p[0]))
		pl_advance(text, 1);
	while (text->l && strchr(" \t\r\n", text->p[text->l - 1]))
		--text->l;

	return true;
}


/**
 * Read an application/pidf+xml document: open, closed or busy. An
 * empty body (a subscription without state yet) is unknown. A document
 * that is too large or has no <basic> status leaves *st alone; *why
 * says what.
 */
int sfo_pidf_parse(enum sfo_presence *st, const struct pl *body,
		   const char **why)
{
	enum sfo_presence s = SFO_PRES_CLOSED, activity = SFO_PRES_UNKNOWN;
	struct pl rest = *body, name, text;
	bool basic = false;

	if (!body->l) {
		*st = SFO_PRES_UNKNOWN;
		return 0;
	}

	if (body->l > SFO_PIDF_MAX) {
		*why = "larger than 16384 bytes";
		return EOVERFLOW;
	}

	while (next_element(&name, &rest)) {

		if (!pl_strcmp(&name, "basic")) {
			if (!element_text(&text, &rest))
				break;
			basic = true;
			if (!pl_strcasecmp(&text, "open"))
				s = SFO_PRES_OPEN;
		}
		else if (!pl_strcmp(&name, "away")) {
			activity = SFO_PRES_CLOSED;
		}
		else if ((!pl_strcmp(&name, "busy") ||
			  !pl_strcmp(&name, "on-the-phone")) &&
			 activity == SFO_PRES_UNKNOWN) {
			activity = SFO_PRES_BUSY;
		}
	}

	if (!basic) {
		*why = "no <basic> status";
		return EBADMSG;
	}

	*st = activity != SFO_PRES_UNKNOWN ? activity : s;

	return 0;
}


/**
 * The server that should hold the phone's own presence for the line:
 * the working one, when it says pubint (the account parameter). NULL:
 * none, nothing is published.
 */
struct sfo_server *sfo_publish_server(const struct sfo_line *line)
{
	struct sfo_server *w = line->working;

	return w && w->pubint ? w : NULL;
}


/** srv holds the phone's presence for the line now (NULL: none does) */
void sfo_published(struct sfo_line *line, const struct sfo_server *srv)
{
	line->published = srv ? srv->prio : 0;
}


/** "Online (server 2)", "none" while nothing is published */
int sfo_presence_print(struct re_printf *pf, const struct sfo_line *line)
{
	if (!line->published)
		return re_hprintf(pf, "none");

	return re_hprintf(pf, "%s (server %u)",
			  sfo_presence_name(line->presence), line->published);
}


/** baresip's names for a presence status, as its contacts list shows
 * them (there, in colour) */
const char *sfo_presence_name(enum sfo_presence st)
{
	switch (st) {

	case SFO_PRES_OPEN:   return "Online";
	case SFO_PRES_CLOSED: return "Offline";
	case SFO_PRES_BUSY:   return "Busy";
	default:              return "Unknown";
	}
}
