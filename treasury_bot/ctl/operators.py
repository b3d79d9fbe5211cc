"""The operators' commands (issue 13 item 3): `operators add|list`, the signed `approve|reject
--operator NAME`, `unfreeze`, each on the host (the ledger directly) or with `--remote
ENDPOINT` from an operator's own machine (the operator wire, CURVE with the operator's
certificate; treasury_bot/operator_server.py).

Where the keys go (docs/operations.md, "Approvals"):
- NAME.pem (the Ed25519 private key, 0600) and NAME.key_secret (the CURVE secret, 0600)
  stay with the person;
- NAME.pub.pem goes beside the treasury's policy file, `operators/NAME.pub.pem`, and NAME
  into the policy's [approvals] operators;
- NAME.key (the CURVE public certificate) goes into TREASURY_OPERATOR_CERTS_DIR, for
  --remote only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import zmq
from cryptography.hazmat.primitives import serialization

from common.api_key_files import write_ed25519_key_pair
from common.clock import SystemClock
from common.config import ConfigError, load_treasury_settings
from common.curve import configure_client, generate, load_key_pair, load_public_key
from treasury_bot import freeze, operator_wire, quorum
from treasury_bot.ctl.actions import who_acts
from treasury_bot.ctl.site import EXIT_FAIL, EXIT_OK, error_line, ledger_and_policy
from treasury_bot.operator import OperatorError, ledger_now
from treasury_bot.operator_actions import LOCAL, act, load_operator_keys, operators_dir
from treasury_bot.policy_in_force import resolve_from_ledger
from treasury_bot.trusted_clock import host_clock

REMOTE_TIMEOUT_MS = 10_000


# -- operators add | list ---------------------------------------------------------------

def cmd_operators_add(args) -> int:
    folder = Path(args.dir)
    for suffix in (".key", ".key_secret"):
        if (folder / f"{args.name}{suffix}").exists():
            raise ConfigError(f"{folder / (args.name + suffix)} already exists; a key is never overwritten")
    written = write_ed25519_key_pair(folder, args.name)
    public_cert, secret_cert = generate(folder, args.name)
    print(f"signing key (private): {written.private_file}  (mode 0600; it stays with {args.name})")
    print(f"signing key (public):  {written.public_file}")
    print(f"CURVE certificate:     {secret_cert}  (mode 0600; for --remote, stays with {args.name})")
    print(f"CURVE public cert:     {public_cert}")
    print("\nOn the treasury host:")
    print(f"  1. copy {written.public_file.name} to operators/{written.public_file.name} beside the policy file")
    print(f"  2. add \"{args.name}\" to [approvals] operators in the policy file (and set quorum)")
    print(f"  3. for --remote only: copy {public_cert.name} into TREASURY_OPERATOR_CERTS_DIR")
    print("  then restart the treasury; `treasuryctl operators list` shows who is known.")
    return EXIT_OK


def _fingerprint(key) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:16]


def cmd_operators_list(args) -> int:
    settings = load_treasury_settings(args.env_file)
    ledger, policy, _ = ledger_and_policy(args, need_policy=True)
    try:
        approvals = resolve_from_ledger(ledger, policy, ledger_now(ledger, host_clock(settings))).effective.approvals
    finally:
        ledger.close()
    folder = operators_dir(settings.policy_file)
    keys = load_operator_keys(folder)
    if approvals.signed:
        print(f"approvals: quorum {approvals.quorum} of {len(approvals.operators)} listed operator(s), "
              f"ttl {approvals.ttl_hours} h")
    else:
        print(f"approvals: unsigned (no operators listed; quorum 1), ttl {approvals.ttl_hours} h")
    print(f"public keys: {folder}")
    for name in sorted(set(keys) | set(approvals.operators)):
        key = keys.get(name)
        listed = "listed" if name in approvals.operators else "NOT listed in [approvals] operators"
        print(f"  {name:<20} {_fingerprint(key) if key else 'NO KEY FILE':<24} {listed}")
    if not keys and not approvals.operators:
        print("  (none)")
    return EXIT_OK


# -- signing ------------------------------------------------------------------------------

def _private_key(args):
    from common.binance.ed25519 import load_private_key

    path = Path(args.key_file or f"{args.operator}.pem")
    try:
        return load_private_key(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"--key-file {path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ConfigError(f"--key-file {path}: {exc}") from None


def _refused(exc) -> int:
    error_line(f"treasuryctl: {exc} [{exc.code}]")
    return EXIT_FAIL


def cmd_signed(args, action: str) -> int:
    """`approve|reject ID --operator NAME`: sign, then act on the ledger or send it --remote."""
    if not args.operator:
        raise ConfigError("--remote needs --operator NAME (a signed action)")
    private = _private_key(args)
    if args.remote:
        signed = quorum.sign(private, action=action, subject=args.intent_id, operator=args.operator,
                             signed_at=SystemClock().now_ms())
        return _send(args, operator_wire.ActionRequest(action=signed))
    def body(ledger, policy, settings, clock) -> int:
        signed = quorum.sign(private, action=action, subject=args.intent_id, operator=args.operator,
                             signed_at=ledger_now(ledger, clock))
        return _act_here(ledger, policy, settings, clock, signed)
    return _on_this_host(args, body)


def _on_this_host(args, body) -> int:
    """Open the ledger and policy the env file names, run `body(ledger, policy, settings,
    clock)` and close them; a refusal is its one error line (exit 1)."""
    settings = load_treasury_settings(args.env_file)
    ledger, policy, _ = ledger_and_policy(args, need_policy=True)
    try:
        return body(ledger, policy, settings, host_clock(settings))
    except (quorum.QuorumError, OperatorError, freeze.FreezeError) as exc:
        return _refused(exc)
    finally:
        ledger.close()


def _act_here(ledger, policy, settings, clock, signed: quorum.SignedAction, label: str | None = None) -> int:
    """A signed action on this host's ledger, checked as the operator wire checks it."""
    result = act(ledger, policy, signed, load_operator_keys(operators_dir(settings.policy_file)),
                 lambda led: ledger_now(led, clock), LOCAL)
    print(f"{label or result.intent_id}: {result.message} (status {result.status})")
    return EXIT_OK


