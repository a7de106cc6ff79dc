/*
 * archive - listing archives with libarchive; see archive.h.
 *
 * Why libarchive (Debian's libarchive13): one maintained reader for every
 * format SPEC §11 names. Fenced: it reads through our callbacks (memory or
 * a descriptor, 16 KiB at a time, seekable so zip and 7z read their index
 * instead of the data); only headers are read, never entry data; listing
 * stops at max_entries names and at MP_ARCHIVE_INFLATE_MAX bytes of
 * declared entry data that a compressed tar or a solid archive must
 * decompress to get past; no filter that runs an external program is
 * enabled (only gzip).
 */
#include "mail/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK (16 * 1024)

struct src {
	int fd;
	const unsigned char *mem;
	size_t len;
	int64_t pos;
	unsigned char buf[BLOCK];
};

bool mp_archive_magic(const unsigned char *p, size_t n)
{
	return (n >= 4 && memcmp(p, "PK\3\4", 4) == 0) ||
	       (n >= 4 && memcmp(p, "PK\5\6", 4) == 0) ||
	       (n >= 6 && memcmp(p, "Rar!\x1a\x07", 6) == 0) ||
	       (n >= 6 && memcmp(p, "7z\xbc\xaf\x27\x1c", 6) == 0) ||
	       (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) ||
	       (n >= 262 && memcmp(p + 257, "ustar", 5) == 0);
}

static la_ssize_t src_read(struct archive *a, void *arg, const void **out)
{
	struct src *s = arg;

	(void)a;
	if (s->fd < 0) {
		size_t left = s->pos < (int64_t)s->len ? s->len - (size_t)s->pos : 0;
		size_t n = left < BLOCK ? left : BLOCK;
		*out = s->mem + s->pos;
		s->pos += (int64_t)n;
		return (la_ssize_t)n;
	}
	for (;;) {
		ssize_t n = pread(s->fd, s->buf, BLOCK, s->pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		s->pos += n;
		*out = s->buf;
		return n;
	}
}

static la_int64_t src_seek(struct archive *a, void *arg, la_int64_t off, int whence)
{
	struct src *s = arg;
	int64_t size = (int64_t)s->len, pos;

	(void)a;
	if (s->fd >= 0) {
		off_t end = lseek(s->fd, 0, SEEK_END);
		if (end < 0)
			return ARCHIVE_FATAL;
		size = end;
	}
	pos = whence == SEEK_SET ? off : whence == SEEK_CUR ? s->pos + off : size + off;
	if (pos < 0)
		return ARCHIVE_FATAL;
	s->pos = pos;
	return pos;
}

static la_int64_t src_skip(struct archive *a, void *arg, la_int64_t n)
{
	struct src *s = arg;

	(void)a;
	s->pos += n;
	return n;
}

/* The name a gzip header keeps (FNAME), or NULL. */
static char *gzip_name(const unsigned char *p, size_t n)
{
	if (n < 10 || p[0] != 0x1f || p[1] != 0x8b || !(p[3] & 0x08))
		return NULL;
	size_t i = 10;
	if (p[3] & 0x04) { /* FEXTRA */
		if (n < 12)
			return NULL;
		i = 12 + (size_t)(p[10] | p[11] << 8);
	}
	size_t start = i;
	while (i < n && p[i] != '\0' && i - start < 1024)
		i++;
	if (i >= n || p[i] != '\0' || i == start)
		return NULL;
	return strndup((const char *)p + start, i - start);
}

static bool add_name(struct mp_archive *out, const char *name)
{
	char **v = realloc(out->names, (out->n + 1) * sizeof(*v));
	if (v == NULL)
		return false;
	out->names = v;
	if ((v[out->n] = strdup(name)) == NULL)
		return false;
	out->n++;
	return true;
}

void mp_archive_list(int fd, const void *mem, size_t len, size_t max_entries,
		     struct mp_archive *out)
{
	struct src *s = calloc(1, sizeof(*s));
	struct archive *a = archive_read_new();
	unsigned char head[1100];
	size_t head_n = 0;

	memset(out, 0, sizeof(*out));
	if (s == NULL || a == NULL) {
		out->failed = true;
		goto done;
	}
	s->fd = fd;
	s->mem = mem;
	s->len = len;
	if (fd >= 0) {
		ssize_t r = pread(fd, head, sizeof(head), 0);
		head_n = r > 0 ? (size_t)r : 0;
	} else {
		head_n = len < sizeof(head) ? len : sizeof(head);
		memcpy(head, mem, head_n);
	}
	archive_read_support_filter_gzip(a);
	archive_read_support_format_zip(a);
	archive_read_support_format_rar(a);
	archive_read_support_format_rar5(a);
	archive_read_support_format_7zip(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_raw(a);
	archive_read_set_read_callback(a, src_read);
	archive_read_set_seek_callback(a, src_seek);
	archive_read_set_skip_callback(a, src_skip);
	archive_read_set_callback_data(a, s);
	if (archive_read_open1(a) != ARCHIVE_OK) {
		out->malformed = true;
		goto done;
	}
	uint64_t inflate = 0;
	for (;;) {
		struct archive_entry *e;
		int rc = archive_read_next_header(a, &e);
		if (rc == ARCHIVE_EOF)
			break;
		if (rc < ARCHIVE_WARN) {
			/* an index that is itself encrypted hides every name */
			const char *msg = archive_error_string(a);
			if (msg != NULL && strstr(msg, "ncrypt") != NULL)
				out->encrypted = true;
			else
				out->malformed = true;
			break;
		}
		int format = archive_format(a);
		if ((format & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_RAW) {
			/* a compressed file, not an archive: the gzip header's name */
			char *name = gzip_name(head, head_n);
			if (name != NULL && !add_name(out, name))
				out->failed = true;
			free(name);
			break;
		}
		if (out->n >= max_entries) {
			out->limit = true;
			break;
		}
		const char *name = archive_entry_pathname_utf8(e);
		if (name == NULL)
			name = archive_entry_pathname(e);
		if (!add_name(out, name != NULL ? name : "")) {
			out->failed = true;
			break;
		}
		if (archive_entry_is_encrypted(e))
			out->encrypted = true;
		/* what reading past this entry costs: decompressing it, unless
		 * the format seeks over it */
		bool seeks = (format & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP ||
			     ((format & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_TAR &&
			      archive_filter_count(a) <= 1);
		if (!seeks && archive_entry_size_is_set(e) && archive_entry_size(e) > 0)
			inflate += (uint64_t)archive_entry_size(e);
		if (inflate > MP_ARCHIVE_INFLATE_MAX) {
			out->limit = true;
			break;
		}
	}
	if (archive_read_has_encrypted_entries(a) > 0)
		out->encrypted = true;
done:
	if (a != NULL)
		archive_read_free(a);
	free(s);
}

void mp_archive_free(struct mp_archive *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->names[i]);
	free(a->names);
	memset(a, 0, sizeof(*a));
}
