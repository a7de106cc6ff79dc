/*
 * Fuzz target: test-case files (SPEC §2), through the case parser, the
 * message parser and the replay. The input is the case file; a fixed rule
 * set (written once) and a zone file it may name (zone.txt, the input's
 * second NUL-separated part) sit beside it. Output goes to /dev/null.
 */
#include "conf/conf.h"
#include "fuzzutil.h"
#include "replay/replay.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char rules[] =
	"rule \"spf\" { when spf == fail reject 550 5.7.23 \"SPF ${mail.from.domain}\" }\n"
	"rule \"subj\" { when header \"Subject\" ~ /win/i tag subject \"[X] \" }\n"
	"rule \"dkim\" { when header.from.domain == \"bank.example\" and not dkim.aligned "
	"add header \"X-W\" \"${header.from}\" score 3 }\n"
	"threshold 3 { quarantine \"score ${score}\" }\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	static struct mp_conf *conf;
	const uint8_t *parts[2];
	size_t lens[2];

	if (conf == NULL) {
		fz_write("rules/global.rules", rules, sizeof(rules) - 1);
		conf = mp_conf_new();
		null = fopen("/dev/null", "w");
		if (conf == NULL || null == NULL)
			abort();
	}
	size_t n = fz_split(data, size, parts, lens, 2);
	fz_write("x.case", parts[0], lens[0]);
	fz_write("zone.txt", n > 1 ? parts[1] : (const uint8_t *)"", n > 1 ? lens[1] : 0);
	char *files[] = { (char *)fz_path("x.case") };
	if (mp_cases_run(conf, NULL, NULL, files, 1, null) < -1)
		abort();
	return 0;
}
