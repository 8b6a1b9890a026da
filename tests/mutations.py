"""Byte mutations the fuzz tests share: bits flipped, pieces inserted, cut, repeated, random."""

from __future__ import annotations

import random


def mutate(data: bytes, rng: random.Random, inserts: list[bytes], rounds: int = 8) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, rounds)):
        op = rng.randrange(6)
        at = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(at, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[at:at] = rng.choice(inserts)
        elif op == 2:
            del buf[at : at + rng.randint(1, 40)]
        elif op == 3:
            buf = buf[:at]  # truncated
        elif op == 4:
            piece = bytes(buf[at : at + 30].split(b"\n")[0])
            buf[at:at] = piece * rng.randint(2, 50)  # a piece repeated
        else:
            buf[at:at] = rng.randbytes(rng.randint(1, 16))
    return bytes(buf)
