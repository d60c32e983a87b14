#!/usr/bin/env python3
"""Copy the wizard's screens into README.md from the TUI snapshots (80x24), which the real
planner's output for a saved facts profile fills (tests/tui_snapshots.rs). The README's
screens are never written by hand: `tests/readme_screens.rs` fails when they differ.

Usage: scripts/readme_screens.py          rewrite README.md's screens
       scripts/readme_screens.py --check  exit 1 when they differ
"""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# README heading (the line before the block) prefix -> snapshot.
SCREENS = [
    ("Check — ", "check_done_80x24"),
    ("Choose a build — ", "choose_80x24"),
    ("Review — ", "review_80x24"),
    ("Run — ", "run_downloading_80x24"),
    ("Result — ", "result_success_80x24"),
]


def screen(name: str) -> list[str]:
    text = (ROOT / "src/tui/snapshots" / f"{name}.snap").read_text(encoding="utf-8")
    body = text.split("---\n", 2)[2]
    return [line[1:-1] for line in body.splitlines() if line.startswith('"')]


def rewrite(readme: str) -> str:
    lines = readme.split("\n")
    for prefix, name in SCREENS:
        at = next(i for i, l in enumerate(lines) if l.startswith(prefix))
        start = next(i for i in range(at, len(lines)) if lines[i] == "```")
        end = next(i for i in range(start + 1, len(lines)) if lines[i] == "```")
        lines[start + 1 : end] = screen(name)
    return "\n".join(lines)


def main() -> int:
    path = ROOT / "README.md"
    old = path.read_text(encoding="utf-8")
    new = rewrite(old)
    if "--check" in sys.argv:
        if new != old:
            print("README.md's screens differ from the snapshots: run scripts/readme_screens.py")
            return 1
        return 0
    path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
