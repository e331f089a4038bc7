"""Hard limits on expression size: hostile or runaway input is refused quickly, never executed.

Expressions come from study YAML written by people, and their values from people typing into
forms; none of it is trusted. The limits are far above anything a real form needs and keep every
stage (lexer, parser, checker, printer, interpreter) linear and shallow.
"""

from __future__ import annotations

from decimal import Decimal

MAX_TEXT = 2_000  # characters in one expression
MAX_DEPTH = 50  # nesting of parentheses, calls, lists and unary operators
MAX_TREE_DEPTH = 200  # depth of the syntax tree, including chains such as a + b + c + …
MAX_DIGITS = 30  # digits in one number literal
MAX_STRING = 1_000  # characters in one text literal
MAX_ITEMS = 100  # items in one `in [...]` list
MAX_ARGS = 50  # arguments in one function call
MAX_ROUND_DIGITS = 30  # the `n` of round(x, n)

MAX_MAGNITUDE = 10**30  # numbers beyond ±10^30 become blank at evaluation
MAX_MAGNITUDE_DECIMAL = Decimal(MAX_MAGNITUDE)
