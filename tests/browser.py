"""A real headless Chromium (from the distribution's packages) opens a page the project makes: how many
images it shows and how many of them loaded, the rows of its tables, its text, and a screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  document.body.dataset.images = images.length;
  document.body.dataset.loaded = images.filter((image) => image.complete && image.naturalWidth > 0).length;
  document.body.dataset.rows = document.querySelectorAll("table tr").length;
});
</script>"""


@dataclass(frozen=True)
class Page:
    images: int
    images_loaded: int
    table_rows: int
    text: str


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is not installed: run ./dev/setup-tests"
    return found


def render_page(page: Path, screenshot: Path) -> Page:
    """Open ``page`` (a copy with a probe that counts what loaded) and take a screenshot of it."""
    probed = screenshot.with_suffix(".probed.html")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    flags = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    flags += ["--allow-file-access-from-files", "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr
    counts = {
        name: int(match.group(1)) if (match := re.search(rf'data-{name}="(\d+)"', dom.stdout)) else -1
        for name in ("images", "loaded", "rows")
    }
    shot = subprocess.run(
        [*flags, f"--screenshot={screenshot}", "--window-size=1100,2400", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr
    text = re.sub(r"<[^>]+>", " ", dom.stdout)
    return Page(counts["images"], counts["loaded"], counts["rows"], " ".join(text.split()))
