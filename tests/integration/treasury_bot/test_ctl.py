"""`treasuryctl` against a real ledger, policy and env file in tmp_path: each command's
output and exit code (ctl.main([...]) with stdout captured)."""

from __future__ import annotations

import logging
import os
import stat

import pytest
import responses

from common import logs
from common.clock import FakeClock, SystemClock
from common.curve import generate
from tests.support.treasury import COIN_RULES, COLD_ADDRESS, HOT_ADDRESS
from tests.support.treasury_core import accept, decide, incoming, open_ledger, policy_text
from treasury_bot import ctl
from treasury_bot.coin_rules import to_snapshot
from treasury_bot.policy_file import parse_policy

KEY = "ctlKEYnotreal0000000000000000000000000WXYZ"
SECRET = "ctl-secret-not-real-0000000000000000000000"
BASE = "https://api.binance.com"


@pytest.fixture(autouse=True)
def restore_logging():
    """ctl.main sets logging up for the process: put pytest's handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    logs.flush_logs()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


class Site:
    """A treasury's files: env (0600), policy, CURVE keys, ledger with the start journal."""

    def __init__(self, folder, *, policy_prefix: str = "", cold_tag: str | None = None) -> None:
        self.folder = folder
        # quarantine_hours 0 is refused against a non-loopback exchange (issue 10 defect 5).
        self.text = policy_prefix + policy_text(window_cap="5000", approval_above="800", quarantine_hours="1",
                                                cold_tag=cold_tag)
        self.policy = parse_policy(self.text)
        (folder / "treasury.toml").write_text(self.text)
        generate(folder / "keys", "treasury")
        public, _ = generate(folder / "client-keys", "signal")
        (folder / "clients").mkdir()
        (folder / "clients" / "signal.key").write_bytes(public.read_bytes())
        self.env = folder / "treasury.env"
        self.env.write_text(
            f"BINANCE_BASE_URL={BASE}\nTREASURY_API_KEY={KEY}\nTREASURY_API_SECRET={SECRET}\n"
            "TREASURY_POLICY_FILE=treasury.toml\nTREASURY_LEDGER_PATH=ledger.sqlite\n"
            "TREASURY_CURVE_SECRET_FILE=keys/treasury.key_secret\nTREASURY_AUTHORIZED_CLIENTS_DIR=clients\n")
        os.chmod(self.env, 0o600)
        self.clock = FakeClock(SystemClock().now_ms())  # treasuryctl itself runs on the system clock
        self.ledger = open_ledger(folder / "ledger.sqlite")
        with self.ledger.transaction():
            self.ledger.save_coin_rules(to_snapshot(COIN_RULES), self.clock.now_ms())
            for d in self.policy.destinations:
                self.ledger.upsert_destination_seen(d.label, d.coin, d.network, d.address, d.tag, 0, 0)

    def accept(self, intent_id: str, amount: str = "100"):
        return accept(self.ledger, self.policy, self.clock, intent_id, amount)


@pytest.fixture
def site(tmp_path):
    made = Site(tmp_path)
    yield made
    made.ledger.close()


def run(site, capsys, *argv):
    """ctl.main with the site's env file appended after the (sub)command's own arguments."""
    code = ctl.main([*argv, "--env-file", str(site.env)])
    logs.flush_logs()
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_generate_writes_the_pair_with_a_0600_secret(tmp_path, capsys):
    """`keys generate NAME --dir D` writes NAME.key and NAME.key_secret (0600) and names both."""
    code = ctl.main(["keys", "generate", "signal-2", "--dir", str(tmp_path / "k")])
    out = capsys.readouterr().out
    assert code == 0
    public, secret = tmp_path / "k" / "signal-2.key", tmp_path / "k" / "signal-2.key_secret"
    assert public.is_file() and stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert str(public) in out and str(secret) in out and "0600" in out


