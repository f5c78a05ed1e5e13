"""The audit trail: one intact JSON line per event, even from racing processes; never a secret."""
import datetime
import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from azext_entracert.core import audit
from azext_entracert.core.errors import ConfigurationError, OutputError

ROOT = Path(__file__).resolve().parents[2]
UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 6, 9, 14, 0, 0, tzinfo=UTC)
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"


def event(directory, **overrides):
    fields = dict(profile="ci", tenant="contoso.example", client_id="11111111-0000-0000-0000-0000",
                  thumbprint_sha256="AB" * 32, serial=0x1F2E, scopes=["https://graph/.default"],
                  outcome="success")
    fields.update(overrides)
    return audit.record(directory, **fields)


def lines(directory):
    return (directory / "audit.jsonl").read_text().splitlines()


def test_record_appends_one_json_line(tmp_path):
    entry = event(tmp_path, now=NOW, code=None, correlation_id="corr-1")
    [line] = lines(tmp_path)
    assert json.loads(line) == entry
    assert entry["time"] == "2026-06-09T14:00:00.000Z"
    assert entry["serial"] == "1F2E"  # like `certificate show`'s serialNumber
    assert (entry["clientId"], entry["thumbprintSha256"]) == ("11111111-0000-0000-0000-0000",
                                                              "AB" * 32)
    assert (entry["action"], entry["source"], entry["outcome"]) == ("token", "network", "success")
    event(tmp_path, outcome="failure", code=700027)
    assert [json.loads(line)["code"] for line in lines(tmp_path)] == [None, 700027]


def test_file_is_private_and_folder_is_created(tmp_path):
    folder = tmp_path / "entracert" / "deeper"
    event(folder)
    assert stat.S_IMODE((folder / "audit.jsonl").stat().st_mode) == 0o600


def test_a_world_readable_trail_is_made_private_again(tmp_path):
    (tmp_path / "audit.jsonl").write_text("")
    (tmp_path / "audit.jsonl").chmod(0o644)
    event(tmp_path)
    assert stat.S_IMODE((tmp_path / "audit.jsonl").stat().st_mode) == 0o600


@pytest.mark.parametrize("field", ["detail", "correlation_id", "profile"])
@pytest.mark.parametrize("secret", [JWT, f"Bearer {JWT}", PEM, f"oops: {PEM}"])
def test_secrets_never_reach_the_file(tmp_path, field, secret):
    entry = event(tmp_path, **{field: secret})
    key = {"detail": "detail", "correlation_id": "correlationId", "profile": "profile"}[field]
    assert entry[key] == "[redacted]"
    text = (tmp_path / "audit.jsonl").read_text()
    assert "eyJ" not in text and "BEGIN" not in text and "MIIE" not in text


def test_secrets_inside_lists_are_redacted_item_by_item(tmp_path):
    entry = event(tmp_path, scopes=["https://graph/.default", JWT])
    assert entry["scopes"] == ["https://graph/.default", "[redacted]"]


def test_lookalikes_are_kept(tmp_path):
    """Only a JWT shape (eyJ...'.'eyJ...) or a PEM armour line is dropped, not any 'eyJ'."""
    entry = event(tmp_path, profile="eyJohn", detail="AADSTS700027: key not found.")
    assert (entry["profile"], entry["detail"]) == ("eyJohn", "AADSTS700027: key not found.")


def test_bad_outcome_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="outcome"):
        event(tmp_path, outcome="ok")
    assert not (tmp_path / "audit.jsonl").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes everywhere")
def test_unwritable_folder_is_a_clear_error(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="audit trail") as err:
            event(tmp_path)
    finally:
        tmp_path.chmod(0o700)
    assert err.value.path.endswith("audit.jsonl")


WRITER = textwrap.dedent("""
    import sys
    from azext_entracert.core import audit
    directory, worker = sys.argv[1], sys.argv[2]
    for i in range(50):
        audit.record(directory, profile=f"p{worker}", tenant="t", client_id="c",
                     thumbprint_sha256="AA" * 32, serial=i, scopes=["s/.default"] * 20,
                     outcome="success", detail="x" * 2000 + f"{worker}:{i}")
""")


