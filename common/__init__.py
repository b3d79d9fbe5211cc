"""What both bots need and nothing that is either's: wire messages, exchange client, config, logging."""

__version__ = "0.1.0"
