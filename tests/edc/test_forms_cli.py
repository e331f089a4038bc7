"""`flask forms check` and `flask forms decide` on the demo study."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

from edc.settings import ROOT

DEMO = ROOT / "studies" / "siopen-nb"


def test_check_passes_on_the_demo_study(app):
    result = app.test_cli_runner().invoke(args=["forms", "check", str(DEMO)])
    assert result.exit_code == 0, result.output
    assert "no errors" in result.output


def test_check_fails_with_located_errors_on_a_broken_copy(app, tmp_path):
    copy = tmp_path / "siopen-nb"
    shutil.copytree(DEMO, copy)
    form = copy / "forms" / "diagnosis.yaml"
    form.write_text(form.read_text().replace("decimals: 1", "decimals: one", 1))
    result = app.test_cli_runner().invoke(args=["forms", "check", str(copy)])
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "E225" in x)
    path, lineno, column, _rest = line.split(":", 3)
    assert path.endswith("forms/diagnosis.yaml")
    assert int(lineno) > 1
    assert int(column) > 1


def test_decide_prints_the_decision_as_json(app):
    inputs = {
        "inrg_stage": "L2",
        "age_months": 20,
        "histology": "nb",
        "grade": "differentiating",
        "mycn": "not_amplified",
        "chr11q": "no",
        "dna_index": 1.2,
    }
    result = app.test_cli_runner().invoke(
        args=["forms", "decide", str(DEMO), "diagnosis.inrg_risk", "--input", json.dumps(inputs)]
    )
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["classifiable"] is True
    assert decision["outputs"] == {"group": "E", "risk": "low"}
    assert decision["explanation"]


def test_decide_names_missing_inputs(app):
    result = app.test_cli_runner().invoke(
        args=["forms", "decide", str(DEMO), "diagnosis.inrg_risk", "--input", '{"inrg_stage": "M"}']
    )
    decision = json.loads(result.output)
    assert decision["classifiable"] is False
    assert "age_months" in decision["missing"]


def _example(table, row) -> dict:
    """Input values that satisfy `row`: a code it allows, or a number inside its range."""
    values: dict = {}
    for spec in table.inputs:
        condition = next((c for c in row.conditions if c.input == spec.id), None)
        if condition is None:
            values[spec.id] = sorted(spec.codes)[0] if spec.codes else 1
        elif condition.codes:
            values[spec.id] = sorted(str(c) for c in condition.codes)[0]
        else:
            iv = condition.intervals[0]
            if iv.low is None:
                value = iv.high - 1
            else:
                value = iv.low if iv.low_closed else iv.low + Decimal("0.5")
            values[spec.id] = float(value)
    return values


def test_decide_on_the_command_line_agrees_with_the_library_for_every_row(app, monkeypatch):
    import forms_dsl

    loaded = forms_dsl.load_study(DEMO)
    study = loaded.value
    # Each command loads the folder (about half a second, shown by the tests above); here it is
    # the same folder fifty times, so the command is handed the study loaded once.
    load_study = forms_dsl.load_study
    monkeypatch.setattr(
        forms_dsl,
        "load_study",
        lambda folder: loaded if folder == str(DEMO) else load_study(folder),
    )
    runner = app.test_cli_runner()
    checked = 0
    for form_id, table_id in (("diagnosis", "inrg_risk"), ("response", "inrc_response")):
        table = study.forms[form_id].decision_tables[table_id]
        for row in table.rows:
            inputs = _example(table, row)
            expected = forms_dsl.decide(table, json.loads(json.dumps(inputs), parse_float=Decimal))
            assert expected.row == row.id, (table_id, row.id, inputs)
            result = runner.invoke(
                args=["forms", "decide", str(DEMO), f"{form_id}.{table_id}", "--input",
                      json.dumps(inputs)]
            )  # fmt: skip
            printed = json.loads(result.output)
            assert printed["row"] == row.id
            assert printed["outputs"] == expected.outputs
            assert printed["classifiable"] == expected.classifiable
            assert printed["flags"] == list(expected.flags)
            checked += 1
    assert checked >= 40
