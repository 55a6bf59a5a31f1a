"""Columns of numbers as JSON text, a slice at a time, in numpy: what `str(col.tolist())` writes,
without a Python object per number.

A slice becomes a matrix of 4-byte cells, a row per number: its sign, its digits four at a time
(one gather from a table of `0000`..`9999`), its point, its separator. Bytes that are not part
of the number are NUL, and one `bytes.translate` deletes them all.

Floats are written as `repr` writes them: a value printed with at most K decimals (a log's
`loss: 0.6931`) is written from its K-decimal integer `round(|v| * 10**K)`, with its trailing
zeros dropped (`0.69` from `0.6900`). That is `repr`'s text where it is checked to be: the integer
divided by `10**K` gives the value back exactly, and is below 2**52, so no other K-decimal text
gives the value back and the shortest one (`repr`'s) is this one without its trailing zeros.
`repr` writes values below 1e-4 with an exponent: those, and values with more decimals, are
written by `repr` itself; a slice with many such values is left to the caller (None).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

_FULL = [b"%04d" % i for i in range(10_000)]
# a number's leading group: its leading zeros are NUL; 0 is `0` in the units' group, NUL above
_LEAD_UNITS = [b"%4d" % i for i in range(10_000)]
_LEAD_ABOVE = [b"    "] + _LEAD_UNITS[1:]
# a fraction's group with its trailing zeros NUL (all of it for `0000`, but for the first group,
# which keeps one: `2.0`)
_STRIPPED = [text.rstrip(b"0").ljust(4) for text in _FULL]
_FIRST_STRIPPED = [b"0   "] + _STRIPPED[1:]


def _cells(texts: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(texts).replace(b" ", b"\0"), dtype=np.uint32)


_INT_UNITS = _cells(_FULL + _LEAD_UNITS)  # index: group + 10,000 where nothing is above it
_INT_ABOVE = _cells(_FULL + _LEAD_ABOVE)
# index: group + 10,000 where only zeros follow it (+ 20,000 for the first group)
_FRACTION = _cells(_FULL + _STRIPPED + _FIRST_STRIPPED)
_SEPARATOR = np.frombuffer(b", \0\0", dtype=np.uint32)[0]
_POINT = np.frombuffer(b".\0\0\0", dtype=np.uint32)[0]
_MINUS = np.frombuffer(b"-\0\0\0", dtype=np.uint32)[0]
_MARK = np.frombuffer(b"\x01\0\0\0", dtype=np.uint32)[0]  # a value `repr` writes
_POW10 = 10.0 ** np.arange(23)
_EXACT = 2.0**52
MAX_DECIMALS = 12
MAX_REPR = 4  # at most one value in this many written by `repr`, else the caller's way
BLOCK = 1 << 14  # values written at a time


def _groups(top: float) -> int:
    return max(1, -(-len(str(int(top))) // 4))


def _split(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(q // 10,000, q % 10,000) of non-negative integral float64 below 2**52: the digits above
    the last four, and those four as a table index."""
    above = np.floor(q * 1e-4)
    return above, (q - above * 1e4).astype(np.intp)


def _put_int(mat: np.ndarray, col: int, q: np.ndarray, groups: int) -> None:
    """The digits of `q` (non-negative integral float64 below 2**52) into cells `col` to
    `col + groups - 1`, the most significant first, leading zeros NUL."""
    for g in range(col + groups - 1, col - 1, -1):
        above, group = _split(q)
        group += (above == 0) * 10_000  # a lead group
        mat[:, g] = (_INT_UNITS if g == col + groups - 1 else _INT_ABOVE)[group]
        q = above


def _text(mat: np.ndarray) -> str:
    mat[-1, -1] = 0  # no separator after the last
    return mat.tobytes().translate(None, b"\0").decode("ascii")


