"""The local lab: one background process that hosts the parts of a pretend AWS.

- :mod:`ecslab.lab.server`: the lab process itself (moto in server mode, the
  registry, the gap fillers, a small control API).
- :mod:`ecslab.lab.registry`: Debian's ``docker-registry`` as ECR's data plane.
- :mod:`ecslab.lab.fillers`: where the lab makes moto behave like AWS where moto
  only stores objects (notebook 00 lists them).
- :mod:`ecslab.lab.manage`: ``up``/``down``/``status``/``reset``/``doctor``, as
  used by the ``ecslab`` command and by :func:`ecslab.connect`.
"""
