"""Launches that pull the same image at the same time share one pull (the ECS agent's, :mod:`ecslab.lab.ecs_agent`).

A service of 20 tasks asks for one image 20 times within a second. Each ``docker pull`` of an image the engine
already has still costs a registry token, the registry's answers (through the lab's ECR front, in the lab process)
and the engine's work; the answer is the same for all of them. So the first launch pulls, and the launches that
ask for the same image while that pull runs wait for it and take its result (the problem, or the digest it
resolved). Every task still records its own ``pullStartedAt`` and ``pullStoppedAt``. A launch that asks once the
pull ended pulls again: a tag pushed again since is seen. Tasks started together then run the same digest, as ECS
resolves an image tag to one digest for all tasks of a deployment.

Concurrency: :attr:`SharedPulls.lock` guards :attr:`SharedPulls.flights` only; the pull runs without it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Flight(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


class SharedPulls(Generic[T]):
    """One ``work()`` at a time per key; callers with the same key meanwhile wait for it and share its result."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.flights: dict[str, _Flight[T]] = {}
        self.shared = 0  # how many calls took another call's result (for the lab's figures)

    def run(self, key: str, work: Callable[[], T]) -> T:
        with self.lock:
            flight = self.flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self.flights[key] = _Flight()
            else:
                self.shared += 1
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.result  # type: ignore[return-value]  # set before done
        try:
            flight.result = work()
            return flight.result
        except BaseException as error:
            flight.error = error
            raise
        finally:
            with self.lock:
                del self.flights[key]
            flight.done.set()
