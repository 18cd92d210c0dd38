/*
 * metrics.c - see metrics.h.
 */
#include "metrics.h"

/* Contract: see metrics.h. */
void metrics_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}
