"""Tests for treasury_bot/policy_file.py: the treasury's TOML policy, parsed and validated strictly."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treasury_bot.policy_file import PolicyError, parse_policy, policy_from_dict
from treasury_bot.policy_model import CoinLimits, Destination, ExecutorTuning, Policy
from tests.support.policy_file_cases import DESIGN_EXAMPLE, FULL, mutated

PROPERTY = settings(max_examples=300, derandomize=True, database=None, deadline=None)


# The smallest valid file: everything optional left out.
MINIMAL = '''\
[limits.coins.USDT]
max_per_transfer = "100"
window_cap = "1000"
'''


def error_of(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value


# --- valid files ------------------------------------------------------------------

def test_design_example_parses_to_the_values_it_states():
    """DESIGN's example file is valid and every value in it lands where it says."""
    policy = parse_policy(DESIGN_EXAMPLE)
    assert policy.quarantine_hours == 24
    assert (policy.allow_trading_key, policy.allow_unrestricted_ip) == (False, False)
    limits = policy.limits
    assert (limits.window_hours, limits.max_transfers_per_hour, limits.max_intent_age_seconds,
            limits.poll_interval_seconds, limits.stuck_after_minutes) == (24, 20, 300, 15, 60)
    assert limits.min_seconds_between_withdrawals == Decimal("1")
    assert dict(limits.coins) == {"USDT": CoinLimits(max_per_transfer=Decimal("1000"),
                                                      window_cap=Decimal("5000"),
                                                      approval_above=Decimal("2500"))}
    assert policy.destinations == (Destination(
        label="cold-wallet", coin="USDT", network="TRX", address="TXYZ...", tag="12345",
        max_per_transfer=Decimal("500"), window_cap=Decimal("2000"), clients=("signal",)),)
    assert policy.executor == ExecutorTuning(reconcile_grace_seconds=60, reconcile_deadline_minutes=30)


def test_full_file_with_executor_table_and_two_coins_parses():
    """The optional [executor] table, fractional durations and several coins are read exactly."""
    policy = parse_policy(FULL)
    assert policy.quarantine_hours == Decimal("0.5")
    assert policy.quarantine_ms == 1_800_000
    assert policy.allow_trading_key is True
    assert policy.limits.min_seconds_between_withdrawals == Decimal("0.25")
    assert policy.limits.poll_interval_seconds == 6
    assert policy.limits.window_ms == 12 * 3_600_000
    assert policy.limits.max_intent_age_ms == 120_000
    assert policy.limits.coins["USDT"].approval_above is None
    assert policy.limits.coins["BTC"].window_cap == Decimal("1.000000000000000001")
    assert policy.executor == ExecutorTuning(reconcile_grace_seconds=90, reconcile_deadline_minutes=45)
    assert [d.label for d in policy.destinations] == ["cold-wallet", "btc.vault_1"]
    assert policy.destinations[0].clients == ("signal", "signal-2.backup")
    assert policy.destinations[1].tag is None and policy.destinations[1].clients is None


def test_minimal_file_gets_the_documented_defaults():
    """Left-out keys take DESIGN's defaults (quarantine 24 h, 20 per hour, 300 s, ...) and ours."""
    policy = parse_policy(MINIMAL)
    assert policy.quarantine_hours == 24 and policy.quarantine_ms == 24 * 3_600_000
    assert (policy.allow_trading_key, policy.allow_unrestricted_ip) == (False, False)
    assert (policy.limits.window_hours, policy.limits.max_transfers_per_hour,
            policy.limits.max_intent_age_seconds, policy.limits.poll_interval_seconds,
            policy.limits.stuck_after_minutes) == (24, 20, 300, 15, 60)
    assert policy.limits.min_seconds_between_withdrawals == Decimal("1")
    assert policy.executor == ExecutorTuning(reconcile_grace_seconds=60, reconcile_deadline_minutes=30)
    assert policy.destinations == ()


