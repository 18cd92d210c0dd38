/*
 * spool.c - see spool.h.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SPOOL_HEAD  8                     /* length + checksum */
#define SPOOL_FIXED (1 + 2 + 8)           /* topic length, key length, timestamp */
#define SPOOL_BODY_MAX (16u * 1024 * 1024) /* a longer "length" is a torn or foreign file */

struct spool {
	int fd;
	char path[1024];
	uint64_t max_bytes;    /* appends beyond this are refused */
	uint64_t end;          /* bytes of whole records */
	uint64_t records;      /* records in the file */
	int dirty;             /* appended since the last fsync */
	char *buf;             /* spool_read's record, owned */
	size_t cap;
};

/* FNV-1a over bytes: a torn or overwritten record does not pass. */
static uint32_t spool_sum(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static int spool_err(char *err, size_t errlen, const struct spool *s, const char *what)
{
	snprintf(err, errlen, "spool %s: %s: %s", s->path, what, strerror(errno));
	return -1;
}

/* Reads the record at pos into s->buf: its body length, 0 at a clean end,
 * -1 when it is torn or not a record (the scan stops there). */
static long spool_load(struct spool *s, uint64_t pos)
{
	unsigned char head[SPOOL_HEAD];
	uint32_t len, sum;
	ssize_t n = pread(s->fd, head, sizeof(head), (off_t)pos);

	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(head))
		return -1;
	memcpy(&len, head, 4);
	memcpy(&sum, head + 4, 4);
	if (len < SPOOL_FIXED || len > SPOOL_BODY_MAX)
		return -1;
	if (s->cap < len + 1) {
		char *nb = realloc(s->buf, len + 1);
		if (!nb)
			return -1;
		s->buf = nb;
		s->cap = len + 1;
	}
	if (pread(s->fd, s->buf, len, (off_t)(pos + SPOOL_HEAD)) != (ssize_t)len ||
	    spool_sum((unsigned char *)s->buf, len) != sum)
		return -1;
	unsigned tl = (unsigned char)s->buf[0];
	uint16_t kl;
	memcpy(&kl, s->buf + 1, 2);
	if (SPOOL_FIXED + tl + kl > len)
		return -1;
	return (long)len;
}

int spool_open(struct spool **out, const char *dir, const char *name, uint64_t max_bytes, uint64_t *cut,
               char *err, size_t errlen)
{
	struct spool *s = calloc(1, sizeof(*s));
	struct stat st;
	long len;

	*out = NULL;
	*cut = 0;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->fd = -1;
	s->max_bytes = max_bytes;
	snprintf(s->path, sizeof(s->path), "%s/%s", dir, name);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((s->fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		spool_err(err, errlen, s, "open");
		goto fail;
	}
	if (flock(s->fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "spool %s is in use by another producer: give this one its own --spool",
		         s->path);
		goto fail;
	}
	while ((len = spool_load(s, s->end)) > 0) {
		s->end += SPOOL_HEAD + (uint64_t)len;
		s->records++;
	}
	if (fstat(s->fd, &st) < 0) {
		spool_err(err, errlen, s, "stat");
		goto fail;
	}
	if ((uint64_t)st.st_size > s->end) {
		/* a write cut short by a crash: the records before it are whole */
		*cut = (uint64_t)st.st_size - s->end;
		if (ftruncate(s->fd, (off_t)s->end) < 0) {
			spool_err(err, errlen, s, "truncate");
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	spool_close(s);
	return -1;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	if (s->fd >= 0) {
		if (s->end == 0)
			unlink(s->path);
		else
			fsync(s->fd);
		close(s->fd);
	}
	free(s->buf);
	free(s);
}

int spool_append(struct spool *s, const char *topic, const char *key, size_t key_len, int64_t ts_ms,
                 const char *payload, size_t len, char *err, size_t errlen)
{
	size_t tl = strlen(topic);
	uint32_t body = (uint32_t)(SPOOL_FIXED + tl + key_len + len), sum;
	uint16_t kl = (uint16_t)key_len;
	unsigned char fixed[SPOOL_FIXED], head[SPOOL_HEAD];

	if (tl > 255 || key_len > 65535 || body > SPOOL_BODY_MAX) {
		snprintf(err, errlen, "spool %s: record too large", s->path);
		return -1;
	}
	if (s->end + SPOOL_HEAD + body > s->max_bytes)
		return SPOOL_FULL;
	fixed[0] = (unsigned char)tl;
	memcpy(fixed + 1, &kl, 2);
	memcpy(fixed + 3, &ts_ms, 8);
	/* the checksum runs over the body's parts as they lie */
	sum = 2166136261u;
	const unsigned char *parts[] = { fixed, (const unsigned char *)topic, (const unsigned char *)key,
	                                 (const unsigned char *)payload };
	size_t lens[] = { sizeof(fixed), tl, key_len, len };
	for (int i = 0; i < 4; i++)
		for (size_t j = 0; j < lens[i]; j++)
			sum = (sum ^ parts[i][j]) * 16777619u;
	memcpy(head, &body, 4);
	memcpy(head + 4, &sum, 4);
	struct iovec iov[5] = {
		{ head, sizeof(head) }, { fixed, sizeof(fixed) }, { (void *)topic, tl }, { (void *)key, key_len },
		{ (void *)payload, len },
	};
	ssize_t n = pwritev(s->fd, iov, 5, (off_t)s->end);
	if (n != (ssize_t)(SPOOL_HEAD + body)) {
		if (n >= 0)
			errno = ENOSPC;
		spool_err(err, errlen, s, "write");
		/* a part written is cut off again: the file stays whole records */
		if (ftruncate(s->fd, (off_t)s->end) < 0)
			return -1;
		return -1;
	}
	s->end += SPOOL_HEAD + body;
	s->records++;
	s->dirty = 1;
	return 0;
}

int spool_sync(struct spool *s, char *err, size_t errlen)
{
	if (!s->dirty)
		return 0;
	s->dirty = 0;
	return fdatasync(s->fd) < 0 ? spool_err(err, errlen, s, "fsync") : 0;
}

int spool_read(struct spool *s, uint64_t *pos, struct spool_rec *r, char *err, size_t errlen)
{
	if (*pos >= s->end)
		return 0;
	long len = spool_load(s, *pos);
	if (len <= 0) {
		snprintf(err, errlen, "spool %s: bad record at byte %llu", s->path, (unsigned long long)*pos);
		return -1;
	}
	unsigned tl = (unsigned char)s->buf[0];
	uint16_t kl;
	memcpy(&kl, s->buf + 1, 2);
	memcpy(&r->ts_ms, s->buf + 3, 8);
	char *topic = s->buf + SPOOL_FIXED, *key = topic + tl, *payload = key + kl;
	r->len = (size_t)len - SPOOL_FIXED - tl - kl;
	r->key_len = kl;
	r->payload = payload;
	r->key = key;
	memmove(s->buf, topic, tl); /* the fixed part is read: the topic goes first, with its NUL */
	s->buf[tl] = '\0';
	r->topic = s->buf;
	*pos += SPOOL_HEAD + (uint64_t)len;
	return 1;
}

int spool_clear(struct spool *s, char *err, size_t errlen)
{
	if (ftruncate(s->fd, 0) < 0)
		return spool_err(err, errlen, s, "truncate");
	s->end = 0;
	s->records = 0;
	s->dirty = 1;
	return spool_sync(s, err, errlen);
}

uint64_t spool_end(const struct spool *s)
{
	return s->end;
}

uint64_t spool_records(const struct spool *s)
{
	return s->records;
}

const char *spool_path(const struct spool *s)
{
	return s->path;
}
