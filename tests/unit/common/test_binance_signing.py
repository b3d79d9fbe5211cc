"""common/binance/signing.py, timing.py and weights.py: pure, no client, no socket.

The signer against Binance's own documented examples (request-security, "HMAC Keys"), and
`sign_request` against the algorithm written out by hand.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl

from common import binance
from common.binance import UsedWeights, offset_from_round_trip, sign_request, weights_from_headers
from common.binance.signing import HmacSigner, new_mac
from common.binance.timing import signed_timestamp

# Binance's own public documentation example (request-security, "HMAC Keys").
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PAYLOAD = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
               "&recvWindow=5000&timestamp=1499827319559")
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
DOC_PAYLOAD_NON_ASCII = ("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96"
                         "&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
                         "&recvWindow=5000&timestamp=1499827319559")
DOC_SIGNATURE_NON_ASCII = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"


def hand_signature(secret: str, payload: str) -> str:
    """The documented algorithm, written out here: hex HMAC-SHA256 of the payload under the secret."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def test_documented_hmac_example_signs_to_the_documented_value():
    """Binance's published example key, payload and signature agree with the algorithm and our signer."""
    assert hand_signature(DOC_SECRET, DOC_PAYLOAD) == DOC_SIGNATURE
    mac = hmac.new(DOC_SECRET.encode(), digestmod=hashlib.sha256)
    assert binance.hmac_signature(mac, DOC_PAYLOAD) == DOC_SIGNATURE


def test_documented_non_ascii_example_is_percent_encoded_then_signed():
    """Binance's non-ASCII example: values are percent-encoded first, and the encoded string is signed."""
    params = [("symbol", "１２３４５６"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", "1"), ("price", "0.1"), ("recvWindow", "5000"), ("timestamp", "1499827319559")]
    encoded = binance.encode_params(params)
    assert encoded == DOC_PAYLOAD_NON_ASCII
    assert hand_signature(DOC_SECRET, DOC_PAYLOAD_NON_ASCII) == DOC_SIGNATURE_NON_ASCII
    mac = hmac.new(DOC_SECRET.encode(), digestmod=hashlib.sha256)
    assert binance.hmac_signature(mac, encoded) == DOC_SIGNATURE_NON_ASCII


def test_sign_request_appends_window_timestamp_and_the_signature_of_everything_before_it():
    """The documented order example, built by sign_request, is the documented payload and signature."""
    params = [("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", "1"), ("price", "0.1")]
    signed = sign_request(HmacSigner(DOC_SECRET), params, recv_window_ms=5000, timestamp_ms=1499827319559)
    assert signed == DOC_PAYLOAD + "&signature=" + DOC_SIGNATURE


def test_sign_request_signs_the_percent_encoded_bytes_it_returns():
    """Commas, spaces and non-ASCII go out encoded; the signature is of exactly that text."""
    signed = sign_request(HmacSigner("s3cret"), [("idList", "a,b"), ("note", "x y/ü")],
                          recv_window_ms=60_000, timestamp_ms=7)
    payload, _, signature = signed.rpartition("&signature=")
    assert payload == "idList=a%2Cb&note=x%20y%2F%C3%BC&recvWindow=60000&timestamp=7"
    assert signature == hand_signature("s3cret", payload)
    assert dict(parse_qsl(signed))["note"] == "x y/ü"


def test_one_mac_signs_many_requests_without_changing():
    """The keyed MAC is copied per signature: signing twice gives the same answer."""
    mac = new_mac(DOC_SECRET)
    assert binance.hmac_signature(mac, DOC_PAYLOAD) == binance.hmac_signature(mac, DOC_PAYLOAD) == DOC_SIGNATURE


def test_the_hmac_signer_names_its_key_type_and_hides_its_secret():
    """HmacSigner says "HMAC" for `check`, signs as the documented example, and its repr holds no secret."""
    signer = HmacSigner(DOC_SECRET)
    assert signer.key_type == "HMAC"
    assert signer.signature(DOC_PAYLOAD) == DOC_SIGNATURE
    assert DOC_SECRET not in repr(signer) and DOC_SECRET not in str(vars(signer))


def test_the_clock_offset_is_taken_at_the_round_trip_midpoint():
    """Sent at 1000, received at 1400, server said 5200: the server read its clock at ~1200."""
    assert offset_from_round_trip(1000, 5200, 1400) == 4000
    assert offset_from_round_trip(1000, 900, 1001) == -100      # a server behind us: negative
    assert signed_timestamp(1_000, -100) == 900


def test_weights_come_from_the_documented_headers_only_by_lower_case_name():
    """Used-weight and order-count headers are kept as ints; junk values and other headers are not."""
    headers = {"X-MBX-USED-WEIGHT-1M": "20", "x-sapi-used-uid-weight-1m": " 900 ",
               "X-MBX-ORDER-COUNT-10S": "3", "X-MBX-USED-WEIGHT": "junk", "Server": "nginx"}
    assert weights_from_headers(headers) == {"x-mbx-used-weight-1m": 20, "x-sapi-used-uid-weight-1m": 900,
                                             "x-mbx-order-count-10s": 3}


def test_used_weights_keep_the_last_value_of_each_and_hand_out_copies():
    """A later reply overwrites only the headers it carries; a snapshot cannot change the record."""
    weights = UsedWeights()
    weights.record({"X-MBX-USED-WEIGHT-1M": "20", "X-SAPI-USED-IP-WEIGHT-1M": "1"})
    weights.record({"X-MBX-USED-WEIGHT-1M": "21"})
    snapshot = weights.snapshot()
    snapshot["x-mbx-used-weight-1m"] = 0
    assert weights.snapshot() == {"x-mbx-used-weight-1m": 21, "x-sapi-used-ip-weight-1m": 1}
