/*
 * send - mailing aggregate reports to their rua= addresses (send.c).
 */
#ifndef MP_REPORT_SEND_H
#define MP_REPORT_SEND_H

#include "report/aggregate.h"

struct mp_dns;

/* Mails the report f to each mailto: address of its rua= (verified, size
 * limits kept) through sendmail -t; said tells what became of each
 * address ("sent", or why not). dns: for the verification records (NULL:
 * only addresses in the policy domain's organisational domain). 0, or -1
 * when a sending failed. */
int mp_report_send(const struct mp_report_file *f, const char *org, const char *email,
		   struct mp_dns *dns, void (*said)(const char *to, const char *what, void *arg),
		   void *arg);

#endif
