"""A numpy array that appends in amortised O(1): the columns of ``row_index``'s partitions."""

from __future__ import annotations

import numpy as np


class Grow:
    """A numpy array that appends in amortised O(1)."""

    __slots__ = ("data", "size")

    def __init__(self, dtype: type | np.dtype, width: int = 0) -> None:
        shape = (16, width) if width else (16,)
        self.data = np.zeros(shape, dtype=dtype)
        self.size = 0

    @classmethod
    def of(cls, values: np.ndarray) -> Grow:
        grown = cls(values.dtype, values.shape[1] if values.ndim == 2 else 0)
        grown.extend(values)
        return grown

    @classmethod
    def wrap(cls, values: np.ndarray) -> Grow:
        """``values`` taken as they are, not copied (the first append past them copies)."""
        grown = cls.__new__(cls)  # no placeholder array: a load wraps thousands of these
        grown.data, grown.size = values, len(values)
        return grown

    def extend(self, values: np.ndarray) -> None:
        need = self.size + len(values)
        if need > len(self.data):
            grown = np.zeros((max(need, 2 * len(self.data)), *self.data.shape[1:]), self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : need] = values
        self.size = need

    @property
    def view(self) -> np.ndarray:
        return self.data[: self.size]