@pytest.mark.parametrize("old,new", [
    pytest.param("poll_interval_seconds = 15", "poll_interval_seconds = 6", id="poll-exactly-6"),
    pytest.param("quarantine_hours = 24 ", "quarantine_hours = 0 ", id="quarantine-0"),
    pytest.param("min_seconds_between_withdrawals = 1", "min_seconds_between_withdrawals = 0",
                 id="spacing-0"),
    pytest.param("window_hours = 24", "window_hours = 1", id="window-1h"),
    pytest.param("max_transfers_per_hour = 20", "max_transfers_per_hour = 1", id="one-per-hour"),
    pytest.param('window_cap = "5000"', 'window_cap = "5000.000000000000000001"', id="18-decimals"),
    pytest.param('approval_above = "2500"', 'approval_above = "0.000000000000000001"',
                 id="approval-smallest-positive"),
    pytest.param('label = "cold-wallet"', 'label = "' + "a" * 64 + '"', id="label-64-chars"),
    pytest.param('clients = ["signal"]', 'clients = []', id="no-client-allowed"),
    pytest.param('clients = ["signal"]', 'clients = ["a", "B.b-c_9"]', id="client-names"),
    pytest.param('address = "TXYZ..."', 'address = "addr:with/punct+=?"', id="punctuated-address"),
    pytest.param("[[destination]]", "[executor]\nreconcile_grace_seconds = 1\n"
                 "reconcile_deadline_minutes = 1\n[[destination]]", id="executor-smallest"),
])
def test_values_at_the_edge_of_each_range_are_accepted(old, new):
    """Each range is inclusive at its documented edge, so the edge value loads."""
    assert isinstance(parse_policy(mutated(old, new)), Policy)


def test_amount_spellings_parse_to_equal_decimals():
    """"20.000" and "20" are the same amount, as on the wire."""
    a = parse_policy(mutated('max_per_transfer = "1000"', 'max_per_transfer = "20.000"'))
    b = parse_policy(mutated('max_per_transfer = "1000"', 'max_per_transfer = "20"'))
    assert a.limits.coins["USDT"].max_per_transfer == b.limits.coins["USDT"].max_per_transfer == 20


def test_amounts_are_plain_decimals():
    """Amounts come back as decimal.Decimal itself, which msgspec and the ledger can encode."""
    policy = parse_policy(FULL)
    for value in (policy.limits.coins["BTC"].max_per_transfer, policy.quarantine_hours,
                  policy.limits.min_seconds_between_withdrawals):
        assert type(value) is Decimal
    assert msgspec.json.encode(policy.limits.coins["BTC"].window_cap) == b'"1.000000000000000001"'


