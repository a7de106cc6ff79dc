/* Prints every configuration key ("key NAME") and every rule-language
 * field ("field NAME") the code knows, for tests/man-pages.sh, which
 * checks that the manual pages name each one. */
#include "conf/conf.h"
#include "rules/program.h"

#include <stdio.h>

int main(void)
{
	for (size_t i = 0; mp_conf_key_name(i) != NULL; i++)
		printf("key %s\n", mp_conf_key_name(i));
	for (int f = 0; f < MP_F_COUNT; f++)
		printf("field %s\n", mp_field_info((enum mp_field_id)f)->name);
	return 0;
}
