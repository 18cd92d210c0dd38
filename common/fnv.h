/*
 * fnv.h - FNV-1a, 32 bits: a stable hash of a string, the same on every
 * machine and run (a member's name, a changelog partition).
 */
#ifndef FNV_H
#define FNV_H

#include <stdint.h>

static inline uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

#endif
