"""treasuryctl as a Unix tool: its output piped into a reader that stops early (`| head`)."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.procs import script
from tests.support.treasury_proc import TreasuryProcess, new_intent

pytestmark = pytest.mark.e2e


def test_treasuryctl_list_piped_into_a_reader_that_stops_early_ends_without_a_traceback(tmp_path, sandbox):
    """`treasuryctl list | head -1`: the tool dies of SIGPIPE quietly, as Unix tools do."""
    treasury = TreasuryProcess(tmp_path, sandbox).start()
    try:
        with treasury.client() as client:
            for n in range(400):   # more than a pipe buffer of lines
                client.send_intent(new_intent(f"pipe-{n:04d}", destination="nowhere"))
        listing = subprocess.Popen([script("treasuryctl"), "list", "--limit", "400", "--env-file",
                                    str(treasury.env_path)], cwd=treasury.dir, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        first = listing.stdout.readline()
        listing.stdout.close()   # the reader has had enough
        _, err = listing.communicate(timeout=30)
        assert first.strip() and b"Traceback" not in err and b"BrokenPipe" not in err, err
        assert listing.returncode in (0, -13)   # done before the pipe filled, or SIGPIPE
    finally:
        treasury.terminate()
