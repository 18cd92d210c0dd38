/*
 * member.h - group mode's member name (--member's default): made once, at
 * the first run with a state file, and kept in it (meta group_member), so
 * that it is the same at every restart -- the transactional.id fences what
 * the previous run left open, the group.instance.id gets its partitions
 * back -- and differs between state files, wherever they are (before, a
 * hash of the path: two members with --state state.db in two directories of
 * one host shared it, and a first run, whose file did not exist yet, had
 * another name than its restarts).
 */
#ifndef MEMBER_H
#define MEMBER_H

#include <stddef.h>

#include "config.h"

/* Sets cfg->member (into cfg->member_buf) from the state file, making and
 * storing one when it has none: 0, or an exit code with err. */
int member_resolve(struct agg_config *cfg, char *err, size_t errlen);

#endif
