"""A small terminal emulator: what a VT100-style screen shows after a stream of bytes.

The live view writes only the lines that changed, with cursor movements in
between, so the last bytes written are not the last frame: to know what a person
sees, the stream must be played on a screen. This one understands what rich and
launchctl send (text of any cell width, CR, LF, backspace, tab, cursor up /
down / forward / back / column / position, erase in line and in display, SGR and
mode switches, which change nothing shown, and OSC titles) and scrolls like a
terminal. It also counts ``wraps``: characters written past the last column, i.e.
lines too wide for the screen (autowrap carries them to the next row), and apart
``hidden_wraps``, those written while the cursor was hidden: rich hides it while
the live view is up, so these are the view's own (a long line the CLI prints
before or after it wraps as on any terminal).

``record`` runs a program on a pseudo-terminal and plays what it writes on a
``Screen``, noting when each chunk arrived. Used by the pseudo-terminal tests
and by tests/perf/bench_live_view.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.cells import cell_len


class Screen:
    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.grid = [[" "] * cols for _ in range(rows)]
        self.x = self.y = 0
        self.wrap_pending = False
        self.wraps = 0
        self.hidden_wraps = 0
        self.cursor_hidden = False
        self._pending = ""  # an escape sequence cut between two feeds

    # -- what is on screen --------------------------------------------------------------------

    def lines(self) -> list[str]:
        return ["".join(cell for cell in row if cell is not None).rstrip() for row in self.grid]

    def text(self) -> str:
        return "\n".join(self.lines())

    # -- feeding ------------------------------------------------------------------------------

    def feed(self, data: str) -> None:
        data = self._pending + data
        self._pending = ""
        i = 0
        while i < len(data):
            ch = data[i]
            if ch == "\x1b":
                end = self._escape(data, i)
                if end is None:  # incomplete: keep it for the next feed
                    self._pending = data[i:]
                    return
                i = end
                continue
            self._char(ch)
            i += 1

    def _escape(self, data: str, i: int) -> int | None:
        """Apply the escape sequence at ``data[i]``; the index after it (None: incomplete)."""
        if i + 1 >= len(data):
            return None
        kind = data[i + 1]
        if kind == "[":
            j = i + 2
            while j < len(data) and not ("@" <= data[j] <= "~"):
                j += 1
            if j >= len(data):
                return None
            self._csi(data[i + 2 : j], data[j])
            return j + 1
        if kind == "]":  # OSC: up to BEL or ST
            bel, st = data.find("\x07", i), data.find("\x1b\\", i)
            ends = [e + 1 for e in (bel,) if e >= 0] + [e + 2 for e in (st,) if e >= 0]
            return min(ends) if ends else None
        if kind in "()":  # charset designation: one more character
            return i + 3 if i + 2 < len(data) else None
        return i + 2

    def _csi(self, params: str, final: str) -> None:
        private = params.startswith("?")
        numbers = [int(p) if p.isdigit() else 0 for p in params.lstrip("?").split(";")]
        n = numbers[0] or 1
        if private and numbers[0] == 25 and final in "hl":
            self.cursor_hidden = final == "l"
        if private or final in "mhlrsu":
            return  # modes, colours, scroll regions: nothing moves on screen
        self.wrap_pending = False
        if final == "A":
            self.y = max(0, self.y - n)
        elif final == "B":
            self.y = min(self.rows - 1, self.y + n)
        elif final == "C":
            self.x = min(self.cols - 1, self.x + n)
        elif final == "D":
            self.x = max(0, self.x - n)
        elif final == "G":
            self.x = min(self.cols - 1, n - 1)
        elif final in "Hf":
            row = numbers[0] or 1
            col = numbers[1] if len(numbers) > 1 and numbers[1] else 1
            self.y, self.x = min(self.rows, row) - 1, min(self.cols, col) - 1
        elif final == "K":
            mode = numbers[0]
            row = self.grid[self.y]
            span = {0: range(self.x, self.cols), 1: range(0, self.x + 1)}.get(
                mode, range(self.cols)
            )
            for col in span:
                row[col] = " "
        elif final == "J":
            mode = numbers[0]
            rows = {0: range(self.y + 1, self.rows), 1: range(0, self.y)}.get(
                mode, range(self.rows)
            )
            if mode in (0, 1):
                self._csi(str(mode), "K")
            for row in rows:
                self.grid[row] = [" "] * self.cols

    def _char(self, ch: str) -> None:
        if ch == "\r":
            self.x, self.wrap_pending = 0, False
        elif ch == "\n":
            self._line_feed()
        elif ch == "\b":
            self.x, self.wrap_pending = max(0, self.x - 1), False
        elif ch == "\t":
            self.x = min(self.cols - 1, (self.x // 8 + 1) * 8)
        elif ch < " " or ch == "\x7f":
            return
        else:
            self._put(ch)

    def _put(self, ch: str) -> None:
        width = cell_len(ch)
        if width == 0:
            return
        if self.wrap_pending or self.x + width > self.cols:
            self.wraps += 1
            self.hidden_wraps += self.cursor_hidden
            self.x = 0
            self._line_feed()
        self.wrap_pending = False
        self.grid[self.y][self.x] = ch
        if width == 2:
            self.grid[self.y][self.x + 1] = None  # the wide character's second cell
        self.x += width
        if self.x >= self.cols:
            self.x, self.wrap_pending = self.cols - 1, True

    def _line_feed(self) -> None:
        self.wrap_pending = False
        if self.y == self.rows - 1:
            self.grid.pop(0)
            self.grid.append([" "] * self.cols)
        else:
            self.y += 1


@dataclass
class Recording:
    """What a program wrote to a pseudo-terminal: the screen it left, every chunk's arrival
    (seconds since start, bytes, whether the cursor was hidden when it came: the live view
    was up), the screen at quiet moments (at most one a second), and how the program ended."""

    screen: Screen
    chunks: list[tuple[float, int, bool]] = field(default_factory=list)
    quiet_screens: list[list[str]] = field(default_factory=list)
    seconds: float = 0.0
    exit_status: int | None = None

    @property
    def total_bytes(self) -> int:
        return sum(n for _, n, _ in self.chunks)

    @property
    def bytes_per_minute(self) -> float:
        return self.total_bytes / max(self.seconds, 1e-9) * 60

    def bursts(self, gap: float = 0.03) -> list[float]:
        """When each burst of output began while the live view was up (its first frame, which
        hides the cursor, aside): chunks closer than ``gap`` seconds are one write, and a
        redraw arrives as one burst."""
        starts: list[float] = []
        last = -1.0
        for at, _, hidden in self.chunks:
            if hidden and (not starts or at - last > gap):
                starts.append(at)
            last = at
        return starts

    def peak_bursts_per_second(self) -> int:
        """The most bursts in any one second."""
        starts = self.bursts()
        return max((sum(1 for b in starts if a <= b < a + 1.0) for a in starts), default=0)


def record(
    argv: list[str],
    cols: int,
    rows: int,
    cwd: str,
    env: dict[str, str],
    timeout: float = 300,
) -> Recording:
    """Run ``argv`` on a ``cols`` × ``rows`` pseudo-terminal to its end, playing its output on
    a ``Screen``."""
    import codecs
    import time

    import pexpect

    child = pexpect.spawn(argv[0], argv[1:], cwd=cwd, env=env, dimensions=(rows, cols))
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    recording = Recording(Screen(cols, rows))
    start = time.monotonic()
    last_quiet = -1.0
    deadline = start + timeout
    while time.monotonic() < deadline:
        try:
            data = child.read_nonblocking(65536, timeout=0.1)
        except pexpect.TIMEOUT:
            now = time.monotonic() - start
            if recording.chunks and now - last_quiet >= 1.0:
                recording.quiet_screens.append(recording.screen.lines())
                last_quiet = now
            continue
        except pexpect.EOF:
            break
        recording.chunks.append(
            (time.monotonic() - start, len(data), recording.screen.cursor_hidden)
        )
        recording.screen.feed(decoder.decode(data))
    else:
        child.terminate(force=True)
    recording.seconds = time.monotonic() - start
    child.close()
    recording.exit_status = child.exitstatus
    return recording