def test_list_shows_every_intent_with_a_count(site, capsys):
    """`list` prints a header, one line per intent (oldest first) and the count."""
    site.accept("l-1", "100")
    site.accept("l-2", "900")  # pending approval
    decide(site.ledger, site.policy, site.clock, incoming("l-3", created_at=site.clock.now_ms(), destination="nowhere"))
    code, out, _ = run(site, capsys, "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("INTENT")
    assert [line.split()[0] for line in lines[1:4]] == ["l-1", "l-2", "l-3"]
    assert "pending_approval" in lines[2] and "unknown_destination" in lines[3]
    assert lines[-1] == "(3 intent(s))"


def test_list_filters_by_status_and_since(site, capsys):
    """--status keeps one status; --since keeps intents received since then."""
    site.clock.advance(-3 * 3600)
    site.accept("old-1")
    site.clock.advance(3 * 3600)
    site.accept("new-1")
    site.accept("big-1", "900")
    code, out, _ = run(site, capsys, "list", "--status", "pending_approval")
    assert code == 0 and "big-1" in out and "new-1" not in out and "(1 intent(s))" in out
    code, out, _ = run(site, capsys, "list", "--since", "1h")
    assert "new-1" in out and "big-1" in out and "old-1" not in out
    code, out, _ = run(site, capsys, "list", "--limit", "1")
    assert "big-1" in out and "(1 intent(s))" in out


def test_a_bad_since_is_a_usage_error(site, capsys):
    """An unreadable --since exits 2 with a message that shows the accepted forms."""
    code, _, err = run(site, capsys, "list", "--since", "yesterday")
    assert code == 2 and "--since" in err and "24h" in err


def test_show_prints_the_intent_its_decisions_and_its_history(site, capsys):
    """`show ID` prints the fields, every decision and every status change."""
    record = site.accept("s-1", "123.5")
    with site.ledger.transaction():
        site.ledger.set_status(record, "submitting", site.clock.now_ms(), "executor", "attempt 1")
        site.ledger.update_withdrawal(record.seq, attempts=1, error_code="-4026", error_message="Insufficient")
    code, out, _ = run(site, capsys, "show", "s-1")
    assert code == 0
    assert "intent_id      s-1" in out and f"address        {COLD_ADDRESS}" in out and "amount         123.5" in out
    assert "attempts       1" in out and "error          -4026 Insufficient" in out
    assert "decisions:" in out and "policy" in out and "accepted" in out
    history = out.split("status history:")[1]
    assert "queued" in history and "submitting" in history and "by executor" in history and "attempt 1" in history


def test_show_of_an_unknown_intent_fails(site, capsys):
    """An id the ledger never saw: exit 1 and a message on stderr."""
    code, out, err = run(site, capsys, "show", "ghost")
    assert code == 1 and "no intent 'ghost'" in err


def test_status_prints_open_intents_window_usage_and_last_poll(site, capsys):
    """`status`: open intents, per-coin window usage against the cap, hourly count, last poll."""
    site.accept("st-1", "600")
    site.accept("st-2", "900")
    code, out, _ = run(site, capsys, "status")
    assert code == 0
    assert "open intents: 2" in out
    assert "USDT: 1500 of 5000 (30%)" in out
    assert "transfers in the last hour: 2/20" in out
    assert "last poll: never" in out and "coin rules fetched: 2" in out
    assert "alerts waiting to be mailed: 1" in out  # the approval_needed alert
    with site.ledger.transaction():
        site.ledger.set_meta("last_poll_at", "0")
    assert "last poll: 1970-01-01 00:00:00Z" in run(site, capsys, "status")[1]


def test_status_shows_a_destinations_own_window(tmp_path, capsys):
    """A destination with its own window_cap gets its own usage line."""
    text = policy_text(cold_window_cap="1000", approval_above=None, quarantine_hours="1")
    (tmp_path / "custom").mkdir()
    site = Site(tmp_path / "custom")
    (site.folder / "treasury.toml").write_text(text)
    site.policy = parse_policy(text)
    site.accept("dw-1", "250")
    code, out, _ = run(site, capsys, "status")
    assert "cold-wallet: 250 of 1000 (25%)" in out
    site.ledger.close()


def test_approve_queues_a_pending_intent(site, capsys):
    """`approve ID --note` exits 0 and says the intent is queued."""
    site.accept("a-1", "900")
    code, out, _ = run(site, capsys, "approve", "a-1", "--note", "ok by cfo")
    assert code == 0 and out.strip() == "a-1: approved: the treasury will withdraw it (status queued)"
    record = site.ledger.get_intent("a-1")
    assert record.status == "queued" and "ok by cfo" in record.detail


def test_approve_refused_now_exits_1_with_the_rules_code(tmp_path, capsys):
    """When the window is now too small (policy lowered), approve exits 1 naming the code."""
    site = Site(tmp_path)
    site.accept("a-2", "900")
    (site.folder / "treasury.toml").write_text(site.text.replace('window_cap = "5000"', 'window_cap = "850"'))
    code, out, err = run(site, capsys, "approve", "a-2")
    assert code == 1 and "[over_window_limit]" in err and out == ""
    assert site.ledger.get_intent("a-2").status == "pending_approval"
    site.ledger.close()


def test_approve_or_reject_of_a_non_pending_intent_exits_1(site, capsys):
    """A queued intent cannot be approved or rejected; the reason is printed with its code."""
    site.accept("q-1")
    for command in ("approve", "reject"):
        code, _, err = run(site, capsys, command, "q-1")
        assert code == 1 and "[wrong_status]" in err and "queued" in err


def test_reject_denies_a_pending_intent(site, capsys):
    """`reject ID` exits 0; the intent is denied as operator_rejected."""
    site.accept("r-1", "900")
    code, out, _ = run(site, capsys, "reject", "r-1", "--note", "no")
    assert code == 0 and "r-1: rejected (status denied)" in out
    assert site.ledger.get_intent("r-1").reason_code == "operator_rejected"


def needs_review(site, intent_id):
    record = site.accept(intent_id)
    with site.ledger.transaction():
        site.ledger.set_status(record, "submitting", 0, "executor")
        site.ledger.set_status(site.ledger.get_intent(intent_id), "needs_review", 0, "executor")


def test_resolve_requires_note_and_as(site, capsys):
    """--as and --note are required: argparse stops with exit 2 before touching the ledger."""
    needs_review(site, "v-1")
    for argv in (["resolve", "v-1", "--as", "completed"], ["resolve", "v-1", "--note", "x"],
                 ["resolve", "v-1", "--as", "cancelled", "--note", "x"]):
        with pytest.raises(SystemExit) as caught:
            ctl.main([*argv, "--env-file", str(site.env)])
        assert caught.value.code == 2
    capsys.readouterr()
    assert site.ledger.get_intent("v-1").status == "needs_review"


def test_resolve_closes_a_needs_review_intent(site, capsys):
    """`resolve ID --as completed --note ...` exits 0 and prints the resolution."""
    needs_review(site, "v-2")
    code, out, _ = run(site, capsys, "resolve", "v-2", "--as", "completed", "--note", "seen on chain")
    assert code == 0 and "resolved by the operator as completed: seen on chain" in out
    assert site.ledger.get_intent("v-2").status == "completed"


def test_resolve_of_an_intent_not_in_review_exits_1(site, capsys):
    """Only needs_review intents can be resolved; an empty note is refused too."""
    site.accept("v-3")
    code, _, err = run(site, capsys, "resolve", "v-3", "--as", "failed", "--note", "x")
    assert code == 1 and "[wrong_status]" in err
    needs_review(site, "v-4")
    code, _, err = run(site, capsys, "resolve", "v-4", "--as", "failed", "--note", "  ")
    assert code == 1 and "[note_required]" in err


def test_alerts_list_shows_the_outbox(site, capsys):
    """`alerts list` prints the outbox with what is unsent; --unsent keeps only those."""
    site.accept("al-1", "900")
    decide(site.ledger, site.policy, site.clock, incoming("al-2", created_at=site.clock.now_ms(), destination="nowhere"))
    code, out, _ = run(site, capsys, "alerts", "list")
    assert code == 0 and "al-1" in out and "al-2" in out and "2 alert(s) unsent" in out
    code, out, _ = run(site, capsys, "alerts", "list", "--unsent", "--limit", "1")
    assert code == 0 and "al-1" in out and "al-2" not in out


def test_a_missing_env_file_is_a_usage_error(tmp_path, capsys):
    """Without a readable env file every ledger command exits 2 naming the problem."""
    code = ctl.main(["list", "--env-file", str(tmp_path / "absent.env")])
    assert code == 2 and "absent.env" in capsys.readouterr().err


def test_a_broken_policy_is_a_usage_error_for_commands_that_need_it(site, capsys):
    """status and approve need the policy; a broken one exits 2 with the key named."""
    (site.folder / "treasury.toml").write_text(site.text.replace('window_cap = "5000"', "window_cap = 5000"))
    code, _, err = run(site, capsys, "status")
    assert code == 2 and "limits.coins.USDT.window_cap" in err


def exchange(rsps, *, can_trade=False, ip_restrict=True, can_withdraw=True, address_regex="^T[1-9A-HJ-NP-Za-km-z]{33}$",
             missing=(), withdraw_tag=False, quota=("10000", "1000"), travel_rule="NIL"):
    rsps.get(f"{BASE}/api/v3/time", json={"serverTime": SystemClock().now_ms()})
    rsps.get(f"{BASE}/sapi/v1/account/apiRestrictions", json={
        "ipRestrict": ip_restrict, "enableWithdrawals": True, "enableSpotAndMarginTrading": can_trade,
        "enableReading": True})
    rsps.get(f"{BASE}/api/v3/account", json={"canTrade": can_trade, "canWithdraw": can_withdraw,
                                              "canDeposit": True, "balances": []})
    network = {"network": "TRX", "coin": "USDT", "withdrawEnable": True, "withdrawMin": "10",
               "withdrawMax": "100000", "withdrawIntegerMultiple": "0.000001", "withdrawFee": "1",
               "addressRegex": address_regex, "memoRegex": "", "withdrawTag": withdraw_tag}
    rsps.get(f"{BASE}/sapi/v1/capital/config/getall", json=[{"coin": "USDT", "networkList": [network]}])
    # Issue 12 item 4: the 24-hour withdrawal quota, 10 % used (Binance's documented shape).
    rsps.get(f"{BASE}/sapi/v1/capital/withdraw/quota", json={"wdQuota": quota[0], "usedWdQuota": quota[1]})
    # Issue 12 item 5: the account's Travel Rule entity ("NIL": none).
    rsps.get(f"{BASE}/sapi/v1/localentity/questionnaire-requirements",
             json={"questionnaireCountryCode": travel_rule})
    # Issue 12: the account's address book holds both destinations (Binance's documented shape).
    rsps.get(f"{BASE}/sapi/v1/capital/withdraw/address/list", json=[
        {"address": address, "addressTag": "", "coin": "USDT", "name": name, "network": "TRX",
         "origin": "", "originType": "others", "whiteStatus": True}
        for address, name in ((COLD_ADDRESS, "cold"), (HOT_ADDRESS, "hot")) if address not in missing])


def test_check_passes_every_line_for_a_sound_setup(site, capsys):
    """`check` prints one OK line per part, the exchange audit included, and exits 0."""
    with responses.RequestsMock() as rsps:
        exchange(rsps)
        code, out, _ = run(site, capsys, "check")
    assert code == 0, out
    lines = out.splitlines()
    assert all(line.startswith("OK") for line in lines)
    for name in ("env", "policy", "curve key", "clients", "ledger", "exchange clock", "key can withdraw",
                 "key cannot trade", "key is IP-restricted", "destination cold-wallet"):
        assert any(line[5:].startswith(name) for line in lines), name
    assert KEY not in out and "ctlK...WXYZ" in out


def test_check_says_no_travel_rule_is_needed_for_a_nil_account(site, capsys):
    """questionnaire-requirements NIL: one OK line naming the capital apply."""
    with responses.RequestsMock() as rsps:
        exchange(rsps)
        code, out, _ = run(site, capsys, "check")
    [line] = [x for x in out.splitlines() if x[5:].startswith("travel rule")]
    assert code == 0 and line.startswith("OK") and "/sapi/v1/capital/withdraw/apply" in line


def test_check_fails_a_travel_rule_account_whose_destinations_have_no_questionnaire(site, capsys):
    """questionnaire-requirements JP and no questionnaire in the policy: one FAIL line naming
    the first destination, and that the treasury would refuse to start."""
    with responses.RequestsMock() as rsps:
        exchange(rsps, travel_rule="JP")
        code, out, _ = run(site, capsys, "check")
    [line] = [x for x in out.splitlines() if x[5:].startswith("travel rule")]
    assert code == 1 and line.startswith("FAIL") and "JP local entity" in line
    assert "cold-wallet" in line and "questionnaire is missing" in line and "refuses to start" in line


def test_check_names_a_destination_missing_from_the_exchanges_address_book(site, capsys):
    """Issue 12: a destination the account's address book lacks is one FAIL line naming it, exit 1."""
    with responses.RequestsMock() as rsps:
        exchange(rsps, missing=(HOT_ADDRESS,))
        code, out, _ = run(site, capsys, "check")
    book = [line for line in out.splitlines() if line[5:].startswith("address book")]
    assert code == 1 and len(book) == 1, out
    assert book[0].startswith("FAIL") and "destination hot-wallet" in book[0] and "not_in_address_book" in book[0]


def test_check_says_when_the_address_book_cannot_be_read(site, capsys):
    """Issue 12: an address book the exchange will not give is a FAIL line, never a silent OK."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        exchange(rsps)
        rsps.replace(responses.GET, f"{BASE}/sapi/v1/capital/withdraw/address/list", status=403,
                     json={"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
        code, out, _ = run(site, capsys, "check")
    book = [line for line in out.splitlines() if line[5:].startswith("address book")]
    assert code == 1 and book and book[0].startswith("FAIL") and "cannot read" in book[0], out


def test_check_fails_a_tag_on_a_network_that_takes_none(tmp_path, capsys):
    """Issue 12: cold-wallet's tag on a network with withdrawTag false and no memoRegex is one FAIL line."""
    site = Site(tmp_path, cold_tag="12345")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        exchange(rsps, withdraw_tag=False)
        code, out, _ = run(site, capsys, "check")
    tags = [line for line in out.splitlines() if line[5:].startswith("tag")]
    assert code == 1 and len(tags) == 1, out
    assert tags[0].startswith("FAIL") and "destination cold-wallet" in tags[0] and "takes none" in tags[0]


def test_check_fails_a_key_that_can_trade(site, capsys):
    """A trading key the policy does not allow is a FAIL line and exit 1."""
    with responses.RequestsMock() as rsps:
        exchange(rsps, can_trade=True)
        code, out, _ = run(site, capsys, "check")
    assert code == 1
    assert any(line.startswith("FAIL") and "key cannot trade" in line and "refusing" in line
               for line in out.splitlines())


def test_check_shows_an_allowed_override_as_ok_with_its_warning(tmp_path, capsys):
    """A trading key with allow_trading_key = true starts (warned): check says OK with the warning."""
    site = Site(tmp_path, policy_prefix="allow_trading_key = true\n")
    with responses.RequestsMock() as rsps:
        exchange(rsps, can_trade=True)
        code, out, _ = run(site, capsys, "check")
    line = next(line for line in out.splitlines() if "key cannot trade" in line)
    assert line.startswith("OK") and "anyway" in line
    assert code == 0
    site.ledger.close()


def test_check_fails_a_whitelisted_address_the_exchange_would_refuse(site, capsys):
    """A destination whose address does not match addressRegex is a FAIL line."""
    with responses.RequestsMock() as rsps:
        exchange(rsps, address_regex="^0x[0-9a-f]{40}$")
        code, out, _ = run(site, capsys, "check")
    assert code == 1 and any(line.startswith("FAIL") and "destination cold-wallet" in line
                             for line in out.splitlines())


def test_check_reports_an_unreachable_exchange(site, capsys):
    """With the exchange down, the local checks still print and the exchange line fails."""
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE}/api/v3/time", status=503, body="down")
        code, out, _ = run(site, capsys, "check")
    assert code == 1
    assert out.splitlines()[0].startswith("OK   env")
    assert any(line.startswith("FAIL") and "exchange" in line for line in out.splitlines())