def test_four_processes_appending_at_once_leave_200_intact_lines(tmp_path):
    """Long lines (over 4 KiB) from racing writers must neither interleave nor go missing."""
    # The repository root on the path: the subprocesses must import this checkout.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(n)], env=env)
               for n in range(4)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    entries = [json.loads(line) for line in lines(tmp_path)]
    assert len(entries) == 200
    seen = {entry["detail"][2000:] for entry in entries}
    assert seen == {f"{w}:{i}" for w in range(4) for i in range(50)}
    assert audit.read(tmp_path).skipped == 0


def test_read_missing_trail_is_empty(tmp_path):
    assert audit.read(tmp_path / "nowhere") == []


def test_read_newest_last_with_filters(tmp_path):
    for minutes, profile in [(0, "a"), (30, "b"), (90, "a"), (150, "b")]:
        event(tmp_path, profile=profile, now=NOW - datetime.timedelta(minutes=minutes))
    times = [e["time"] for e in audit.read(tmp_path)]
    assert times == sorted(times) and len(times) == 4
    assert [e["profile"] for e in audit.read(tmp_path, profile="a")] == ["a", "a"]
    recent = audit.read(tmp_path, since=NOW - datetime.timedelta(hours=1))
    assert [e["time"] for e in recent] == ["2026-06-09T13:30:00.000Z", "2026-06-09T14:00:00.000Z"]
    assert [e["time"] for e in audit.read(tmp_path, since="2026-06-09T12:00:00Z", profile="b")] \
        == ["2026-06-09T13:30:00.000Z"]
    assert [e["time"] for e in audit.read(tmp_path, limit=1)] == ["2026-06-09T14:00:00.000Z"]
    assert len(audit.read(tmp_path, limit=10)) == 4
    assert audit.read(tmp_path, limit=0) == []


def test_read_relative_since(tmp_path):
    now = datetime.datetime.now(UTC)
    event(tmp_path, now=now - datetime.timedelta(days=3))
    event(tmp_path, now=now - datetime.timedelta(minutes=5))
    assert len(audit.read(tmp_path, since="1h")) == 1
    assert len(audit.read(tmp_path, since="7d")) == 2


def test_corrupt_lines_are_skipped_and_counted(tmp_path, caplog):
    event(tmp_path, now=NOW)
    with open(tmp_path / "audit.jsonl", "a") as handle:
        handle.write('{"time": "not a time"}\n[1, 2]\nnot json at all\n\n{"no_time": 1}\n')
    event(tmp_path, now=NOW)
    with open(tmp_path / "audit.jsonl", "a") as handle:
        handle.write('{"time": "2026-06-09T14:00:00Z", "prof')  # a writer killed mid-line
    with caplog.at_level(logging.WARNING, logger="azext_entracert.core.audit"):
        entries = audit.read(tmp_path)
    assert len(entries) == 2 and entries.skipped == 5
    assert "Skipped 5 damaged line(s)" in caplog.text


@pytest.mark.parametrize("limit", [-1, "3", 1.5])
def test_bad_limit(tmp_path, limit):
    with pytest.raises(ConfigurationError, match="limit"):
        audit.read(tmp_path, limit=limit)


@pytest.mark.parametrize("text, expected", [
    ("30m", NOW - datetime.timedelta(minutes=30)),
    ("1h", NOW - datetime.timedelta(hours=1)),
    (" 2D ", NOW - datetime.timedelta(days=2)),
    ("45s", NOW - datetime.timedelta(seconds=45)),
    ("1w", NOW - datetime.timedelta(weeks=1)),
    ("2026-06-01T10:00:00Z", datetime.datetime(2026, 6, 1, 10, tzinfo=UTC)),
    ("2026-06-01T12:00:00+02:00", datetime.datetime(2026, 6, 1, 10, tzinfo=UTC)),
])
def test_parse_since(text, expected):
    assert audit.parse_since(text, now=NOW) == expected


def test_parse_since_naive_times_are_local():
    local = datetime.datetime(2026, 6, 1, 10, 0)
    assert audit.parse_since("2026-06-01T10:00:00") == local.astimezone(UTC)
    assert audit.parse_since("2026-06-01") == datetime.datetime(2026, 6, 1).astimezone(UTC)
    assert audit.parse_since(local) == local.astimezone(UTC)
    assert audit.parse_since(NOW).tzinfo is not None


@pytest.mark.parametrize("text", ["yesterday", "1y", "-1h", "1.5h", "", "2026-13-01", "h1"])
def test_parse_since_bad_input(text):
    with pytest.raises(ConfigurationError, match="is not a time") as err:
        audit.parse_since(text)
    assert "30m" in err.value.message and "2026-06-09" in err.value.message
