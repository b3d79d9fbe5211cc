"""A local Binance-compatible exchange for the demo and the end-to-end tests.

It speaks the subset of the Binance REST API the bots use, verifies signatures with its
own code written from Binance's documentation, and imports nothing from the bots nor
from `common/`: a signing bug in the client cannot hide by agreeing with itself.
See sandbox/README.md.
"""