def test_check_reports_missing_keys_and_clients(site, capsys):
    """A missing CURVE secret and an empty allow-list are FAIL lines naming the setting."""
    (site.folder / "keys" / "treasury.key_secret").unlink()
    for path in (site.folder / "clients").iterdir():
        path.unlink()
    with responses.RequestsMock() as rsps:
        exchange(rsps)
        code, out, _ = run(site, capsys, "check")
    assert code == 1
    assert any(line.startswith("FAIL curve key") and "TREASURY_CURVE_SECRET_FILE" in line for line in out.splitlines())
    assert any(line.startswith("FAIL clients") for line in out.splitlines())


def test_status_shows_the_clock_offset_the_treasury_measured(site, capsys):
    """`status` says how far this host's clock is from the exchange's (issue 10), and sums
    the windows at the treasury's time (host time corrected by that offset)."""
    assert "clock: not measured yet" in run(site, capsys, "status")[1]
    with site.ledger.transaction():
        site.ledger.set_meta("clock.exchange_minus_host_ms", "-21600000")
        site.ledger.set_meta("clock.measured_at", "0")
        site.ledger.set_meta("clock.disagreement_since", "0")
    out = run(site, capsys, "status")[1]
    assert "clock: exchange minus host -21600000 ms, measured 1970-01-01 00:00:00Z (more than 60 s apart: alerted)" in out
