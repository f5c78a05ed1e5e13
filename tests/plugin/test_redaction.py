"""Tokens never reach pytest's output: failure tracebacks with locals, captured logs (msal and
azure loggers included), captured output, and the JUnit XML report."""

LEAKY = '''
import logging
import os
from pathlib import Path


def test_leaks_everywhere(entra_token, record_property):
    value = entra_token.value
    Path(os.environ["TOKEN_FILE"]).write_text(value)
    logging.getLogger("msal.application").warning("got token %s", value)
    logging.getLogger("azure.core.pipeline").error("Authorization: Bearer " + value)
    print("token:", value)
    record_property("token", value)
    headers = entra_token.headers()
    assert value == "expected something else", headers
'''


def test_token_is_scrubbed_from_tracebacks_logs_and_junit_xml(pytester, run, monkeypatch,
                                                               tmp_path):
    token_file, xml = tmp_path / "token.txt", tmp_path / "report.xml"
    monkeypatch.setenv("TOKEN_FILE", str(token_file))
    pytester.makepyfile(LEAKY)
    result = run("--entra-mode", "emulator", "-p", "no:xdist", "--tb=long", "-l", "-rA",
                 "--log-level=DEBUG", f"--junitxml={xml}", subprocess=True)
    result.assert_outcomes(failed=1)
    token = token_file.read_text()
    _, payload, signature = token.split(".")
    output = result.stdout.str() + result.stderr.str()
    report = xml.read_text()
    for text in (output, report):
        assert "<entra token redacted>" in text or "&lt;entra token redacted&gt;" in text
        for secret in (token, payload, signature, signature[-12:], payload[:40]):
            assert secret not in text
    # what was scrubbed still reads as a failure with its locals and captured sections
    result.stdout.fnmatch_lines(["*AssertionError: {'Authorization': 'Bearer <entra token "
                                 "redacted>*", "value * = '<entra token redacted>*",
                                 "*Captured log call*", "WARNING *got token <entra token*"])


PRINTS_AND_WARNS = '''
import os
import sys
import warnings
from pathlib import Path


def test_prints_and_warns(entra_token):
    Path(os.environ["TOKEN_FILE"]).write_text(entra_token.value)
    print("stdout:", entra_token.value)
    sys.stderr.write("stderr: " + entra_token.value + "\\n")
    warnings.warn("a warning with " + entra_token.value)
'''


def test_token_is_scrubbed_from_uncaptured_prints_and_the_warnings_summary(
        pytester, run, monkeypatch, tmp_path):
    """With ``-s`` a test's prints go straight to the terminal (a CI log), bypassing reports."""
    token_file = tmp_path / "token.txt"
    monkeypatch.setenv("TOKEN_FILE", str(token_file))
    pytester.makepyfile(PRINTS_AND_WARNS)
    result = run("--entra-mode", "emulator", "-p", "no:xdist", "-s", subprocess=True)
    result.assert_outcomes(passed=1, warnings=1)
    output = result.stdout.str() + result.stderr.str()
    _, payload, signature = token_file.read_text().split(".")
    assert payload not in output and signature not in output
    result.stdout.fnmatch_lines(["*stdout: <entra token redacted>*",
                                 "*UserWarning: a warning with <entra token redacted>*"])
    result.stderr.fnmatch_lines(["stderr: <entra token redacted>*"])
