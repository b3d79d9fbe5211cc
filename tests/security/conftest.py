"""The security suite's plumbing: the end-of-run secret scan (tests/security/secret_scan.py).

A plugin registered with the plugin manager (not a conftest hook, which would only see
this folder's tests) records, for the whole session:
- every test's captured output (stdout, stderr, log) and, for a failure, the
  exception's text (not the traceback, which quotes test sources), to
  BASETEMP/secret-scan-capture/captured.txt: in-process log lines and exception texts;
- every mail any `SmtpSink` receives, to BASETEMP/secret-scan-capture/mails/N.eml, and
  the passwords sinks were started with (mail bodies exist nowhere else);
and moves `test_no_configured_secret_in_any_log_mail_exception_or_ledger_row` to the
very end of the run. At session finish it scans once more (what session-scoped
teardown wrote after that test) and fails the run if that finds anything new.

The plugin is registered when pytest collects this folder, which in a whole-suite run
happens before any test runs, so nothing here needs a root conftest hook.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from tests.security import secret_scan

REPO = Path(__file__).resolve().parents[2]
SCAN_TEST = "test_no_configured_secret_in_any_log_mail_exception_or_ledger_row"
PLUGIN_NAME = "secret-scan"


class SecretScanPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.sink_passwords: list[secret_scan.Secret] = []
        self.capture_dir: Path | None = None
        self.mail_numbers = itertools.count(1)
        self.findings_seen: int | None = None   # set once the end-of-run test has scanned
        self._install_sink_recorder()

    # -- where the records go ----------------------------------------------------------------

    def basetemp(self) -> Path:
        return self.config._tmp_path_factory.getbasetemp()  # the run's folder (pytest's tmpdir plugin)

    def _capture_dir(self) -> Path:
        with self.lock:
            if self.capture_dir is None:
                folder = self.basetemp() / "secret-scan-capture"
                (folder / "mails").mkdir(parents=True, exist_ok=True)
                self.capture_dir = folder
            return self.capture_dir

    # -- recording ---------------------------------------------------------------------------

    def _install_sink_recorder(self) -> None:
        from tests.support import smtp
        plugin = self
        if getattr(smtp._Handler.handle_DATA, "_records_mail", False):
            return
        original_data = smtp._Handler.handle_DATA
        original_start = smtp.SmtpSink.start

        async def handle_data(self, server, session, envelope):
            raw = envelope.original_content or envelope.content
            plugin.record_mail(raw.encode() if isinstance(raw, str) else bytes(raw))
            return await original_data(self, server, session, envelope)

        def start(self):
            for user, password in self.credentials.items():
                plugin.sink_passwords.append(secret_scan.Secret(password, f"SmtpSink credentials of {user!r}"))
            return original_start(self)

        handle_data._records_mail = True  # type: ignore[attr-defined]
        smtp._Handler.handle_DATA = handle_data
        smtp.SmtpSink.start = start

    def record_mail(self, raw: bytes) -> None:
        folder = self._capture_dir() / "mails"
        (folder / f"{next(self.mail_numbers):06d}.eml").write_bytes(raw)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        parts = [f"{title}\n{content}" for title, content in report.sections if content]
        crash = getattr(report.longrepr, "reprcrash", None) if report.failed else None
        if crash is not None:
            # The exception's own text, not the traceback: that quotes the test's source.
            parts.append(f"exception\n{crash.message}")
        if not parts:
            return
        path = self._capture_dir() / "captured.txt"
        with path.open("a", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(f"=== {report.nodeid} ({report.when})\n" + "\n".join(parts) + "\n")

    # -- scanning ----------------------------------------------------------------------------

    def shared_secrets(self) -> list[secret_scan.Secret]:
        from common import logs
        registered = [secret_scan.Secret(v, "a value registered with register_secret in the test process")
                      for v in sorted(getattr(logs, "_secrets", set())) if len(v) >= secret_scan.MIN_LENGTH]
        return secret_scan.unique(
            secret_scan.secrets_in_sandbox_config(REPO / "sandbox" / "demo.toml")
            + secret_scan.secrets_in_sources([REPO / "tests", REPO / "demo", REPO / "bench"])
            + self.sink_passwords + registered)

    def scan(self) -> secret_scan.ScanReport:
        return secret_scan.scan_run(self.basetemp(), self.shared_secrets(), everywhere=[self._capture_dir()])

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.findings_seen is None:
            return
        report = self.scan()
        if len(report.findings) > self.findings_seen:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            lines = [f.describe() for f in report.findings[self.findings_seen:]][:50]
            if reporter is not None:
                reporter.write_sep("=", "secret scan after session teardown: FOUND SECRETS", red=True)
                for line in lines:
                    reporter.write_line(line)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.get_plugin(PLUGIN_NAME) is None:
        config.pluginmanager.register(SecretScanPlugin(config), PLUGIN_NAME)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The scan runs after every other test of the run."""
    last = [item for item in items if item.name == SCAN_TEST]
    for item in last:
        items.remove(item)
    items.extend(last)


@pytest.fixture
def secret_scan_plugin(request) -> SecretScanPlugin:
    return request.config.pluginmanager.get_plugin(PLUGIN_NAME)
