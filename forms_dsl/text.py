"""Multilingual text: every label, hint, message and choice label carries all study languages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    """Translations keyed by language code, in the order they were written."""

    items: tuple[tuple[str, str], ...]

    def get(self, lang: str, fallback: str = "en") -> str:
        """The text in `lang`, else the fallback language, else the first one written."""
        values = dict(self.items)
        return values.get(lang) or values.get(fallback) or (self.items[0][1] if self.items else "")

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(lang for lang, _ in self.items)

    @classmethod
    def of(cls, **texts: str) -> Text:
        return cls(tuple(texts.items()))

    def __bool__(self) -> bool:
        return bool(self.items)


EMPTY = Text(())
