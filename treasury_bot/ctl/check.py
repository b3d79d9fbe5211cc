"""`treasuryctl check`: env, policy, keys, ledger and the exchange self-audit, one OK/FAIL line each."""

from __future__ import annotations

from common.config import ConfigError, TreasurySettings, load_treasury_settings
from common.curve import load_authorized_clients, load_key_pair
from common.logs import mask_key
from treasury_bot.app import open_ledger
from treasury_bot.ctl.reports import in_force, pending_lines
from treasury_bot.ctl.site import EXIT_FAIL, EXIT_OK
from treasury_bot.policy_file import PolicyError, load_policy_for


def cmd_check(args) -> int:
    lines: list[tuple[bool, str, str]] = []
    try:
        settings = load_treasury_settings(args.env_file)
        lines.append((True, "env", f"{settings.env_path} (key {mask_key(settings.credentials.key)})"))
        lines.append((True, "api key type", settings.credentials.describe("treasuryctl keys binance")))
        for warning in settings.warnings:
            lines.append((False, "env mode", warning))
    except ConfigError as exc:
        lines.append((False, "env", str(exc)))
        return _print_check(lines)
    policy = None
    try:
        loaded = load_policy_for(settings.policy_file, settings.base_url)
        policy = loaded.policy
        lines.append((True, "policy", f"{loaded.path} sha256 {loaded.sha256[:16]}…, "
                                      f"{len(policy.destinations)} destination(s)"))
    except PolicyError as exc:
        lines.append((False, "policy", str(exc)))
    try:
        load_key_pair(settings.curve_secret_file, "TREASURY_CURVE_SECRET_FILE")
        lines.append((True, "curve key", str(settings.curve_secret_file)))
        if settings.curve_next is not None:  # issue 16 item 3: the rotation's new pair
            from treasury_bot.bootstrap import next_key_pair
            next_key_pair(settings, load_key_pair(settings.curve_secret_file, "TREASURY_CURVE_SECRET_FILE"))
            lines.append((True, "curve key next", f"{settings.curve_next.secret_file} on "
                                                  f"{settings.curve_next.intent_endpoint}"))
    except ConfigError as exc:
        lines.append((False, "curve key", str(exc)))
    clients: dict[bytes, str] = {}
    try:
        clients = load_authorized_clients(settings.authorized_clients_dir)
        lines.append((True, "clients", ", ".join(sorted(clients.values()))))
    except ConfigError as exc:
        lines.append((False, "clients", str(exc)))
    if policy is not None:
        lines.extend(_approval_lines(settings, loaded, clients))
    try:
        ledger = open_ledger(settings.ledger_path)
        count = ledger.intent_count()
        lines.append((True, "ledger", f"{settings.ledger_path} ({count} intents)"))
        if policy is not None:
            # What the treasury would run with: the audit below judges the policy IN FORCE.
            lines.extend(pending_lines(ledger, policy))
            policy = in_force(ledger, policy).effective
        lines.extend(_halt_lines(ledger))
        ledger.close()
    except Exception as exc:  # any failure to open is the check's answer
        lines.append((False, "ledger", f"{settings.ledger_path}: {type(exc).__name__}: {exc}"))
    if policy is not None:
        lines.extend(_exchange_checks(settings, policy))
    return _print_check(lines)


