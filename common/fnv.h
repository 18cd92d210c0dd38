/*
 * fnv.h - FNV-1a, 32 bits: a stable hash of a string, the same on every
 * machine and run (a member's name, a changelog partition); 64 bits over
 * bytes, continued from h (FNV1A64_INIT first), for output.csv's mark.
 */
#ifndef FNV_H
#define FNV_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

#define FNV1A64_INIT 14695981039346656037ull
static inline uint64_t fnv1a64(uint64_t h, const void *buf, size_t len)
{
	for (const unsigned char *p = buf, *e = p + len; p < e; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

#endif
