/*
 * props.h - librdkafka properties from a file, as kcat's -F: one "key=value"
 * a line, '#' comments and blank lines skipped, spaces around the key and the
 * value trimmed; the value keeps its inner spaces and '=' (a SASL JAAS
 * config).  Errors say "FILE:LINE: what".
 */
#ifndef PROPS_H
#define PROPS_H

#include <stddef.h>

/* Calls fn for every property of the file, in order; fn's key and value live
 * until it returns.  Returns 0, or -1 with err (the file cannot be read, a
 * line without '=' or with an empty key, or fn's own error, which it wrote
 * into err). */
int props_read(const char *path, int (*fn)(const char *key, const char *value, void *arg, char *err, size_t errlen),
               void *arg, char *err, size_t errlen);

#endif
