"""The local lab: one background process that hosts the parts of a pretend AWS.

- :mod:`ecslab.lab.server`: the lab process itself (moto in server mode, the
  registry, the gap fillers, a small control API).
- :mod:`ecslab.lab.registry`: Debian's ``docker-registry`` as ECR's data plane.
- :mod:`ecslab.lab.fillers`: where the lab makes moto behave like AWS where moto
  only stores objects (notebook 00 lists them), and the protocols fillers offer
  each other; :mod:`ecslab.lab.wiring` makes them and declares their start order.
- :mod:`ecslab.lab.moto`: the adapters, the only modules that touch moto's
  internals (one patch set per AWS service, checked against the pinned moto).
- :mod:`ecslab.lab.records`: the lab's own state about moto's objects, typed and
  keyed by ARN; :mod:`ecslab.lab.reconcile`: ECS's scheduler as pure functions;
  :mod:`ecslab.lab.runtime`: the container engine as a protocol
  (:mod:`ecslab.lab.docker_runtime` is Docker's).
- :mod:`ecslab.lab.manage`: ``up``/``down``/``status``/``reset``/``doctor``, as
  used by the ``ecslab`` command and by :func:`ecslab.connect`.

The concurrency rule of the lab process
---------------------------------------
One lock, :data:`ecslab.lab.fillers.LAB_LOCK` (reentrant), guards all shared state: moto's
backends and the objects in them, the fillers' records and bookkeeping.

1. Every moto request runs under it (:class:`ecslab.lab.server.LockedApp`, a WSGI middleware),
   and so does every patch of :mod:`ecslab.lab.moto`, which runs inside a request.
2. Every filler tick reads and changes shared state only under it, in as few blocks as it can
   (read a snapshot, let go, do I/O, take it again to decide and change); no read of shared
   state without it.
3. Never under it: an HTTP call to the lab itself (boto3 on the lab's endpoint,
   ``/moto-api/reset``), Docker I/O, a sleep, or a wait on another thread.
   The first would deadlock (the request needs the lock); the others would stall every AWS call.
   ``LAB_LOCK.forbid(what)`` marks such places and raises if the rule is broken; a thread that
   waits over a minute for the lock raises too, naming the holder.
4. It is the outermost lock: a filler's own lock may be taken inside it, never the other way.
5. No busy-waits: wait on ``LAB_LOCK.condition()`` (which lets the lock go while waiting) or
   an :class:`threading.Event`.
"""