def test_parsed_policy_is_immutable():
    """Nothing in a loaded policy can be changed in place: frozen structs, tuples, read-only coins."""
    policy = parse_policy(FULL)
    with pytest.raises(AttributeError):
        policy.quarantine_hours = Decimal(0)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        policy.limits.max_transfers_per_hour = 10**6  # type: ignore[misc]
    with pytest.raises(TypeError):
        policy.limits.coins["ETH"] = policy.limits.coins["BTC"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        policy.destinations[0].address = "attacker"  # type: ignore[misc]
    assert isinstance(policy.destinations, tuple)
    assert isinstance(policy.destinations[0].clients, tuple)


def test_destination_lookup_by_label():
    """policy.destination(label) finds a whitelisted destination and None for any other label."""
    policy = parse_policy(FULL)
    assert policy.destination("btc.vault_1").coin == "BTC"
    assert policy.destination("cold-wallet").tag == "12345"
    assert policy.destination("Cold-Wallet") is None
    assert policy.destination("") is None


def test_destination_clients_default_to_everyone():
    """A destination without `clients` allows any client; with it, only those listed."""
    policy = parse_policy(FULL)
    assert policy.destination("btc.vault_1").allows("anyone")
    assert policy.destination("cold-wallet").allows("signal-2.backup")
    assert not policy.destination("cold-wallet").allows("intruder")


def test_fractional_quarantine_rounds_up_to_the_next_millisecond():
    """A quarantine that is not a whole number of milliseconds is never shortened."""
    policy = parse_policy(mutated("quarantine_hours = 24 ", "quarantine_hours = 0.0000001 "))
    assert policy.quarantine_ms == 1  # 0.36 ms


# --- invalid files: every message names the file and the key ------------------------

INVALID = [
    # (id, old, new, expected message without the "treasury.toml: " prefix, or a prefix of it)
    ("toml-syntax", "window_hours = 24", "window_hours = = 24",
     "invalid TOML: Invalid value (at line 6, column 16)"),
    ("toml-duplicate-key", "window_hours = 24", "window_hours = 24\nwindow_hours = 25",
     "invalid TOML: Cannot overwrite a value (at line 7"),
    ("unknown-top-key", "allow_trading_key = false", "allow_trading_keys = false",
     "allow_trading_keys: unknown key (allowed here: quarantine_hours, allow_trading_key,"),
    ("unknown-limits-key", "max_transfers_per_hour = 20", "max_transfer_per_hour = 20",
     "limits.max_transfer_per_hour: unknown key"),
    ("unknown-coin-key", 'approval_above = "2500"', 'approval = "2500"',
     "limits.coins.USDT.approval: unknown key (allowed here: max_per_transfer, window_cap, approval_above)"),
    ("unknown-destination-key", 'tag = "12345"', 'memo = "12345"', "destination[0].memo: unknown key"),
    ("unknown-executor-key", "[[destination]]", "[executor]\ngrace = 5\n[[destination]]",
     "executor.grace: unknown key"),
    ("missing-limits", "[limits]", "[limitz]", "limitz: unknown key"),
    ("missing-coin-key", 'window_cap = "5000"\n', "", "limits.coins.USDT.window_cap: missing required key"),
    ("missing-address", 'address = "TXYZ..."\n', "", "destination[0].address: missing required key"),
    ("missing-label", 'label = "cold-wallet"\n', "", "destination[0].label: missing required key"),
    ("float-amount", 'window_cap = "5000"', "window_cap = 5000.0",
     'limits.coins.USDT.window_cap: expected a decimal string like "5000", got float '
     '(write amounts as strings, e.g. "1000")'),
    ("integer-amount", 'max_per_transfer = "500"', "max_per_transfer = 500",
     'destination[0].max_per_transfer: expected a decimal string like "5000", got integer '
     '(write amounts as strings, e.g. "1000")'),
    ("exponent-amount", 'max_per_transfer = "1000"', 'max_per_transfer = "1e3"',
     'limits.coins.USDT.max_per_transfer: "1e3" is not a decimal string like "5000"'),
    ("negative-amount", 'window_cap = "2000"', 'window_cap = "-2000"',
     'destination[0].window_cap: "-2000" is not a decimal string'),
    ("signed-amount", 'window_cap = "2000"', 'window_cap = "+2000"',
     'destination[0].window_cap: "+2000" is not a decimal string'),
    ("spaced-amount", 'window_cap = "5000"', 'window_cap = " 5000"',
     'limits.coins.USDT.window_cap: " 5000" is not a decimal string'),
    ("nan-amount", 'window_cap = "5000"', 'window_cap = "NaN"',
     'limits.coins.USDT.window_cap: "NaN" is not a decimal string'),
    ("19-decimals", 'window_cap = "5000"', 'window_cap = "1.0000000000000000001"',
     'limits.coins.USDT.window_cap: "1.0000000000000000001" is not a decimal string'),
    ("overlong-amount", 'window_cap = "5000"', 'window_cap = "' + "9" * 65 + '"',
     "limits.coins.USDT.window_cap: \"99999"),
    ("zero-amount", 'max_per_transfer = "1000"', 'max_per_transfer = "0"',
     'limits.coins.USDT.max_per_transfer: must be greater than 0, got "0"'),
    ("zero-spelled-amount", 'window_cap = "2000"', 'window_cap = "0.000"',
     'destination[0].window_cap: must be greater than 0, got "0.000"'),
    ("zero-approval", 'approval_above = "2500"', 'approval_above = "0"',
     'limits.coins.USDT.approval_above: must be greater than 0, got "0"'),
    ("poll-too-fast", "poll_interval_seconds = 15", "poll_interval_seconds = 5",
     "limits.poll_interval_seconds: must be >= 6, got 5 (withdraw history costs 18,000 UID weight"),
    ("no-transfers-per-hour", "max_transfers_per_hour = 20", "max_transfers_per_hour = 0",
     "limits.max_transfers_per_hour: must be >= 1, got 0"),
    ("zero-window", "window_hours = 24", "window_hours = 0", "limits.window_hours: must be >= 1, got 0"),
    ("window-over-a-year", "window_hours = 24", "window_hours = 8785",
     "limits.window_hours: must be <= 8784, got 8785"),
    ("window-as-string", "window_hours = 24", 'window_hours = "24"',
     "limits.window_hours: expected an integer, got string"),
    ("window-as-float", "window_hours = 24", "window_hours = 24.0",
     "limits.window_hours: expected an integer, got float"),
    ("window-as-bool", "window_hours = 24", "window_hours = true",
     "limits.window_hours: expected an integer, got boolean"),
    ("window-as-date", "window_hours = 24", "window_hours = 2024-01-01",
     "limits.window_hours: expected an integer, got date"),
    ("zero-intent-age", "max_intent_age_seconds = 300", "max_intent_age_seconds = 0",
     "limits.max_intent_age_seconds: must be >= 1, got 0"),
    ("zero-stuck-after", "stuck_after_minutes = 60", "stuck_after_minutes = 0",
     "limits.stuck_after_minutes: must be >= 1, got 0"),
    ("negative-quarantine", "quarantine_hours = 24 ", "quarantine_hours = -1 ",
     "quarantine_hours: must be >= 0, got -1"),
    ("quarantine-as-string", "quarantine_hours = 24 ", 'quarantine_hours = "24" ',
     "quarantine_hours: expected a number, got string"),
    ("quarantine-nan", "quarantine_hours = 24 ", "quarantine_hours = nan ",
     "quarantine_hours: must be a finite number, got nan"),
    ("quarantine-inf", "quarantine_hours = 24 ", "quarantine_hours = inf ",
     "quarantine_hours: must be a finite number, got inf"),
    ("negative-spacing", "min_seconds_between_withdrawals = 1", "min_seconds_between_withdrawals = -0.5",
     "limits.min_seconds_between_withdrawals: must be >= 0, got -0.5"),
    ("spacing-as-bool", "min_seconds_between_withdrawals = 1", "min_seconds_between_withdrawals = true",
     "limits.min_seconds_between_withdrawals: expected a number, got boolean"),
    ("flag-as-string", "allow_trading_key = false", 'allow_trading_key = "no"',
     "allow_trading_key: expected true or false, got string"),
    ("limits-not-a-table", DESIGN_EXAMPLE, "limits = 5\n", "limits: expected a table, got integer"),
    ("coin-not-a-table", "[limits.coins.USDT]\n", "[limits.coins]\nUSDT = \"5\"\n[limits.coins.USDX]\n",
     "limits.coins.USDT: expected a table, got string"),
    ("lowercase-coin-table", "[limits.coins.USDT]", "[limits.coins.usdt]",
     'limits.coins.usdt: "usdt" is not a coin symbol like "USDT" (1-20 of A-Z 0-9)'),
    ("bad-label", 'label = "cold-wallet"', 'label = "-cold-wallet"',
     'destination[0].label: "-cold-wallet" is not a name of 1-64 letters, digits,'),
    ("label-with-newline", 'label = "cold-wallet"', 'label = "cold-wallet\\n"',
     'destination[0].label: "cold-wallet\\n" is not a name'),
    ("label-too-long", 'label = "cold-wallet"', 'label = "' + "a" * 65 + '"',
     'destination[0].label: "aaaa'),
    ("lowercase-coin", 'coin = "USDT"', 'coin = "usdt"',
     'destination[0].coin: "usdt" is not a coin symbol like "USDT"'),
    ("coin-with-newline", 'coin = "USDT"', 'coin = "USDT\\n"', 'destination[0].coin: "USDT\\n" is not'),
    ("bad-network", 'network = "TRX"', 'network = "TR X"',
     'destination[0].network: "TR X" is not a network name like "TRX" (1-32 of A-Z 0-9 _)'),
    ("coin-without-limits", 'coin = "USDT"', 'coin = "BTC"',
     'destination[0].coin: coin "BTC" has no [limits.coins.BTC] table'),
    ("empty-address", 'address = "TXYZ..."', 'address = ""',
     "destination[0].address: must not be empty"),
    ("address-with-space", 'address = "TXYZ..."', 'address = "TXYZ ..."',
     'destination[0].address: contains whitespace or a control character (" " at position 4)'),
    ("address-with-tab", 'address = "TXYZ..."', 'address = "TXYZ...\\t"',
     'destination[0].address: contains whitespace or a control character ("\\t" at position 7)'),
    ("address-with-bell", 'address = "TXYZ..."', 'address = "TX\\u0007YZ"',
     'destination[0].address: contains whitespace or a control character ("\\u0007" at position 2)'),
    ("address-with-zero-width", 'address = "TXYZ..."', 'address = "TXYZ\\u200b"',
     'destination[0].address: contains whitespace or a control character ("\\u200b" at position 4)'),
    ("address-not-a-string", 'address = "TXYZ..."', "address = 12345",
     "destination[0].address: expected a string, got integer"),
    ("empty-tag", 'tag = "12345"', 'tag = ""', "destination[0].tag: must not be empty"),
    ("tag-with-newline", 'tag = "12345"', 'tag = "123\\n45"',
     'destination[0].tag: contains whitespace or a control character ("\\n" at position 3)'),
    ("bad-client", 'clients = ["signal"]', 'clients = ["signal", "-signal"]',
     'destination[0].clients[1]: "-signal" is not a name of 1-64 letters'),
    ("client-with-space", 'clients = ["signal"]', 'clients = ["sig nal"]',
     'destination[0].clients[0]: "sig nal" is not a name'),
    ("clients-not-a-list", 'clients = ["signal"]', 'clients = "signal"',
     "destination[0].clients: expected an array, got string"),
    ("duplicate-client", 'clients = ["signal"]', 'clients = ["signal", "other", "signal"]',
     'destination[0].clients[2]: duplicate client "signal"'),
    ("single-destination-table", "[[destination]]", "[destination]",
     "destination: expected an array, got table (write each one as a [[destination]] table)"),
    ("destination-not-a-table", DESIGN_EXAMPLE, 'destination = ["cold-wallet"]\n' + MINIMAL,
     "destination[0]: expected a table, got string"),
    ("grace-zero", "[[destination]]", "[executor]\nreconcile_grace_seconds = 0\n[[destination]]",
     "executor.reconcile_grace_seconds: must be >= 1, got 0"),
    ("deadline-a-week", "[[destination]]", "[executor]\nreconcile_deadline_minutes = 10080\n[[destination]]",
     "executor.reconcile_deadline_minutes: must be <= 10079, got 10080"),
    ("deadline-not-after-grace", "[[destination]]",
     "[executor]\nreconcile_grace_seconds = 120\nreconcile_deadline_minutes = 2\n[[destination]]",
     "executor.reconcile_deadline_minutes: 2 min is not longer than reconcile_grace_seconds 120"),
]


@pytest.mark.parametrize("old,new,expected", [pytest.param(*case[1:], id=case[0]) for case in INVALID])
def test_invalid_file_is_refused_with_a_message_naming_the_key(old, new, expected):
    """Each invalid file raises PolicyError whose one-line message names the file and the key."""
    error = error_of(mutated(old, new))
    message = str(error)
    assert message.startswith("treasury.toml: " + expected), message
    assert "\n" not in message and "\r" not in message
    assert error.code == "policy_invalid"


def test_duplicate_label_names_the_second_one_and_points_at_the_first():
    """Two destinations with one label are refused at the second, naming where the first is."""
    second = DESIGN_EXAMPLE[DESIGN_EXAMPLE.index("[[destination]]"):]
    error = error_of(DESIGN_EXAMPLE + "\n" + second.replace('max_per_transfer = "500"', ""))
    assert str(error) == 'treasury.toml: destination[1].label: duplicate label "cold-wallet" (also destination[0])'
    assert error.key == "destination[1].label"


def test_the_third_destination_is_named_by_its_index():
    """Errors in an array of tables name the element, e.g. destination[2].coin."""
    extra = ('\n[[destination]]\nlabel = "b"\ncoin = "USDT"\nnetwork = "TRX"\naddress = "x"\n'
             '\n[[destination]]\nlabel = "c"\ncoin = "BTC"\nnetwork = "BTC"\naddress = "y"\n')
    error = error_of(DESIGN_EXAMPLE + extra)
    assert str(error) == 'treasury.toml: destination[2].coin: coin "BTC" has no [limits.coins.BTC] table'


def test_limits_table_missing_is_named():
    """A file without [limits] names the missing table."""
    assert str(error_of('quarantine_hours = 1\n')) == "treasury.toml: limits: missing required key"


def test_coins_table_missing_is_named():
    """[limits] without any [limits.coins.X] names limits.coins."""
    assert str(error_of("[limits]\nwindow_hours = 24\n")) == "treasury.toml: limits.coins: missing required key"


def test_odd_coin_key_is_quoted_and_kept_on_one_line():
    """A TOML key with a newline or quotes is shown escaped, so the message stays one line."""
    error = error_of(mutated("[limits.coins.USDT]", '[limits.coins."US\\nDT\\""]'))
    assert str(error).startswith('treasury.toml: limits.coins."US\\nDT\\"": "US\\nDT\\"" is not a coin symbol')
    assert "\n" not in str(error)


def test_error_exposes_source_key_and_problem():
    """PolicyError carries the file, the key path and the problem apart, for the CLI and logs."""
    error = error_of(mutated('window_cap = "5000"', "window_cap = 5000.0"))
    assert error.source == "treasury.toml"
    assert error.key == "limits.coins.USDT.window_cap"
    assert error.problem.startswith('expected a decimal string like "5000", got float')


def test_syntax_error_has_no_key_but_gives_the_line():
    """A TOML syntax error names the file and the line, with no key path."""
    error = error_of("[limits\n")
    assert error.key is None
    assert str(error).startswith("treasury.toml: invalid TOML: ") and "line 1" in str(error)


def test_parse_policy_names_the_given_source():
    """The source name given to parse_policy starts every message."""
    with pytest.raises(PolicyError, match=r"\A/etc/treasury/policy\.toml: limits: missing required key\Z"):
        parse_policy("", source="/etc/treasury/policy.toml")


def test_policy_from_dict_refuses_a_document_that_is_not_a_table():
    """Only a table can be a policy document."""
    with pytest.raises(PolicyError, match=r"\Atreasury\.toml: expected a table, got array\Z"):
        policy_from_dict([])  # type: ignore[arg-type]


# --- properties -----------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.from_regex(r"\A[0-9]{1,30}(\.[0-9]{1,20})?\Z"),
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=12), inner, max_size=3), max_leaves=6)


