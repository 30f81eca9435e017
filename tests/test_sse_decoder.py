"""Tests for the WHATWG event-stream decoder.

Every table case is checked fed whole, under every two-way split of its bytes and byte by
byte; generated streams are checked against a literal, character-by-character reading of the
spec written below.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losant_async._sse_decoder import EventTooLarge, ServerSentEvent, SSEDecoder

Ev = tuple[str, str, str, int | None]  # (event, data, id, retry)


def as_tuples(events: list[ServerSentEvent]) -> list[Ev]:
    return [(e.event, e.data, e.id, e.retry) for e in events]


def decode_chunks(chunks: list[bytes], decoder: SSEDecoder | None = None) -> list[Ev]:
    decoder = decoder if decoder is not None else SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.close()
    return as_tuples(events)


# --- a literal reading of the spec, one character at a time -------------------------------


class Reference:
    """HTML "event stream interpretation", transcribed step by step."""

    def __init__(self) -> None:
        self.events: list[Ev] = []
        self.last_event_id = ""
        self.retry: int | None = None
        self.data = ""
        self.event_type = ""
        self.id_buffer = ""
        self.block_retry: int | None = None

    def run(self, raw: bytes) -> list[Ev]:
        text = raw.decode("utf-8", "replace")  # whole-input decode, not incremental
        if text.startswith("\ufeff"):
            text = text[1:]
        line = ""
        i = 0
        while i < len(text):
            c = text[i]
            if c == "\r":
                self.line(line)
                line = ""
                if i + 1 < len(text) and text[i + 1] == "\n":
                    i += 1
            elif c == "\n":
                self.line(line)
                line = ""
            else:
                line += c
            i += 1
        # End of file: the pending line and event are discarded.
        return self.events

    def line(self, line: str) -> None:
        if line == "":
            self.dispatch()
        elif line.startswith(":"):
            pass
        elif ":" in line:
            name, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
            self.field(name, value)
        else:
            self.field(line, "")

    def field(self, name: str, value: str) -> None:
        if name == "event":
            self.event_type = value
        elif name == "data":
            self.data += value + "\n"
        elif name == "id":
            if "\x00" not in value:
                self.id_buffer = value
        elif name == "retry":
            if value and all(c in "0123456789" for c in value):
                self.retry = self.block_retry = int(value)

    def dispatch(self) -> None:
        self.last_event_id = self.id_buffer
        block_retry, self.block_retry = self.block_retry, None
        if self.data == "":
            self.event_type = ""
            return
        if self.data.endswith("\n"):
            self.data = self.data[:-1]
        event_type = self.event_type if self.event_type else "message"
        self.events.append((event_type, self.data, self.last_event_id, block_retry))
        self.data = ""
        self.event_type = ""


# --- the table ------------------------------------------------------------------------------

M = "message"
BIG = "x" * 1_000_000

CASES: list[tuple[str, bytes, list[Ev]]] = [
    ("lf", b"data: a\n\n", [(M, "a", "", None)]),
    ("cr", b"data: a\r\r", [(M, "a", "", None)]),
    ("crlf", b"data: a\r\n\r\n", [(M, "a", "", None)]),
    (
        "mixed",
        b"event: x\rdata: a\r\ndata: b\n\r\ndata: c\r\r",
        [("x", "a\nb", "", None), (M, "c", "", None)],
    ),
    ("cr-then-crlf", b"data: a\r\r\n", [(M, "a", "", None)]),
    ("lf-then-cr", b"data: a\n\r", [(M, "a", "", None)]),
    ("crlf-then-lf", b"data: a\r\n\n", [(M, "a", "", None)]),
    ("cr-lf-lf-is-two-lines", b"data: a\r\ndata: b\n\n", [(M, "a\nb", "", None)]),
    ("cr-before-multibyte", b"data: a\rdata: \xc3\xa9\r\n\r\n", [(M, "a\n\u00e9", "", None)]),
    ("bom", b"\xef\xbb\xbfdata: a\n\n", [(M, "a", "", None)]),
    ("bom-in-data", b"data: \xef\xbb\xbfa\n\n", [(M, "\ufeffa", "", None)]),
    ("bom-after-a-line", b"\n\xef\xbb\xbfdata: a\n\n", []),
    ("second-bom-kept", b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n", []),
    (
        "bom-then-second-bom-in-data",
        b"\xef\xbb\xbfdata:\xef\xbb\xbf\n\n",
        [(M, "\ufeff", "", None)],
    ),
    ("comments", b": hi\ndata: a\n:x\n\n", [(M, "a", "", None)]),
    ("comment-only-block", b":keepalive\n\n", []),
    ("field-without-colon", b"data\ndata\n\n", [(M, "\n", "", None)]),
    ("lone-data-dispatches-empty", b"data\n\n", [(M, "", "", None)]),
    ("event-without-colon", b"event\ndata: x\n\n", [(M, "x", "", None)]),
    ("no-space", b"data:x\n\n", [(M, "x", "", None)]),
    ("one-space", b"data: x\n\n", [(M, "x", "", None)]),
    ("two-spaces", b"data:  x\n\n", [(M, " x", "", None)]),
    ("trailing-space-kept", b"data: x \n\n", [(M, "x ", "", None)]),
    ("colon-in-value", b"data: a:b\ndata::c\n\n", [(M, "a:b\n:c", "", None)]),
    ("multi-line", b"data: a\ndata:\ndata: b\n\n", [(M, "a\n\nb", "", None)]),
    ("trailing-empty-data-line", b"data: a\ndata\n\n", [(M, "a\n", "", None)]),
    (
        "event-type",
        b"event: up\ndata: 1\n\nevent: add\ndata: 2\n\ndata: 3\n\n",
        [("up", "1", "", None), ("add", "2", "", None), (M, "3", "", None)],
    ),
    ("event-type-reset-without-data", b"event: x\n\ndata: y\n\n", [(M, "y", "", None)]),
    ("empty-event-type", b"event:\ndata: y\n\n", [(M, "y", "", None)]),
    (
        "id-set-and-unset",
        b"id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: 2\n\nid:\ndata: d\n\n",
        [(M, "a", "1", None), (M, "b", "1", None), (M, "c", "", None), (M, "d", "", None)],
    ),
    (
        "id-with-nul-ignored",
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\nid: \x00\ndata: c\n\n",
        [(M, "a", "1", None), (M, "b", "1", None), (M, "c", "1", None)],
    ),
    ("id-after-data-in-block", b"data: a\nid: 9\n\n", [(M, "a", "9", None)]),
    ("id-only-block", b"id: 7\n\ndata: a\n\n", [(M, "a", "7", None)]),
    ("id-with-spaces", b"id:  7 \ndata: a\n\n", [(M, "a", " 7 ", None)]),
    (
        "retry",
        b"retry: 1500\ndata: a\n\ndata: b\n\nretry:0\ndata: c\n\n",
        [(M, "a", "", 1500), (M, "b", "", None), (M, "c", "", 0)],
    ),
    (
        "retry-invalid",
        b"retry: 12a\ndata: a\n\nretry\ndata: b\n\nretry:  5\ndata: c\n\n"
        b"retry: -1\ndata: d\n\nretry: 1.5\ndata: e\n\nretry: \xd9\xa3\ndata: f\n\n",
        [(M, d, "", None) for d in "abcdef"],
    ),
    ("retry-last-wins", b"retry: 1\nretry: 2\nretry: x\ndata: a\n\n", [(M, "a", "", 2)]),
    ("retry-only-block", b"retry: 10\n\ndata: x\n\n", [(M, "x", "", None)]),
    ("unknown-field", b"foo: bar\ndata: a\nData: b\ndata : c\n\n", [(M, "a", "", None)]),
    ("blank-lines-only", b"\n\n\r\n\r", []),
    ("unterminated-event", b"data: a\n\ndata: b\n", [(M, "a", "", None)]),
    ("unterminated-line", b"data: a\n\ndata: b", [(M, "a", "", None)]),
    ("unterminated-cr", b"data: a\r\rdata: b\r", [(M, "a", "", None)]),
    ("nul-in-data", b"data: a\x00b\n\n", [(M, "a\x00b", "", None)]),
    ("invalid-utf8", b"data: a\xffb\n\n", [(M, "a\ufffdb", "", None)]),
    ("truncated-utf8", b"data: \xe2\x82\n\n", [(M, "\ufffd", "", None)]),
    ("utf8-surrogate", b"data: \xed\xa0\x80\n\n", [(M, "\ufffd" * 3, "", None)]),
    ("invalid-in-field-name", b"da\xfft\n\n", []),
    ("emoji", b"data: \xf0\x9f\x98\x80!\n\n", [(M, "\U0001f600!", "", None)]),
    (
        "repeated-shapes",  # events like the one before, and others between them
        b"data: 0\n\nevent: t\ndata: 1\n\nevent: t\ndata: 2\n\ndata: 3\n\nevent: t\ndata: 4\n"
        b"data: 5\n\nevent: u\ndata: 6\n\nevent:\ndata: 7\n\n\nevent: t\n\nid: 9\ndata: 8\n\n"
        b"event: t\ndata: 9\n\nevent: t\ndata: 10\n\n:c\n\nevent: t\ndata: 11\nretry: 5\n\n"
        b"event: t\ndata: 12\n\nevent: t\ndata:  13\n\nevent: t\ndata: 14\nid\n\ndata:15\n\n",
        [
            (M, "0", "", None),
            ("t", "1", "", None),
            ("t", "2", "", None),
            (M, "3", "", None),
            ("t", "4\n5", "", None),
            ("u", "6", "", None),
            (M, "7", "", None),
            (M, "8", "9", None),
            ("t", "9", "9", None),
            ("t", "10", "9", None),
            ("t", "11", "9", 5),
            ("t", "12", "9", None),
            ("t", " 13", "9", None),
            ("t", "14", "", None),
            (M, "15", "", None),
        ],
    ),
    (
        "unicode-line-separators-are-data",
        b"data: a\x0bb\x0c\xc2\x85\xe2\x80\xa8\n\n",
        [(M, "a\x0bb\x0c\x85\u2028", "", None)],
    ),
]

BIG_CASE = ("long-line", b"data: " + BIG.encode() + b"\n\n", [(M, BIG, "", None)])


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_table_whole(raw: bytes, expected: list[Ev]) -> None:
    assert decode_chunks([raw]) == expected
    assert Reference().run(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_table_every_two_way_split(raw: bytes, expected: list[Ev]) -> None:
    for cut in range(len(raw) + 1):
        assert decode_chunks([raw[:cut], raw[cut:]]) == expected, cut


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_table_byte_by_byte(raw: bytes, expected: list[Ev]) -> None:
    assert decode_chunks([raw[i : i + 1] for i in range(len(raw))]) == expected


def test_long_line() -> None:
    # Every split of 1 MB would be quadratic; cut near both ends and at a few sizes instead.
    _, raw, expected = BIG_CASE
    assert decode_chunks([raw]) == expected
    for cut in [*range(12), *range(len(raw) - 12, len(raw) + 1), len(raw) // 2]:
        assert decode_chunks([raw[:cut], raw[cut:]]) == expected
    for size in (7, 4096):
        assert decode_chunks([raw[i : i + size] for i in range(0, len(raw), size)]) == expected
    tail = len(raw) - 65536  # byte by byte over the last 64 KiB
    assert decode_chunks([raw[:tail]] + [raw[i : i + 1] for i in range(tail, len(raw))]) == expected


# --- decoder state ----------------------------------------------------------------------------


def test_crlf_split_across_feeds_gives_no_extra_line() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"\ndata: b\r") == []
    assert d.feed(b"\n") == []  # the LF completes the CRLF; no blank line yet
    assert as_tuples(d.feed(b"\r\n")) == [(M, "a\nb", "", None)]


def test_last_event_id_and_retry_properties() -> None:
    d = SSEDecoder()
    assert (d.last_event_id, d.retry) == ("", None)
    d.feed(b"retry: 300\n")
    assert d.retry == 300  # applies as soon as the line is parsed
    d.feed(b"id: 5\n")
    assert d.last_event_id == ""  # the ID buffer only takes effect at the blank line
    d.feed(b"\n")
    assert d.last_event_id == "5"
    d.feed(b"id: 6\ndata: x\n")
    assert d.close() == []  # the unterminated event is dropped ...
    assert d.last_event_id == "5"  # ... and so is its id
    assert as_tuples(d.feed(b"data: y\n\n")) == [(M, "y", "5", None)]
    assert d.retry == 300


def test_reset_keeps_last_event_id_and_restores_bom_state() -> None:
    d = SSEDecoder()
    d.feed(b"\xef\xbb\xbfid: 42\ndata: a\n\ndata: pending\nid: 43\nevent: x\ndata: partial")
    d.reset()
    assert d.last_event_id == "42"
    assert as_tuples(d.feed(b"\xef\xbb\xbfdata: b\n\n")) == [(M, "b", "42", None)]
    assert d.feed(b"\xef\xbb\xbfdata: c\n\n") == []  # mid-stream, a BOM is a character


def test_split_bom_and_partial_bom() -> None:
    d = SSEDecoder()
    assert d.feed(b"\xef") == []
    assert d.feed(b"\xbb") == []
    assert as_tuples(d.feed(b"\xbfdata: a\n\n")) == [(M, "a", "", None)]
    # A lone EF BB at the start is invalid, replaced, and not a BOM.
    assert decode_chunks([b"\xef\xbbdata: a\n\n"]) == []


def test_event_object() -> None:
    (event,) = SSEDecoder().feed(b'event: e\ndata: {"a": [1, 2]}\nid: 3\nretry: 9\n\n')
    assert event == ServerSentEvent("e", '{"a": [1, 2]}', "3", 9)
    assert event.json() == {"a": [1, 2]}
    with pytest.raises(AttributeError):
        event.data = "x"  # type: ignore[misc]
    assert hash(event) == hash(ServerSentEvent("e", '{"a": [1, 2]}', "3", 9))


def test_huge_retry_value_is_ignored() -> None:
    d = SSEDecoder()
    assert as_tuples(d.feed(b"retry: " + b"9" * 5000 + b"\ndata: a\n\n")) == [(M, "a", "", None)]
    assert d.retry is None


# --- max_event_size ---------------------------------------------------------------------------


def test_event_under_limit_passes() -> None:
    d = SSEDecoder(max_event_size=100)
    data = "\u00e9" * 47  # 94 bytes in a 100-byte line
    assert as_tuples(d.feed(f"data: {data}\n\n".encode())) == [(M, data, "", None)]
    # 3 lines of 30 bytes plus 2 joining LFs: 92 bytes of data.
    chunks = [b"data: " + b"x" * 30 + b"\n"] * 3 + [b"\n"]
    assert decode_chunks(chunks, SSEDecoder(max_event_size=100)) == [
        (M, "\n".join(["x" * 30] * 3), "", None)
    ]


def test_event_over_limit_raises() -> None:
    d = SSEDecoder(max_event_size=100)
    with pytest.raises(EventTooLarge, match="max_event_size=100") as info:
        for _ in range(10):
            d.feed(b"data: " + b"x" * 30 + b"\n")
    assert info.value.limit == 100
    assert isinstance(info.value, ValueError)


def test_data_size_counts_utf8_bytes() -> None:
    d = SSEDecoder(max_event_size=100)
    with pytest.raises(EventTooLarge):
        d.feed(("data: " + "\u00e9" * 40 + "\n").encode() * 2)  # 80 chars, 161 bytes


def test_unterminated_huge_line_raises() -> None:
    d = SSEDecoder(max_event_size=10_000)
    with pytest.raises(EventTooLarge):
        for _ in range(1000):  # no line end ever arrives
            d.feed(b"data: " + b"y" * 1000)
    assert sum(len(part) for part in d._tail) < 12_000  # bounded, not the whole stream


def test_long_line_raises_wherever_the_chunks_are_cut() -> None:
    raw = b"data: ok\n\nevent: " + b"z" * 200 + b"\ndata: never\n\n"
    for cut in range(len(raw) + 1):
        d = SSEDecoder(max_event_size=100)
        got: list[ServerSentEvent] = []
        with pytest.raises(EventTooLarge) as info:
            for chunk in (raw[:cut], raw[cut:]):
                got += d.feed(chunk)
        assert as_tuples(got + info.value.events) == [(M, "ok", "", None)]
        assert d.last_event_id == ""


def test_events_before_the_error_are_handed_over() -> None:
    d = SSEDecoder(max_event_size=50)
    with pytest.raises(EventTooLarge) as info:
        d.feed(b"id: 1\ndata: a\n\ndata: " + b"x" * 60 + b"\n\n")
    assert as_tuples(info.value.events) == [(M, "a", "1", None)]
    assert d.last_event_id == "1"


# --- generated streams ------------------------------------------------------------------------

NAMES = st.sampled_from(
    ["data", "event", "id", "retry", "foo", "", "dat", "Data", "data ", "\ufeff"]
)
VALUES = st.one_of(
    st.text(max_size=10),
    st.sampled_from(["", " ", "  x", "12", "007", "1a", "-1", "\x00", "a\x00b", "\ufeff", ":"]),
    st.sampled_from(["\u00e9", "\U0001f600", "\u2028", "\x85", "\x0c", "\u0663", "\r", "\n"]),
    st.from_regex(r"[0-9]{1,6}", fullmatch=True),
)
LINES = st.one_of(
    st.builds(lambda n, v: f"{n}:{v}", NAMES, VALUES),
    st.builds(lambda n, v: f"{n}: {v}", NAMES, VALUES),
    NAMES,
    st.builds(lambda v: ":" + v, VALUES),
    st.just(""),
    st.just(""),
)
LINE_ENDS = st.sampled_from(["\n", "\r", "\r\n"])
JUNK = st.sampled_from(
    [b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\xef\xbb"]
)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    bom = "\ufeff" * draw(st.integers(0, 2))
    lines = draw(st.lists(st.tuples(LINES, LINE_ENDS), max_size=40))
    raw = bytearray((bom + "".join(line + end for line, end in lines)).encode())
    if not draw(st.booleans()):  # most streams end cleanly with a blank line
        raw += draw(LINE_ENDS).encode() * 2
    for position, junk in draw(st.lists(st.tuples(st.integers(0, 10**6), JUNK), max_size=3)):
        at = position % (len(raw) + 1)
        raw[at:at] = junk
    return bytes(raw)


DATA = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=12)


@st.composite
def event_streams(draw: st.DrawFn) -> bytes:
    """Whole events, mostly alike, as servers send them; other fields now and then."""
    blocks: list[str] = []
    for _ in range(draw(st.integers(0, 30))):
        kind = draw(st.sampled_from(["typed", "typed", "typed", "plain", "comment", "other"]))
        if kind == "typed":
            event_type = draw(st.sampled_from(["mqttMessage", "keepAlive", "", " x"]))
            blocks.append(f"event: {event_type}\ndata: {draw(DATA)}")
        elif kind == "plain":
            blocks.append(f"data: {draw(DATA)}")
        elif kind == "comment":
            blocks.append(":keepalive")
        else:
            blocks.append("\n".join(draw(st.lists(LINES, min_size=1, max_size=4))))
    text = "".join(block + "\n\n" for block in blocks)
    text = text[: draw(st.integers(0, len(text)))] if draw(st.booleans()) else text
    return ("\ufeff" * draw(st.integers(0, 1)) + text.replace("\n", draw(LINE_ENDS))).encode()


STREAMS = st.one_of(streams(), event_streams())


def random_chunks(data: st.DataObject, raw: bytes) -> list[bytes]:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=20)))
    bounds = [0, *cuts, len(raw)]
    return [raw[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=200, deadline=None)
@given(raw=STREAMS, data=st.data())
def test_chunking_does_not_matter_and_matches_reference(raw: bytes, data: st.DataObject) -> None:
    whole = SSEDecoder()
    expected = decode_chunks([raw], whole)
    chunked = SSEDecoder()
    assert decode_chunks(random_chunks(data, raw), chunked) == expected
    reference = Reference()
    assert reference.run(raw) == expected
    assert whole.last_event_id == chunked.last_event_id == reference.last_event_id
    assert whole.retry == chunked.retry == reference.retry


@settings(max_examples=200, deadline=None)
@given(raw=STREAMS, data=st.data(), limit=st.integers(0, 40))
def test_limit_does_not_depend_on_chunking(raw: bytes, data: st.DataObject, limit: int) -> None:
    def run(chunks: list[bytes]) -> tuple[list[Ev], bool, str]:
        decoder = SSEDecoder(max_event_size=limit)
        got: list[ServerSentEvent] = []
        try:
            for chunk in chunks:
                got += decoder.feed(chunk)
        except EventTooLarge as exc:
            return as_tuples(got + exc.events), True, decoder.last_event_id
        return as_tuples(got + decoder.close()), False, decoder.last_event_id

    whole = run([raw])
    assert run(random_chunks(data, raw)) == whole
    if not whole[1]:
        assert whole[0] == Reference().run(raw)
