"""`treasury-bot run`: start-up checks, then the server loop and its worker threads.

Start (docs/design.md section 4): env -> policy -> CURVE keys -> ledger -> the exchange's clock
(the treasury runs on it: treasury_bot/trusted_clock.py) -> the journal's hash chain (a broken
one freezes and the executor sends nothing this run: issue 13 item 4) -> clock offset ->
key self-audit -> coin rules -> journal the policy hash and the destinations seen ->
start summary -> the foreign-withdrawal watch's first pass (issue 13) -> threads (alert
sender, executor, poller, coin-rules refresher, clock watch, foreign-withdrawal watch,
policy-file watch) ->
serve until SIGTERM/SIGINT, then stop everything within a few seconds and exit 0.
Each thread has its own ledger connection and its own exchange client.

The objects are built by treasury_bot/bootstrap.py (building does no I/O); this module
runs the start steps in the order above and the serve loop, and stops what it started.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass

import zmq

from common import __version__
from common.binance import AuthError, BinanceClient, ExchangeError
from common.binance.endpoints import NO_TRAVEL_RULE
from common.binance.key_refusal import diagnose_read
from common.clock import Clock
from common.config import ConfigError, TreasurySettings
from common.curve import load_authorized_clients, load_key_pair
from common.logs import get_logger, mask_key
from treasury_bot import bootstrap, breakers, freeze
from treasury_bot.alerts import events
from treasury_bot.daily_statement import DailyStatement
from treasury_bot.journal_chain import Verdict
from treasury_bot.alerts import raised
from treasury_bot.alerts.formats import iso_utc
from treasury_bot.alerts.sender import AlertSender
from treasury_bot.audit import audit_key, audit_whitelist
from treasury_bot.breakers import PolicyFileWatch
from treasury_bot.coin_rules import CoinRulesCache
from treasury_bot.destination_watch import DestinationWatch
from treasury_bot.quota_guard import QuotaGuard
from treasury_bot import lifecycle
from treasury_bot.key_hygiene_watch import KeyHygieneWatch
from treasury_bot.ledger import Ledger, LedgerError, LedgerSchemaNewer
from treasury_bot.loosening import Resolution, describe
from treasury_bot.policy_model import Policy
from treasury_bot.policy_file import LoadedPolicy, PolicyError, load_policy_for
from treasury_bot.policy_in_force import LivePolicy, PolicyInForce, record, resolve_from_ledger
from treasury_bot import key_ring, reload
from treasury_bot.quarantine import Seen, observe
from treasury_bot.server import Authenticator, IntentServer
from treasury_bot.tag_rules import check_tags, refusal as tag_refusal
from treasury_bot.travel_rule import QuestionnaireError, TravelRule, travel_rule_for
from treasury_bot.trusted_clock import AnchoredClock, Measurement

log = get_logger("treasury")

EXIT_OK, EXIT_CRASH, EXIT_CONFIG, EXIT_AUDIT = 0, 1, 2, 3
JOIN_S = 4.0


class StartRefused(Exception):
    """The treasury must not run; the message says why (and was alerted where it matters)."""

    exit_status = EXIT_AUDIT


class PolicyRefused(StartRefused):
    """The policy cannot run against this exchange's rules (issue 12: a destination's tag):
    a policy error, so the exit status is a policy error's."""

    exit_status = EXIT_CONFIG


LEDGER_FIXES = {
    LedgerSchemaNewer: "run the newer treasury-bot that wrote it (this program never downgrades a ledger),"
                       " or restore a backup taken for this version (ledger.sqlite.v<N>-backup-<time>)",
}


def open_ledger(path) -> Ledger:
    return Ledger(path)  # the schema (alert outbox included) and its migrations: ledger/schema.py


def sync_clock(client: BinanceClient) -> BinanceClient:
    """A worker's first step: measure its client's clock offset (a failure here is only
    logged: the client resyncs on -1021 anyway). The offset is the small drift since the
    last anchor of the clock the client signs with (treasury_bot/bootstrap.py)."""
    try:
        client.sync_time()
    except ExchangeError as exc:
        log.warning("clock_sync_failed", error=str(exc))
    return client