# -- unfreeze -----------------------------------------------------------------------------

def cmd_unfreeze(args) -> int:
    """Unsigned where no quorum is configured; else one signed vote on the standing freeze."""
    if args.remote:
        reply = _request(args, operator_wire.FreezeQuery())
        if reply.freeze_seq is None:
            error_line(f"treasuryctl: {reply.message} [not_frozen]")
            return EXIT_FAIL
        return _vote_unfreeze_remote(args, reply.freeze_seq)
    def body(ledger, policy, settings, clock) -> int:
        standing = freeze.current(ledger)
        if standing is None:
            raise freeze.FreezeError("not_frozen", "the treasury is not frozen")
        now = ledger_now(ledger, clock)
        approvals = resolve_from_ledger(ledger, policy, now).effective.approvals
        if not args.operator:
            if approvals.signed:
                raise OperatorError("signature_required", f"the policy's [approvals] sets a quorum of "
                                    f"{approvals.quorum}: each operator runs unfreeze --operator NAME")
            by = f"{who_acts(None)} (treasuryctl)"
            freeze.unfreeze(ledger, by=by, note=args.note or "", now=now)
            print(f"unfrozen by {by}; was {standing.describe()}")
            return EXIT_OK
        signed = quorum.sign(_private_key(args), action=quorum.UNFREEZE,
                             subject=quorum.freeze_subject(standing.seq), operator=args.operator, signed_at=now)
        return _act_here(ledger, policy, settings, clock, signed)
    return _on_this_host(args, body)


def _vote_unfreeze_remote(args, seq: int) -> int:
    if not args.operator:
        raise ConfigError("--remote needs --operator NAME (a signed action)")
    signed = quorum.sign(_private_key(args), action=quorum.UNFREEZE, subject=quorum.freeze_subject(seq),
                         operator=args.operator, signed_at=SystemClock().now_ms())
    return _send(args, operator_wire.ActionRequest(action=signed))


# -- loosen-early ------------------------------------------------------------------------

def cmd_loosen_early(args) -> int:
    """One signed vote to let a pending loosening take effect before its quarantine ends
    (in force from the treasury's next start, at the quorum)."""
    if not args.operator:
        raise ConfigError("loosen-early needs --operator NAME (a signed action of the quorum)")
    private = _private_key(args)
    if args.remote:
        reply = _request(args, operator_wire.LooseningQuery(setting=args.setting))
        if reply.first_seen_at is None:
            error_line(f"treasuryctl: {reply.message} [{reply.code}]")
            return EXIT_FAIL
        signed = quorum.sign(private, action=quorum.LOOSEN_EARLY, operator=args.operator,
                             subject=quorum.loosening_subject(args.setting, reply.first_seen_at),
                             signed_at=SystemClock().now_ms())
        return _send(args, operator_wire.ActionRequest(action=signed))
    def body(ledger, policy, settings, clock) -> int:
        now = ledger_now(ledger, clock)
        waiting = [p for p in resolve_from_ledger(ledger, policy, now).pending if p.setting == args.setting]
        if not waiting:
            raise OperatorError("no_such_loosening", f"{args.setting!r} is not a pending loosening now "
                                "(treasuryctl status lists them)")
        signed = quorum.sign(private, action=quorum.LOOSEN_EARLY, operator=args.operator, signed_at=now,
                             subject=quorum.loosening_subject(args.setting, waiting[0].first_seen_at))
        return _act_here(ledger, policy, settings, clock, signed, label=args.setting)
    return _on_this_host(args, body)


# -- the operator wire's client --------------------------------------------------------

def _send(args, request) -> int:
    reply = _request(args, request)
    if not reply.ok:
        error_line(f"treasuryctl: {reply.message} [{reply.code}]")
        return EXIT_FAIL
    print(f"{reply.message} (status {reply.status})")
    return EXIT_OK


def _request(args, request) -> operator_wire.OperatorReply:
    """One request over CURVE with the operator's certificate; a silent treasury is a ConfigError."""
    if not args.treasury_public:
        raise ConfigError("--remote needs --treasury-public FILE (the treasury's CURVE public certificate)")
    name = args.operator or "operator"
    keys = load_key_pair(Path(args.curve_secret or f"{name}.key_secret"), "--curve-secret")
    server_public = load_public_key(Path(args.treasury_public), "--treasury-public")
    context = zmq.Context()
    sock = context.socket(zmq.REQ)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        configure_client(sock, keys, server_public)
        sock.connect(args.remote)
        sock.send(operator_wire.encode(request))
        timeout_ms = int(float(getattr(args, "remote_timeout", None) or REMOTE_TIMEOUT_MS / 1000) * 1000)
        if not sock.poll(timeout_ms):
            raise ConfigError(f"no answer from {args.remote} in {timeout_ms / 1000:g} s: is it the "
                              "treasury's TREASURY_OPERATOR_BIND, and is your NAME.key in its "
                              "TREASURY_OPERATOR_CERTS_DIR?")
        return operator_wire.decode_reply(sock.recv())
    finally:
        sock.close(linger=0)
        context.term()
