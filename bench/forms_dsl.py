"""forms_dsl speed: load+check of a 300-field form; evaluations per second of a 60-field form.

Baselines measured in the same run: `yaml.safe_load` of the same text (for load+check) and a bare
loop converting the same 60 posted strings to numbers (for one evaluation).

Run: .venv/bin/python -m bench.forms_dsl
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable

import yaml

from forms_dsl import evaluate, load_form_text


def big_form(fields: int) -> str:
    lines = ["form: bench", "version: 1", "title: Bench", "sections:"]
    per_section = 20
    for s in range(0, fields, per_section):
        lines += [f"  - id: s{s}", f"    title: Section {s}", "    fields:"]
        for i in range(s, min(s + per_section, fields)):
            lines += [
                f"      - id: f{i}",
                "        type: integer",
                f"        label: Field {i}",
                "        min: 0",
                "        max: 1000",
            ]
            if i % 3 == 1:
                lines.append(f'        show_if: "f{i - 1} > 10"')
            if i % 5 == 2:
                lines += [
                    "        checks:",
                    f'          - when: "f{i} > 900 and f{i - 1} < 5"',
                    "            severity: warning",
                    "            message: Unusual",
                ]
    return "\n".join(lines) + "\n"


def entry_form() -> str:
    """60 fields: 20 with show_if, 5 calculations, a few checks."""
    lines = [
        "form: entry",
        "version: 1",
        "title: Entry",
        "sections:",
        "  - id: main",
        "    title: Main",
        "    fields:",
    ]
    for i in range(55):
        lines += [
            f"      - id: f{i}",
            "        type: integer",
            f"        label: F{i}",
            "        min: 0",
            "        max: 500",
        ]
        if 0 < i <= 20:
            lines.append(f'        show_if: "f{i - 1} >= 0 and f0 != 99"')
        if i % 11 == 0:
            lines += [
                "        checks:",
                f'          - when: "f{i} > 400"',
                "            message: High",
            ]
    calcs = ["f1 + f2", "sum_a * 2", "max(f3, f4, f5)", "if(f6 > 10, f7, f8)", "round(f9 / 3, 1)"]
    names = ["sum_a", "double", "biggest", "chosen", "third"]
    for name, calc in zip(names, calcs, strict=True):
        lines += [
            f"      - id: {name}",
            "        type: calc",
            f'        calc: "{calc}"',
            f"        label: {name}",
        ]
    return "\n".join(lines) + "\n"


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds per call over `repeat` calls (after one warm-up)."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    text = big_form(300)
    load = timed(lambda: load_form_text(text, "bench.yaml"), 10)
    parse = timed(lambda: yaml.safe_load(text), 10)
    print(
        f"300-field form: load+check {load * 1000:7.1f} ms | yaml.safe_load alone "
        f"{parse * 1000:7.1f} ms | ratio {load / parse:.1f}"
    )

    form = load_form_text(entry_form(), "entry.yaml").value
    posted = {f"f{i}": str(i * 3 % 450) for i in range(55)}
    today = dt.date(2026, 11, 27)
    one = timed(lambda: evaluate(form, posted, today=today), 300)
    bare = timed(lambda: {k: int(v) for k, v in posted.items()}, 300)
    print(
        f"60-field form (20 show_if, 5 calcs): evaluation {one * 1000:6.3f} ms "
        f"= {1 / one:8.0f}/s | bare int() of the same input {bare * 1e6:6.1f} µs "
        f"| ratio {one / bare:.0f} | target < 2 ms: {'met' if one < 0.002 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
