"""The data channel between the grader's checkers and a learner's kernel.

A check runs in the grader's own process; the learner's functions stay in the learner's kernel. When a checker
calls ``create_cluster(lab, name)``, the grader writes the call (function name and arguments, as data) to a file,
asks the kernel to run :func:`call`, and reads the value back from another file. Only data crosses: JSON with a
few markers (the lab, paths, tuples, dicts, a boto3 client's endpoint, an opaque object's type and repr, an
exception's type and message). Nothing the kernel sends is executed or unpickled by the grader, and the verdict is
never sent: a learner who controls the kernel controls only what their own function returns, which the checker then
verifies against the lab's state it reads itself.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePath
from typing import Any

__all__ = ["REPLY_LIMIT", "call", "decode", "encode"]

REPLY_LIMIT = 1_000_000
"""Bytes of a reply the grader reads at most: a larger value is refused, not parsed."""


class _Lab:
    """Stands for ``lab`` in an encoded call: the grader's lab on one side, the kernel's ``ecslab.connect()`` on the other."""


LAB = _Lab()


def encode(value: Any, lab: Any = None, depth: int = 0) -> Any:
    """``value`` as JSON-ready data; ``lab`` (the grader's lab object) becomes a marker."""
    if depth > 50:
        raise ValueError("value nested too deeply")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if value is LAB or (lab is not None and value is lab):
        return {"__lab__": True}
    if isinstance(value, PurePath):
        return {"__path__": str(value)}
    if isinstance(value, list):
        return [encode(item, lab, depth + 1) for item in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode(item, lab, depth + 1) for item in value]}
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, lab, depth + 1), encode(v, lab, depth + 1)] for k, v in value.items()]}
    meta = getattr(value, "meta", None)
    if meta is not None and hasattr(meta, "endpoint_url") and hasattr(meta, "service_model"):
        return {
            "__client__": str(meta.service_model.service_name),
            "endpoint_url": str(meta.endpoint_url),
            "region": str(meta.region_name),
        }
    return {"__object__": type(value).__name__, "repr": repr(value)[:300]}


def _opaque(type_name: str, text: str) -> Any:
    """An object of a class named like the learner's, showing its repr: enough for a check's type message."""
    name = type_name if type_name.isidentifier() else "object"
    return type(name, (), {"__repr__": lambda self: text})()


def decode(data: Any, lab: Any = None, make_client: Any = None) -> Any:
    """The value :func:`encode` made (``lab`` for the lab marker; ``make_client(service, endpoint, region)`` for clients)."""
    if isinstance(data, list):
        return [decode(item, lab, make_client) for item in data]
    if not isinstance(data, dict):
        return data
    if "__lab__" in data:
        return lab
    if "__path__" in data:
        return Path(str(data["__path__"]))
    if "__tuple__" in data:
        return tuple(decode(item, lab, make_client) for item in data["__tuple__"])
    if "__dict__" in data:
        return {_hashable(decode(k, lab, make_client)): decode(v, lab, make_client) for k, v in data["__dict__"]}
    if "__client__" in data and make_client is not None:
        return make_client(str(data["__client__"]), str(data["endpoint_url"]), str(data["region"]))
    if "__object__" in data:
        return _opaque(str(data["__object__"]), str(data.get("repr", ""))[:300])
    return _opaque("dict", repr(data)[:300])


def _hashable(key: Any) -> Any:
    return key if isinstance(key, str | int | float | bool | tuple) or key is None else repr(key)


def call(namespace: dict[str, Any], request_path: str, reply_path: str) -> None:
    """Kernel side: call ``namespace[name](*args)`` as the request file says; write the value or the error to the reply file."""
    request = json.loads(Path(request_path).read_text())
    reply: dict[str, Any]
    function = namespace.get(request["name"])
    if function is None:
        reply = {"missing": f"`{request['name']}` is not defined: run the exercise cell that defines it."}
    elif not callable(function):
        reply = {"missing": f"`{request['name']}` is a {type(function).__name__}, not a function."}
    else:
        lab = namespace.get("lab")
        if lab is None or not hasattr(lab, "ecs"):
            import ecslab

            lab = ecslab.connect()
        from ecslab.checks.core import CheckFailed, forbidden, forbidden_message

        forbid = tuple(request.get("forbid", ()))
        code = getattr(function, "__code__", None)
        named = [name for name in forbid if code is not None and name in code.co_names]
        try:
            if named:
                raise CheckFailed(forbidden_message(str(request["exercise"]), named[0]))
            args = decode(request["args"], lab)
            with forbidden(str(request["exercise"]), forbid):
                result = function(*args)
            reply = {"value": encode(result, lab)}
        except CheckFailed as error:
            reply = {"failed": str(error)[:2000]}
        except NotImplementedError:
            reply = {"raised": "NotImplementedError", "not_implemented": True, "message": ""}
        except BaseException as error:  # noqa: BLE001 - the learner's error, reported as data
            reply = {"raised": type(error).__name__, "message": str(error)[:2000]}
    Path(reply_path).write_text(json.dumps(reply))
