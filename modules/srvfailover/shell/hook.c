/**
 * @file hook.c  The module's handler in front of another module's command
 *
 * baresip cannot wrap a command. The module finds the other module's
 * block of commands from one of its entries (the block starts at most a
 * few dozen entries before it), registers a copy of the block whose
 * handlers for the named commands are its own, and keeps the original
 * handlers to call. menu's dial commands (dial.c) and contact's message
 * and dialcontact (message.c) go through here.
 */
#include <string.h>
#include <re.h>
#include "sfo_baresip.h"
#include "sfo_core.h"
#include "shell.h"


/* The block of commands that holds cmd */
static struct cmds *block_of(const struct cmd *cmd)
{
	struct commands *commands = baresip_commands();
	size_t i;

	for (i = 0; i < 64; i++) {
		struct cmds *cmds = cmds_find(commands, cmd - i);

		if (cmds)
			return cmds;
	}

	return NULL;
}


/**
 * Put our handlers in front of another module's commands
 *
 * @param hk  Where the copy is kept (hook_remove() takes it away)
 * @param v   The commands: name and our handler; each one's original
 *            handler is filled in (NULL when the module has none)
 * @param n   How many
 *
 * @return 0, or ENOENT when no command of v is registered
 */
int hook_install(struct hook *hk, struct hook_cmd *v, size_t n)
{
	struct commands *commands = baresip_commands();
	const struct cmd *anchor = NULL;
	const struct cmds *block;
	size_t i, j;

	for (j = 0; j < n && !anchor; j++)
		anchor = cmd_find_long(commands, v[j].name);

	block = anchor ? block_of(anchor) : NULL;
	if (!block)
		return ENOENT;

	hk->copy = mem_zalloc(block->cmdc * sizeof(*hk->copy), NULL);
	if (!hk->copy)
		return ENOMEM;

	hk->orig = block->cmdv;
	hk->n = block->cmdc;
	memcpy(hk->copy, hk->orig, hk->n * sizeof(*hk->copy));

	for (i = 0; i < hk->n; i++) {
		for (j = 0; j < n; j++) {
			if (str_cmp(hk->orig[i].name, v[j].name))
				continue;

			v[j].orig = hk->orig[i].h;
			hk->copy[i].h = v[j].h;
		}
	}

	cmd_unregister(commands, hk->orig);
	if (cmd_register(commands, hk->copy, hk->n)) {
		(void)cmd_register(commands, hk->orig, hk->n);
		hk->copy = mem_deref(hk->copy);
		return ENOMEM;
	}

	return 0;
}


/**
 * Give the other module its commands back, if it is still loaded
 *
 * @param hk      What hook_install() made
 * @param module  The other module's file name ("menu.so")
 */
void hook_remove(struct hook *hk, const char *module)
{
	struct commands *commands = baresip_commands();

	if (!hk->copy)
		return;

	cmd_unregister(commands, hk->copy);
	if (mod_find(module))
		(void)cmd_register(commands, hk->orig, hk->n);

	hk->copy = mem_deref(hk->copy);
}
