"""Fuzz the signaling entry point with many examples: random and malformed events from random senders against
calls that ring, connect, talk or have ended (the generator and the invariants: tests/voiceconnect/fuzzing.py).

Prints how many events were tried, accepted and rejected (by reason), and how many broke an invariant; exits 1
if any did. Run it with `scripts/bench.sh fuzz [--examples N] [--seed S]` or `python -m bench.fuzz`.
"""

import argparse
import logging
import sys
import time

from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.voiceconnect.fuzzing import Attempt, Fuzzer, Scene, Tally, attempt_lists, scene_states

SHOWN_BREAKS = 20


def fuzz(examples: int, random_seed: int | None) -> Tally:
    tally = Tally()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # breaks are counted, not shrunk: the run goes on to the end
        suppress_health_check=list(HealthCheck),
    )
    @given(states=scene_states, attempts=attempt_lists)
    def one_example(states: tuple[str, ...], attempts: list[Attempt]) -> None:
        Fuzzer(Scene.build(states), tally).run(attempts)

    if random_seed is not None:
        one_example = seed(random_seed)(one_example)
    one_example()
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--examples', type=int, default=10_000, help='examples (scenes) to generate')
    parser.add_argument('--seed', type=int, default=None, help='hypothesis seed, for a repeatable run')
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # every rejection logs a warning: thousands of lines, none of them news
    started = time.monotonic()
    tally = fuzz(args.examples, args.seed)
    elapsed = time.monotonic() - started
    print(f'signaling fuzz: {args.examples} examples in {elapsed:.1f} s')
    print('\n'.join(tally.lines()))
    for problem in tally.breaks[:SHOWN_BREAKS]:
        print(f'BROKEN: {problem}')
    return 1 if tally.breaks else 0


if __name__ == '__main__':
    sys.exit(main())