@dataclass
class Running:
    """What a started treasury holds; closed in reverse order by `shutdown`."""

    ledger: Ledger
    sender: AlertSender
    context: zmq.Context | None = None
    auth: Authenticator | None = None
    server: IntentServer | None = None
    threads: tuple[threading.Thread, ...] = ()
    crashed: bool = False
    metrics: object | None = None      # issue 14: the /metrics listener (treasury_bot/metrics.py)
    reloader: object | None = None     # issue 16: SIGHUP's reload (treasury_bot/reload.py)


def run(settings: TreasurySettings, *, clock: Clock | None = None,
        stop: threading.Event | None = None) -> int:
    # `clock` is the host clock; the treasury runs on the exchange's, anchored below.
    host = clock or bootstrap.host_clock(settings)
    stop = stop or threading.Event()
    for warning in settings.warnings:
        log.warning("env_file_permissions", detail=warning)
    if settings.smtp is None:
        log.warning("alerts_not_mailed", detail="SMTP_HOST is not set: alerts are only logged")
    try:
        loaded = load_policy_for(settings.policy_file, settings.base_url)
        keys = load_key_pair(settings.curve_secret_file, "TREASURY_CURVE_SECRET_FILE")
        keys_next = bootstrap.next_key_pair(settings, keys)  # issue 16 item 3: the rotation's overlap
        clients = load_authorized_clients(settings.authorized_clients_dir)
        _check_operators(settings, loaded, clients)
    except (PolicyError, ConfigError) as exc:
        log.critical("start_refused", reason=str(exc))
        return EXIT_CONFIG
    try:  # an older schema: backed up beside it, verified, then migrated (ledger/upgrade.py)
        ledger = open_ledger(settings.ledger_path)
    except LedgerError as exc:  # issue 16 item 4: a clear exit with the fix, the file untouched
        fix = LEDGER_FIXES.get(type(exc), "restore the ledger from a verified backup (treasuryctl backup)")
        log.critical("start_refused", reason=str(exc), code=exc.code, fix=fix)
        print(f"treasury-bot: {exc}; {fix}", file=sys.stderr)
        return EXIT_CONFIG
    clock = bootstrap.trusted_clock(settings, host)
    sender = bootstrap.alert_sender(settings, clock)
    sender.start()
    running = Running(ledger, sender)
    try:
        measurement = anchor_clock(clock)
        journal = verify_journal(ledger, loaded.policy, clock.now_ms())
        cache, resolution, travel_rule = start_checks(settings, loaded, ledger, clock, journal)
        sender.set_shadow(resolution.effective.shadow)  # issue 13 item 7: every mail says SHADOW
        watch_at_start(settings, resolution.effective, ledger, clock, travel_rule)  # before any apply
        bootstrap.clock_watch(clock, ledger).check_once(measurement)  # the offset for treasuryctl; the alert
        _install_signal_handlers(stop)
        serve(settings, loaded, keys, clients, running, cache, clock, stop, resolution, travel_rule,
              withdrawals_refused=None if journal.intact else f"journal broken: {journal.broken.describe()}",
              keys_next=keys_next)
        return EXIT_CRASH if running.crashed else EXIT_OK
    except StartRefused as exc:
        log.critical("start_refused", reason=str(exc))
        _mail_before_exit(settings, sender, clock)
        return exc.exit_status
    finally:
        shutdown(running, stop)


def _mail_before_exit(settings: TreasurySettings, sender: AlertSender, clock: Clock) -> None:
    """One last pass of the outbox on this thread, so the refusal reaches the operator."""
    sender.stop()
    try:
        bootstrap.alert_sender(settings, clock).drain_once()
    except Exception:
        log.warning("alert_flush_failed", exc_info=True)


def anchor_clock(clock: AnchoredClock) -> Measurement:
    """The first anchor: the treasury never decides on the host's clock. Raises StartRefused."""
    try:
        return clock.measure()
    except ExchangeError as exc:
        raise StartRefused(f"cannot read the exchange's clock: {exc}") from None