def _leaf_paths(node, prefix=()):
    if isinstance(node, dict):
        if not node:
            yield prefix
        for key, value in node.items():
            yield from _leaf_paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaf_paths(value, prefix + (index,))
    else:
        yield prefix


def _replaced(node, path, value):
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replaced(node[path[0]], path[1:], value)
    return copy


_FULL_DATA = tomllib.loads(FULL)
_FULL_LEAVES = list(_leaf_paths(_FULL_DATA))


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from(_FULL_LEAVES), _VALUES), min_size=1, max_size=3))
def test_any_corrupted_document_loads_or_fails_with_one_line_policy_error(changes):
    """Whatever values replace parts of a valid document, the result is a Policy or a PolicyError."""
    data = _FULL_DATA
    for path, value in changes:
        data = _replaced(data, path, value)
    try:
        policy = policy_from_dict(data)
    except PolicyError as error:
        assert str(error).startswith("treasury.toml: ")
        assert str(error).isprintable()
    else:
        assert isinstance(policy, Policy)


@PROPERTY
@given(st.text(max_size=200))
def test_any_text_parses_or_fails_with_policy_error(text):
    """parse_policy raises nothing but PolicyError, whatever the text."""
    try:
        parse_policy(text)
    except PolicyError as error:
        assert str(error).isprintable()


