/*
 * fuzz_web.c  libFuzzer target: the web page's request routing of the
 * core (include/sfo_web.h), fed what http.c would take from a request
 *
 * An input is up to six '\n' separated fields:
 *
 *     METHOD\nPATH\nVERSION\nFLAGS\nORIGIN\nHOST
 *
 * FLAGS' first byte gives Content-Length (bit 0), chunked (bit 1), Host
 * given (bit 2). sfo_web_route() runs on it, sfo_web_apply() when it
 * routes to a change (on two parsed lines), sfo_web_origin_ok() on
 * ORIGIN and HOST, sfo_web_listen_parse() on PATH as a listen address.
 * Fields are copied into exact-size buffers, so reads past them are
 * ASan errors.
 *
 *   make fuzz-web [FUZZ_RUNS=N]
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>
#include "sfo_core.h"
#include "sfo_web.h"


static int sink(const char *p, size_t size, void *arg)
{
	(void)p;
	(void)size;
	(void)arg;
	return 0;
}


static int op_reg(struct sfo_server *srv, void *arg)
{
	(void)srv;
	(void)arg;
	return 0;
}


static void op_srv(struct sfo_server *srv, void *arg)
{
	(void)srv;
	(void)arg;
}


static void op_line(struct sfo_line *line, void *arg)
{
	(void)line;
	(void)arg;
}


static void op_report(const struct sfo_line *line, const char *msg,
		      void *arg)
{
	(void)line;
	(void)msg;
	(void)arg;
}


static void op_wake(struct sfo_line *line, uint64_t at, void *arg)
{
	(void)line;
	(void)at;
	(void)arg;
}


/* the shell's actions, doing nothing: the module sets them on every
 * line before any request can reach it */
static const struct sfo_ops ops = {
	op_reg, op_srv, op_reg, op_line, op_report, op_wake, op_reg, op_srv
};


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char conf[] =
		"<sip:100@127.0.0.2>;sfo_mode=cisco\n<sip:100@127.0.0.3>\n"
		"<sip:a%b@127.0.0.4>\n";
	struct re_printf pf = {sink, NULL};
	char *field[6] = {NULL};
	struct pl f[6], text;
	struct sfo_web_in in;
	struct sfo_web_req req;
	struct list lines = LIST_INIT;
	const uint8_t *p = data, *end = data + size;
	struct sa sa;
	bool off;
	unsigned i;

	for (i = 0; i < 6; i++) {
		const uint8_t *nl = i < 5 ? memchr(p, '\n', (size_t)(end - p))
			: NULL;
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		field[i] = malloc(n + 1);
		if (!field[i])
			goto out;
		memcpy(field[i], p, n);
		field[i][n] = '\0';
		f[i].p = field[i];
		f[i].l = n;
		p = nl ? nl + 1 : end;
	}

	memset(&in, 0, sizeof(in));
	in.met = f[0];
	in.path = f[1];
	in.ver = f[2];
	in.clen = f[3].l && (f[3].p[0] & 1) ? 1 : 0;
	in.chunked = f[3].l && (f[3].p[0] & 2);
	in.host = f[3].l && (f[3].p[0] & 4);

	if (sfo_web_changes(sfo_web_route(&req, &in))) {
		pl_set_str(&text, conf);
		struct le *le;

		(void)sfo_config_parse(&lines, "fuzz", &text, SFO_CISCO, &pf,
				       NULL);
		LIST_FOREACH(&lines, le) {
			sfo_line_set_ops(le->data, &ops, NULL, 7);
			sfo_start(le->data, 500);
		}
		(void)sfo_web_apply(&pf, &lines, &req, 1000);
		list_flush(&lines);
	}

	(void)sfo_web_origin_ok(f[4].l ? &f[4] : NULL, f[5].l ? &f[5] : NULL);
	(void)sfo_web_listen_parse(&sa, &off, field[1]);

 out:
	for (i = 0; i < 6; i++)
		free(field[i]);

	return 0;
}
