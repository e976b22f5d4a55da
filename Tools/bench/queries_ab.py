#!/usr/bin/env python3
"""Times the queries of queries.py on two Clarm servers over the same store, alternating requests so that
both see the same machine load, checks that they answer alike, and prints both times and their ratio.

Usage: queries_ab.py --a http://127.0.0.1:18093 --b http://127.0.0.1:18094 [--repeat 5]
"""
import argparse

from queries import QUERIES, SITE, clarm


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--a", required=True, help="the server before the change")
    parser.add_argument("--b", required=True, help="the server after the change")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| query | A ms (best of %d) | B ms | B/A | same answer |" % args.repeat)
    print("| --- | --- | --- | --- | --- |")
    for name, spec in QUERIES:
        query = dict(spec, site=SITE, date_range=["2026-10-01", "2026-11-01"], limit=10000)
        a_times, b_times = [], []
        for _ in range(args.repeat):
            elapsed, a_answer = clarm(args.a, query)
            a_times.append(elapsed)
            elapsed, b_answer = clarm(args.b, query)
            b_times.append(elapsed)
        same = a_answer["results"] == b_answer["results"]
        best_a, best_b = min(a_times) * 1000, min(b_times) * 1000
        print("| %s | %.1f | %.1f | %.2f | %s |" % (name, best_a, best_b, best_b / best_a, "yes" if same else "no"), flush=True)


if __name__ == "__main__":
    main()
