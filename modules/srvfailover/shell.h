/**
 * @file shell.h  Shared by the files of the shell: shell.c and dial.c
 */

struct list *shell_lines(void);
struct sfo_server *shell_server_of_ua(const struct ua *ua);
void shell_current_working(const struct sfo_line *line);
uint64_t shell_now(void);

/* dial.c */
int  dial_init(void);
void dial_close(void);
void dial_ua_event(struct sfo_server *srv, enum ua_event ev,
		   struct call *call, const char *prm);
