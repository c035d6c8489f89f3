"""A real JupyterLab in headless Chromium: fixtures that start the server, open a notebook, and talk to
its kernel directly (jupyter_client on the kernel's connection file) to read and set widget state."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running Jupyter server (JupyterLab and, when installed, Notebook 7) in a temporary folder."""

    def __init__(self, root: Path, port: int, token: str, process: subprocess.Popen) -> None:
        self.root, self.port, self.token, self.process = root, port, token, process
        self.base = f"http://127.0.0.1:{port}"

    def url(self, path: str) -> str:
        joiner = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{joiner}token={self.token}"

    def api(self, path: str) -> object:
        with urllib.request.urlopen(self.url(f"api/{path}"), timeout=10) as response:
            return json.loads(response.read())

    def write_notebook(self, name: str, cells: list[str]) -> Path:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = self.root / name
        nbformat.write(nb, path)
        return path

    def kernel_client(self, notebook: str, timeout: float = 60):
        """A jupyter_client connected to the kernel of the session that has ``notebook`` open."""
        from jupyter_client import BlockingKernelClient

        deadline = time.time() + timeout
        while time.time() < deadline:
            sessions = [s for s in self.api("sessions") if s.get("path", "").endswith(notebook)]
            if sessions:
                kernel_id = sessions[0]["kernel"]["id"]
                connection = self.root / ".runtime" / f"kernel-{kernel_id}.json"
                if connection.exists():
                    client = BlockingKernelClient(connection_file=str(connection))
                    client.load_connection_file()
                    client.start_channels()
                    client.wait_for_ready(timeout=30)
                    return KernelCode(client)
            time.sleep(0.3)
        raise TimeoutError(f"no kernel session for {notebook}")


class KernelCode:
    """Run code in the notebook's kernel and get what it printed."""

    def __init__(self, client) -> None:
        self.client = client

    def run(self, code: str, timeout: float = 60) -> str:
        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=self._collect, store_history=False)
        out, self._out = "".join(getattr(self, "_out", [])), []
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"kernel error: {reply['content'].get('ename')}: {reply['content'].get('evalue')}")
        return out

    def _collect(self, msg) -> None:
        if msg["header"]["msg_type"] == "stream":
            self._out = [*getattr(self, "_out", []), msg["content"]["text"]]
        elif msg["header"]["msg_type"] == "error":
            self._out = [*getattr(self, "_out", []), "\n".join(msg["content"]["traceback"])]

    def json(self, expression: str) -> object:
        return json.loads(self.run(f"import json as _j; print(_j.dumps({expression}))").strip())

    def close(self) -> None:
        self.client.stop_channels()


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Iterator[Lab]:
    if not Path(CHROMIUM).exists():
        _skip_or_fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    if shutil.which("jupyter", path=str(Path(sys.executable).parent)) is None:
        _skip_or_fail("jupyter is not installed in this environment")
    root = tmp_path_factory.mktemp("lab")
    port, token = _free_port(), "difficulty-widget-test"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(root / ".config"),
        "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces"),
    }
    cmd = [
        str(Path(sys.executable).parent / "jupyter"), "lab",
        "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
        "--ServerApp.disable_check_xsrf=True", "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
    ]  # fmt: skip
    log = open(root / "server.log", "w")
    process = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Lab(root, port, token, process)
    deadline = time.time() + 90
    while True:
        try:
            server.api("status")
            break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                log.close()
                pytest.fail("JupyterLab did not start:\n" + (root / "server.log").read_text()[-3000:])
            time.sleep(0.5)
    yield server
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


class Page:
    """A Playwright page on one notebook, with every non-local request recorded and blocked."""

    def __init__(self, page, lab: Lab) -> None:
        self.page, self.lab = page, lab
        self.outside: list[str] = []
        self.errors: list[str] = []

        def guard(route) -> None:
            host = urlparse(route.request.url).hostname or ""
            if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
                route.continue_()
            else:
                self.outside.append(route.request.url)
                route.abort()

        page.route("**/*", guard)
        page.on("pageerror", lambda err: self.errors.append(f"{err}\n{err.stack}"))

    def open_lab(self, notebook: str) -> None:
        # a workspace of its own, reset: no tab restored from an earlier page
        workspace = Path(notebook).stem
        self.page.goto(self.lab.url(f"lab/workspaces/{workspace}/tree/{notebook}?reset"))
        self.page.wait_for_selector(".jp-Notebook", timeout=60_000)
        self.wait_idle()

    def open_notebook7(self, notebook: str) -> None:
        self.page.goto(self.lab.url(f"notebooks/{notebook}"))
        self.page.wait_for_selector(".jp-Notebook", timeout=60_000)
        self.wait_idle()

    def wait_idle(self, timeout: float = 90_000) -> None:
        self.page.wait_for_function(
            "() => { const a = window.jupyterapp; const w = a && a.shell.currentWidget;"
            " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
            " return !!k && k.status === 'idle'; }",
            timeout=timeout,
        )

    def run_all(self) -> None:
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_timeout(500)
        self.wait_idle()


@pytest.fixture(scope="session")
def demo_analysis(lab) -> Path:
    """The demo's analysis of the digits (5 epochs), saved in the lab's folder as demo/analysis.parquet."""
    from difficulty_widget.pipeline.demo import run_demo

    run_demo("digits", lab.root / "demo", epochs=5, progress=False)
    return lab.root / "demo" / "analysis.parquet"


def run_in_lab(lab: Lab, browser, name: str, cells: list[str], viewport: tuple[int, int] = (1400, 1000)):
    """Write notebook ``name`` with ``cells``, open it in JupyterLab in a new browser context, and Run All:
    (context, page); the caller waits for what it needs and closes the context."""
    lab.write_notebook(name, cells)
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = Page(context.new_page(), lab)
    page.open_lab(name)
    page.run_all()
    return context, page


def save_readme_picture(page: Page, target: str) -> None:
    """The first Explorer on the page, whole, as a README picture at ``target``: a tall viewport, no toasts, a
    128-colour palette (keeps the committed file small)."""
    from PIL import Image

    page.page.set_viewport_size({"width": 1500, "height": 2400})
    for toast in page.page.locator(".jp-toast-button:has-text('No')").all():
        toast.click()
    widget = page.page.locator(".dw-explorer").first
    widget.scroll_into_view_if_needed()
    page.page.wait_for_timeout(1500)
    widget.screenshot(path=target)
    Image.open(target).convert("RGB").quantize(colors=128).save(target, optimize=True)
