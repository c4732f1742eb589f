/**
 * @file file.c  The srvfailover file: read at start, and again at reload
 *
 * The start is a reload from nothing: the file is parsed beside the
 * running lines, then applied line by line (core/reload.c): a line that
 * did not change is left alone, a changed one updated, a new one
 * started, one that went stopped. A line in a call waits until the call
 * ends, as a desk phone defers new provisioning. At start a line with
 * an error is left out and the others start; a reload of a file with
 * any error changes nothing and answers the errors.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"


/* A change that waits for the line's call to end */
struct pending {
	struct le le;
	char *user;
	struct sfo_line *fresh;  /* NULL: the line went from the file    */
};

/* What a reload did, for its answer */
struct tally {
	unsigned same, changed, added, removed, waiting;
};

static struct list pendings;
static struct tmr pending_tmr;


static void pending_destructor(void *arg)
{
	struct pending *p = arg;

	list_unlink(&p->le);
	mem_deref(p->user);
	mem_deref(p->fresh);
}


/* The line number of a key in a config file, for error messages */
static unsigned key_line(const struct pl *text, const char *key)
{
	struct pl rest = *text;
	unsigned n = 1;

	while (rest.l) {
		const char *nl = pl_strchr(&rest, '\n');
		size_t len = nl ? (size_t)(nl - rest.p) : rest.l;

		if (len >= str_len(key) &&
		    !memcmp(rest.p, key, str_len(key)))
			return n;

		pl_advance(&rest, len + (nl ? 1 : 0));
		++n;
	}

	return 0;
}


