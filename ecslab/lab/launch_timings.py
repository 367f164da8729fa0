"""Where a task's launch goes: the ECS agent's phases, timed for the last launches (``GET /ecs/launch-timings``).

The agent marks each phase of :meth:`ecslab.lab.ecs_agent.EcsAgent.launch_task` as it ends (the hooks that prepare
the task, the registry's token, the pull, the containers' start, the task's address and gates, RUNNING with its
targets registered). ``benchmarks/scale.py`` prints the split, so a slow start shows which part grew. Only
numbers are kept (no ARNs beyond the task's id): a few hundred bytes per launch, for the last :data:`KEEP` launches.

Concurrency: :attr:`LaunchTimings.lock` guards the list; it is never held while anything else is taken.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

KEEP = 400
"""How many launches are kept (a service of 40 tasks, ten times)."""


class LaunchClock:
    """One launch: each phase's seconds, in the order they ended."""

    def __init__(self, task_id: str, queued_s: float) -> None:
        self.task_id = task_id
        self.phases: dict[str, float] = {"queued": round(max(0.0, queued_s), 4)}
        self.began = time.monotonic()
        self.began_wall = time.time()
        self._last = self.began

    def mark(self, phase: str) -> None:
        """``phase`` ended now: it took the time since the previous mark (added, when a phase repeats)."""
        now = time.monotonic()
        self.phases[phase] = round(self.phases.get(phase, 0.0) + now - self._last, 4)
        self._last = now

    def shape(self) -> dict[str, Any]:
        return {
            "task": self.task_id,
            "began": round(self.began_wall, 4),
            "phases": dict(self.phases),
            "total_s": round(self._last - self.began, 4),
        }


class LaunchTimings:
    """The last :data:`KEEP` launches' clocks."""

    def __init__(self, keep: int = KEEP) -> None:
        self.lock = threading.Lock()
        self.launches: collections.deque[LaunchClock] = collections.deque(maxlen=keep)

    def begin(self, task_id: str, created_at: Any) -> LaunchClock:
        """A launch starts now; ``created_at`` (the task's ``createdAt``, aware datetime) gives the time it was queued."""
        queued = time.time() - created_at.timestamp() if created_at is not None else 0.0
        clock = LaunchClock(task_id, queued)
        with self.lock:
            self.launches.append(clock)
        return clock

    def shape(self) -> dict[str, Any]:
        with self.lock:
            launches = [clock.shape() for clock in self.launches]
        return {"launches": launches}

    def clear(self) -> None:
        with self.lock:
            self.launches.clear()
