"""What tests/unit/treasury_bot/test_policy_file.py and
tests/integration/treasury_bot/test_policy_file.py share: DESIGN_EXAMPLE, FULL, mutated."""

from __future__ import annotations

# DESIGN section 3's example, verbatim.
DESIGN_EXAMPLE = '''\
quarantine_hours = 24            # 0 only for demos and tests
allow_trading_key = false        # true: start even if the key can trade (warned)
allow_unrestricted_ip = false    # true: start even if the key has no IP restriction (warned)

[limits]
window_hours = 24
max_transfers_per_hour = 20
max_intent_age_seconds = 300
min_seconds_between_withdrawals = 1
poll_interval_seconds = 15
stuck_after_minutes = 60

[limits.coins.USDT]
max_per_transfer = "1000"
window_cap = "5000"
approval_above = "2500"          # optional

[[destination]]
label = "cold-wallet"
coin = "USDT"
network = "TRX"
address = "TXYZ..."
tag = "12345"                    # optional memo
max_per_transfer = "500"         # optional, tighter than the coin's
window_cap = "2000"              # optional
clients = ["signal"]             # optional: client certificate names allowed
'''

# A fuller file: two coins, two destinations, the optional [executor] table.
FULL = '''\
quarantine_hours = 0.5
allow_trading_key = true
allow_unrestricted_ip = false

[limits]
window_hours = 12
max_transfers_per_hour = 5
max_intent_age_seconds = 120
min_seconds_between_withdrawals = 0.25
poll_interval_seconds = 6
stuck_after_minutes = 30

[limits.coins.USDT]
max_per_transfer = "1000.50"
window_cap = "5000"

[limits.coins.BTC]
max_per_transfer = "0.5"
window_cap = "1.000000000000000001"
approval_above = "0.1"

[executor]
reconcile_grace_seconds = 90
reconcile_deadline_minutes = 45

[[destination]]
label = "cold-wallet"
coin = "USDT"
network = "TRX"
address = "TQ5NbRmLKdSCzxRBZWmQqF3PBRGY2cmQpz"
tag = "12345"
clients = ["signal", "signal-2.backup"]

[[destination]]
label = "btc.vault_1"
coin = "BTC"
network = "BTC"
address = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
'''


def mutated(old: str, new: str, base: str = DESIGN_EXAMPLE) -> str:
    assert old in base, f"test setup: {old!r} is not in the base file"
    return base.replace(old, new, 1)
