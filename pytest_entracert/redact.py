"""The report scrubber: every token the session hands out is masked in reports and log records.

``EntraToken``'s ``repr`` already hides the token; this is the second line of defence for the
places a test puts the raw string itself: a local variable shown by ``--tb=long -l``, an assertion
message, printed output, a log line. pytest shortens long strings in those places (``'eyJ0...
Q3x'``), so any run of 10 or more token characters that is part of an issued token is masked,
not only the whole token; and a token's segments are masked even when glued to other word
characters (a colour code's ``31m``, ``token=`` written without a space).
"""
import dataclasses
import logging
import os
import re
import stat
import sys
import threading
from pathlib import Path

from azext_entracert.core.fileio import atomic_write

MASK = "<entra token redacted>"
_XML_MASK = "&lt;entra token redacted&gt;"
_RUN = re.compile(r"[A-Za-z0-9_-]{10,}")  # one JWT segment (or a piece of one)
_MIN_SECRET = 16
_TRACEBACKS = logging.Formatter()


class Redactor:
    """Holds the secrets of this process and removes them from text, reports and log records.

    ``streams=True`` (for ``-s``/``--capture=no``, where a test's prints go straight to the
    terminal, and ``--capture=tee-sys``, which echoes them to the stream that was ``sys.stdout``
    when capturing began) also scrubs what is written to ``sys.stdout`` and ``sys.stderr``, from
    now on.
    """

    def __init__(self, *, streams=False):
        self._secrets = set()
        self._pieces = ()  # the secrets' segments, longest first
        self._lock = threading.Lock()
        self._previous_factory = None
        self._wrapped = {}
        self._writers = []
        if streams:
            for name in ("stdout", "stderr"):
                self._wrapped[name] = _ScrubbingStream(getattr(sys, name), self)
                setattr(sys, name, self._wrapped[name])

    def add(self, secret):
        """Remember ``secret``; from the first one on, log records are scrubbed too."""
        if not secret or len(secret) < _MIN_SECRET:
            return
        with self._lock:
            self._secrets.add(secret)
            pieces = {piece for known in self._secrets for piece in _RUN.findall(known)}
            self._pieces = tuple(sorted(pieces, key=len, reverse=True))
            if self._previous_factory is None:
                self._install_log_scrubber()

    def __bool__(self):
        return bool(self._secrets)

    def secrets(self):
        """The secrets as a list, to hand from an xdist worker to the controller."""
        with self._lock:
            return sorted(self._secrets)

    def scrub(self, text, *, mask=MASK):
        if not self._secrets or not isinstance(text, str):
            return text
        secrets = tuple(self._secrets)
        for piece in self._pieces:
            if piece in text:
                text = text.replace(piece, mask)

        def masked(match):
            run = match.group()
            return mask if any(run in secret for secret in secrets) else run
        return _RUN.sub(masked, text)

    def contains_secret(self, text):
        return self.scrub(text) != text

    # --- reports ----------------------------------------------------------------------------

    def scrub_report(self, report):
        """Mask secrets in a test report's failure text, xfail and skip reasons, subtest
        message, captured sections and properties."""
        if not self._secrets:
            return
        longrepr = report.longrepr
        if longrepr is not None and self.contains_secret(str(longrepr)):
            if isinstance(longrepr, (str, tuple)):
                report.longrepr = self._scrub_value(longrepr, 0)
            else:
                self._scrub_value(longrepr, 0)  # keep pytest's structure (and colours)
                if self.contains_secret(str(longrepr)):
                    report.longrepr = self.scrub(str(longrepr))
        report.sections = [(title, self.scrub(content)) for title, content in report.sections]
        if isinstance(getattr(report, "wasxfail", None), str):  # pytest.xfail()'s reason
            report.wasxfail = self.scrub(report.wasxfail)
        if hasattr(report, "context"):  # a subtest's msg and keywords (SubtestReport)
            report.context = self._scrub_value(report.context, 0)
        report.user_properties = [(name, self._scrub_value(value, 0))
                                  for name, value in report.user_properties]

    def scrub_xml_file(self, path):
        """Mask secrets in a written XML file (pytest's JUnit report) as a whole, in place."""
        text = Path(path).read_text(encoding="utf-8")
        cleaned = self.scrub(text, mask=_XML_MASK)
        if cleaned != text:
            atomic_write(Path(path), cleaned.encode("utf-8"), overwrite=True,
                         mode=stat.S_IMODE(os.stat(path).st_mode))

    def scrub_warning(self, warning_message):
        """Mask secrets in a recorded warning before the warnings summary shows it."""
        text = str(warning_message.message)
        if self._secrets and self.contains_secret(text):
            try:
                warning_message.message = warning_message.category(self.scrub(text))
            except Exception:  # noqa: BLE001 - a warning class with its own constructor
                warning_message.message = self.scrub(text)  # pytest and xdist take a str too

    def _scrub_value(self, value, depth):
        """Scrub strings inside pytest's ``TerminalRepr`` objects (dataclasses and lists)."""
        if isinstance(value, str):
            return self.scrub(value)
        if depth > 8:
            return value
        if isinstance(value, list):
            value[:] = [self._scrub_value(v, depth + 1) for v in value]
            return value
        if isinstance(value, tuple):
            return tuple(self._scrub_value(v, depth + 1) for v in value)
        if isinstance(value, dict):
            return {k: self._scrub_value(v, depth + 1) for k, v in value.items()}
        names = ([f.name for f in dataclasses.fields(value)] if dataclasses.is_dataclass(value)
                 else list(getattr(value, "__dict__", {})))
        for name in names:
            current = getattr(value, name, None)
            cleaned = self._scrub_value(current, depth + 1)
            if cleaned is not current:
                object.__setattr__(value, name, cleaned)  # some reprs are frozen dataclasses
        return value

    # --- logging ----------------------------------------------------------------------------

    def _install_log_scrubber(self):
        """Wrap the log record factory: a filter on one logger misses its children's records
        (``msal.application``, ``azure.core.pipeline...``), the factory sees every record."""
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs):
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a broken format string is logging's to report
                return record
            cleaned = self.scrub(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_info and not record.exc_text:
                # Formatters reuse a record's exc_text, so a traceback rendered (and scrubbed)
                # here is what every handler writes: --log-file, live logs, caplog.
                text = _TRACEBACKS.formatException(record.exc_info)
                if self.contains_secret(text):
                    record.exc_text = self.scrub(text)
            record.stack_info = self.scrub(record.stack_info)
            return record

        self._previous_factory = previous
        self._factory = factory
        logging.setLogRecordFactory(factory)

    # --- the terminal -----------------------------------------------------------------------

    def wrap_writer(self, writer):
        """Scrub what goes through pytest's ``TerminalWriter`` (``config.get_terminal_writer()``):
        text any plugin or conftest writes (``pytest_terminal_summary`` above all), live logs.
        ``write`` is where all of it passes before colour codes are added."""
        write = writer.write

        def scrubbing_write(msg, **kwargs):
            return write(self.scrub(msg), **kwargs)
        writer.write = scrubbing_write
        self._writers.append((writer, scrubbing_write))

    def close(self):
        """Put the previous log record factory, streams and writers back (if nobody replaced
        ours). Safe to call again: pytest's capture puts back, at its own clean-up, the stream it
        found, which may be ours."""
        if self._previous_factory is not None and logging.getLogRecordFactory() is self._factory:
            logging.setLogRecordFactory(self._previous_factory)
        self._previous_factory = None
        for name, stream in self._wrapped.items():
            if getattr(sys, name) is stream:
                setattr(sys, name, stream.wrapped)
        for writer, write in self._writers:
            if vars(writer).get("write") is write:
                del writer.write
        self._writers = []


class _ScrubbingStream:
    """A text stream that masks secrets in what is written, and is the wrapped one otherwise."""

    def __init__(self, wrapped, redactor):
        self.wrapped = wrapped
        self._redactor = redactor

    def write(self, text):
        return self.wrapped.write(self._redactor.scrub(text))

    def writelines(self, lines):
        self.wrapped.writelines(self._redactor.scrub(line) for line in lines)

    def __getattr__(self, name):
        return getattr(self.wrapped, name)
