"""A history record with our withdrawOrderId is adopted only if it is the withdrawal we
asked for (treasury_bot/reconcile.py compare_found, judge_found; issue 10, defect 7). Pure."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.binance import Amount, WithdrawRecord
from treasury_bot.reconcile import Intended, compare_found, judge_found

ADDRESS = "TXYZ-cold-address-0001"
OURS = Intended(coin="USDT", network="TRX", address=ADDRESS, tag=None, amount=Decimal("25"))


def record(id_: str = "w-1", order_id: str | None = "i-1", *, coin: str = "USDT", network: str | None = "TRX",
           address: str = ADDRESS, tag: str | None = None, amount: str = "25",
           fee: str = "1") -> WithdrawRecord:
    return WithdrawRecord(id=id_, amount=Amount(amount), transaction_fee=Amount(fee), coin=coin, address=address,
                          status=4, apply_time=0, withdraw_order_id=order_id, network=network, address_tag=tag)


def test_the_withdrawal_we_asked_for_matches():
    """Same coin, network, address and amount as applied: no difference."""
    assert compare_found(OURS, record()) is None


def test_amount_net_of_the_fee_matches_exactly():
    """history `amount` may be what the recipient gets: amount + transactionFee == ours matches."""
    assert compare_found(OURS, record(amount="24", fee="1")) is None
    assert compare_found(OURS, record(amount="24.00000000", fee="1.00000000")) is None


@pytest.mark.parametrize("over, named", [
    (dict(amount="30"), "amount 30 (fee 1) != 25"),
    (dict(amount="24.00000001", fee="1"), "amount 24.00000001"),
    (dict(amount="25.00000001"), "amount 25.00000001"),
    (dict(coin="BTC"), "coin BTC != USDT"),
    (dict(network="ETH"), "network ETH != TRX"),
    (dict(address="TOTHER-address"), "address TOTHER-address != " + ADDRESS),
])
def test_any_difference_is_named(over, named):
    """Coin, network, address or amount differ: the text says which and how (no tolerance)."""
    differs = compare_found(OURS, record(**over))
    assert differs is not None and named in differs


def test_our_tag_must_be_on_the_record():
    """A destination with a tag: the record's addressTag must be that tag."""
    tagged = Intended(coin="XRP", network="XRP", address="rAddr", tag="12345", amount=Decimal("10"))
    assert compare_found(tagged, record(coin="XRP", network="XRP", address="rAddr", tag="12345", amount="10")) is None
    differs = compare_found(tagged, record(coin="XRP", network="XRP", address="rAddr", tag=None, amount="10"))
    assert differs == "addressTag (none) != 12345"


def test_several_differences_are_all_named():
    differs = compare_found(OURS, record(amount="30", address="TOTHER"))
    assert differs is not None and "address" in differs and "amount" in differs


def test_judge_adopts_only_a_matching_record_with_our_id():
    """Records of other ids are ignored; ours, matching, is adopted with its status."""
    lookup = judge_found(OURS, "i-1", [record("w-0", "other"), record("w-1", "i-1")])
    assert (lookup.found_id, lookup.found_status, lookup.mismatch, lookup.failed) == ("w-1", 4, None, False)
    assert judge_found(OURS, "i-1", [record("w-0", "other")]).found_id is None


def test_judge_never_adopts_a_record_that_differs():
    lookup = judge_found(OURS, "i-1", [record("w-9", "i-1", amount="30")])
    assert lookup.found_id is None and lookup.mismatch == "withdrawal w-9: amount 30 (fee 1) != 25"


def test_two_records_with_our_id_are_never_adopted():
    """Two withdrawals carry our id: ours twice, or the id reused; a person decides."""
    lookup = judge_found(OURS, "i-1", [record("w-1", "i-1"), record("w-2", "i-1")])
    assert lookup.found_id is None and lookup.mismatch is not None and "w-1" in lookup.mismatch \
        and "w-2" in lookup.mismatch
