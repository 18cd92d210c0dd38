/*
 * spool.h - the producer's disk spool: ticks Kafka has not taken while it is
 * away, kept in order in one append-only file until they are replayed.
 *
 * A record: u32 body length, u32 FNV-1a of the body, body = u8 topic length,
 * u16 key length, i64 timestamp (ms), topic, key, payload.  Appends are
 * written at once (a kill -9 keeps them: they are in the page cache) and
 * fsync'd in groups (spool_sync); a torn record at the end (a crash in the
 * middle of a write) is cut off at open.  The file is locked: one producer
 * per spool.  Errors: -1 and a reason in err.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_FULL 1 /* spool_append: over max_bytes, nothing written */

struct spool;

struct spool_rec {
	const char *topic;   /* NUL-terminated, valid until the next spool_read */
	const char *key;     /* key_len bytes */
	size_t key_len;
	int64_t ts_ms;       /* the Kafka timestamp */
	const char *payload; /* len bytes */
	size_t len;
};

/* Opens (creating dir and file) dir/name, locked, and finds its end; *cut
 * gets the bytes of a torn tail cut off.  0, or -1 with err. */
int spool_open(struct spool **out, const char *dir, const char *name, uint64_t max_bytes, uint64_t *cut,
               char *err, size_t errlen);
/* Closes; the file is removed when it holds nothing. */
void spool_close(struct spool *s);
/* Appends one record: 0, SPOOL_FULL, or -1 with err. */
int spool_append(struct spool *s, const char *topic, const char *key, size_t key_len, int64_t ts_ms,
                 const char *payload, size_t len, char *err, size_t errlen);
/* fsync when something was appended since the last one: 0 or -1. */
int spool_sync(struct spool *s, char *err, size_t errlen);
/* The record at *pos into *r, *pos moved past it: 1, 0 at the end, -1 with err. */
int spool_read(struct spool *s, uint64_t *pos, struct spool_rec *r, char *err, size_t errlen);
/* Everything was delivered: the file emptied (and synced). 0 or -1. */
int spool_clear(struct spool *s, char *err, size_t errlen);
uint64_t spool_end(const struct spool *s);     /* bytes in the file */
uint64_t spool_records(const struct spool *s); /* records in the file */
const char *spool_path(const struct spool *s);

#endif
