"""The treasury bot: holds the withdraw key, decides on transfer intents, withdraws, polls, alerts."""
