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
