"""Time arguments to the API's milliseconds since the epoch: every accepted kind, every
refusal, and the list of time params read from the API description."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from losant_async._times import MAX_MS, MIN_MS, resolve_epoch_ms, to_epoch_ms
from tests.api_facts import (
    NON_TIME_DEFAULTS,
    TIME_PARAMS,
    api_info,
    derive_time_params,
    query_params,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)

offsets = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
aware = st.datetimes(
    min_value=datetime(2001, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
)


@given(aware)
def test_an_aware_datetime_is_its_instant_in_whole_ms(value: datetime) -> None:
    ms = to_epoch_ms(value, "start")
    assert EPOCH + ms * MS <= value < EPOCH + (ms + 1) * MS
    # The same instant in another zone is the same number.
    assert to_epoch_ms(value.astimezone(UTC), "start") == ms


def test_known_datetimes() -> None:
    assert to_epoch_ms(datetime(2026, 11, 1, tzinfo=UTC)) == 1_793_491_200_000
    cet = timezone(timedelta(hours=1))
    assert to_epoch_ms(datetime(2026, 11, 1, 1, tzinfo=cet)) == 1_793_491_200_000
    assert to_epoch_ms(datetime(2026, 11, 1, 0, 0, 0, 999, tzinfo=UTC)) == 1_793_491_200_000
    assert to_epoch_ms(datetime(2026, 11, 1, 0, 0, 0, 1999, tzinfo=UTC)) == 1_793_491_200_001


@given(st.dates(min_value=date(2001, 1, 1), max_value=date(9999, 12, 31)))
def test_a_date_is_utc_midnight(value: date) -> None:
    ms = to_epoch_ms(value, "end")
    assert EPOCH + ms * MS == datetime(value.year, value.month, value.day, tzinfo=UTC)


def test_a_known_date() -> None:
    assert to_epoch_ms(date(2026, 11, 1)) == 1_793_491_200_000


@given(st.timedeltas(max_value=timedelta(0)))
def test_a_past_timedelta_is_the_apis_negative_relative_value(value: timedelta) -> None:
    ms = to_epoch_ms(value, "start")
    assert ms <= 0
    assert ms * MS <= value < (ms + 1) * MS


def test_known_timedeltas() -> None:
    assert to_epoch_ms(timedelta(days=-30)) == -2_592_000_000  # payloadCounts' default
    assert to_epoch_ms(timedelta(0)) == 0  # the API's "now"
    assert to_epoch_ms(timedelta(microseconds=-1)) == -1


@given(st.timedeltas(min_value=timedelta(microseconds=1)))
def test_a_future_timedelta_is_refused(value: timedelta) -> None:
    with pytest.raises(ValueError, match=r"^since: timedelta .* future"):
        to_epoch_ms(value, "since")


@given(st.one_of(st.integers(max_value=0), st.just(1), st.integers(MIN_MS, MAX_MS)))
def test_ints_with_an_api_meaning_are_kept(value: int) -> None:
    assert to_epoch_ms(value, "end") == value


@given(st.integers(2, MIN_MS - 1))
def test_a_positive_int_before_2001_is_refused_as_seconds(value: int) -> None:
    with pytest.raises(ValueError, match=r"^start: .* before 2001; seconds were probably passed"):
        to_epoch_ms(value, "start")


def test_seconds_by_mistake_says_which_date_they_meant() -> None:
    with pytest.raises(ValueError) as info:
        to_epoch_ms(1_793_491_200, "start")  # 2026-11-01 in seconds
    assert "1970-01-21" in str(info.value)
    assert "as seconds it is 2026-11-01" in str(info.value)
    assert to_epoch_ms(MIN_MS) == MIN_MS


@given(st.integers(min_value=MAX_MS + 1))
def test_ints_past_year_9999_are_refused(value: int) -> None:
    with pytest.raises(ValueError, match=r"^month: .* micro- or nanoseconds"):
        to_epoch_ms(value, "month")


@given(st.one_of(st.just(0), st.just(1), st.integers(MIN_MS, MAX_MS)))
def test_a_digit_string_is_its_int(value: int) -> None:
    assert to_epoch_ms(str(value), "date") == value


@given(st.integers(2, MIN_MS - 1))
def test_a_digit_string_of_seconds_is_refused_too(value: int) -> None:
    with pytest.raises(ValueError, match="seconds were probably passed"):
        to_epoch_ms(str(value), "date")


@given(st.text().filter(lambda s: not (s.isascii() and s.isdigit())))
def test_any_other_string_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"^start: .* is not milliseconds since the epoch"):
        to_epoch_ms(value, "start")


@pytest.mark.parametrize(
    "value", ["2026-11-01", "now", "-3600000", " 1761955200000", "1.5e12", "²", "١٢٣", ""]
)
def test_strings_people_try_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"^start: "):
        to_epoch_ms(value, "start")


@given(st.datetimes(min_value=datetime(2001, 1, 2)))
def test_a_naive_datetime_is_refused(value: datetime) -> None:
    with pytest.raises(ValueError, match=r"^end: naive datetime .* has no time zone"):
        to_epoch_ms(value, "end")


class _NoOffset(tzinfo):
    """A tzinfo whose utcoffset() is None: naive by Python's definition."""

    def utcoffset(self, dt: datetime | None) -> None:
        return None

    def dst(self, dt: datetime | None) -> None:
        return None

    def tzname(self, dt: datetime | None) -> None:
        return None


