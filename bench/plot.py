#!/usr/bin/python3
"""Plots bench/engine's microseconds per message against the number of
rules, log-log, from its saved output: one series per file (e.g. the
prefilter on, and off with MP_PREFILTER=0).
Usage: plot.py OUT.png LABEL=ENGINE-OUTPUT.txt [LABEL=ENGINE-OUTPUT.txt ...]
"""
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LINE = re.compile(r"^\s*(\d+) rules:\s+[\d.]+ msg/s\s+([\d.]+) us/msg")


def main():
    out = sys.argv[1]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for arg in sys.argv[2:]:
        label, path = arg.rsplit("=", 1)
        points = []
        with open(path) as f:
            for line in f:
                m = LINE.match(line)
                if m:
                    points.append((int(m.group(1)), float(m.group(2))))
        if not points:
            sys.exit("%s: no bench/engine result lines" % path)
        xs, ys = zip(*points)
        ax.plot(xs, ys, marker="o", label=label)
        for x, y in points:
            ax.annotate("%.0f" % y if y >= 10 else "%.1f" % y, (x, y), textcoords="offset points",
                        xytext=(4, 6), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rules (envelope tests, lists, header regexes, scores)")
    ax.set_ylabel("microseconds per message, one core")
    ax.set_title("milter-policy engine: cost per message against rule count")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
