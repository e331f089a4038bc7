"""The YAML case-report-form language: a pure library (standard library + PyYAML only).

Stages, one module each: `source` (YAML → located nodes) → `build` (checks, frozen `model`) →
`engine` (values, relevance, calculations, edit checks) and `decision` (decision tables).
"""
