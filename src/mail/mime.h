/*
 * mime - the MIME structure of a message (SPEC §11) through GMime 3: the
 * entities in document order with what the attachment and MIME fields
 * read of them. The message is the header text and a body held by a spool
 * (memory or an unlinked file); GMime reads the body through a stream
 * and keeps only offsets into it, so a large attachment is not copied
 * into memory. Results are plain strings owned by struct mp_mime.
 */
#ifndef MP_MIME_H
#define MP_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_mime_part {
	unsigned depth;             /* 1 for the root entity */
	char *type;                 /* media type, lower case ("text/plain") */
	char *ct_name;              /* Content-Type name=, decoded; NULL when none */
	char *cd_filename;          /* Content-Disposition filename=, decoded; NULL */
	bool leaf;                  /* not a multipart */
	bool message;               /* message/rfc822 (its parts follow it) */
	bool attachment;            /* SPEC §11: a leaf with a name, or disposition
				     * attachment, or a type other than text; an attached message */
	uint64_t size;              /* decoded bytes of a leaf */
};

struct mp_mime_limits {
	unsigned max_depth;         /* mime_max_depth */
	unsigned max_parts;         /* mime_max_parts */
};

struct mp_mime {
	struct mp_mime_part *parts;
	size_t n, cap;
	unsigned depth;             /* deepest level seen */
	bool malformed;             /* GMime found the structure broken */
	const char *limit;          /* "mime_depth" or "mime_parts" when one was reached */
	bool failed;                /* no memory, or the input could not be read */
};

/* Parses the message whose header is head (field lines, CRLF or LF, and
 * the blank line) and whose body is read from body_fd (a descriptor at
 * the start, not closed here) or, when body_fd < 0, body/body_len. The
 * walk stops at a limit (out->limit); out->failed when it could not run.
 * Thread-safe (GMime is set up once per process). */
void mp_mime_parse(const char *head, size_t head_len, int body_fd, const char *body,
		   size_t body_len, const struct mp_mime_limits *lim, struct mp_mime *out);
void mp_mime_free(struct mp_mime *m);

#endif
