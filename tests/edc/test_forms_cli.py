"""`flask forms check` and `flask forms decide` on the demo study."""

from __future__ import annotations

import json
import shutil

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
