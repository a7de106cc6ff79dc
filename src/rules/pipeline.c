/*
 * pipeline - one rule file through the per-file stages, once per load:
 * read, parsed (parse.c: syntax tree), checked (check.c: program nodes)
 * and its regexes and lists built (compile_file.c). The syntax tree lives
 * in the loader's scratch arena; what is kept goes to the rule set.
 */
#include "rules/pipeline.h"

#include "rules/check.h"
#include "rules/compile.h"
#include "rules/parse.h"
#include "util/file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RULE_FILE_MAX (64u * 1024 * 1024)

struct mp_rfile *mp_load_file(struct mp_loader *ld, struct vec *order, const char *rel,
			      const char *path)
{
	void *found;
	size_t len;

	if (mp_strmap_get(&ld->files, path, &found))
		return found;
	mp_loader_stamp(ld, path);
	char *text = mp_read_file_at(ld->dirfd, rel, RULE_FILE_MAX, &len);
	if (text == NULL)
		return NULL;
	struct mp_syn_file *sf = mp_parse_file(path, text, len, ld->arena, &ld->scratch, ld->diags);
	free(text);
	struct mp_rfile *rf = sf != NULL ? mp_check_file(ld, sf) : NULL;
	if (rf != NULL)
		mp_compile_file(ld, sf);
	if (rf == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (mp_strmap_put(&ld->files, rf->path, strlen(rf->path), rf, NULL) < 0 ||
	    mp_vec_push(order, rf) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return rf;
}
