/*
 * fuzz_config.c  libFuzzer target: the srvfailover file parser and the
 * /srvfailover command parser of the core
 *
 * An input is the text of a srvfailover file, optionally followed by a
 * NUL byte and command lines ('\n' separated) that are given to
 * sfo_command() on the lines parsed from the text, as `/srvfailover ...`
 * would be:
 *
 *     <sip:100@127.0.0.2>;sfo_mode=cisco\n<sip:100@127.0.0.3>\0json\nmode 100 parallel
 *
 * The default mode (srvfailover_mode) is the input length modulo 3. Lines
 * are started (sfo_start) with actions that do nothing, as the module
 * starts them before any command runs, and ticked after each command.
 * Every parsed line is freed at the end (list_flush) so that leak
 * detection stays meaningful. Texts are copied into buffers of their exact
 * size: a read past the end is an ASan error.
 *
 * A property beside the sanitizers: no password is ever printed. When
 * the marker MARKER stands in the file only as an auth_pass value (and
 * not in the commands), no output (errors, command answers, reports,
 * JSON) may contain it.
 *
 *   make fuzz [FUZZ_RUNS=N]
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "sfo_core.h"


#define MARKER "S3cr3tMarker"

/* Everything printed, formatted in full (%r, %s, %u of every error and
 * status text are evaluated); the first OUT_MAX bytes are kept */
enum { OUT_MAX = 1 << 20 };
static char out[OUT_MAX];
static size_t outn;


static void keep(const char *p, size_t size)
{
	size_t n = size < OUT_MAX - outn ? size : OUT_MAX - outn;

	memcpy(out + outn, p, n);
	outn += n;
}


static int sink(const char *p, size_t size, void *arg)
{
	size_t *total = arg;

	*total += size;
	keep(p, size);

	return 0;
}


/* Is every MARKER of the text the value of an auth_pass? */
static bool marker_only_as_password(const char *text, size_t len)
{
	static const char key[] = ";auth_pass=";
	const char *p = text, *end = text + len;
	bool any = false;

	while ((p = memmem(p, (size_t)(end - p), MARKER, strlen(MARKER)))) {
		const char *v = p;

		if (v > text && v[-1] == '"')
			--v;
		if ((size_t)(v - text) < strlen(key) ||
		    memcmp(v - strlen(key), key, strlen(key)))
			return false;
		any = true;
		p += strlen(MARKER);
	}

	return any;
}


static int op_reg(struct sfo_server *srv, void *arg)
{
	(void)srv;
	(void)arg;
	return 0;
}


static void op_unreg(struct sfo_server *srv, void *arg)
{
	(void)srv;
	(void)arg;
}


static int op_options(struct sfo_server *srv, void *arg)
{
	(void)srv;
	(void)arg;
	return 0;
}


static void op_working(struct sfo_line *line, void *arg)
{
	(void)line;
	(void)arg;
}


static void op_report(const struct sfo_line *line, const char *msg,
		      void *arg)
{
	size_t *total = arg;
	(void)line;

	*total += strlen(msg);
	keep(msg, strlen(msg));
}


static void op_wake(struct sfo_line *line, uint64_t at, void *arg)
{
	(void)line;
	(void)at;
	(void)arg;
}


static int op_added(struct sfo_server *srv, void *arg)
{
	(void)srv;
	(void)arg;
	return 0;
}


static void op_removed(struct sfo_server *srv, void *arg)
{
	(void)srv;
	(void)arg;
}


static const struct sfo_ops ops = {
	op_reg, op_unreg, op_options, op_working, op_report, op_wake,
	op_added, op_removed
};


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	struct list lines = LIST_INIT;
	size_t total = 0;
	struct re_printf pf = {sink, &total};
	uint64_t now = 1000;
	unsigned errc = 0;
	struct pl text;
	struct le *le;
	char *buf;

	/* exact size, so that ASan sees any read past the text */
	buf = malloc(tlen ? tlen : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, tlen);
	text.p = buf;
	text.l = tlen;

	(void)sfo_config_parse(&lines, "fuzz", &text,
			       (enum sfo_mode)(size % 3), &pf, &errc);

	LIST_FOREACH(&lines, le) {
		sfo_line_set_ops(le->data, &ops, &total, 12345);
		sfo_start(le->data, now);
	}

	if (nul) {
		const char *p = (const char *)nul + 1;
		const char *end = (const char *)data + size;

		/* a bare `/srvfailover` first */
		(void)sfo_command(&pf, &lines, NULL, now);

		while (p <= end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			char *prm = malloc(n + 1);

			if (!prm)
				break;
			memcpy(prm, p, n);
			prm[n] = '\0';

			now += 1500;
			(void)sfo_command(&pf, &lines, prm, now);
			free(prm);

			LIST_FOREACH(&lines, le)
				sfo_tick(le->data, now);

			if (!nl)
				break;
			p = nl + 1;
		}

		(void)sfo_command(&pf, &lines, "json", now);
	}

	/* commands may name anything: the property holds for the file */
	if (marker_only_as_password((const char *)data, tlen) &&
	    !memmem(data + tlen, size - tlen, MARKER, strlen(MARKER)) &&
	    memmem(out, outn, MARKER, strlen(MARKER))) {
		fprintf(stderr, "a password was printed\n");
		abort();
	}
	outn = 0;

	list_flush(&lines);
	free(buf);

	return 0;
}
