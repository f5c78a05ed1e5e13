"""The one time format entracert writes and the tolerant reader for what Graph and files hold."""
import datetime

from azext_entracert.core.times import iso_z, parse_iso

UTC = datetime.timezone.utc


def test_written_as_whole_seconds_utc_with_z():
    moment = datetime.datetime(2026, 6, 9, 16, 0, 0, 987654,
                               tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert iso_z(moment) == "2026-06-09T14:00:00Z"
    assert iso_z(None) is None


def test_reads_what_graph_sends():
    # Graph writes seven fractional digits (.NET ticks); az and our own files write none.
    assert parse_iso("2026-06-09T14:00:00.1234567Z") == datetime.datetime(
        2026, 6, 9, 14, 0, 0, 123456, tzinfo=UTC)
    assert parse_iso("2026-06-09T14:00:00Z") == datetime.datetime(2026, 6, 9, 14, tzinfo=UTC)
    assert parse_iso("2026-06-09T16:00:00+02:00") == datetime.datetime(2026, 6, 9, 14, tzinfo=UTC)


def test_a_time_without_zone_is_utc():
    assert parse_iso("2026-06-09T14:00:00") == datetime.datetime(2026, 6, 9, 14, tzinfo=UTC)


def test_unreadable_or_missing_is_unknown_not_a_crash():
    for text in (None, "", "garbage", 42):
        assert parse_iso(text) is None


def test_round_trip():
    text = "2031-01-02T03:04:05Z"
    assert iso_z(parse_iso(text)) == text
