/*
 * archive - the names inside an attached archive (archive.name and
 * archive.encrypted, SPEC §11) through libarchive: zip, rar, 7z, tar, and
 * gzip (a compressed tar, or one compressed file whose name the gzip
 * header keeps). One level: nothing is extracted, a nested archive is one
 * name. Results are owned by struct mp_archive.
 */
#ifndef MP_ARCHIVE_H
#define MP_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Data that must be decompressed to reach the next name (a compressed
 * tar, a solid 7z or rar) is read up to this much; past it listing stops
 * as at archive_max_entries. */
#define MP_ARCHIVE_INFLATE_MAX ((uint64_t)256 << 20)

struct mp_archive {
	char **names;
	size_t n;
	bool encrypted;     /* an entry, or the whole index, is encrypted */
	bool malformed;     /* libarchive could not read it to the end */
	bool limit;         /* stopped at max_entries (or MP_ARCHIVE_INFLATE_MAX) */
	bool failed;        /* no memory */
};

/* Whether the first bytes (at least 262 when the content has them) are
 * those of an archive this module lists. */
bool mp_archive_magic(const unsigned char *p, size_t n);
/* Lists the archive in mem[0..len) or, when fd >= 0, in the regular file
 * fd (read from its start; not closed). */
void mp_archive_list(int fd, const void *mem, size_t len, size_t max_entries,
		     struct mp_archive *out);
void mp_archive_free(struct mp_archive *a);

#endif
