"""Shares of a py-spy sample set: where a process's Python time goes.

Not a section of ``bench.run``: a tool for cutting the hot path (issue #20), reading the
raw files ``bench.worker_cpu`` writes with ``BENCH_WORKER_CPU_SPY=DIR`` (or any
``py-spy record --format raw``). Frames are counted per function (lines merged).

``python -m bench.spy_shares FILE... [--root FUNC] [--depth N] [--top N]``:

- the functions with the largest inclusive share of all samples, and their own share;
- with ``--root``, the tree under the first frame whose function name contains FUNC
  (``wsgi_app``, say), each child's share of the root's samples, ``--depth`` levels.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict

_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _frame(raw: str) -> str:
    found = _FRAME.match(raw)
    if not found:
        return raw
    path = found["file"].split("site-packages/")[-1]
    return f"{found['func']} ({path})"


def load(paths: list[str]) -> list[tuple[list[str], int]]:
    stacks = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                found = _LINE.match(line.rstrip("\n"))
                if found:
                    stacks.append(
                        ([_frame(f) for f in found["stack"].split(";")], int(found["count"]))
                    )
    return stacks


def tops(stacks: list[tuple[list[str], int]], top: int) -> None:
    total = sum(n for _, n in stacks)
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, n in stacks:
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    print(f"{total} samples")
    print(" incl.   own  function")
    for frame, n in inclusive.most_common(top):
        print(f"{100 * n / total:5.1f}% {100 * own[frame] / total:5.1f}%  {frame}")


def tree(stacks: list[tuple[list[str], int]], root: str, depth: int) -> None:
    children: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    rooted = 0
    for frames, n in stacks:
        start = next((i for i, f in enumerate(frames) if root in f.split(" (")[0]), None)
        if start is None:
            continue
        rooted += n
        path = frames[start + 1 : start + 1 + depth]
        for level in range(len(path)):
            children[tuple(path[:level])][path[level]] += n
    print(f"under {root}: {rooted} samples")

    def show(prefix: tuple[str, ...], indent: str) -> None:
        for frame, n in children[prefix].most_common():
            if n / rooted < 0.01:
                break
            print(f"{indent}{100 * n / rooted:5.1f}%  {frame}")
            if len(prefix) + 1 < depth:
                show((*prefix, frame), indent + "    ")

    show((), "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--root")
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    stacks = load(args.files)
    if args.root:
        tree(stacks, args.root, args.depth)
    else:
        tops(stacks, args.top)


if __name__ == "__main__":
    main()
