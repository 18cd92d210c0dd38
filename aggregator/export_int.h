/*
 * export_int.h - what export.c (the CSV writer) and export_check.c (whose
 * CSV is it) share, and nothing else includes.
 */
#ifndef EXPORT_INT_H
#define EXPORT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"

/* Room for more bytes in x->buf: 0, or -1 (out of memory). */
int export_reserve(struct export_csv *x, size_t more);
/* The header line into x->buf. */
void export_header(struct export_csv *x);
/* One row into x->buf (a store_rows_each callback; arg: the export_csv). */
int export_row(const struct store_row *r, void *arg);

#endif
