"""Paging arithmetic shared by every paged table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    requested: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def number(self) -> int:
        return min(max(1, self.requested), self.pages)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first(self) -> int:
        return self.offset + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.total, self.offset + self.size)

    def slice(self, items: list[int]) -> list[int]:
        return items[self.offset : self.offset + self.size]
