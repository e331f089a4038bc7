"""Checks of a study folder that `flask forms check` runs besides the forms, registered by the
parts built on edc (e-consent checks its `consent/` folder) without edc importing them.

A checker takes the study folder and returns its located problems (`forms_dsl.DslError`,
errors and warnings); the command prints them with the forms' own, the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from flask import Flask

from forms_dsl import DslError

StudyChecker = Callable[[Path], Iterable[DslError]]
EXTENSION = "edc.study_checkers"


def add_checker(app: Flask, checker: StudyChecker) -> None:
    app.extensions.setdefault(EXTENSION, []).append(checker)


def run(app: Flask, folder: Path) -> list[DslError]:
    """Every problem every registered checker finds in `folder`."""
    found: list[DslError] = []
    for checker in app.extensions.get(EXTENSION, []):
        found.extend(checker(folder))
    return found
