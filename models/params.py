"""Parameter checks of the forecasters, run by ``fit`` (scikit-learn's contract: ``__init__``
only stores its arguments, ``fit`` validates them).

A rule is a predicate and the words for what is right; :func:`check_params` applies the rule of
every parameter that has one and raises one :class:`NarcotrendError` naming the argument, the
bad value and what would be right: "`on_error` of Naive must be 'nan' or 'raise', got 'skip'".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import NarcotrendError


@dataclass(frozen=True)
class Rule:
    """What a parameter must be: ``ok(value)`` and ``expected`` (how an error says it)."""

    ok: Callable[[Any], bool]
    expected: str


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool) and bool(np.isfinite(value))


def integer(minimum: int) -> Rule:
    return Rule(lambda v: _is_int(v) and v >= minimum, f"an integer >= {minimum}")


def optional_integer(minimum: int) -> Rule:
    return Rule(lambda v: v is None or (_is_int(v) and v >= minimum),
                f"None or an integer >= {minimum}")


def one_of(*choices: Any) -> Rule:
    return Rule(lambda v: any(v is c or (v == c and type(v) is type(c)) for c in choices),
                " or ".join(repr(c) for c in choices))


def fraction(open_low: bool = True) -> Rule:
    """A smoothing weight: in (0, 1] (or [0, 1] when ``open_low`` is False)."""
    low = "(0" if open_low else "[0"
    return Rule(lambda v: _is_real(v) and (v > 0 if open_low else v >= 0) and v <= 1,
                f"a number in {low}, 1]")


def positive_real() -> Rule:
    return Rule(lambda v: _is_real(v) and v > 0, "a positive number")


BOOLEAN = Rule(lambda v: isinstance(v, bool | np.bool_), "True or False")
ALIAS = Rule(lambda v: isinstance(v, str) and v.strip() != "" and "-" not in v,
             "a non-empty string without '-' (it names the output columns)")
ON_ERROR = one_of("nan", "raise")
TRANSFORM = one_of(None, "log1p")

# The parameters every forecaster shares.
COMMON: dict[str, Rule] = {
    "alias": ALIAS,
    "nonnegative": BOOLEAN,
    "on_error": ON_ERROR,
    "season_length": integer(1),
    "transform": TRANSFORM,
}


def check_params(owner: str, params: Mapping[str, Any], rules: Mapping[str, Rule]) -> None:
    """Raise a NarcotrendError for the first parameter that breaks its rule."""
    for name, value in params.items():
        rule = rules.get(name)
        if rule is not None and not rule.ok(value):
            raise NarcotrendError(f"`{name}` of {owner} must be {rule.expected}, got {value!r}")
