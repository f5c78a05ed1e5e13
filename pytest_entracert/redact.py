"""The report scrubber: every token the session hands out is masked in reports and log records.

``EntraToken``'s ``repr`` already hides the token; this is the second line of defence for the
places a test puts the raw string itself: a local variable shown by ``--tb=long -l``, an assertion
message, printed output, a log line. pytest shortens long strings in those places (``'eyJ0...
Q3x'``), so any run of 10 or more token characters that is part of an issued token is masked,
not only the whole token.
"""
import dataclasses
import logging
import re
import sys
import threading

MASK = "<entra token redacted>"
_RUN = re.compile(r"[A-Za-z0-9_-]{10,}")  # one JWT segment (or a piece of one)
_MIN_SECRET = 16


class Redactor:
    """Holds the secrets of this process and removes them from text, reports and log records.

    ``streams=True`` (for ``-s``/``--capture=no``, where a test's prints go straight to the
    terminal) also scrubs what is written to ``sys.stdout`` and ``sys.stderr``.
    """

    def __init__(self, *, streams=False):
        self._secrets = set()
        self._lock = threading.Lock()
        self._previous_factory = None
        self._streams = streams
        self._wrapped = {}

    def add(self, secret):
        """Remember ``secret``; from the first one on, log records are scrubbed too."""
        if not secret or len(secret) < _MIN_SECRET:
            return
        with self._lock:
            self._secrets.add(secret)
            if self._previous_factory is None:
                self._install_log_scrubber()
            if self._streams and not self._wrapped:
                for name in ("stdout", "stderr"):
                    self._wrapped[name] = _ScrubbingStream(getattr(sys, name), self)
                    setattr(sys, name, self._wrapped[name])

    def __bool__(self):
        return bool(self._secrets)

    def scrub(self, text):
        if not self._secrets or not isinstance(text, str):
            return text
        secrets = tuple(self._secrets)

        def mask(match):
            run = match.group()
            return MASK if any(run in secret for secret in secrets) else run
        return _RUN.sub(mask, text)

    def contains_secret(self, text):
        return self.scrub(text) != text

    # --- reports ----------------------------------------------------------------------------

    def scrub_report(self, report):
        """Mask secrets in a test report's failure text, captured sections and properties."""
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
        report.user_properties = [(name, self._scrub_value(value, 0))
                                  for name, value in report.user_properties]

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
            return record

        self._previous_factory = previous
        self._factory = factory
        logging.setLogRecordFactory(factory)

    def close(self):
        """Put the previous log record factory and streams back (if nobody replaced ours)."""
        if self._previous_factory is not None and logging.getLogRecordFactory() is self._factory:
            logging.setLogRecordFactory(self._previous_factory)
        self._previous_factory = None
        for name, stream in self._wrapped.items():
            if getattr(sys, name) is stream:
                setattr(sys, name, stream.wrapped)
        self._wrapped = {}


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