def verify_journal(ledger: Ledger, policy: Policy, now: int) -> Verdict:
    """Walk the journal's hash chain (issue 13 item 4). Broken: the JOURNAL_BROKEN breaker
    freezes the treasury and a CRITICAL `journal_broken` mail names the first broken link, in
    one transaction. The start goes on, frozen, rather than exiting: polling follows what is
    already at the exchange, mails go out, `treasuryctl` and the signal bot get answers, and
    a supervisor does not restart it in a loop; the executor sends nothing (see `serve`),
    whether or not `[circuit_breakers] journal_broken` freezes too (on by default; the value
    in force, so that turning it off waits its quarantine like any loosening)."""
    verdict = ledger.verify_chain()
    if verdict.intact:
        log.info("journal_verified", links=verdict.links, head=str(verdict.head))
        return verdict
    broken = verdict.broken
    log.critical("journal_broken", kind=broken.kind, table=broken.table, row=broken.row, link=broken.link,
                 detail=broken.detail)
    with ledger.transaction():
        ledger.enqueue(events.journal_broken(at_ms=now, table=broken.table, row=broken.row,
                                             detail=f"{broken.kind}: {broken.detail}"))
        in_force = resolve_from_ledger(ledger, policy, now).effective
        breakers.trip_if_enabled(ledger, in_force, freeze.JOURNAL_BROKEN, broken.describe(), now)
    return verdict


def start_checks(settings: TreasurySettings, loaded: LoadedPolicy, ledger: Ledger,
                 clock: Clock, journal: Verdict | None = None) -> tuple[CoinRulesCache, Resolution, TravelRule | None]:
    """Clock, key audit, Travel Rule route, coin rules, policy journal. Raises StartRefused."""
    # The audit, like every later use, sees the policy in force, not the raw file: a
    # freshly set allow_* override waits for its quarantine (docs/design.md section 9). Recorded
    # before the audit can refuse the start: else a refused start would never record
    # when the override was first seen, and its quarantine would never run.
    with ledger.transaction():
        resolution = resolve_from_ledger(ledger, loaded.policy, clock.now_ms())
        record(ledger, resolution, clock.now_ms())
    client = bootstrap.exchange_client(settings, clock)
    try:
        offset = client.sync_time()
        restrictions = client.api_restrictions()
        account = client.account()
    except AuthError as exc:
        # The same plain-words cause and fix `treasuryctl check` prints (issue 12 item 6).
        diagnosis = diagnose_read(exc)
        _audit_failed(ledger, [f"the exchange refused the key: {exc.message} ({exc.binance_code}). "
                               f"{diagnosis.what}. Fix: {diagnosis.fix}"], settings.credentials.key, clock)
        raise StartRefused(f"key self-audit: the exchange refused the key ({exc.binance_code}): "
                           f"{diagnosis.what}. Fix: {diagnosis.fix}") from None
    except ExchangeError as exc:
        raise StartRefused(f"cannot reach the exchange for the self-audit: {exc}") from None
    findings = audit_key(restrictions, account, resolution.effective,
                         {p.setting: p.effective_at for p in resolution.pending})
    for finding in findings:
        if not finding.ok:
            log.warning("key_audit", check=finding.check, detail=finding.detail, fatal=finding.fatal)
    fatal = [f.detail for f in findings if f.fatal]
    if fatal:
        _audit_failed(ledger, fatal, settings.credentials.key, clock)
        raise StartRefused("key self-audit failed: " + "; ".join(fatal))
    travel_rule = travel_rule_route(client, loaded)
    cache = bootstrap.coin_rules(settings, clock)
    sync_clock(cache.client)
    try:
        rules = cache.refresh(ledger)
    except ExchangeError as exc:
        raise StartRefused(f"cannot load the exchange's coin rules: {exc}") from None
    tags = check_tags(loaded.policy, rules)  # issue 12: the file's tags against withdrawTag, memoRegex
    if tags:
        raise PolicyRefused(tag_refusal(str(loaded.path), tags))
    cache.watch = DestinationWatch(cache.client, loaded.policy, clock)
    cache.quota = QuotaGuard(cache.client)  # issue 12 item 4: the 80% alert between our applies
    book_warnings = cache.watch.start(ledger, rules)
    whitelist = audit_whitelist(resolution.effective, rules)
    for finding in whitelist:
        if not finding.ok:
            log.warning("whitelist_audit", check=finding.check, detail=finding.detail)
    warnings = [f.detail for f in findings if not f.ok]
    warnings += [f"{f.check}: {f.detail}" for f in whitelist if not f.ok]
    warnings += book_warnings
    if journal is not None and not journal.intact:
        warnings.append(f"journal hash chain BROKEN ({journal.broken.describe()}): frozen, no withdrawal is sent")
    resolution = journal_start(ledger, loaded, clock.now_ms(), settings, warnings,
                               chain_head=str(journal.head) if journal is not None else None)
    log.info("start_checks_passed", api_key=mask_key(settings.credentials.key), clock_offset_ms=offset,
             coin_networks=len(rules), warnings=len(warnings),
             travel_rule=travel_rule.country if travel_rule else NO_TRAVEL_RULE)
    return cache, resolution, travel_rule


