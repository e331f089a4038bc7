"""Which names are repeat columns, shared by `check` and `evaluate` so both read a tree alike.

A field of repeating group G is one value per row. Referenced where G's row is known — inside G
itself (`row_group`) or inside any()/all() over G — it is that row's value (a scalar). Anywhere
else it is a *column* and may only be the sole argument of count/sum/min/max; any(cond) and
all(cond) take their group from the columns `cond` mentions outside such aggregates.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from forms_dsl.expr.functions import AGGREGATES, ROW_CONDITIONS
from forms_dsl.expr.nodes import Call, Expr, Name

GroupOf = Callable[[str], str | None]  # field id → its repeating group, None at top level


def aggregated_column(call: Call, group_of: GroupOf, bound: Collection[str]) -> Name | None:
    """The column `call` aggregates, if it is count/sum/min/max over a single column."""
    if call.function not in AGGREGATES or len(call.args) != 1:
        return None
    arg = call.args[0]
    if not isinstance(arg, Name):
        return None
    group = group_of(arg.name)
    return arg if group is not None and group not in bound else None


def row_groups(condition: Expr, group_of: GroupOf, bound: Collection[str]) -> list[str]:
    """The groups whose columns `condition` uses row by row, in order of first use."""
    found: list[str] = []
    stack = [condition]
    while stack:
        node = stack.pop()
        if isinstance(node, Name):
            group = group_of(node.name)
            if group is not None and group not in bound and group not in found:
                found.append(group)
        elif isinstance(node, Call) and (
            node.function in ROW_CONDITIONS or aggregated_column(node, group_of, bound)
        ):
            continue  # they bind or aggregate their own columns
        else:
            stack.extend(reversed(node.children()))
    return found