def test_status_shows_why_withdrawals_are_halted_and_each_stalled_intent(site, capsys):
    """Issue 10, defect 3: an auth error halts the executor; `status` shows the halt's reason
    and, once stuck_after_minutes passed, the stalled intent with its reason."""
    from common.binance import AuthError
    from tests.support.treasury_core import Applied, FakeExchange
    from treasury_bot.executor import Executor
    code, out, _ = run(site, capsys, "status")
    assert "withdrawals: running" in out and "stalled intents (queued, not sent for stuck_after_minutes): 0" in out
    exchange = FakeExchange()
    exchange.script_apply(Applied(AuthError("Invalid API-key, IP, or permissions for action.",
                                            binance_code=-2015, http_status=401), False))
    executor = Executor(site.ledger, exchange, site.policy, site.clock)
    site.accept("halted-1", "100")
    for _ in range(site.policy.limits.stuck_after_minutes * 2 + 2):
        executor.step()
        site.clock.advance(31)
    code, out, _ = run(site, capsys, "status")
    assert code == 0
    assert "withdrawals: HALTED since " in out and ": -2015 Invalid API-key, IP, or permissions for action." in out
    assert "stalled intents (queued, not sent for stuck_after_minutes): 1" in out
    line = next(line for line in out.splitlines() if line.strip().startswith("halted-1 ") and "alerted" in line)
    assert line.endswith("withdrawals halted: -2015 Invalid API-key, IP, or permissions for action.")