def watch_at_start(settings: TreasurySettings, policy, ledger: Ledger, clock: AnchoredClock,
                   travel_rule: TravelRule | None) -> None:
    """Issue 13 items 5 and 6: every withdrawal on the account since the ledger's first
    start, matched against the ledger before the executor's first step (a restored ledger's
    lost withdrawals are found here, their ids used for ever). Unreadable: no start."""
    workers = bootstrap.Workers(settings, policy, bootstrap.pacing(settings, policy), clock, travel_rule)
    watch = workers.foreign_watch(ledger, sync_clock(workers.exchange()))
    try:
        result = watch.at_start()
    except ExchangeError as exc:
        raise StartRefused(f"cannot read the account's withdrawal history (the foreign-withdrawal watch): "
                           f"{exc}") from None
    if result.found:
        log.critical("foreign_withdrawals_at_start", count=len(result.found),
                     detail="the treasury is frozen: see docs/operations.md, a foreign withdrawal")


def travel_rule_route(client: BinanceClient, loaded: LoadedPolicy) -> TravelRule | None:
    """Issue 12 item 5: ask the exchange whether withdrawals need a Travel Rule questionnaire,
    and if so check every destination's now. Which endpoints to use is never guessed: an
    unreadable answer stops the start, and so does a destination without a valid one."""
    try:
        country = client.questionnaire_requirements()
    except ExchangeError as exc:
        raise StartRefused(f"cannot tell whether the account is under the Travel Rule "
                           f"(questionnaire-requirements): {exc}") from None
    try:
        rule = travel_rule_for(country, loaded.policy.destinations)
    except QuestionnaireError as exc:
        raise PolicyRefused(f"{loaded.path}: the account is under the {country.upper()} local entity "
                            f"(Travel Rule): {exc}") from None
    if rule is not None:
        log.info("travel_rule", country=rule.country, detail=rule.describe())
    return rule


def _audit_failed(ledger: Ledger, problems: list[str], api_key: str, clock: Clock) -> None:
    with ledger.transaction():
        ledger.enqueue(raised.key_audit_failed(problems, api_key, clock.now_ms()))


