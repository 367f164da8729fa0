"""Progress for long work (builds, pushes, deployments), in a notebook or a terminal.

In a notebook, one output area is updated in place (an HTML bar and a line of
text), so a build shows where it is without scrolling; in a terminal each step is
one printed line. Nothing here needs ipywidgets, so it also works under nbval.
"""

from __future__ import annotations

import html
import sys


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except Exception:
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class Progress:
    """``update(done, total, text)`` while working, ``done(text)`` at the end."""

    def __init__(self, title: str, enabled: bool = True) -> None:
        self.title = title
        self.enabled = enabled
        self._handle = None
        if enabled and _in_notebook():
            from IPython.display import HTML, display

            self._handle = display(HTML(self._html(0, 1, "starting ...")), display_id=True)

    def _html(self, done: int, total: int, text: str) -> str:
        percent = 100 * done / max(total, 1)
        return (
            f"<div style='font-family:monospace'><b>{html.escape(self.title)}</b> "
            f"<div style='background:#eee;width:320px;height:8px;display:inline-block'>"
            f"<div style='background:#ff9900;width:{percent:.0f}%;height:8px'></div></div> "
            f"{html.escape(text)}</div>"
        )

    def update(self, done: int, total: int, text: str) -> None:
        if not self.enabled:
            return
        if self._handle is not None:
            from IPython.display import HTML

            self._handle.update(HTML(self._html(done, total, text)))
        else:
            print(f"[{done}/{total}] {text}", flush=True)

    def done(self, text: str) -> None:
        if not self.enabled:
            return
        if self._handle is not None:
            from IPython.display import HTML

            self._handle.update(HTML(self._html(1, 1, text)))
        else:
            print(f"{self.title}: {text}", flush=True)


class LayerProgress:
    """Per-layer progress for ``docker push``/``pull``: one row per layer, updated in place."""

    def __init__(self, title: str, enabled: bool = True) -> None:
        self.title = title
        self.enabled = enabled
        self.rows: dict[str, tuple[str, int, int]] = {}
        self._handle = None
        self._last = 0.0
        if enabled and _in_notebook():
            from IPython.display import HTML, display

            self._handle = display(HTML(self._html("starting ...")), display_id=True)

    def _html(self, footer: str) -> str:
        rows = []
        for layer, (status, current, total) in self.rows.items():
            percent = (
                100
                if status in ("Pushed", "Layer already exists", "Pull complete", "Already exists")
                else (100 * current / total if total else 0)
            )
            rows.append(
                f"<tr><td><code>{html.escape(layer)}</code></td><td>{html.escape(status)}</td>"
                "<td><div style='background:#eee;width:160px;height:8px'><div "
                f"style='background:#ff9900;width:{percent:.0f}%;height:8px'></div></div></td></tr>"
            )
        return f"<div style='font-family:monospace'><b>{html.escape(self.title)}</b><table>{''.join(rows)}</table>{html.escape(footer)}</div>"

    def update(self, layer: str, status: str, current: int = 0, total: int = 0) -> None:
        if not self.enabled:
            return
        changed = self.rows.get(layer, ("", 0, 0))[0] != status
        self.rows[layer] = (status, current, total)
        if self._handle is not None:
            import time

            from IPython.display import HTML

            now = time.monotonic()
            if changed or now - self._last > 0.2:  # byte counts arrive many times a second
                self._last = now
                self._handle.update(HTML(self._html("")))
        elif changed:
            print(f"  {layer}: {status}", flush=True)

    def done(self, text: str) -> None:
        if not self.enabled:
            return
        if self._handle is not None:
            from IPython.display import HTML

            self._handle.update(HTML(self._html(text)))
        else:
            print(f"{self.title}: {text}", flush=True)
