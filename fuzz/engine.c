/*
 * Fuzz target: the engine driven by a random sequence of stage events,
 * as a hostile client and MTA could order them: connect, HELO (again and
 * again), MAIL, RCPT, headers, end of headers, body, end of message,
 * abort, a new transaction, a reload to another rule set - with values
 * from the input, in any order the milter protocol allows (events it does
 * not allow at that point are skipped, as libmilter never sends them). A
 * fixed pair of rule sets (regexes, lists, header tests, every stage) is
 * loaded once. Checks: no crash, no leak, sane verdicts.
 *
 * Input: a sequence of events, each one byte (event kind in the low 4
 * bits) followed by a length byte and that many bytes of value.
 */
#include "conf/conf.h"
#include "engine/engine.h"
#include "fuzzutil.h"
#include "rules/ruleset.h"
#include "util/diag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char global[] =
	"list nets { \"192.0.2.0/24\", \"2001:db8::/32\" }\n"
	"rule \"net\" { when client.ip in nets accept }\n"
	"rule \"helo\" { when helo ~ /^(a|b)*x$/ and not tls tempfail }\n"
	"rule \"from\" { when mail.from.domain == \"bad.example\" reject }\n"
	"rule \"spf\" { when spf == fail and rcpt.count > 2 reject }\n"
	"rule \"hdr\" { when header \"Subject\" ~ /(w|i)+n/i or count header \"Received\" > 3 "
	"tag subject \"[S] \" score 2 }\n"
	"rule \"fromh\" { when header.from.count != 1 or header.from.domain in { \".bank.example\" } "
	"add header \"X-F\" \"${header.from} ${helo}\" }\n"
	"rule \"body\" { when body ~ /needle/ and message.size > 10 score 4 }\n"
	"rule \"lim\" { when limit.exceeded log \"limit ${limit.name}\" }\n"
	"rule \"rm\" { when exists header \"X-Remove\" remove header \"X-Remove\" }\n"
	"threshold 5 { quarantine \"score ${score}\" }\n";
static const char domain[] =
	"rule \"closed\" { when rcpt.to.local == \"old\" reject 550 5.1.1 \"closed\" }\n"
	"include \"default.rules\"\n";
static const char extra[] = "rule \"other\" { when helo == \"x\" reject }\n";
static const char deflt[] =
	"rule \"dkim\" { when dkim.aligned accept }\n";

static struct mp_ruleset *load(int variant)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "rs%d", variant);
	char name[96];
	snprintf(name, sizeof(name), "%s/global.rules", dir);
	char text[sizeof(global) + sizeof(extra)];
	snprintf(text, sizeof(text), "%s%s", global, variant ? extra : "");
	fz_write(name, text, strlen(text));
	snprintf(name, sizeof(name), "%s/example.com.rules", dir);
	fz_write(name, domain, sizeof(domain) - 1);
	snprintf(name, sizeof(name), "%s/default.rules", dir);
	fz_write(name, deflt, sizeof(deflt) - 1);
	struct mp_conf *c = mp_conf_new();
	struct mp_diags d;
	mp_diags_init(&d);
	if (c == NULL || mp_conf_set_rules_dir(c, fz_path(dir)) < 0)
		abort();
	c->regex_match_limit = 1000;
	struct mp_ruleset *rs = mp_ruleset_load(c, &d);
	if (rs == NULL) {
		mp_diags_print(&d, stderr);
		abort();
	}
	mp_diags_free(&d);
	mp_conf_free(c);
	return rs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mp_ruleset *rs[2];
	char val[256];
	struct mp_verdict v;

	if (rs[0] == NULL) {
		rs[0] = load(0);
		rs[1] = load(1);
	}
	struct mp_conn *c = mp_conn_new(rs[0], NULL);
	struct mp_txn *t = NULL;
	/* where the transaction is: 0 none, 1 MAIL, 2 RCPT, 3 headers, 4 end
	 * of headers, 5 body, 6 ended */
	int st = 0;
	if (c == NULL)
		abort();
	size_t i = 0;
	while (i + 1 < size) {
		unsigned ev = data[i] & 15;
		size_t len = data[i + 1];
		i += 2;
		if (len > size - i)
			len = size - i;
		memcpy(val, data + i, len);
		val[len] = '\0';
		i += len;
		memset(&v, 0, sizeof(v));
		switch (ev) {
		case 0: if (t == NULL) mp_conn_connect(c, val, len ? val : NULL, 25, &v); break;
		case 1:
			/* HELO resets a transaction */
			mp_txn_free(t);
			t = NULL;
			st = 0;
			mp_conn_helo(c, val, len & 1, &v);
			break;
		case 2:
			mp_txn_free(t);
			t = mp_txn_new(c);
			st = t ? 1 : 0;
			if (t != NULL)
				mp_txn_mail(t, val, len & 1 ? "user" : NULL, &v);
			break;
		case 3: if (st == 1 || st == 2) { mp_txn_rcpt(t, val, &v); st = 2; } break;
		case 4: if (st == 2) { mp_txn_data(t, &v); st = 3; } break;
		case 5: case 6: case 7: {
			static const char *names[] = { "From", "Subject", "X-Remove", "Received",
						       "Authentication-Results", "DKIM-Signature" };
			if (st == 2 || st == 3) {
				mp_txn_header(t, names[(ev + len) % 6], val);
				st = 3;
			}
			break;
		}
		case 8: if (st == 2 || st == 3) { mp_txn_eoh(t, &v); st = 4; } break;
		case 9: if (st == 4 || st == 5) { mp_txn_body(t, val, len); st = 5; } break;
		case 10:
			if (st >= 2 && st <= 5) {
				mp_txn_eom(t, &v);
				st = 6;
				const struct mp_result *r = mp_txn_result(t);
				if (r != NULL && r->v.stage > MP_STAGE_EOM)
					abort();
			}
			break;
		case 11: mp_txn_free(t); t = NULL; st = 0; break;
		case 12:
			/* a reload: the daemon switches rule sets at MAIL, after
			 * the last transaction ended */
			mp_txn_free(t);
			t = NULL;
			st = 0;
			mp_conn_set_ruleset(c, rs[len & 1]);
			break;
		case 13: if (st == 6) mp_txn_result(t); break;
		default:
			for (size_t k = 0; (st == 2 || st == 3) && k < (len + 1) * 40; k++) {
				mp_txn_header(t, "X-Flood", "v");
				st = 3;
			}
			break;
		}
		if (v.outcome > MP_O_REJECT)
			abort();
	}
	mp_txn_free(t);
	mp_conn_free(c);
	return 0;
}
