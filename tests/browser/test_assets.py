"""The static files the browser loads from assets/ (served by Reflex at the site's root):
every script parses, and everything the app references exists. No browser needed: a syntax
error in a script is caught here, not by a chat page that silently stops scrolling."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SCRIPTS = sorted(ASSETS.glob("*.js"))
PACKAGE = ASSETS.parent / "utool_chat"


def test_there_are_scripts_to_check():
    assert {"chat.js", "uploads.js", "jump.js", "outbox.js", "mentions.js", "notify.js"} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_each_script_parses(script: Path):
    node = shutil.which("node")
    assert node, "node (Node 20, a prerequisite: see the README) checks the scripts in assets/"
    result = subprocess.run([node, "--check", str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_check_fails_on_a_syntax_error(tmp_path: Path):
    broken = tmp_path / "broken.js"
    broken.write_text(SCRIPTS[0].read_text().replace("const api = {", "const api = {{", 1))
    node = shutil.which("node")
    assert node
    assert subprocess.run([node, "--check", str(broken)], capture_output=True, timeout=60).returncode != 0


def test_every_stylesheet_and_script_the_app_references_is_in_assets():
    sources = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))
    stylesheets = re.findall(r'"/([\w.-]+\.css)"', sources)
    scripts = re.findall(r'rx\.asset\("([\w.-]+)"\)', sources)
    assert {"styles.css", "chat.css", "uploads.css", "features.css"} <= set(stylesheets)
    assert {"chat.js", "uploads.js", "outbox.js", "mentions.js", "notify.js"} <= set(scripts)
    for name in [*stylesheets, *scripts]:
        assert (ASSETS / name).is_file(), name
