/*
 * mime - the MIME structure of a message (SPEC §11) through GMime 3: the
 * entities in document order with what the attachment, archive and MIME
 * fields read of them, the decoded text of its body text parts, and where
 * each entity stands in the message (for strip attachment). The message
 * is read from one seekable source, memory or a file; GMime keeps offsets
 * into it, so a large attachment is never copied into memory (its first
 * MP_SNIFF_BYTES are, for libmagic; an archive is spooled for libarchive:
 * memory up to spool_mem, then an unlinked file). Results are plain
 * strings owned by struct mp_mime.
 */
#ifndef MP_MIME_H
#define MP_MIME_H

#include "mail/archive.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_mime_part {
	unsigned depth;             /* 1 for the root entity */
	int parent;                 /* index of the enclosing entity, -1 for the root */
	char *type;                 /* media type, lower case ("text/plain") */
	char *ct_name;              /* Content-Type name=, decoded; NULL when none */
	char *cd_filename;          /* Content-Disposition filename=, decoded; NULL */
	char *boundary;             /* a multipart's boundary; NULL */
	char *detected;             /* an attachment's type by libmagic; NULL */
	bool leaf;                  /* not a multipart */
	bool message;               /* message/rfc822 (its parts follow it) */
	bool attachment;            /* SPEC §11: a leaf with a name, or disposition
				     * attachment, or a type other than text; an attached message */
	bool is_archive;            /* listed in arch */
	struct mp_archive arch;
	uint64_t size;              /* decoded bytes of a leaf (an attached message: its bytes) */
	/* where the entity stands in the source: from its first header field
	 * (its content when it has none) to the end of its content (for an
	 * attached message, of its last line); -1 when unknown */
	int64_t start, end;
	bool has_headers;
};

/* Lines beginning with "--" GMime is given at most (see mime.c). */
#define MP_MIME_DASH_LINES(max_parts) ((max_parts) * 8 + 64)

struct mp_mime_limits {
	unsigned max_depth;         /* mime_max_depth */
	unsigned max_parts;         /* mime_max_parts */
	size_t max_entries;         /* archive_max_entries */
	size_t text_max;            /* body_scan_limit: bytes of `text` */
	const char *spool_dir;      /* for an archive larger than spool_mem */
	size_t spool_mem;
	bool sniff;                 /* run libmagic (detected) */
	bool archives;              /* list archives (is_archive, arch) */
};

struct mp_mime {
	struct mp_mime_part *parts;
	size_t n, cap;
	unsigned depth;             /* deepest level seen */
	bool malformed;             /* broken structure, encoding or archive */
	const char *limit;          /* "mime_depth", "mime_parts" or "archive_entries" */
	bool failed;                /* no memory, or the input could not be read */
	struct mp_buf text;         /* the `text` field, UTF-8 */
	bool text_full;             /* it reached text_max */
	size_t n_attachments;
};

/* Parses the message (header, blank line, body) in the regular file fd
 * (from its start; not closed) or, when fd < 0, in mem[0..len). The walk
 * stops at a limit (out->limit); out->failed when it could not run.
 * Thread-safe (GMime is set up once per process). */
void mp_mime_parse(int fd, const char *mem, size_t len, const struct mp_mime_limits *lim,
		   struct mp_mime *out);
void mp_mime_free(struct mp_mime *m);

#endif
