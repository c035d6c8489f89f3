"""Serve an Explorer's front-end on a bare localhost page, without Jupyter, for benchmarks and quick looks.

The page loads the real bundle with a minimal stand-in for the anywidget model: the widget's synced state
(exactly what ``Explorer.get_state()`` would send, binary buffers included) and a thumbnail endpoint that
calls the Explorer's own message handler. Timings on this page isolate the front-end from the kernel.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ipywidgets.widgets.widget import _remove_buffers

from difficulty_widget.widget.explorer import BUNDLE, Explorer

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>explorer</title></head>
<body style="margin:8px"><div id="root"></div>
<script type="module">
const state = await (await fetch("/state.json")).json();
for (const [k, path] of state.buffer_paths.entries()) {
  const bytes = await (await fetch("/buffer/" + k)).arrayBuffer();
  let target = state.state; for (const p of path.slice(0, -1)) target = target[p];
  target[path[path.length - 1]] = new DataView(bytes);
}
const listeners = {};
const model = {
  get: (k) => state.state[k],
  set: (k, v) => { state.state[k] = v; (listeners["change:" + k] || []).forEach((f) => f()); },
  save_changes: () => { window.__saves = (window.__saves || 0) + 1; },
  on: (name, f) => { (listeners[name] = listeners[name] || []).push(f); },
  off: () => {},
  send: async (content) => {
    const r = await fetch("/message", { method: "POST", body: JSON.stringify(content) });
    const lengths = JSON.parse(r.headers.get("x-lengths"));
    const reply = JSON.parse(r.headers.get("x-content"));
    const all = new Uint8Array(await r.arrayBuffer());
    const buffers = []; let at = 0;
    for (const n of lengths) { buffers.push(new DataView(all.buffer, at, n)); at += n; }
    (listeners["msg:custom"] || []).forEach((f) => f(reply, buffers));
  },
};
window.__model = model;
const widget = (await import("/explorer.js")).default;
window.__t0 = performance.now();
await widget.render({ model, el: document.getElementById("root") });
window.__rendered = performance.now() - window.__t0;
</script></body></html>"""


def serve(explorer: Explorer) -> tuple[str, ThreadingHTTPServer]:
    """Serve ``explorer`` on 127.0.0.1 (a free port); returns the page URL and the server (call shutdown())."""
    state, buffer_paths, buffers = _remove_buffers(explorer.get_state())
    payload = json.dumps({"state": state, "buffer_paths": buffer_paths}).encode()
    bundle = BUNDLE.read_bytes()
    sent: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/":
                self._send(PAGE.encode(), "text/html")
            elif self.path == "/state.json":
                self._send(payload, "application/json")
            elif self.path.startswith("/buffer/"):
                self._send(bytes(buffers[int(self.path.rsplit("/", 1)[1])]), "application/octet-stream")
            elif self.path == "/explorer.js":
                self._send(bundle, "text/javascript")
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            content = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            replies: list[tuple[dict, list[bytes]]] = []
            original = explorer.send
            explorer.send = lambda msg, buffers=None: replies.append((msg, list(buffers or [])))  # type: ignore[method-assign]
            try:
                explorer._on_message(explorer, content, [])
            finally:
                explorer.send = original  # type: ignore[method-assign]
            msg, bufs = replies[0] if replies else ({}, [])
            headers = {"x-lengths": json.dumps([len(b) for b in bufs]), "x-content": json.dumps(msg)}
            self._send(b"".join(bytes(b) for b in bufs), "application/octet-stream", headers)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sent["server"] = server
    return f"http://127.0.0.1:{server.server_address[1]}/", server


# ---------------------------------------------------------------------------------------------- in Chromium
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

#: Page pixels of data points (x, y) in one chart, whose points may be on the canvas layer.
PIXELS = """([chart, points]) => {
  const box = document.querySelector(`[data-chart='${chart}']`), view = box.__view;
  const canvas = box.querySelector("canvas:not(.dw-points)").getBoundingClientRect();
  const [ox, oy] = view.origin(), pad = view.padding();
  const sx = view.scale("x"), sy = view.scale("y");
  return points.map(([x, y]) => [canvas.x + pad.left + ox + sx(x), canvas.y + pad.top + oy + sy(y)]);
}"""

#: Timestamps of pointer moves and of gallery redraws (for brush -> gallery latency).
LATENCY_PROBE = """() => {
  window.__moves = []; window.__draws = [];
  window.addEventListener('pointermove', () => window.__moves.push(performance.now()), true);
  new MutationObserver(() => window.__draws.push(performance.now()))
    .observe(document.querySelector('.dw-spacer'), { childList: true });
}"""


def launch(playwright: Any) -> Any:
    """Headless Chromium with the flags this machine needs."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


def rendered_page(browser: Any, url: str, viewport: tuple[int, int] = (1400, 1000), on_page: Any = None) -> Any:
    """A new page on ``url``, returned once the Explorer has rendered (``window.__rendered`` holds the time)."""
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    if on_page is not None:
        on_page(page)
    page.goto(url)
    page.wait_for_function("() => window.__rendered !== undefined", timeout=600_000)
    return page


def latencies(moves: list[float], draws: list[float]) -> list[float]:
    """Per pointer move, the time to the first gallery redraw before the next move (moves that changed nothing
    visible have none and are not counted)."""
    out = []
    for t, t_next in zip(moves, [*moves[1:], float("inf")], strict=True):
        within = [d for d in draws if t <= d < t_next]
        if within:
            out.append(within[0] - t)
    return out


def drag(page: Any, chart: str, start_value: tuple[float, float], end_value: tuple[float, float]) -> tuple[list, int]:
    """A 40-move brush on ``chart`` between two data points: (latencies of the moves that redrew, moves)."""
    page.evaluate(LATENCY_PROBE)
    start, end = page.evaluate(PIXELS, [chart, [list(start_value), list(end_value)]])
    page.mouse.move(*start)
    page.mouse.down()
    for step in range(1, 41):
        t = step / 40
        page.mouse.move(start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)
        page.wait_for_timeout(30)
    page.mouse.up()
    page.wait_for_timeout(1200)
    moves, draws = page.evaluate("[window.__moves, window.__draws]")
    return latencies(moves, draws), len(moves)
