"""Benchmarks of the course's performance goals: they measure and print, never assert.

Run them all with ``python -m benchmarks`` from the repository root; see
``benchmarks/README.md`` for each script, the goals and figures measured so far.
"""