@PROPERTY
@given(st.from_regex(r"\A[0-9]{1,40}(\.[0-9]{1,18})?\Z"))
def test_every_positive_wire_amount_is_a_valid_limit(text):
    """Any string in the wire amount grammar that is above zero is accepted as a cap, exactly."""
    document = mutated('window_cap = "5000"', f'window_cap = "{text}"')
    if Decimal(text) == 0:
        with pytest.raises(PolicyError, match="must be greater than 0"):
            parse_policy(document)
    else:
        assert parse_policy(document).limits.coins["USDT"].window_cap == Decimal(text)


# --- issue 10 defects 6 and 8: the client budget, the disk floor, the rules' age -----------

def test_client_budgets_disk_floor_and_rules_age_have_their_defaults():
    limits = parse_policy(MINIMAL).limits
    assert dict(limits.clients) == {}
    assert limits.min_free_disk_mb == 64 and limits.max_exchange_rules_age_minutes == 30


def test_a_client_budget_table_is_read_per_client():
    policy = parse_policy("[limits]\nmin_free_disk_mb = 5\nmax_exchange_rules_age_minutes = 10\n"
                          "[limits.clients.signal-bot]\nmax_requests_per_minute = 120\n" + MINIMAL)
    assert policy.limits.clients["signal-bot"].max_requests_per_minute == 120
    assert policy.limits.min_free_disk_mb == 5 and policy.limits.max_exchange_rules_age_minutes == 10
    with pytest.raises(TypeError):
        policy.limits.clients["other"] = policy.limits.clients["signal-bot"]  # type: ignore[index]


