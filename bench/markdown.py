"""Benchmark: the message renderer (domain/formatting.py: render) on ordinary and hostile input.

    .venv/bin/python bench/markdown.py [--repeat 50]

Rendering happens once per send or edit (the result is stored with the message), so these
figures are what a send costs on top, and what a worst-case message costs at most. Prints
per-input p50 and max in milliseconds. No database, no network.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from utool_chat.domain.formatting import Mentionable, render  # noqa: E402

MEMBERS = Mentionable({f"{i:032x}": (f"user{i}", f"User {i}") for i in range(50)}, everyone=True)
LIMIT = 4000  # the longest message (config.settings.max_message_chars)

INPUTS = {
    "short text": "See you at 5, bring the slides",
    "typical formatted": "**Heads up** <@" + f"{1:032x}" + "> — the build is `green` again, see "
                         "https://ci.example/run/42 and\n> the old log\n- one\n- two",
    "4,000 chars of prose": ("All work and no play makes Jack a dull boy. " * 100)[:LIMIT],
    "1,000 nested quotes": ("> " * 1000 + "deep")[:LIMIT],
    "4,000 [": "[" * LIMIT,
    "2,000 *a": "*a" * (LIMIT // 2),
    "*_~`[ x 800": "*_~`[" * (LIMIT // 5),
    "307 bare URLs": ("http://a.com " * 400)[:LIMIT],
    "222 links": ("[a](http://x.com) " * 300)[:LIMIT],
    "800 @mentions": ("@user1 " * 800)[:LIMIT],
    "1,000 entities": ("&#1;" * 1000)[:LIMIT],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    render("warm up", MEMBERS)
    print(f"{'input':24} {'p50 ms':>8} {'max ms':>8}")
    for name, content in INPUTS.items():
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            render(content, MEMBERS)
            times.append((time.perf_counter() - started) * 1000)
        print(f"{name:24} {statistics.median(times):8.2f} {max(times):8.2f}")


if __name__ == "__main__":
    main()
