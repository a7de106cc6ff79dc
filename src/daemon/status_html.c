/*
 * status_html - `milter-policy status --html FILE`: the daemon's summary
 * as one self-contained HTML page (SPEC §13, issue 16): the same numbers
 * as the text summary, and charts drawn as inline SVG - messages by action
 * over the last hour (from the daemon's 10 s snapshots), since start, the
 * rules that matched most, SPF/DKIM/DMARC results, and the time per
 * message and per DNS query (its histograms). No script, no font, no
 * fetch: it opens the same anywhere, mailed or archived. Every text from
 * the daemon is escaped.
 */
#include "daemon/daemon.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define W 640

static const char *const actions[] = { "accept", "reject", "tempfail", "discard", "quarantine",
				       "abort" };
static const char *const colors[] = { "#3a7d44", "#c0392b", "#e67e22", "#7f8c8d", "#8e44ad",
				      "#95a5a6" };
#define N_ACTIONS 6

static void esc(FILE *out, const char *s)
{
	for (; s != NULL && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		default:
			if ((unsigned char)*s >= 0x20)
				fputc(*s, out);
		}
	}
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	return o != NULL && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static double num(json_object *o, const char *key)
{
	json_object *v = get(o, key);
	return v != NULL ? json_object_get_double(v) : 0;
}

