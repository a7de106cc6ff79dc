/*
 * fields - the table of rule-language fields (SPEC §4.3) and the names of
 * stages, operators, results and actions.
 */
#include "rules/program.h"

#include <string.h>

#define F(n, id, t, m, st, multi, named, subst, need) \
	{ n, id, t, m, st, multi, named, subst, need }
/* A field of each attachment (multi-valued, known at end of message). */
#define PART(n, id, t) \
	{ n, id, t, MP_M_STRING, MP_STAGE_EOM, true, false, true, MP_NEED_MIME }
#define MIME(n, id, t, multi) \
	{ n, id, t, MP_M_STRING, MP_STAGE_EOM, multi, false, true, MP_NEED_MIME }
#define PART_NEED(n, id, t, multi, need) \
	{ n, id, t, MP_M_STRING, MP_STAGE_EOM, multi, false, true, MP_NEED_MIME | (need) }

#define DMARC (MP_NEED_DMARC | MP_NEED_SPF | MP_NEED_DKIM)

static const struct mp_field_info fields[MP_F_COUNT] = {
	F("client.ip", MP_F_CLIENT_IP, MP_T_IP, MP_M_IP, MP_STAGE_CONNECT, 0, 0, 1, 0),
	F("client.name", MP_F_CLIENT_NAME, MP_T_STR, MP_M_DOMAIN, MP_STAGE_CONNECT, 0, 0, 1, 0),
	F("client.port", MP_F_CLIENT_PORT, MP_T_NUM, MP_M_NONE, MP_STAGE_CONNECT, 0, 0, 1, 0),
	F("helo", MP_F_HELO, MP_T_STR, MP_M_DOMAIN, MP_STAGE_HELO, 0, 0, 1, 0),
	F("tls", MP_F_TLS, MP_T_BOOL, MP_M_NONE, MP_STAGE_HELO, 0, 0, 1, 0),
	F("mail.from", MP_F_MAIL_FROM, MP_T_STR, MP_M_ADDRESS, MP_STAGE_MAIL, 0, 0, 1, 0),
	F("mail.from.local", MP_F_MAIL_FROM_LOCAL, MP_T_STR, MP_M_STRING, MP_STAGE_MAIL, 0, 0, 1, 0),
	F("mail.from.domain", MP_F_MAIL_FROM_DOMAIN, MP_T_STR, MP_M_DOMAIN, MP_STAGE_MAIL, 0, 0, 1, 0),
	F("auth", MP_F_AUTH, MP_T_BOOL, MP_M_NONE, MP_STAGE_MAIL, 0, 0, 1, 0),
	F("auth.user", MP_F_AUTH_USER, MP_T_STR, MP_M_ADDRESS, MP_STAGE_MAIL, 0, 0, 1, 0),
	F("spf", MP_F_SPF, MP_T_RESULT, MP_M_NONE, MP_STAGE_MAIL, 0, 0, 1, MP_NEED_SPF),
	F("spf.domain", MP_F_SPF_DOMAIN, MP_T_STR, MP_M_DOMAIN, MP_STAGE_MAIL, 0, 0, 1, 0),
	F("spf.helo", MP_F_SPF_HELO, MP_T_RESULT, MP_M_NONE, MP_STAGE_MAIL, 0, 0, 1, MP_NEED_SPF_HELO),
	F("rcpt.to", MP_F_RCPT_TO, MP_T_STR, MP_M_ADDRESS, MP_STAGE_RCPT, 1, 0, 1, 0),
	F("rcpt.to.local", MP_F_RCPT_TO_LOCAL, MP_T_STR, MP_M_STRING, MP_STAGE_RCPT, 1, 0, 1, 0),
	F("rcpt.to.domain", MP_F_RCPT_TO_DOMAIN, MP_T_STR, MP_M_DOMAIN, MP_STAGE_RCPT, 1, 0, 1, 0),
	F("rcpt.count", MP_F_RCPT_COUNT, MP_T_NUM, MP_M_NONE, MP_STAGE_RCPT, 0, 0, 1, 0),
	F("header", MP_F_HEADER, MP_T_STR, MP_M_STRING, MP_STAGE_HEADER, 1, 1, 0, 0),
	F("rawheader", MP_F_RAWHEADER, MP_T_STR, MP_M_STRING, MP_STAGE_HEADER, 1, 1, 0, 0),
	F("exists header", MP_F_EXISTS_HEADER, MP_T_BOOL, MP_M_NONE, MP_STAGE_HEADER, 0, 1, 0, 0),
	F("count header", MP_F_COUNT_HEADER, MP_T_NUM, MP_M_NONE, MP_STAGE_HEADER, 0, 1, 0, 0),
	F("header.from", MP_F_HEADER_FROM, MP_T_STR, MP_M_ADDRESS, MP_STAGE_HEADER, 1, 0, 1, 0),
	F("header.from.domain", MP_F_HEADER_FROM_DOMAIN, MP_T_STR, MP_M_DOMAIN, MP_STAGE_HEADER, 1, 0, 1, 0),
	F("header.from.count", MP_F_HEADER_FROM_COUNT, MP_T_NUM, MP_M_NONE, MP_STAGE_HEADER, 0, 0, 1, 0),
	F("body", MP_F_BODY, MP_T_STR, MP_M_NONE, MP_STAGE_EOM, 0, 0, 0, MP_NEED_BODY),
	F("message.size", MP_F_MESSAGE_SIZE, MP_T_NUM, MP_M_NONE, MP_STAGE_EOM, 0, 0, 1, MP_NEED_SIZE),
	F("dkim", MP_F_DKIM, MP_T_RESULT, MP_M_NONE, MP_STAGE_EOM, 0, 0, 1, MP_NEED_DKIM),
	F("dkim.domains", MP_F_DKIM_DOMAINS, MP_T_STR, MP_M_DOMAIN, MP_STAGE_EOM, 1, 0, 1, MP_NEED_DKIM),
	F("dkim.aligned", MP_F_DKIM_ALIGNED, MP_T_BOOL, MP_M_NONE, MP_STAGE_EOM, 0, 0, 1, MP_NEED_DKIM),
	F("spf.aligned", MP_F_SPF_ALIGNED, MP_T_BOOL, MP_M_NONE, MP_STAGE_EOM, 0, 0, 1, MP_NEED_SPF),
	F("dmarc", MP_F_DMARC, MP_T_RESULT, MP_M_NONE, MP_STAGE_EOM, 0, 0, 1, DMARC),
	F("dmarc.policy", MP_F_DMARC_POLICY, MP_T_RESULT, MP_M_NONE, MP_STAGE_EOM, 0, 0, 1, DMARC),
	F("dmarc.domain", MP_F_DMARC_DOMAIN, MP_T_STR, MP_M_DOMAIN, MP_STAGE_EOM, 0, 0, 1, DMARC),
	F("dmarc.aligned.spf", MP_F_DMARC_ALIGNED_SPF, MP_T_BOOL, MP_M_NONE, MP_STAGE_EOM, 0, 0, 1, DMARC),
	F("dmarc.aligned.dkim", MP_F_DMARC_ALIGNED_DKIM, MP_T_BOOL, MP_M_NONE, MP_STAGE_EOM, 0, 0, 1,
	  DMARC),
	PART("attachment.name", MP_F_ATTACHMENT_NAME, MP_T_STR),
	PART("attachment.ext", MP_F_ATTACHMENT_EXT, MP_T_STR),
	PART("attachment.type", MP_F_ATTACHMENT_TYPE, MP_T_STR),
	PART_NEED("attachment.detected", MP_F_ATTACHMENT_DETECTED, MP_T_STR, true, MP_NEED_SNIFF),
	PART("attachment.size", MP_F_ATTACHMENT_SIZE, MP_T_NUM),
	MIME("attachment.count", MP_F_ATTACHMENT_COUNT, MP_T_NUM, false),
	PART_NEED("archive.name", MP_F_ARCHIVE_NAME, MP_T_STR, true, MP_NEED_ARCHIVE),
	PART_NEED("archive.encrypted", MP_F_ARCHIVE_ENCRYPTED, MP_T_BOOL, false, MP_NEED_ARCHIVE),
	MIME("mime.type", MP_F_MIME_TYPE, MP_T_STR, true),
	MIME("mime.parts", MP_F_MIME_PARTS, MP_T_NUM, false),
	MIME("mime.depth", MP_F_MIME_DEPTH, MP_T_NUM, false),
	MIME("mime.malformed", MP_F_MIME_MALFORMED, MP_T_BOOL, false),
	F("text", MP_F_TEXT, MP_T_STR, MP_M_NONE, MP_STAGE_EOM, 0, 0, 0, MP_NEED_MIME),
	F("score", MP_F_SCORE, MP_T_NUM, MP_M_NONE, MP_STAGE_EOM, 0, 0, 1, 0),
	F("limit.exceeded", MP_F_LIMIT_EXCEEDED, MP_T_BOOL, MP_M_NONE, MP_STAGE_EOM, 0, 0, 1,
	  MP_NEED_LIMIT),
	F("limit.name", MP_F_LIMIT_NAME, MP_T_STR, MP_M_STRING, MP_STAGE_EOM, 0, 0, 1, MP_NEED_LIMIT),
	/* its stage is its keys' (struct mp_rate); named: not a plain field */
	F("rate", MP_F_RATE, MP_T_NUM, MP_M_NONE, MP_STAGE_CONNECT, 1, 1, 0, 0),
};

const struct mp_field_info *mp_field_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < MP_F_COUNT; i++) {
		if (strlen(fields[i].name) == len && memcmp(fields[i].name, name, len) == 0)
			return &fields[i];
	}
	return NULL;
}

const struct mp_field_info *mp_field_info(enum mp_field_id id)
{
	return &fields[id];
}

const char *mp_op_name(enum mp_op op)
{
	static const char *names[] = { "", "==", "!=", "~", "!~", "in", "not in",
				       "<", "<=", ">", ">=" };

	return names[op];
}

const char *mp_act_name(enum mp_act a)
{
	static const char *names[] = { "accept", "reject", "tempfail", "discard",
				       "quarantine", "tag subject", "add header",
				       "remove header", "bcc", "redirect", "score", "log",
				       "strip attachment", "greylist" };

	return names[a];
}

bool mp_act_terminal(enum mp_act a)
{
	return a <= MP_A_QUARANTINE;
}