def _exchange_checks(settings: TreasurySettings, policy) -> list[tuple[bool, str, str]]:
    from common.binance import AuthError, BinanceClient, ExchangeError
    from common.binance.key_refusal import diagnose_read
    from treasury_bot.audit import audit_key, audit_whitelist
    from treasury_bot.withdraw_rules import coin_rules_from_config
    from treasury_bot.ctl.destinations import (address_book_lines, quota_lines, tag_lines, travel_rule_lines,
                                               wallet_lines)
    client = BinanceClient(settings.base_url, settings.credentials.key, settings.credentials.secret)
    try:
        offset = client.sync_time()
        lines = [(True, "exchange clock", f"offset {offset} ms from {settings.base_url}")]
        restrictions = client.api_restrictions()
        findings = audit_key(restrictions, client.account(), policy)
        hygiene = _key_hygiene_lines(restrictions, policy, offset)
        rules = coin_rules_from_config(client.coin_config())
        findings += audit_whitelist(policy, rules)
        destination_lines = (tag_lines(policy, rules) + address_book_lines(client, policy)
                             + wallet_lines(client.free_in_wallet, policy) + quota_lines(client)
                             + travel_rule_lines(client.questionnaire_requirements, policy))
    except AuthError as exc:  # the key itself: say which cause and what to do (issue 12)
        diagnosis = diagnose_read(exc)
        return [(False, "exchange key", f"{diagnosis.what}. Fix: {diagnosis.fix}")]
    except ExchangeError as exc:
        return [(False, "exchange", str(exc))]
    finally:
        client.close()
    for finding in findings:
        lines.append((finding.ok or finding.overridden, finding.check, finding.detail))
    return lines + hygiene + destination_lines


def _key_hygiene_lines(restrictions, policy, offset_ms: int) -> list[tuple[bool | None, str, str]]:
    """Issue 16 item 2: WARN when the key is older than [keys] rotate_after_days or its
    trading right expires within 14 days (common/key_hygiene.py); else its age, OK."""
    import time

    from common.key_hygiene import age_line, key_hygiene
    now_ms = int(time.time() * 1000) + offset_ms  # the exchange's time, as its createTime is
    warnings = key_hygiene(restrictions, now_ms, policy.keys.rotate_after_days, who="TREASURY_API_KEY")
    if not warnings:
        return [(True, "key age", f"{age_line(restrictions, now_ms)}; rotate after "
                                  f"{policy.keys.rotate_after_days} days")]
    return [(None, "key age", warning.detail) for warning in warnings]


def _approval_lines(settings: TreasurySettings, loaded, clients) -> list[tuple[bool, str, str]]:
    """Issue 13 item 3: the operators' keys beside the policy and the operator wire's
    certificates, checked as the treasury's start checks them (app._check_operators)."""
    from treasury_bot.operator_actions import load_operator_keys, operators_dir
    from treasury_bot.operator_server import load_operator_certs
    approvals = loaded.policy.approvals
    try:
        keys = load_operator_keys(operators_dir(loaded.path))
    except ConfigError as exc:
        return [(False, "operators", str(exc))]
    missing = [name for name in approvals.operators if name not in keys]
    if missing:
        lines = [(False, "operators", f"no public key operators/NAME.pub.pem for {', '.join(missing)}")]
    elif approvals.signed:
        lines = [(True, "operators", f"quorum {approvals.quorum} of {', '.join(approvals.operators)}, "
                                     f"ttl {approvals.ttl_hours} h")]
    else:
        lines = [(True, "operators", f"none listed: unsigned approvals, ttl {approvals.ttl_hours} h")]
    if settings.operator_certs_dir is not None:
        try:
            names = load_operator_certs(settings.operator_certs_dir, clients)
            lines.append((True, "operator wire", f"{settings.operator_bind}: {', '.join(sorted(names.values())) or 'no certificates'}"))
        except ConfigError as exc:
            lines.append((False, "operator wire", str(exc)))
    return lines


def _halt_lines(ledger) -> list[tuple[bool, str, str]]:
    """Withdrawals halted by a refused key (executor_halted): its cause and its fix, one line."""
    from treasury_bot import withdrawal_notes
    halted = withdrawal_notes.halted(ledger)
    if halted is None:
        return []
    advice = withdrawal_notes.halt_advice(ledger)
    if advice is None:
        return [(False, "withdrawals halted", f"{halted[0]}; fix the key, then restart the treasury")]
    _, what, fix = advice
    return [(False, "withdrawals halted", f"{what}. Fix: {fix}")]


def _print_check(lines) -> int:
    """OK, WARN (ok None: said, but not a failure; issue 12's withdrawal quota) or FAIL."""
    for ok, name, detail in lines:
        print(f"{'WARN' if ok is None else 'OK  ' if ok else 'FAIL'} {name:<24} {detail}")
    return EXIT_OK if all(ok is not False for ok, _, _ in lines) else EXIT_FAIL
