"""The engine's Hypothesis state machine (tests/sync/test_sync_state_machine.py) with a longer
profile than CI's: more examples, more steps each.

Run: .venv/bin/python -m bench.state_machine_long [EXAMPLES] [STEPS]   (default 300 30)
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "sync"))
    import test_sync_state_machine as machine

    run_state_machine_as_test(
        machine.Engine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(f"state machine: {examples} examples of up to {steps} steps, every invariant held")


if __name__ == "__main__":
    main()
