/*
 * member.c - see member.h.
 */
#include "member.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "store.h"

#define MEMBER_META "group_member"

int member_resolve(struct agg_config *cfg, char *err, size_t errlen)
{
	struct store_settings s = { cfg->window_us, cfg->slide_us, cfg->delay_us };
	struct store *st;
	uint64_t r = 0;
	char host[64] = "host";
	int ret = 0;

	int o = store_open(&st, cfg->state_path, &s, 0, err, errlen);
	if (o < 0)
		return o == STORE_ETRANSIENT ? AGG_EXIT_RUNTIME : AGG_EXIT_STATE;
	if (store_meta_get_text(st, MEMBER_META, cfg->member_buf, sizeof(cfg->member_buf)) == 1 && cfg->member_buf[0])
		goto out;
	/* The host says where it runs (for people); the random part makes it unique. */
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		snprintf(err, errlen, "cannot make a member name: no random bytes");
		ret = AGG_EXIT_RUNTIME;
		goto out;
	}
	snprintf(cfg->member_buf, sizeof(cfg->member_buf), "%s-%016" PRIx64, host, r);
	if (store_meta_set_text(st, MEMBER_META, cfg->member_buf, err, errlen) < 0)
		ret = store_transient(st) ? AGG_EXIT_RUNTIME : AGG_EXIT_STATE;
out:
	store_close(st);
	if (ret == 0)
		cfg->member = cfg->member_buf;
	return ret;
}