@pytest.mark.parametrize("table, expected", [
    ("[limits.clients.bot]\nmax_requests_per_minute = 0\n",
     "limits.clients.bot.max_requests_per_minute: must be >= 1, got 0"),
    ("[limits.clients.bot]\nmax_request_per_minute = 5\n",
     "limits.clients.bot.max_request_per_minute: unknown key"),
    ("[limits.clients.bot]\nmax_requests_per_minute = \"5\"\n",
     "limits.clients.bot.max_requests_per_minute: expected an integer"),
    ("[limits.clients.\".bot\"]\nmax_requests_per_minute = 5\n", "limits.clients"),
    ("[limits]\nmax_exchange_rules_age_minutes = 9\n", "limits.max_exchange_rules_age_minutes: must be >= 10"),
    ("[limits]\nmin_free_disk_mb = 0\n", "limits.min_free_disk_mb: must be >= 1"),
])
def test_bad_budget_disk_and_age_settings_are_refused_naming_the_key(table, expected):
    message = str(error_of(table + MINIMAL))
    assert message.startswith("treasury.toml: " + expected), message


def test_a_destinations_wallet_defaults_to_spot_and_may_be_funding():
    """`wallet` per destination: spot unless said; funding when said (issue 12 item 1)."""
    policy = parse_policy(FULL)
    assert policy.destination("cold-wallet").wallet == "spot"
    funding = parse_policy(mutated('address = "TXYZ..."', 'address = "TXYZ..."\nwallet = "funding"'))
    assert funding.destination("cold-wallet").wallet == "funding"


@pytest.mark.parametrize("value", ['"savings"', '"SPOT"', "1", '""'])
def test_a_wallet_that_is_neither_spot_nor_funding_is_refused_naming_the_key(value):
    """Anything but "spot" or "funding" (even Binance's number for it) is a policy error at the key."""
    error = error_of(mutated('address = "TXYZ..."', f'address = "TXYZ..."\nwallet = {value}'))
    assert "wallet" in str(error)
