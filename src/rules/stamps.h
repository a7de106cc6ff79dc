/*
 * stamps - what a rule set was loaded from, to tell when it changed.
 *
 * A stamp set records every file a load read (rule files, includes, list
 * files, the configuration) with its mtime, size and inode, and the names of
 * the *.rules files at the top of the rules directory, and which directory
 * that was (a symbolic link swapped to another release is a change). It is
 * kept for a failed load too, so a broken file is not reported again until
 * it changes. Owned by whoever holds it; mp_stamps_free accepts NULL.
 */
#ifndef MP_STAMPS_H
#define MP_STAMPS_H

#include <stdbool.h>
#include <stddef.h>

struct mp_stamps;

struct mp_stamps *mp_stamps_new(const char *rules_dir);
void mp_stamps_free(struct mp_stamps *s);
/* Records path (once). Out of memory only costs an automatic reload. */
void mp_stamps_add(struct mp_stamps *s, const char *path);
/* Records the current *.rules names of the rules directory. */
void mp_stamps_scan_dir(struct mp_stamps *s);
bool mp_stamps_changed(const struct mp_stamps *s);
/* The recorded files, in the order they were read. */
size_t mp_stamps_count(const struct mp_stamps *s);
const char *mp_stamps_path(const struct mp_stamps *s, size_t i);
/* Whether path is among the recorded files. */
bool mp_stamps_has(const struct mp_stamps *s, const char *path);
/* The same files as s, stamped as they are now (NULL: no memory): for
 * telling whether files are still being written. */
struct mp_stamps *mp_stamps_now(const struct mp_stamps *s);
/* Sorted names of the *.rules files at the top of dir. 0, or -1 (errno). */
int mp_stamps_list_rules(const char *dir, char ***names_r, size_t *n_r);
/* The same, of the directory open as dirfd. */
int mp_stamps_list_rules_at(int dirfd, char ***names_r, size_t *n_r);
/* Records which directory (device and inode) the load read from dirfd:
 * the rules directory naming another one later is a change. */
void mp_stamps_set_dir(struct mp_stamps *s, int dirfd);
void mp_stamps_free_names(char **names, size_t n);

#endif