def journal_start(ledger: Ledger, loaded: LoadedPolicy, now: int, settings: TreasurySettings,
                  warnings: list[str], chain_head: str | None = None) -> Resolution:
    """Record the policy hash, the destinations seen, the policy in force and the pending
    loosenings; alert what changed; one commit. Returns the policy in force at `now`."""
    with ledger.transaction():
        resolution = resolve_from_ledger(ledger, loaded.policy, now)
        record(ledger, resolution, now)
        pending_lines = [describe(p) for p in resolution.pending]
        previous_hash = ledger.last_policy_hash()
        known = {label: Seen(*row) for label, row in ledger.destinations_seen().items()}
        observations = observe(loaded.policy, known, now)
        for item in observations:
            if item.change:
                s = item.seen
                ledger.upsert_destination_seen(item.label, s.coin, s.network, s.address, s.tag,
                                               s.first_seen_at, s.changed_at)
        # The quarantine in force, not the file's (which may have just lowered it).
        changes = [f"destination {o.label} is {o.change}: quarantined until "
                   f"{iso_utc(resolution.usable_from.get(o.label, now))}" for o in observations if o.change]
        ledger.record_policy_start(loaded.sha256, str(loaded.path), now)
        if previous_hash is not None and previous_hash != loaded.sha256:
            ledger.enqueue(raised.policy_changed(previous_hash, loaded.sha256, str(loaded.path), now,
                                    pending_loosenings=pending_lines))
        standing = freeze.current(ledger)  # issue 13: a freeze survives restarts; say so first
        if standing is not None:
            warnings = [f"FROZEN since {iso_utc(standing.frozen_at)}: {standing.describe()}; no withdrawal "
                        "is sent until `treasuryctl unfreeze`", *warnings]
        pending = ledger.count_with_status([lifecycle.PENDING_APPROVAL])
        open_count = ledger.count_with_status(lifecycle.OPEN) - pending
        smtp = settings.smtp
        ledger.enqueue(raised.start_summary(at=now, version=__version__, api_key=settings.credentials.key,
            policy_sha256=loaded.sha256, destinations=len(loaded.policy.destinations),
            open_withdrawals=open_count, pending_approvals=pending,
            mail=f"{smtp.host}:{smtp.port} ({smtp.security})" if smtp else "log only (SMTP_HOST not set)",
            warnings=warnings + (changes if previous_hash is not None else []),
            pending_loosenings=pending_lines, chain_head=chain_head))
    log.info("policy_journaled", sha256=loaded.sha256, changed=previous_hash not in (None, loaded.sha256),
             destination_changes=len(changes), pending_loosenings=len(pending_lines))
    return resolution


