/*
 * helpers - see helpers.h.
 */
#include "helpers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *th_mkdir(const char *const *files)
{
	char tmpl[] = "/tmp/mp-unit-XXXXXX";
	char *dir = mkdtemp(tmpl);

	assert_non_null(dir);
	dir = strdup(dir);
	for (size_t i = 0; files[i] != NULL; i += 2) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		char *slash = strrchr(path, '/');
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(files[i + 1], f);
		fclose(f);
	}
	return dir;
}

static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (d == NULL) {
		unlink(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char sub[4096];
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		rm_tree(sub);
	}
	closedir(d);
	rmdir(path);
}

void th_write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

void th_rmdir(char *dir)
{
	rm_tree(dir);
	free(dir);
}

struct mp_ruleset *th_load(const char *const *files, struct mp_conf *conf, struct mp_diags *d)
{
	return th_load_with(files, conf, NULL, d);
}

struct mp_ruleset *th_load_with(const char *const *files, struct mp_conf *conf,
				const struct mp_load_opts *o, struct mp_diags *d)
{
	char *dir = th_mkdir(files);
	struct mp_conf *c = conf ? conf : mp_conf_new();

	assert_int_equal(mp_conf_set_rules_dir(c, dir), 0);
	struct mp_ruleset *rs = mp_ruleset_load_with(c, o, d);
	if (conf == NULL)
		mp_conf_free(c);
	th_rmdir(dir);
	return rs;
}

struct mp_ruleset *th_global(const char *text)
{
	const char *files[] = { "global.rules", text, NULL };
	struct mp_diags d;

	mp_diags_init(&d);
	struct mp_ruleset *rs = th_load(files, NULL, &d);
	if (rs == NULL)
		mp_diags_print(&d, stderr);
	mp_diags_free(&d);
	assert_non_null(rs);
	return rs;
}

const char *th_first_error(const struct mp_diags *d)
{
	return d->n ? d->v[0].msg : "";
}

void th_msg_init(struct th_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->ip = "198.51.100.7";
	m->name = "mail.sender.example";
	m->helo = "mail.sender.example";
	m->from = "<alice@sender.example>";
	m->rcpts[0] = "<bob@example.com>";
	m->spf = m->spf_helo = -1;
	m->body = "hello\r\n";
}

void th_run(struct mp_ruleset *rs, const struct th_msg *m, struct th_run *r)
{
	struct mp_verdict v;

	memset(r, 0, sizeof(*r));
	r->ck = mp_checker_new("mx.test.example");
	assert_non_null(r->ck);
	struct mp_injected *inj = mp_checker_injected(r->ck);
	inj->spf = m->spf;
	inj->spf_helo = m->spf_helo;
	if (m->dkim)
		assert_int_equal(mp_injected_set_dkim(inj, m->dkim), 0);
	r->conn = mp_conn_new(rs, mp_checker_ops(r->ck));
	assert_non_null(r->conn);
	assert_int_equal(mp_conn_connect(r->conn, m->ip, m->name, 2525, &v), 0);
	assert_int_equal(mp_conn_helo(r->conn, m->helo, m->tls, &v), 0);
	r->txn = mp_txn_new(r->conn);
	assert_non_null(r->txn);
	const char *rcpts[9] = { NULL };
	struct mp_msg_header hdrs[16];
	size_t n_hdrs = 0;
	for (int i = 0; i < 8 && m->rcpts[i]; i++)
		rcpts[i] = m->rcpts[i];
	for (int i = 0; m->headers[i] && n_hdrs < 16; i += 2)
		hdrs[n_hdrs++] = (struct mp_msg_header){ (char *)m->headers[i],
							 (char *)m->headers[i + 1] };
	struct mp_drive_msg dm = { .from = m->from, .auth = m->auth, .rcpts = rcpts,
				   .rcpt_v = r->rcpt_v, .hdrs = hdrs, .n_hdrs = n_hdrs,
				   .body = m->body, .body_len = m->body ? strlen(m->body) : 0 };
	assert_int_equal(mp_drive_message(r->txn, &dm, &v), 0);
	r->res = mp_txn_result(r->txn);
	assert_non_null(r->res);
}

void th_run_free(struct th_run *r)
{
	mp_txn_free(r->txn);
	mp_conn_free(r->conn);
	mp_checker_free(r->ck);
}