def test_a_datetime_whose_zone_has_no_offset_is_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_epoch_ms(datetime(2026, 1, 1, tzinfo=_NoOffset()), "end")


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (True, "a bool"),
        (1.7934912e12, "a float"),
        (None, "NoneType"),
        ([1], "list"),
        (b"123", "bytes"),
    ],
)
def test_other_types_are_refused(value: Any, kind: str) -> None:
    with pytest.raises(TypeError, match=rf"^start: takes a datetime, .* {kind}"):
        to_epoch_ms(value, "start")


def test_a_float_hints_at_seconds() -> None:
    with pytest.raises(TypeError, match=r"time\.time\(\) is seconds"):
        to_epoch_ms(1_793_491_200.5, "start")  # type: ignore[arg-type]


def clock() -> datetime:
    return datetime(2026, 11, 1, 12, tzinfo=UTC)


NOON = 1_793_534_400_000  # clock() in ms


def test_resolve_turns_relative_values_into_absolute_ones_with_the_clock() -> None:
    assert to_epoch_ms(clock()) == NOON
    assert resolve_epoch_ms(timedelta(hours=-12), "start", now=clock) == NOON - 43_200_000
    assert resolve_epoch_ms(-3_600_000, "start", now=clock) == NOON - 3_600_000
    assert resolve_epoch_ms(0, "end", now=clock) == NOON
    assert resolve_epoch_ms("0", "end", now=clock) == NOON
    # Absolute values are left alone, whatever the clock says.
    assert resolve_epoch_ms(date(2026, 10, 1), "start", now=clock) == 1_790_812_800_000
    assert resolve_epoch_ms(1, "start", now=clock) == 1


@given(st.timedeltas(min_value=timedelta(days=-3650), max_value=timedelta(0)))
def test_resolve_is_now_plus_the_delta(delta: timedelta) -> None:
    ms = resolve_epoch_ms(delta, "start", now=clock)
    assert EPOCH + ms * MS <= clock() + delta < EPOCH + (ms + 1) * MS


def test_resolve_checks_like_to_epoch_ms_and_refuses_a_naive_clock() -> None:
    with pytest.raises(ValueError, match="seconds"):
        resolve_epoch_ms(1_793_491_200, "start", now=clock)
    with pytest.raises(ValueError, match=r"^start: the clock gave a naive datetime"):
        resolve_epoch_ms(0, "start", now=lambda: datetime(2026, 1, 1))


def test_resolve_defaults_to_the_system_clock() -> None:
    before = to_epoch_ms(datetime.now(UTC))
    resolved = resolve_epoch_ms(0, "end")
    after = to_epoch_ms(datetime.now(UTC))
    assert before <= resolved <= after


# -- the time params of the API ---------------------------------------------------------


def test_time_params_are_those_the_api_documents_as_epoch_ms() -> None:
    assert derive_time_params() == list(TIME_PARAMS)
    assert len(TIME_PARAMS) == len(set(TIME_PARAMS)) == 85
    names = {name for _, name in TIME_PARAMS}
    assert names == {"start", "end", "since", "date", "month"}


def test_every_documented_default_of_a_time_param_converts() -> None:
    """The spec's own defaults (-2592000000, 0, 1) are valid time values, except the
    ``"now"`` of historicalSummaries' month, which the generator leaves to the server."""
    info = api_info()
    seen = 0
    for qualname, name in TIME_PARAMS:
        res_name, act_name = qualname.split(".")
        resource = info[res_name]
        (param,) = [
            p for p in query_params(resource, resource["actions"][act_name]) if p["name"] == name
        ]
        if "default" not in param:
            continue
        seen += 1
        default = param["default"]
        if (qualname, name) in NON_TIME_DEFAULTS:
            assert default == NON_TIME_DEFAULTS[(qualname, name)]
            with pytest.raises(ValueError):
                to_epoch_ms(default, name)
            continue
        assert to_epoch_ms(default, name) == int(default)
    assert seen >= 10