def serve(settings: TreasurySettings, loaded: LoadedPolicy, keys, clients, running: Running,
          cache: CoinRulesCache, clock: AnchoredClock, stop: threading.Event,
          resolution: Resolution | None = None, travel_rule: TravelRule | None = None,
          withdrawals_refused: str | None = None, keys_next=None) -> None:
    # Every use below takes the policy IN FORCE (docs/design.md section 9), never the raw file.
    if resolution is None:
        resolution = resolve_from_ledger(running.ledger, loaded.policy, clock.now_ms())
    running.context = zmq.Context()
    running.auth = bootstrap.authenticator(settings, running.context).start()
    # Issue 16: one holder of the policy in force, shared by the decisions and every worker;
    # a reload swaps what it holds (treasury_bot/reload.py), no thread restarts.
    live = LivePolicy(loaded.policy, resolution)
    in_force = PolicyInForce(live, clock.now_ms)
    running.server = bootstrap.intent_server(settings, running.context, keys, clients, running.ledger,
                                             bootstrap.decisions(loaded, resolution, cache, clock, live),
                                             clock, keys_next).open()
    pacing = bootstrap.pacing(settings, resolution.effective)
    if pacing.sandbox:
        log.warning("sandbox_poll_interval", seconds=pacing.poll_s,
                    detail="TREASURY_SANDBOX_POLL_SECONDS overrides poll_interval_seconds (sandbox only)")
    workers = bootstrap.Workers(settings, in_force, pacing, clock, travel_rule)
    policy_watch = PolicyFileWatch(loaded.path, loaded.sha256, in_force, clock,
                                   grace_s=reload.edit_grace_s(settings))
    running.reloader = reload.Reloader(settings, running.ledger, clock, loaded, live, policy_watch,
                                       running.server, running.auth, lambda: cache.rules)
    running.server.between_batches = running.reloader.between_batches

    def run_executor(ledger: Ledger) -> None:
        executor = workers.executor(ledger, sync_clock(workers.exchange()))
        if withdrawals_refused:
            # The journal failed verification at start: reconcile and stall checks go on,
            # no apply is sent this run, whatever the freeze check says (issue 13 item 4).
            executor.schedule.halted_reason = withdrawals_refused
        executor.run(stop)

    def run_clock_watch(ledger: Ledger) -> None:
        watch = workers.clock_watch(ledger)
        watch.duties.append(DailyStatement(ledger, resolution.effective, clock).check_once)
        # Issue 16 item 2: the weekly key-hygiene alert (treasury_bot/key_hygiene_watch.py).
        hygiene_client = workers.exchange()
        watch.duties.append(KeyHygieneWatch(ledger, hygiene_client.api_restrictions, resolution.effective,
                                            clock).check_once)
        try:
            watch.run_duties()  # a statement due since midnight goes out now, not in a minute
            watch.run(stop)
        finally:
            hygiene_client.close()

    running.threads = (
        _thread("executor", stop, running, _with_ledger(settings, run_executor)),
        _thread("poller", stop, running, _with_ledger(settings, lambda ledger: workers.poller(
            ledger, sync_clock(workers.exchange())).run(stop))),
        _thread("coin-rules", stop, running, lambda: cache.run(stop)),
        _thread("clock", stop, running, _with_ledger(settings, run_clock_watch)),
        _thread("foreign-watch", stop, running, _with_ledger(settings, lambda ledger: workers.foreign_watch(
            ledger, sync_clock(workers.exchange())).run(stop))),
        # Issue 13 item 2: the policy file changing under a running treasury trips a breaker.
        _thread("policy-watch", stop, running, _with_ledger(settings, lambda ledger: policy_watch.run(ledger, stop))),
        *_approval_threads(settings, loaded, keys, clients, running, clock, stop, live),
    )
    running.metrics = start_metrics(settings, loaded, running, clock, pacing.poll_s, resolution)
    reload.write_pid_file(settings.ledger_path)
    _install_reload_handler(running.reloader)
    log.info("treasury_ready", intent_endpoint=settings.intent_endpoint,
             event_endpoint=settings.event_endpoint, clients=",".join(sorted(clients.values())),
             policy_sha256=loaded.sha256[:12])
    running.server.serve(stop)


def _check_operators(settings: TreasurySettings, loaded: LoadedPolicy, clients) -> None:
    """Issue 13 item 3, before anything starts: every operator the policy lists has a
    readable public key beside it, and the operator wire's certificates are no client's."""
    from treasury_bot.operator_actions import load_operator_keys, operators_dir
    from treasury_bot.operator_server import load_operator_certs

    folder = operators_dir(loaded.path)
    keys = load_operator_keys(folder)
    missing = [name for name in loaded.policy.approvals.operators if name not in keys]
    if missing:
        raise ConfigError(f"[approvals] operators {', '.join(missing)}: no public key "
                          f"{folder}/NAME.pub.pem (treasuryctl operators add NAME makes one)")
    if settings.operator_certs_dir is not None:
        load_operator_certs(settings.operator_certs_dir, clients)


