"""The signal bot: authenticated signal feeds -> risk-checked spot orders -> sweep intents.

It holds a trading-only key and may only *ask* the treasury to move money (docs/design.md sections 1, 5).
"""
