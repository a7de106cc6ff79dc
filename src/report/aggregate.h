/*
 * aggregate - DMARC aggregate reports (RFC 7489 §7.2, Appendix C) from
 * history files (aggregate.c): one report per policy domain and UTC day,
 * its records grouped by source IP, disposition, DMARC results, From
 * domain and authentication results, written gzip'd under the RFC's file
 * name (receiver!policy-domain!begin!end.xml.gz).
 */
#ifndef MP_REPORT_AGGREGATE_H
#define MP_REPORT_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

struct mp_report_opts {
	const char *org_name;       /* report_metadata/org_name */
	const char *email;          /* report_metadata/email; its domain names us in file names */
	int64_t from_day, to_day;   /* UTC days, as days since the epoch, both included */
	const char *out_dir;
	const char *const *paths;   /* history files, merged */
	size_t n_paths;
};

/* One report written. */
struct mp_report_file {
	char path[1024];
	char policy_domain[256];
	char report_id[600];
	char rua[1024];             /* the record's rua= (latest row), for sending */
	int64_t begin, end;
	size_t records, messages;
	size_t bytes;               /* of the gzip'd file */
};

/* Writes the reports; calls done for each. 0, or -1 with a reason in err
 * (reports written before the error stay). */
int mp_report_write(const struct mp_report_opts *o,
		    void (*done)(const struct mp_report_file *f, void *arg), void *arg,
		    char *err, size_t errlen);

/* "YYYY-MM-DD" into days since the epoch; 0 or -1. */
int mp_report_parse_day(const char *s, int64_t *day_r);

#endif