def _approval_threads(settings: TreasurySettings, loaded: LoadedPolicy, keys, clients, running: Running,
                      clock: AnchoredClock, stop: threading.Event,
                      live: LivePolicy | None = None) -> tuple[threading.Thread, ...]:
    """Issue 13 item 3: the expiry of pending approvals, on the exchange-anchored clock, and
    (when TREASURY_OPERATOR_BIND is set) the operator wire; each a supervised loop."""
    from treasury_bot.operator_actions import ApprovalExpiry
    from treasury_bot.supervised import Supervised, ledger_recorder

    every_s = 1.0 if settings.sandbox_poll_seconds is not None else 30.0

    def expiry(ledger: Ledger) -> None:
        Supervised("approvals", ledger_recorder(lambda: ledger, clock)).run(
            stop, ApprovalExpiry(ledger, loaded.policy, clock, every_s, live=live).step)
    threads = [_thread("approvals", stop, running, _with_ledger(settings, expiry))]
    if settings.operator_bind is not None and running.context is not None:
        from treasury_bot.operator_server import OperatorServer, load_operator_certs
        operators = load_operator_certs(settings.operator_certs_dir, clients)
        context = running.context

        def wire(ledger: Ledger) -> None:
            server = OperatorServer(context=context, keys=keys, operators=operators,
                                    endpoint=settings.operator_bind, ledger=ledger, policy=loaded.policy,
                                    policy_file=loaded.path, clock=clock, live=live)
            try:
                Supervised("operator-wire", ledger_recorder(lambda: ledger, clock)).run(stop, server.step)
            finally:
                server.close()
        threads.append(_thread("operator-wire", stop, running, _with_ledger(settings, wire)))
        log.info("operator_wire", endpoint=settings.operator_bind, operators=",".join(sorted(operators.values())))
    return tuple(threads)

def start_metrics(settings: TreasurySettings, loaded: LoadedPolicy, running: Running, clock: AnchoredClock,
                  poll_s: float, resolution: Resolution):
    """Issue 14: /metrics, /healthz, /readyz (treasury_bot/metrics.py); None when off."""
    from treasury_bot import metrics
    figures = metrics.TreasuryMetrics(open_ledger=lambda: open_ledger(settings.ledger_path), policy=loaded.policy,
                                      now_ms=clock.now_ms, poll_interval_s=poll_s, monotonic=clock.monotonic,
                                      mode=getattr(resolution.effective, "mode", "live"))
    listener = metrics.start(settings, figures)
    if listener is not None:  # no listener, no counting on the decision path either
        running.server.heartbeat = figures.heartbeat
        running.server.on_decided = figures.on_decided
    return listener


def _with_ledger(settings: TreasurySettings, body):
    def target() -> None:
        ledger = open_ledger(settings.ledger_path)
        try:
            body(ledger)
        finally:
            ledger.close()
    return target


def _thread(name: str, stop: threading.Event, running: Running, target) -> threading.Thread:
    def guarded() -> None:
        try:
            target()
        except Exception:
            # A treasury that decides but cannot withdraw or poll is worse than one that
            # restarts: stop everything and let the supervisor start us again.
            log.critical("thread_crashed", thread=name, exc_info=True)
            running.crashed = True
            stop.set()
    thread = threading.Thread(target=guarded, name=name, daemon=True)
    thread.start()
    return thread


def _install_signal_handlers(stop: threading.Event) -> None:
    def handle(signum, _frame) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
        # Issue 16: a SIGHUP during the start must not kill the process (its default): it is
        # kept and served once the reloader exists (the files may have changed after being read).
        signal.signal(signal.SIGHUP, lambda _signum, _frame: _EARLY_RELOAD.set())


_EARLY_RELOAD = threading.Event()


def _install_reload_handler(reloader) -> None:
    """Issue 16: SIGHUP asks for a reload; it runs on the main thread between two batches."""
    def handle(_signum, _frame) -> None:
        reloader.request()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGHUP, handle)
        if _EARLY_RELOAD.is_set():
            _EARLY_RELOAD.clear()
            reloader.request()


def shutdown(running: Running, stop: threading.Event) -> None:
    stop.set()
    if running.reloader is not None:
        reload.remove_pid_file(running.ledger.path)
        key_ring.forget(running.ledger.path)
    deadline = time.monotonic() + JOIN_S
    for thread in running.threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            # Only an exchange call can hold it; its intent stays `submitting` and is
            # reconciled at the next start, so leaving it is safe.
            log.warning("thread_still_busy_at_exit", thread=thread.name)
    if running.metrics is not None:
        running.metrics.stop()
    if running.server is not None:
        running.server.close()
    if running.auth is not None:
        running.auth.stop()
    if running.context is not None:
        running.context.destroy(linger=0)
    running.sender.stop(timeout=2.0)
    running.ledger.close()
    log.info("stopped")
