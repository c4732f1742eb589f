/**
 * @file command.c  /srvfailover status|json|disable|enable|mode
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "sfo_core.h"


static const char usage[] = "status | summary | json | disable USER PRIO |"
	" enable USER PRIO | mode USER parallel|cisco|sequential | reload";


/* The line of a user ID as typed: whole, never its first bytes */
static struct sfo_line *line_arg(struct re_printf *pf, struct list *lines,
				 const struct pl *user)
{
	struct sfo_line *line = NULL;
	char u[SFO_USER_MAX + 1];

	if (user->l && user->l < sizeof(u)) {
		pl_strcpy(user, u, sizeof(u));
		line = sfo_line_find(lines, u);
	}

	if (!line)
		(void)re_hprintf(pf, "srvfailover: no line '%H'\n",
				 sfo_quote_print, user);

	return line;
}


static int server_arg(struct re_printf *pf, struct list *lines,
		      const struct pl *user, const struct pl *prio,
		      struct sfo_server **srvp)
{
	struct sfo_line *line;

	if (!user->l || !prio->l)
		return re_hprintf(pf, "srvfailover: usage: %s\n", usage),
			EINVAL;

	line = line_arg(pf, lines, user);
	if (!line)
		return EINVAL;

	*srvp = !sfo_pl_isnum(prio) ? NULL :
		sfo_server_find(line, pl_u32(prio));
	if (!*srvp)
		return re_hprintf(pf, "srvfailover: line %s has no server"
				  " '%H'\n", line->user, sfo_quote_print,
				  prio), EINVAL;

	return 0;
}


static int activate(struct re_printf *pf, struct list *lines,
		    const struct pl *user, const struct pl *prio, bool on,
		    uint64_t now)
{
	struct sfo_server *srv;
	int err;

	err = server_arg(pf, lines, user, prio, &srv);
	if (err)
		return err;

	sfo_set_active(srv, on, now);

	return re_hprintf(pf, "srvfailover: %s server %u %s: %s\n",
			  srv->line->user, srv->prio, srv->uri,
			  sfo_state_name(srv->state));
}


static int mode(struct re_printf *pf, struct list *lines,
		const struct pl *user, const struct pl *name, uint64_t now)
{
	struct sfo_line *line;
	enum sfo_mode m;
	char buf[16];

	line = line_arg(pf, lines, user);
	if (!line)
		return EINVAL;

	if (name->l >= sizeof(buf) ||
	    (pl_strcpy(name, buf, sizeof(buf)), sfo_mode_parse(&m, buf)))
		return re_hprintf(pf, "srvfailover: unknown mode '%H'"
				  " (parallel, cisco, sequential)\n",
				  sfo_quote_print, name), EINVAL;

	sfo_set_mode(line, m, now);

	return re_hprintf(pf, "srvfailover: line %s: mode %s\n",
			  line->user, sfo_mode_name(line->mode));
}


/** The command's first word is verb ("reload": the shell's to run) */
bool sfo_command_is(const char *prm, const char *verb)
{
	struct pl w;

	return str_isset(prm) &&
		!re_regex(prm, str_len(prm), "[ ]*[^ ]+", NULL, &w) &&
		!pl_strcasecmp(&w, verb);
}


/**
 * Run one srvfailover command
 *
 * @param pf    Where the answer is printed
 * @param lines All lines
 * @param prm   The command's words after "srvfailover" (may be NULL)
 * @param now   Time in milliseconds
 *
 * @return 0 if success, EINVAL for a bad command (explained on pf)
 */
int sfo_command(struct re_printf *pf, struct list *lines, const char *prm,
		uint64_t now)
{
	struct pl verb = PL_INIT, a = PL_INIT, b = PL_INIT, extra = PL_INIT;

	if (str_isset(prm))
		(void)re_regex(prm, str_len(prm),
			       "[ ]*[^ ]*[ ]*[^ ]*[ ]*[^ ]*[ ]*[^]*",
			       NULL, &verb, NULL, &a, NULL, &b, NULL, &extra);

	if (extra.l)
		return re_hprintf(pf, "srvfailover: too many arguments"
				  " '%H'; usage: %s\n", sfo_quote_print,
				  &extra, usage), EINVAL;

	if (!verb.l || !pl_strcasecmp(&verb, "status"))
		return sfo_status_print(pf, lines, now);

	if (!pl_strcasecmp(&verb, "json"))
		return sfo_status_json(pf, lines, now);

	if (!pl_strcasecmp(&verb, "summary"))
		return sfo_status_summary(pf, lines);

	if (!pl_strcasecmp(&verb, "disable"))
		return activate(pf, lines, &a, &b, false, now);

	if (!pl_strcasecmp(&verb, "enable"))
		return activate(pf, lines, &a, &b, true, now);

	if (!pl_strcasecmp(&verb, "mode"))
		return mode(pf, lines, &a, &b, now);

	(void)re_hprintf(pf, "srvfailover: unknown command '%H'; usage: %s\n",
			 sfo_quote_print, &verb, usage);

	return EINVAL;
}