static int file_read(struct mbuf **mbp, const char *file)
{
	uint8_t buf[4096];
	struct mbuf *mb;
	size_t n;
	FILE *f;
	int err = 0;

	f = fopen(file, "r");
	if (!f)
		return errno;

	mb = mbuf_alloc(sizeof(buf));
	if (!mb) {
		fclose(f);
		return ENOMEM;
	}

	while (!err && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		err = mbuf_write_mem(mb, buf, n);

	fclose(f);

	if (err) {
		mem_deref(mb);
		return err;
	}

	mb->pos = 0;
	*mbp = mb;

	return err;
}


/* A bad value of a key of baresip's config: named with its line */
static void config_warning(const char *dir, const char *key,
			   const char *fmt, ...)
{
	struct mbuf *mb = NULL;
	char file[512];
	struct pl text;
	va_list ap;

	re_snprintf(file, sizeof(file), "%s/config", dir);
	if (!file_read(&mb, file))
		pl_set_mbuf(&text, mb);
	else
		pl_set_str(&text, "");

	va_start(ap, fmt);
	warning("srvfailover: %s:%u: %s: %v\n", file, key_line(&text, key),
		key, fmt, &ap);
	va_end(ap);
	mem_deref(mb);
}


static enum sfo_mode default_mode(const char *dir)
{
	enum sfo_mode mode = SFO_PARALLEL;
	char val[32] = "";

	if (conf_get_str(conf_cur(), "srvfailover_mode", val, sizeof(val)) ||
	    !sfo_mode_parse(&mode, val))
		return mode;

	config_warning(dir, "srvfailover_mode", "unknown mode '%s'"
		       " (parallel, cisco, sequential); using parallel", val);

	return SFO_PARALLEL;
}


/* srvfailover_start_delay: this phone's first REGISTERs wait a random
 * 0..S seconds, so that a site's phones do not all register in the same
 * second after a power cut (Yealink's sip.reg_surge_prevention) */
static uint64_t start_delay(const char *dir)
{
	char val[32] = "";
	uint64_t delay;
	uint32_t secs;

	if (conf_get_str(conf_cur(), "srvfailover_start_delay", val,
			 sizeof(val)))
		return 0;

	if (sfo_start_delay_parse(&secs, val)) {
		config_warning(dir, "srvfailover_start_delay", "'%s' is not"
			       " a number of seconds 0..3600; 0 used", val);
		return 0;
	}

	delay = sfo_start_delay_ms(secs, rand_u32());
	if (secs)
		info("srvfailover: registering in %llu.%03llu s"
		     " (srvfailover_start_delay %u)\n",
		     (unsigned long long)(delay / 1000),
		     (unsigned long long)(delay % 1000), secs);

	return delay;
}


/* One log message per line: baresip drops a message of more than ~4 KB
 * whole, so one message for all errors could lose them all */
static void warn_each(const struct mbuf *mb)
{
	struct pl rest, ln;

	rest.p = (const char *)mb->buf;
	rest.l = mb->end;

	while (rest.l) {
		const char *nl = pl_strchr(&rest, '\n');

		ln.p = rest.p;
		ln.l = nl ? (size_t)(nl - rest.p) : rest.l;
		pl_advance(&rest, ln.l + (nl ? 1 : 0));
		warning("%r\n", &ln);
	}
}


static struct pending *pending_of(const char *user)
{
	struct le *le;

	LIST_FOREACH(&pendings, le) {
		struct pending *p = le->data;

		if (!str_cmp(p->user, user))
			return p;
	}

	return NULL;
}


/* Keep the change for when the line's call ends (a newer one replaces
 * an older one) */
static void defer(struct sfo_line *line, struct sfo_line *fresh)
{
	struct pending *p = pending_of(line->user);

	if (!p) {
		p = mem_zalloc(sizeof(*p), pending_destructor);
		if (!p || str_dup(&p->user, line->user)) {
			mem_deref(p);
			mem_deref(fresh);
			return;
		}
		list_append(&pendings, &p->le, p);
	}

	mem_deref(p->fresh);
	p->fresh = fresh;
}


/* Apply fresh (NULL: the line went) to the running line of its user */
static void apply_line(struct sfo_line *line, struct sfo_line *fresh,
		       struct tally *t)
{
	if (!fresh) {
		info("srvfailover: %s: gone from the file\n", line->user);
		shell_line_stop(line);
		++t->removed;
		return;
	}

	if (sfo_line_same(line, fresh)) {
		++t->same;
	}
	else {
		info("srvfailover: %s: changed in the file\n", line->user);
		sfo_line_update(line, fresh, shell_now());
		++t->changed;
	}

	mem_deref(fresh);
}


static void apply_or_defer(struct sfo_line *line, struct sfo_line *fresh,
			   struct tally *t)
{
	/* the same again: nothing to do, nor anything left to wait for */
	if (fresh && sfo_line_same(line, fresh)) {
		mem_deref(pending_of(line->user));
		mem_deref(fresh);
		++t->same;
		return;
	}

	if (sfo_line_busy(line)) {
		info("srvfailover: %s: in a call: the change waits for its"
		     " end\n", line->user);
		defer(line, fresh);
		++t->waiting;
		return;
	}

	mem_deref(pending_of(line->user));
	apply_line(line, fresh, t);
}


/* The parsed file (its lines are taken) to the running lines; a new
 * line's first steps wait delay ms */
static void apply(struct list *fresh, uint64_t delay, struct tally *t)
{
	struct le *le = list_head(shell_lines());

	while (le) {
		struct sfo_line *line = le->data;

		le = le->next;
		if (!sfo_line_find(fresh, line->user))
			apply_or_defer(line, NULL, t);
	}

	while ((le = list_head(fresh))) {
		struct sfo_line *f = le->data;
		struct sfo_line *line = sfo_line_find(shell_lines(), f->user);

		list_unlink(le);

		if (line) {
			apply_or_defer(line, f, t);
			continue;
		}

		mem_deref(pending_of(f->user));
		list_append(shell_lines(), &f->le, f);
		if (!shell_line_start(f, delay))
			++t->added;
	}
}


static void pending_handler(void *arg)
{
	struct le *le = list_head(&pendings);
	struct tally t;
	(void)arg;

	memset(&t, 0, sizeof(t));

	while (le) {
		struct pending *p = le->data;
		struct sfo_line *line = sfo_line_find(shell_lines(), p->user);
		struct sfo_line *fresh = p->fresh;

		le = le->next;

		if (line && sfo_line_busy(line))
			continue;

		p->fresh = NULL;
		mem_deref(p);
		if (line) {
			info("srvfailover: %s: the call ended: the file's"
			     " change applies\n", line->user);
			apply_line(line, fresh, &t);
		}
		else {
			mem_deref(fresh);
		}
	}
}


/**
 * A line's calls may have ended (called after every event the core
 * took): a change that waited for it applies, from the main loop
 */
void file_line_idle(const struct sfo_line *line)
{
	if (!sfo_line_busy(line) && pending_of(line->user))
		tmr_start(&pending_tmr, 0, pending_handler, NULL);
}


/*
 * Parse the file beside the running lines. errs gets its errors (and
 * errc their count); 0 with *fresh filled, else why it could not be
 * read at all.
 */
static int parse(struct list *fresh, struct mbuf *errs, unsigned *errc)
{
	struct re_printf pf = {shell_print_mbuf, errs};
	struct mbuf *mb = NULL;
	char dir[256], file[512];
	struct pl text;
	int err;

	err = conf_path_get(dir, sizeof(dir));
	if (err)
		return err;

	re_snprintf(file, sizeof(file), "%s/srvfailover", dir);

	err = file_read(&mb, file);
	if (err) {
		(void)re_hprintf(&pf, "srvfailover: %s: %m\n", file, err);
		return err;
	}

	pl_set_mbuf(&text, mb);
	err = sfo_config_parse(fresh, file, &text, default_mode(dir), &pf,
			       errc);
	mem_deref(mb);

	return err;
}


/** At start: the lines of the file, those without an error started */
int file_load(void)
{
	struct mbuf *errs = mbuf_alloc(256);
	struct list fresh = LIST_INIT;
	uint64_t delay = 0;
	char dir[256];
	struct tally t;
	int err;

	if (!errs)
		return ENOMEM;

	list_init(&pendings);
	tmr_init(&pending_tmr);
	memset(&t, 0, sizeof(t));

	err = parse(&fresh, errs, NULL);
	warn_each(errs);
	mem_deref(errs);

	/* no file: no lines, baresip runs on */
	if (err == ENOENT || err == EACCES || err == EISDIR)
		return 0;

	if (!err && !conf_path_get(dir, sizeof(dir)))
		delay = start_delay(dir);

	if (!err)
		apply(&fresh, delay, &t);

	list_flush(&fresh);

	return err;
}


/**
 * /srvfailover reload: the file again, what changed applied; a file
 * with any error changes nothing
 */
int file_reload(struct re_printf *pf)
{
	struct mbuf *errs = mbuf_alloc(256);
	struct list fresh = LIST_INIT;
	unsigned errc = 0;
	struct tally t;
	int err;

	if (!errs)
		return ENOMEM;

	memset(&t, 0, sizeof(t));
	err = parse(&fresh, errs, &errc);
	if (err || errc) {
		err = re_hprintf(pf, "%bsrvfailover: reload: nothing"
				 " changed (%u error%s)\n", errs->buf,
				 errs->end, errc ? errc : 1,
				 errc > 1 ? "s" : "");
		warn_each(errs);
		list_flush(&fresh);
		mem_deref(errs);
		return err ? err : EINVAL;
	}

	apply(&fresh, 0, &t);
	list_flush(&fresh);
	mem_deref(errs);
	mqtt_changed();

	info("srvfailover: reload: %u unchanged, %u changed, %u new,"
	     " %u removed, %u waiting for a call to end\n", t.same,
	     t.changed, t.added, t.removed, t.waiting);

	return re_hprintf(pf, "srvfailover: reload: %u unchanged, %u"
			  " changed, %u new, %u removed, %u waiting for a"
			  " call to end\n", t.same, t.changed, t.added,
			  t.removed, t.waiting);
}


void file_close(void)
{
	tmr_cancel(&pending_tmr);
	list_flush(&pendings);
}
