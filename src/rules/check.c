/*
 * check - the checks that need the whole directory: every list name a
 * test uses is declared somewhere (one namespace), and its items suit the
 * field (IP fields take IPs and CIDRs, other fields names).
 */
#include "rules/loader.h"
#include "rules/check.h"

#include "match/lists.h"
#include "util/diag.h"
#include "util/suggest.h"

/* The declared list name closest to a misspelt one, or NULL. */
static const char *suggest_list(const struct mp_loader *ld, const char *name)
{
	const char *names[256];
	size_t n = 0;

	for (size_t i = 0; i < ld->lists.cap && n < 256; i++) {
		if (ld->lists.slots[i].key != NULL)
			names[n++] = ld->lists.slots[i].key;
	}
	return mp_suggest(name, names, n);
}

void mp_check_lists(struct mp_loader *ld, struct vec *order)
{
	for (size_t i = 0; i < order->n; i++) {
		struct mp_rfile *rf = (struct mp_rfile *)order->v[i];
		for (size_t j = 0; j < rf->n_list_refs; j++) {
			struct mp_expr *e = rf->list_refs[j];
			void *found;
			if (!mp_strmap_get(&ld->lists, e->list_name, &found)) {
				const char *near = suggest_list(ld, e->list_name);
				if (near != NULL)
					mp_diags_add(ld->diags, rf->path, e->line, e->col,
						     "unknown list '%s' (did you mean '%s'?)", e->list_name,
						     near);
				else
					mp_diags_add(ld->diags, rf->path, e->line, e->col,
						     "unknown list '%s'", e->list_name);
				continue;
			}
			struct mp_list_decl *decl = found;
			const struct mp_field_info *f = mp_field_info(e->field);
			size_t n = mp_list_count(decl->list), nip = mp_list_count_ip(decl->list);
			if (f->type == MP_T_IP && nip != n)
				mp_diags_add(ld->diags, rf->path, e->line, e->col,
					     "list '%s' (%s:%d) has items that are not IP addresses; '%s' needs IPs or CIDRs",
					     e->list_name, decl->file, decl->line, f->name);
			else if (f->type != MP_T_IP && n > 0 && nip == n)
				mp_diags_add(ld->diags, rf->path, e->line, e->col,
					     "list '%s' (%s:%d) holds only IP addresses; '%s' is not an IP field",
					     e->list_name, decl->file, decl->line,
					     f->id == MP_F_HEADER ? "header" : f->name);
			e->list = decl->list;
		}
	}
}