# -- issue 12 item 4: the exchange's 24-hour withdrawal quota -------------------------------

def test_status_shows_the_withdraw_quota_the_treasury_last_read(site, capsys):
    """Not read yet, then used/total, percent, what is left, the time of the reading and the waiting intent."""
    from decimal import Decimal
    from treasury_bot.withdraw_quota import META_KEY, QuotaNote, QuotaReading, note_to_json
    assert "withdraw quota (exchange, 24 h): not read yet" in run(site, capsys, "status")[1]
    site.accept("qh-1", "100")
    with site.ledger.transaction():
        site.ledger.set_meta(META_KEY, note_to_json(QuotaNote(
            reading=QuotaReading(Decimal("1000"), Decimal("850"), 0), high_alerted=True, held_alerted=("qh-1",))))
    out = run(site, capsys, "status")[1]
    assert ("withdraw quota (exchange, 24 h): 850 of 1000 USD used (85.0%), 150 USD left "
            "(at or above 80%: alerted), 1 intent(s) waiting for it: qh-1, read 1970-01-01 00:00:00Z") in out


def test_check_shows_the_withdraw_quota_ok_below_80_percent(site, capsys):
    """10 % used: an OK line with used of total and percent."""
    with responses.RequestsMock() as rsps:
        exchange(rsps)
        code, out, _ = run(site, capsys, "check")
    [line] = [line for line in out.splitlines() if line[5:].startswith("withdraw quota")]
    assert code == 0 and line.startswith("OK") and "1000 of 10000 USD used (10.0%)" in line, out


def test_check_warns_from_80_percent_without_failing(site, capsys):
    """80 % used exactly: a WARN line; a warning is not a failure (exit 0)."""
    with responses.RequestsMock() as rsps:
        exchange(rsps, quota=("10000", "8000"))
        code, out, _ = run(site, capsys, "check")
    [line] = [line for line in out.splitlines() if line[5:].startswith("withdraw quota")]
    assert code == 0 and line.startswith("WARN") and "(80.0%)" in line, out


def test_check_fails_when_the_quota_cannot_be_read(site, capsys):
    """An unreadable quota (a JSON number for money) is a FAIL line, never a silent OK."""
    with responses.RequestsMock() as rsps:
        exchange(rsps, quota=(10000, "1"))
        code, out, _ = run(site, capsys, "check")
    [line] = [line for line in out.splitlines() if line[5:].startswith("withdraw quota")]
    assert code == 1 and line.startswith("FAIL") and "cannot read" in line, out
