"""demo/story.py: the milestones `make demo` ticks off, read from the prefixed log."""

from __future__ import annotations

import json

from demo.story import MILESTONES, Story, fields_of, split_line

SWEEP = "sw-0123456789abcdef0123456789abcdef"
LOG = [
    "2026-11-25 14:12:10,164 INFO spawned: 'sandbox' with pid 1",
    "signal    | ts=x level=info program=signal-bot event=order_placed id=d-1 status=FILLED",
    'signal    | ts=x level=info program=signal-bot event=webhook_refused status=401 error=unauthorized detail="bad"',
    "signal    | ts=x level=info program=signal-bot event=order_refused id=d-1 reason=duplicate",
    'signal    | ts=x level=info program=signal-bot event=order_refused id=d-2 reason=unknown_symbol detail="x y"',
    "signal    | ts=x level=info program=signal-bot event=order_refused id=d-3 reason=below_min_notional",
    "signal    | ts=x level=info program=signal-bot event=order_placed id=d-4 status=FILLED",
    f"treasury  | ts=x level=info program=treasury event=intent_decided intent_id={SWEEP} client=signal outcome=accepted",
    f"treasury  | ts=x level=info program=treasury event=withdrawal_status intent_id={SWEEP} status=processing",
    f"treasury  | ts=x level=info program=treasury event=withdrawal_status intent_id={SWEEP} status=completed",
    "smtp-sink | mail 3 received: [treasury][INFO] withdrawal completed: 490 USDT to cold-wallet",
    "smtp-sink |   Subject: [treasury][INFO] withdrawal completed: 490 USDT to cold-wallet",
    f"smtp-sink |     Intent id:                  {SWEEP}",
    "smtp-sink | end of mail 3",
]


def test_the_demo_log_completes_the_story_in_order():
    """Each milestone is reached by its line; the completion mail, once printed whole, ends it."""
    story = Story()
    reached = [story.feed(line) for line in LOG]
    assert [key for keys in reached for key in keys] == [key for key, _ in MILESTONES]
    assert reached[-2] == [] and reached[-1] == ["completion_mailed"]
    assert story.complete and story.sweep_intents == [SWEEP] and story.reached["orders_placed"] == 2
    assert all(line.startswith("  [x] ") for line in story.checklist())


def test_a_withdrawal_of_another_intent_or_a_rejection_does_not_count():
    """Only the accepted sweep's own statuses count; a rejected intent is not a sweep accepted."""
    story = Story()
    story.feed("treasury  | event=intent_decided intent_id=sw-1 outcome=rejected reason_code=stale_intent")
    story.feed("treasury  | event=withdrawal_status intent_id=man-1 status=completed")
    story.feed("smtp-sink | mail 1 received: [treasury][INFO] withdrawal completed: x")
    story.feed("smtp-sink | end of mail 1")
    assert story.reached == {} and not story.complete
    assert "  [ ] the sweep intent accepted by the treasury" in story.checklist()


def test_only_a_completion_mail_naming_this_runs_sweep_counts_digests_included():
    """A leftover mail about an earlier run's sweep does not count; a digest naming ours does."""
    story = Story()
    story.feed(f"treasury  | event=intent_decided intent_id={SWEEP} outcome=accepted")
    for line in ("mail 1 received: [treasury][INFO] withdrawal completed: 490 USDT", "  Intent id: sw-older",
                 "end of mail 1"):
        story.feed(f"smtp-sink | {line}")
    assert "completion_mailed" not in story.reached
    for line in ("mail 2 received: [treasury][INFO] 2 withdrawals completed (cold-wallet 2)",
                 f"  sw-older, {SWEEP}", "end of mail 2"):
        story.feed(f"smtp-sink | {line}")
    assert story.reached["completion_mailed"] == 1


def test_json_log_lines_are_read_too():
    """LOG_FORMAT=json lines give the same milestones."""
    story = Story()
    line = json.dumps({"level": "info", "program": "signal-bot", "event": "order_refused", "reason": "duplicate"})
    assert story.feed(f"signal    | {line}") == ["duplicate_refused"]


def test_fields_and_prefix_parsing():
    """Quoted values are unquoted; supervisord's own lines have no program prefix."""
    assert fields_of('event=x detail="a \\"b\\" c" n=1') == {"event": "x", "detail": 'a "b" c', "n": "1"}
    assert fields_of("{not json") == {}
    assert split_line("smtp-sink | mail 1 received: s\n") == ("smtp-sink", "mail 1 received: s")
    assert split_line("2026-11-25 14:12:10,164 INFO exited: feeder (exit status 0; expected)") is None
