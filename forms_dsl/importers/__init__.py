"""Importers: forms written elsewhere (a REDCap data dictionary, an XLSForm) into this language.

None is written yet; this package is where they go, and this is the contract each one keeps so
that an imported form is checked exactly like a YAML one:

1. **Same structure.** An importer reads its file into the located node tree that
   `forms_dsl.source.parse` gives for a YAML form (`Map`, `Seq`, `Scalar`): the same keys
   (`form`, `version`, `title`, `sections`, `fields`, `choices`, `show_if`, `checks`, `calc`...),
   built with the helpers of `forms_dsl.importers.base`. It never builds `Form` objects itself.
2. **Same builder.** The tree goes through `forms_dsl.study.load_form_node` (or
   `base.load_imported`), i.e. the same `FormBuilder`: every check (ids, types, options per type,
   choice codes, expressions, calculation cycles, decision tables) runs unchanged.
3. **Same error codes and places.** A mistake is reported with the builder's own code (a field
   type REDCap knows but this language lacks is E207, an unknown choice code in a condition is
   E447...) at the cell it came from: `base.cell(file, row, column, sheet)` makes a `Location`
   whose line is the row (a CSV record's first line, or the sheet's row number) and whose column
   is the column number (A = 1), printed `dd.csv:12:3` or `form.xlsx[survey]:12:3`. A key is
   located at its value's cell, so "does not apply to a text field" points at that cell.
4. **Own codes only for what YAML cannot express.** Problems only a foreign format can have (an
   unreadable workbook, a REDCap field type with no equivalent, a branching-logic construct
   that cannot be translated) get codes in the reserved range E801-E899, declared with
   `ErrorCode` in the importer's module, with a fix hint like every other code, and collected in
   the same `Problems` so that everything is reported at once.
5. **Expressions** are translated into this language's syntax (REDCap `[field] = '1'` becomes
   `field == '1'`); a problem found in a translated expression is located at the cell holding it.

Planned modules: `redcap` (data dictionary CSV → one form per instrument) and `xlsform`
(survey/choices/settings sheets → one form).
"""

from forms_dsl.importers.base import (
    Importer,
    cell,
    load_imported,
    mapping,
    plain,
    sequence,
    text,
    value,
)

__all__ = [
    "Importer",
    "cell",
    "load_imported",
    "mapping",
    "plain",
    "sequence",
    "text",
    "value",
]