/* Horizontal bars: one per (label, value), scaled to the largest. */
static void hbars(FILE *out, const char *id, const char *title, const char *const *labels,
		  const double *v, size_t n, const char *const *fill)
{
	double max = 0;
	int row = 22, h = 40 + (int)n * row;

	for (size_t i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	fprintf(out, "<h2>");
	esc(out, title);
	fprintf(out, "</h2>\n<svg class=\"chart\" id=\"%s\" width=\"%d\" height=\"%d\" "
		     "xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">\n", id, W, h);
	if (n == 0)
		fprintf(out, "<text x=\"10\" y=\"24\" class=\"none\">nothing yet</text>\n");
	for (size_t i = 0; i < n; i++) {
		int y = 10 + (int)i * row;
		int len = max > 0 ? (int)(v[i] / max * (W - 260)) : 0;
		fprintf(out, "<text x=\"200\" y=\"%d\" text-anchor=\"end\">", y + 14);
		esc(out, labels[i]);
		fprintf(out, "</text><rect class=\"bar\" x=\"210\" y=\"%d\" width=\"%d\" height=\"16\" "
			     "fill=\"%s\"><title>%.0f</title></rect>"
			     "<text x=\"%d\" y=\"%d\">%.0f</text>\n",
			y, len > 0 ? len : 1, fill ? fill[i] : "#2e86c1", v[i], 216 + len, y + 14, v[i]);
	}
	fprintf(out, "</svg>\n");
}

/* Messages by action over the last hour: a stacked bar per minute, from
 * the differences between the daemon's cumulative snapshots. */
static void timeline(FILE *out, json_object *history)
{
	size_t n = history ? json_object_array_length(history) : 0;
	double per[60][N_ACTIONS];
	time_t now = time(NULL);
	double max = 0;

	memset(per, 0, sizeof(per));
	for (size_t i = 1; i < n; i++) {
		json_object *a = json_object_array_get_idx(history, i - 1);
		json_object *b = json_object_array_get_idx(history, i);
		long long age = (long long)(now - (time_t)num(b, "t"));
		if (age < 0 || age >= 3600)
			continue;
		int m = 59 - (int)(age / 60);
		for (int k = 0; k < N_ACTIONS; k++) {
			double d = num(get(b, "totals"), actions[k]) - num(get(a, "totals"), actions[k]);
			if (d > 0)
				per[m][k] += d;
		}
	}
	for (int m = 0; m < 60; m++) {
		double s = 0;
		for (int k = 0; k < N_ACTIONS; k++)
			s += per[m][k];
		if (s > max)
			max = s;
	}
	int h = 220, base = 180, bw = (W - 60) / 60;
	fprintf(out, "<h2>Messages per minute, last hour</h2>\n<svg class=\"chart\" id=\"chart-timeline\" "
		     "width=\"%d\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">\n", W, h);
	fprintf(out, "<line x1=\"40\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n", base, W - 10, base);
	fprintf(out, "<text x=\"36\" y=\"24\" text-anchor=\"end\">%.0f</text>"
		     "<text x=\"36\" y=\"%d\" text-anchor=\"end\">0</text>\n", max, base);
	for (int m = 0; m < 60; m++) {
		double y = base;
		for (int k = 0; k < N_ACTIONS; k++) {
			if (per[m][k] <= 0)
				continue;
			double hh = max > 0 ? per[m][k] / max * (base - 20) : 0;
			y -= hh;
			fprintf(out, "<rect class=\"bar\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" "
				     "fill=\"%s\"><title>%s %.0f</title></rect>\n",
				44 + m * bw, y, bw - 1, hh, colors[k], actions[k], per[m][k]);
		}
	}
	fprintf(out, "<text x=\"44\" y=\"%d\">60 min ago</text><text x=\"%d\" y=\"%d\" "
		     "text-anchor=\"end\">now</text>\n", base + 18, W - 10, base + 18);
	for (int k = 0; k < N_ACTIONS; k++)
		fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
			     "<text x=\"%d\" y=\"%d\">%s</text>\n",
			60 + k * 95, base + 28, colors[k], 74 + k * 95, base + 37, actions[k]);
	fprintf(out, "</svg>\n");
}

/* A histogram: a bar per bucket. */
static void histogram(FILE *out, const char *id, const char *title, json_object *h)
{
	json_object *bounds = get(h, "bounds"), *counts = get(h, "counts");
	size_t n = counts ? json_object_array_length(counts) : 0;
	char labels[20][24];
	const char *lp[20];
	double v[20];

	if (n > 20)
		n = 20;
	for (size_t i = 0; i < n; i++) {
		if (bounds != NULL && i < json_object_array_length(bounds)) {
			double s = json_object_get_double(json_object_array_get_idx(bounds, i));
			if (s < 1)
				snprintf(labels[i], sizeof(labels[i]), "<= %g ms", s * 1000);
			else
				snprintf(labels[i], sizeof(labels[i]), "<= %g s", s);
		} else {
			snprintf(labels[i], sizeof(labels[i]), "longer");
		}
		lp[i] = labels[i];
		v[i] = json_object_get_double(json_object_array_get_idx(counts, i));
	}
	hbars(out, id, title, lp, v, n, NULL);
}

int mp_status_html(json_object *o, FILE *out)
{
	json_object *m = get(o, "messages"), *since = get(m, "since_start");
	char started[32];
	time_t st = (time_t)num(o, "started");
	struct tm tm;

	strftime(started, sizeof(started), "%Y-%m-%d %H:%M:%S", localtime_r(&st, &tm));
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		     "<title>milter-policy status</title>\n<style>body{font-family:sans-serif;"
		     "max-width:700px;margin:1em auto;color:#222}svg{display:block;margin:.5em 0}"
		     "svg text{font-size:12px;fill:#222}h2{font-size:1.05em;margin-top:1.5em}"
		     "td{padding:2px 8px}</style></head><body>\n<h1>milter-policy ");
	esc(out, json_object_get_string(get(o, "version")));
	fprintf(out, "</h1>\n<table>\n<tr><td>up since</td><td>%s (%.0f s)</td></tr>\n", started,
		num(o, "uptime_seconds"));
	fprintf(out, "<tr><td>rules</td><td>%.0f rules, %.0f lists, %.0f policies besides global</td></tr>\n",
		num(o, "rules"), num(o, "lists"), num(o, "policies"));
	fprintf(out, "<tr><td>reloads</td><td>%.0f, failed %.0f</td></tr>\n", num(o, "reloads"),
		num(o, "reload_failures"));
	fprintf(out, "<tr><td>sessions open</td><td>%.0f</td></tr>\n", num(o, "sessions_open"));
	fprintf(out, "<tr><td>DNS</td><td>%.0f queries, %.0f temporary failures, %.2f ms on average"
		     "</td></tr>\n</table>\n",
		num(get(o, "dns"), "queries"), num(get(o, "dns"), "tempfail"),
		num(get(o, "dns"), "mean_ms"));

	timeline(out, get(o, "history"));
	double v[N_ACTIONS];
	for (int k = 0; k < N_ACTIONS; k++)
		v[k] = num(since, actions[k]);
	hbars(out, "chart-actions", "Messages since start, by action", actions, v, N_ACTIONS, colors);

	json_object *top = get(o, "top_rules");
	size_t nt = top ? json_object_array_length(top) : 0;
	char names[5][400];
	const char *np[5];
	double tv[5];
	for (size_t i = 0; i < nt && i < 5; i++) {
		json_object *e = json_object_array_get_idx(top, i);
		snprintf(names[i], sizeof(names[i]), "%s [%s]", json_object_get_string(get(e, "rule")),
			 json_object_get_string(get(e, "policy")));
		np[i] = names[i];
		tv[i] = num(e, "hits");
	}
	hbars(out, "chart-rules", "Rules that matched most", np, tv, nt < 5 ? nt : 5, NULL);

	static const char *const checks[] = { "spf", "dkim", "dmarc" };
	static const char *const res[] = { "pass", "fail", "softfail", "neutral", "none", "temperror",
					   "permerror" };
	for (int c = 0; c < 3; c++) {
		char id[32], title[64];
		double rv[7];
		snprintf(id, sizeof(id), "chart-%s", checks[c]);
		snprintf(title, sizeof(title), "%s results since start", c == 0 ? "SPF" : c == 1 ? "DKIM" : "DMARC");
		for (int i = 0; i < 7; i++)
			rv[i] = num(get(get(o, "results"), checks[c]), res[i]);
		hbars(out, id, title, res, rv, 7, NULL);
	}
	histogram(out, "chart-message-latency", "Time per message in the milter",
		  get(get(o, "latency"), "message"));
	histogram(out, "chart-dns-latency", "Time per DNS query", get(get(o, "latency"), "dns"));
	fprintf(out, "</body></html>\n");
	return ferror(out) ? -1 : 0;
}
