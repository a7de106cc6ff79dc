/*
 * lindex - many `field == "literal"` and `field in list` tests of one field
 * answered by one lookup of the field's value.
 *
 * Each test has an id; a match sets the bits of the tests that hold. The
 * answers are exactly those of a case-insensitive comparison with the
 * literal and of mp_list_match / mp_list_match_ip, so the engine can use
 * them instead of evaluating the tests one by one. Built once per rule set,
 * then read-only (safe from many threads); mp_lindex_free accepts NULL.
 */
#ifndef MP_LINDEX_H
#define MP_LINDEX_H

#include "match/lists.h"

#include <stddef.h>
#include <stdint.h>

struct mp_lindex;

struct mp_lindex *mp_lindex_new(void);
void mp_lindex_free(struct mp_lindex *ix);
/* 0, or -1 on no memory (the index is then unusable). A literal longer
 * than MP_LIST_ITEM_MAX is refused with 1: the caller leaves that test to
 * the evaluator. */
int mp_lindex_add_literal(struct mp_lindex *ix, const char *s, size_t len, uint32_t id);
int mp_lindex_add_list(struct mp_lindex *ix, const struct mp_list *l, uint32_t id);
/* Sorts the prefix tables; once, after the last add. 0 or -1. */
int mp_lindex_finish(struct mp_lindex *ix);
/* Sets the bits of the tests that hold for a value of a field matched as
 * how says (the literals are compared whatever how is). */
void mp_lindex_match(const struct mp_lindex *ix, enum mp_fmatch how, const char *value,
		     size_t len, uint8_t *bits);
void mp_lindex_match_ip(const struct mp_lindex *ix, const struct mp_ip *ip, uint8_t *bits);

#endif
