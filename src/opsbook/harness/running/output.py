"""A block's output, read back from its file with bounded memory.

A block may print hundreds of megabytes. The harness keeps, per command, the first and
the last `LIMIT // 2` bytes and a note of how many bytes were cut between them, so the
harness, results.json and the terminal stay small whatever a block prints.
"""

from __future__ import annotations

from pathlib import Path

LIMIT = 128 * 1024  # bytes kept per command: head and tail, half each
CHUNK = 1 << 20


class Bounded:
    """Head and tail of a byte stream, and how many bytes fell between them."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.half = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.half:
                del self.tail[: len(self.tail) - self.half]

    @property
    def cut(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        if not self.cut:
            return (self.head + self.tail).decode("utf-8", "replace")
        note = f"\n[... {self.cut} bytes cut by opsbook ...]\n"
        return self.head.decode("utf-8", "replace") + note + self.tail.decode("utf-8", "replace")


def read_split(path: Path, marker: bytes, n: int) -> tuple[list[str], int]:
    """The output of each of `n` commands (split at `marker` + index + newline lines), and
    the index of the last command that started. Reads `path` in chunks, never whole."""
    parts = [Bounded() for _ in range(max(n, 1))]
    current = 0
    last = 0
    carry = b""
    keep = len(marker) + 12  # a marker and its index may straddle two chunks
    with open(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK)
            data = carry + chunk
            hold = len(data) - keep if n > 1 and chunk else len(data)
            if n > 1:
                while (at := data.find(marker)) >= 0:
                    end = data.find(b"\n", at)
                    if end < 0 and chunk:
                        hold = at  # its index is not all here yet: keep it for the next chunk
                        break
                    head = data[at + len(marker) : end if end >= 0 else len(data)]
                    if head.isdigit() and int(head) < n:
                        parts[current].add(data[:at])
                        current = last = int(head)
                        data = data[end + 1 :] if end >= 0 else b""
                    else:  # marker-like text the block printed itself: keep it
                        parts[current].add(data[: at + len(marker)])
                        data = data[at + len(marker) :]
                    hold = len(data) - keep if chunk else len(data)
            hold = max(hold, 0)
            parts[current].add(data[:hold])
            carry = data[hold:]
            if not chunk:
                parts[current].add(carry)
                break
    return [p.text() for p in parts], last
