/*
 * test_log.c - log_decade (common/log.c): a repeated warning is said at its
 * first count and at ten, a hundred, ... times it, and at no other count.
 */
#include "harness.h"
#include "log.h"

int main(void)
{
	int said = 0;

	T_INT(log_decade(0, 1), 0, "no count: nothing said");
	T_INT(log_decade(1, 1), 1, "the first of a run said");
	T_INT(log_decade(10, 1), 1, "10 said");
	T_INT(log_decade(1000000, 1), 1, "a million said");
	T_INT(log_decade(11, 1), 0, "11 not said");
	T_INT(log_decade(20, 1), 0, "20 not said");
	T_INT(log_decade(4, 5), 0, "below the first count (5): not said");
	T_INT(log_decade(5, 5), 1, "5 said (first 5)");
	T_INT(log_decade(50, 5), 1, "50 said");
	T_INT(log_decade(500, 5), 1, "500 said");
	T_INT(log_decade(10, 5), 0, "10 not said (first 5)");
	T_INT(log_decade(100, 5), 0, "100 not said (first 5)");
	T_INT(log_decade(INT64_MAX, 1), 0, "INT64_MAX is no decade");
	T_INT(log_decade(7, 0), 0, "a first count of 0 says nothing");
	for (int64_t n = 1; n <= 100000; n++)
		said += log_decade(n, 1);
	T_INT(said, 6, "from 1 to 100000: said 6 times (1, 10, ..., 100000)");
	return t_done();
}
