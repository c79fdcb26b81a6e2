"""Screenshots of the main widget of each lecture, as JupyterLab shows it in Chromium, for the README.

    python tests/browser/screenshots.py [--out docs/screenshots] [LECTURE ...]     (make screenshots)

Each lecture is run top to bottom in a JupyterLab on a temporary copy of the course; its main panel (MAIN,
else the first) is saved as docs/screenshots/<lecture>.png, reduced to a 256-colour palette to stay small.
"""
from __future__ import annotations

import argparse
import io
import pathlib
import sys
import tempfile

from tests.browser.labdriver import ROOT, Lab, Notebook, copy_course, launch

# lecture -> words of the title of the panel that shows the lecture best (the first panel otherwise)
MAIN = {
    "01_initialization": "Signal propagation",
    "02_normalization": "Training with and without BatchNorm",
    "03_generalization": "dropout",
}


def main_panel(titles: list[str], lecture: str) -> int:
    want = MAIN.get(lecture, "").lower()
    return next((i for i, t in enumerate(titles) if want and want in t.lower()), 0)


def small_png(png: bytes) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def shoot(lectures: list[pathlib.Path], out: pathlib.Path) -> list[pathlib.Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "home").mkdir()
        lab = Lab.start(copy_course(tmp / "course"), tmp / "home")
        try:
            with sync_playwright() as p:
                browser = launch(p)
                for lecture in lectures:
                    page = browser.new_page(viewport={"width": 1100, "height": 900}, device_scale_factor=1.25)
                    nb = Notebook(page, lab, f"lectures/{lecture.name}")
                    nb.run_all()
                    titles = nb.panels()
                    if not titles:
                        print(f"{lecture.name}: no widget panel, no screenshot", file=sys.stderr)
                        continue
                    i = main_panel(titles, lecture.stem)
                    nb.wait_for_output(i)
                    panel = nb.panel(i)
                    panel.scroll_into_view_if_needed()
                    page.wait_for_timeout(500)  # let the image finish its layout
                    path = out / f"{lecture.stem}.png"
                    box = panel.bounding_box()  # with a margin, so that no label touches the edge
                    clip = {"x": max(box["x"] - 12, 0), "y": max(box["y"] - 3, 0), "width": box["width"] + 24,
                            "height": box["height"] + 11}
                    path.write_bytes(small_png(page.screenshot(clip=clip)))
                    saved.append(path)
                    print(f"{path}: {titles[i]!r}, {path.stat().st_size // 1024} kB")
                    page.close()
                    lab.shutdown_kernels()
                browser.close()
        finally:
            lab.stop()
    return saved


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=pathlib.Path, default=ROOT / "docs" / "screenshots")
    p.add_argument("lectures", nargs="*", help="lecture stems (default: every lecture)")
    args = p.parse_args()
    lectures = sorted((ROOT / "lectures").glob("*.ipynb"))
    if args.lectures:
        lectures = [path for path in lectures if path.stem in args.lectures]
    shoot(lectures, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
