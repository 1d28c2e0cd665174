"""One benchmark, two versions of the code, interleaved in one invocation: is a change within noise?

Runs `python <tree>/<script> <args>` for the `--before` and the `--after`
source tree in turn (before, after, before, after, ...), each with its own
tree first on the import path (`PYTHONPATH`), so each runs its own
`gfr_keras` and its own copy of the script. From each run's output it takes
the figures named by `--figure NAME=REGEX` (the regex's first group, a
number) and prints, per figure, the median of each side over `--rounds`,
every round's values, and after / before.

    git worktree add --detach /tmp/before <commit>
    uv run python benchmarks/before_after.py --before /tmp/before --after . --rounds 2 \\
        --figure 'gfr_default samples/s=\\| gfr_default \\| (\\d+) \\|' \\
        -- benchmarks/lmnist_throughput.py --models simple_rnn gfr_default
"""

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys


def run_once(tree, script_and_args, figures, extra_args=()):
    """The figures (`{name: float}`) one run of the tree's script prints; the run's tail if one is missing."""
    environment = {**os.environ, "PYTHONPATH": os.path.abspath(tree)}
    script, *args = script_and_args
    args = [*args, *extra_args]
    completed = subprocess.run([sys.executable, os.path.join(tree, script), *args], cwd=tree, env=environment,
                               capture_output=True, text=True)
    values = {}
    for name, pattern in figures.items():
        match = pattern.search(completed.stdout)
        if completed.returncode != 0 or match is None:
            tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-8:])
            raise SystemExit(f"{tree}: {script} exited {completed.returncode}; figure {name!r} not found. Its last lines:\n{tail}")
        values[name] = float(match.group(1))
    return values


def parse_figures(specs):
    figures = {}
    for spec in specs:
        name, separator, pattern = spec.partition("=")
        if not separator or not pattern:
            raise SystemExit(f"--figure {spec!r}: expected NAME=REGEX")
        figures[name] = re.compile(pattern)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the source tree of the code before the change")
    parser.add_argument("--after", required=True, help="the source tree of the code after it")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--after-args", default="", help="arguments only the after tree's script takes (its new options)")
    parser.add_argument("--figure", action="append", required=True, help="NAME=REGEX, the regex's first group a number")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- SCRIPT ARGS (the script's path inside each tree)")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise SystemExit("give the benchmark after --: SCRIPT ARGS")
    figures = parse_figures(args.figure)
    sides = {"before": args.before, "after": args.after}
    values = {side: {name: [] for name in figures} for side in sides}
    for round_index in range(args.rounds):
        for side, tree in sides.items():
            extra = shlex.split(args.after_args) if side == "after" else ()
            for name, value in run_once(tree, command, figures, extra).items():
                values[side][name].append(value)
            print(f"round {round_index + 1} {side}: " + ", ".join(f"{n} {v[-1]:g}" for n, v in values[side].items()), flush=True)
    extra = f" (after: + {args.after_args})" if args.after_args else ""
    print(f"\n{' '.join(command)}{extra}; before {args.before}, after {args.after}; {args.rounds} interleaved rounds\n")
    print("| figure | before (median) | after (median) | after / before | rounds before | rounds after |")
    print("|---|---:|---:|---:|---|---|")
    for name in figures:
        before, after = (statistics.median(values[side][name]) for side in sides)
        rounds = [", ".join(f"{v:g}" for v in values[side][name]) for side in sides]
        print(f"| {name} | {before:g} | {after:g} | {after / before:.3f} | {rounds[0]} | {rounds[1]} |")


if __name__ == "__main__":
    main()
