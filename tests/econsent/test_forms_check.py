"""`flask forms check` checks a study's consent folder with its forms, and prints a consent
problem located as file:line:column like any other. (That the demo study, consent folder
included, checks clean is tests/edc/test_forms_cli.py's first test.)"""

from __future__ import annotations

import shutil

from edc.settings import ROOT

DEMO = ROOT / "studies" / "siopen-nb"


def test_a_consent_problem_fails_the_check_with_its_place(app, tmp_path):
    copy = tmp_path / "siopen-nb"
    shutil.copytree(DEMO, copy)
    rules = copy / "consent" / "rules.yaml"
    text = rules.read_text()
    rules.write_text(text.replace("mode: verbal", "mode: spoken", 1))
    result = app.test_cli_runner().invoke(args=["forms", "check", str(copy)])
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "E961" in x)
    path, lineno, column, rest = line.split(":", 3)
    assert path.endswith("consent/rules.yaml")
    expected = next(n for n, x in enumerate(text.splitlines(), 1) if "mode: verbal" in x)
    assert int(lineno) == expected
    assert int(column) > 1
    assert "`spoken` is not an assent mode" in rest
    assert "1 error(s)" in result.output


def test_form_and_consent_problems_are_reported_together(app, tmp_path):
    copy = tmp_path / "siopen-nb"
    shutil.copytree(DEMO, copy)
    form = copy / "forms" / "diagnosis.yaml"
    form.write_text(form.read_text().replace("decimals: 1", "decimals: one", 1))
    document = copy / "consent" / "adult_consent.yaml"
    document.write_text(document.read_text().replace("audience: adult", "audience: adults"))
    result = app.test_cli_runner().invoke(args=["forms", "check", str(copy)])
    assert result.exit_code == 1
    assert any("forms/diagnosis.yaml" in x and "E225" in x for x in result.output.splitlines())
    assert any(
        "consent/adult_consent.yaml" in x and "E901" in x for x in result.output.splitlines()
    )


def test_a_study_without_a_consent_folder_still_checks_clean(app, tmp_path):
    copy = tmp_path / "siopen-nb"
    shutil.copytree(DEMO, copy, ignore=shutil.ignore_patterns("consent"))
    result = app.test_cli_runner().invoke(args=["forms", "check", str(copy)])
    assert result.exit_code == 0, result.output
    assert "no errors" in result.output
