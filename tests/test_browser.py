"""The course as a learner sees it: JupyterLab in a real (headless) browser.

Starts a private JupyterLab on a free 127.0.0.1 port, serving a temp copy of
``notebooks/`` (outputs cleared, so everything checked here comes from this run),
drives Debian's chromium with Playwright, runs every cell of ``00-setup.ipynb``
and checks what a learner would see: figures, the target explorer's toggle
(notebook 00, :func:`ecslab.session.target_explorer`), and no tracebacks.

The kernel's ``ecslab.connect()`` uses the lab the test run's environment names: this test
process's private lab (``tests/conftest.py`` exports its ``ECSLAB_*`` settings before the test), as
a learner's notebook uses theirs.
Run with ``python -m pytest tests/test_browser.py -m browser``; about 15-20 s.

With ``ECSLAB_BROWSER_TEST_URL`` set to a running JupyterLab's URL with its token (the course
image's, ``http://127.0.0.1:PORT/lab?token=...``; see scripts/test-course-image.sh), the same test
drives that server instead of starting one: it writes a copy of ``00-setup.ipynb`` without outputs
to ``browser-test/`` in that server's folder through the contents API and runs it there.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REMOTE_URL_ENV = "ECSLAB_BROWSER_TEST_URL"
"""A running JupyterLab to test instead of a private one (``http://HOST:PORT/lab?token=TOKEN``)."""
REMOTE_FOLDER = "browser-test"
TIMEOUT_S = 60.0
"""Generous on purpose: a busy 2-core machine can be several times slower than usual."""

USER_SETTINGS = {
    # No "Would you like to receive official Jupyter news?" pop-up over the notebook.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    # Every cell attached to the DOM, so selectors see off-screen outputs too.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


@dataclass(frozen=True)
class JupyterLabServer:
    """A running private JupyterLab: where to reach it and the folder it serves."""

    url: str
    token: str
    root_dir: Path
    setup_notebook: str = "00-setup.ipynb"
    """The path of the notebook under test, relative to the server's root folder."""

    def lab_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?token={self.token}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _without_outputs(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata.pop("widgets", None)
    return notebook


def _copy_notebooks_without_outputs(source: Path, target: Path) -> None:
    """Copy the notebooks folder, clearing outputs so only this run's outputs are on the page."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for path in target.glob("*.ipynb"):
        nbformat.write(_without_outputs(nbformat.read(path, as_version=4)), path)


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited at start ({process.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"JupyterLab did not answer {url} within {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and everything it started (kernels) in its own process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # kernels left behind, if any
    except (ProcessLookupError, PermissionError):
        pass
    if process.poll() is None:
        process.wait(timeout=10)


@contextlib.contextmanager
def running_jupyterlab(tmp_path: Path) -> Iterator[JupyterLabServer]:
    """A private JupyterLab on a free port, its config, settings and workspaces all in ``tmp_path``."""
    root_dir = tmp_path / "notebooks"
    _copy_notebooks_without_outputs(NOTEBOOKS, root_dir)
    settings_dir = tmp_path / "user-settings"
    for relative, values in USER_SETTINGS.items():
        path = settings_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    for name in ("config", "data", "runtime", "workspaces", "ipython"):
        (tmp_path / name).mkdir()
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        IPYTHONDIR=str(tmp_path / "ipython"),
        JUPYTER_PLATFORM_DIRS="0",
    )
    port = _free_port()
    token = secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        f"--LabApp.user_settings_dir={settings_dir}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = tmp_path / "jupyterlab.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_answering(f"{url}/api/status?token={token}", process, log, TIMEOUT_S)
        yield JupyterLabServer(url=url, token=token, root_dir=root_dir)
    finally:
        _stop(process)


def _api(url: str, token: str, method: str, path: str, body: object) -> None:
    request = urllib.request.Request(
        f"{url}{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        response.read()


def remote_jupyterlab(address: str) -> JupyterLabServer:
    """A JupyterLab already running at ``address`` (with ``?token=``), given the test's notebook and
    settings through its REST API: notebook 00 without outputs in ``browser-test/``, USER_SETTINGS."""
    parts = urllib.parse.urlsplit(address)
    token = urllib.parse.parse_qs(parts.query).get("token", [""])[0]
    url = f"{parts.scheme}://{parts.netloc}"
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the JupyterLab in {REMOTE_URL_ENV} ({url}) does not answer") from None
        time.sleep(0.5)
    for relative, values in USER_SETTINGS.items():
        plugin = relative.removesuffix(".jupyterlab-settings").replace("/", ":").replace(":", "/", 1)
        _api(url, token, "PUT", f"/lab/api/settings/{plugin}", {"raw": json.dumps(values)})
    _api(url, token, "PUT", f"/api/contents/{REMOTE_FOLDER}", {"type": "directory"})
    notebook = _without_outputs(nbformat.read(NOTEBOOKS / "00-setup.ipynb", as_version=4))
    path = f"{REMOTE_FOLDER}/00-setup.ipynb"
    _api(url, token, "PUT", f"/api/contents/{path}", {"type": "notebook", "format": "json", "content": notebook})
    return JupyterLabServer(url=url, token=token, root_dir=Path(REMOTE_FOLDER), setup_notebook=path)


@pytest.fixture
def jupyterlab_server(tmp_path: Path) -> Iterator[JupyterLabServer]:
    remote = os.environ.get(REMOTE_URL_ENV)
    if remote:
        yield remote_jupyterlab(remote)
        return
    with running_jupyterlab(tmp_path) as server:
        yield server


# The status bar names the kernel and says "Idle" only once the kernel is connected. The toolbar's
# execution indicator is no use for this: it already says data-status="idle" while the status bar
# still reads "No Kernel | Initializing", and a Run All clicked then runs nothing (or, a little
# earlier, opens the "Select Kernel" dialog).
KERNEL_READY = re.compile(r"^(?!No Kernel).+ \| Idle$")

# Run All has finished: nothing waits as [*], the kernel is idle, and every code cell has a number
# in its prompt, or a cell failed (JupyterLab then stops running the cells after it).
RUN_ALL_FINISHED = r"""() => {
    const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent);
    // The toolbar's execution indicator, or the status bar's kernel status where the toolbar has none
    // (CI once rendered the notebook without the indicator: the status bar said Idle, all prompts numbered).
    const indicators = [...document.querySelectorAll('.jp-Notebook-ExecutionIndicator')];
    const idle = indicators.length > 0
        ? indicators.some(e => e.dataset.status === 'idle')
        : [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\|\s*Idle\b/.test(e.textContent));
    const failed = [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
        .some(output => output.textContent.includes('Traceback'));
    const waiting = prompts.some(p => p.includes('*'));
    return idle && !waiting && prompts.length > 0 && (failed || prompts.every(p => /\[\d+\]/.test(p)));
}"""


# What the page shows when Run All does not finish: the prompts, the kernel status, any dialog.
PAGE_STATE = """() => ({
    prompts: [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent),
    indicator: [...document.querySelectorAll('.jp-Notebook-ExecutionIndicator')].map(e => e.dataset.status),
    status_bar: [...document.querySelectorAll('.jp-StatusBar-TextItem')].map(e => e.textContent).filter(t => t.includes('|')),
    dialogs: [...document.querySelectorAll('.jp-Dialog')].map(e => e.textContent.slice(0, 300)),
})"""


def run_all_cells(page: Page, tmp_path: Path) -> None:
    """Menu Run → Run All Cells once the kernel is ready; return when every cell ran or one failed."""
    expect(page.locator(".jp-Notebook .jp-CodeCell").first).to_be_visible()
    expect(page.locator(".jp-StatusBar-TextItem").filter(has_text=KERNEL_READY)).to_have_count(1)
    page.locator(".lm-MenuBar-itemLabel").get_by_text("Run", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
    try:
        page.wait_for_function(RUN_ALL_FINISHED, timeout=TIMEOUT_S * 1000, polling=200)
    except PlaywrightTimeoutError:
        screenshot = tmp_path / "run-all-timeout.png"
        page.screenshot(path=str(screenshot), full_page=True)
        pytest.fail(
            f"Run All Cells did not finish within {TIMEOUT_S:.0f} s; page state {page.evaluate(PAGE_STATE)}; see {screenshot}"
        )


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`)"
)
def test_setup_notebook_runs_in_jupyterlab(jupyterlab_server: JupyterLabServer, tmp_path: Path) -> None:
    """Given notebook 00 in JupyterLab, when the learner runs all cells, then no cell fails, figures
    and the target explorer show, and the explorer's "real AWS" button changes its table."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            browser.set_default_timeout(TIMEOUT_S * 1000)
            expect.set_options(timeout=TIMEOUT_S * 1000)
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.goto(jupyterlab_server.lab_url(jupyterlab_server.setup_notebook))

            run_all_cells(page, tmp_path)

            tracebacks = page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']", has_text="Traceback"
            )
            assert tracebacks.count() == 0, "a cell failed:\n" + "\n---\n".join(tracebacks.all_inner_texts())
            broken_widgets = page.locator(".jp-OutputArea-output", has_text="Error displaying widget")
            assert broken_widgets.count() == 0, "\n".join(broken_widgets.all_inner_texts())

            expect(page.locator(".jp-OutputArea-output img").first).to_be_visible()

            explorer = page.locator(".widget-vbox").filter(has=page.locator(".widget-toggle-buttons", has_text="real AWS"))
            expect(explorer).to_have_count(1)
            table = explorer.locator(".widget-html-content")
            expect(table).to_contain_text("this machine's Docker engine")
            explorer.locator(".widget-toggle-buttons button", has_text="real AWS").click()
            expect(table).to_contain_text("Fargate or your EC2 instances")
            expect(table).to_contain_text("real money")
        finally:
            browser.close()