def _blocks(col: np.ndarray) -> Iterator[np.ndarray]:
    """`col` BLOCK values at a time: a block's arrays stay below the size at which the
    allocator maps fresh pages for each (and faults them in one by one)."""
    return (col[start : start + BLOCK] for start in range(0, len(col), BLOCK))


def ints_json(col: np.ndarray) -> str | None:
    """`str(col.tolist())[1:-1]` of integers (int64 or integral float64) from 0 to 2**52, or
    None for any other."""
    parts = []
    for block in _blocks(col):
        text = _ints_block(block)
        if text is None:
            return None
        parts.append(text)
    return ", ".join(parts)


def _ints_block(col: np.ndarray) -> str | None:
    q = col.astype(np.float64)
    if q.min() < 0 or q.max() >= _EXACT:
        return None
    groups = _groups(q.max())
    mat = np.empty((len(col), groups + 1), dtype=np.uint32)
    _put_int(mat, 0, q, groups)
    mat[:, groups] = _SEPARATOR
    return _text(mat)


def _decimals(magnitude: np.ndarray) -> int | None:
    """The fewest decimals that write all the first values of a block exactly (of those written
    without an exponent), or else most of them."""
    head = magnitude[:64]
    head = head[(head >= 1e-4) | (head == 0)]
    most = None
    for k in range(MAX_DECIMALS + 1):
        with np.errstate(over="ignore"):
            scaled = np.rint(head * _POW10[k])
        fit = np.count_nonzero(scaled / _POW10[k] == head)
        if fit == len(head):
            return k
        if most is None and fit * MAX_REPR >= len(head) * (MAX_REPR - 1):
            most = k
    return most


def floats_json(col: np.ndarray, other: Callable[[np.ndarray], str]) -> str:
    """`str(col.tolist())[1:-1]` of finite float64 values; a block where more than one value in
    MAX_REPR would need `repr` (more decimals than its first values, or below 1e-4) is written
    by `other`."""
    return ", ".join(_floats_block(block) or other(block) for block in _blocks(col))


def _floats_block(col: np.ndarray) -> str | None:
    n = len(col)
    magnitude = np.abs(col)
    k = _decimals(magnitude)
    if k is None:
        return None
    with np.errstate(over="ignore"):
        scaled = np.rint(magnitude * _POW10[k])
    exact = (scaled / _POW10[k] == magnitude) & (scaled < _EXACT) & (
        (magnitude >= 1e-4) | (magnitude == 0))
    repr_count = n - int(np.count_nonzero(exact))
    if repr_count * MAX_REPR > n:
        return None
    if repr_count:
        scaled[~exact] = 0
    whole = np.floor(scaled / _POW10[k])
    fraction = scaled - whole * _POW10[k]
    ints = _groups(whole.max())
    fracs = max(1, -(-k // 4))
    mat = np.empty((n, 1 + ints + 1 + fracs + 1), dtype=np.uint32)
    mat[:, 0] = np.where(np.signbit(col), _MINUS, 0)
    _put_int(mat, 1, whole, ints)
    mat[:, 1 + ints] = _POINT
    # the fraction's digits, left-aligned in `fracs` groups, its trailing zeros NUL
    digits = fraction * _POW10[4 * fracs - k]
    zeros_after = np.ones(n, dtype=bool)
    for g in range(fracs - 1, -1, -1):
        digits, group = _split(digits)
        group += zeros_after * (20_000 if g == 0 else 10_000)
        mat[:, 2 + ints + g] = _FRACTION[group]
        if g:
            zeros_after &= group == 10_000
    mat[:, -1] = _SEPARATOR
    if repr_count:
        mat[~exact] = 0
        mat[~exact, 0] = _MARK
        mat[~exact, -1] = _SEPARATOR
    text = _text(mat)
    if repr_count:
        parts = text.split("\x01")
        out = [parts[0]]
        for value, part in zip(col[~exact].tolist(), parts[1:]):
            out += (repr(value), part)
        text = "".join(out)
    return text
