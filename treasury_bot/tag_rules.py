"""A destination's tag (memo) against its network's rules (issue 12), as pure functions.

What Binance says, per network of `GET /sapi/v1/capital/config/getall`
(https://developers.binance.com/docs/wallet/capital/all-coins-info): `withdrawTag` is
"whether a memo is required to withdraw" (the page's comment; `sameAddress` is the
outdated field it replaces), and `memoRegex` is the memo's pattern. The rules we draw:

- `withdrawTag` true: a tag is required. A destination without one is a policy error
  (the exchange would refuse the withdrawal, or worse, credit a shared address nobody can
  attribute).
- a network that takes no tag: `withdrawTag` false and `memoRegex` empty. A tag there is
  a policy error: Binance refuses such an apply (-4106), and a tag the operator believes is
  being sent but is not is a mistake in the file either way.
- a tag present and `memoRegex` not empty: it must match (re.search, as rule 7 reads the
  exchange's regexes; one that does not compile fails closed).
- `withdrawTag` absent from the reply: the page is silent on what that means; we then
  require nothing and forbid nothing, and judge a tag by `memoRegex` alone, as rule 7
  always has (an empty regex is no constraint).

Used at start (a finding refuses the start, like a policy-file error), by `treasuryctl
check` (one line each), on every coin-rules refresh (alerted once per episode:
treasury_bot/destination_watch.py) and in every decision (rule 7, `invalid_destination`:
treasury_bot/policy.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from treasury_bot.policy_model import Destination, Policy
from treasury_bot.withdraw_rules import NetworkRule, regex_problem

TAG_REQUIRED = "tag_required"
TAG_NOT_TAKEN = "tag_not_taken"
TAG_INVALID = "tag_invalid"


@dataclass(frozen=True)
class TagFinding:
    """A destination whose tag its network's rules refuse; `detail` names the rule."""

    label: str
    code: str        # TAG_REQUIRED | TAG_NOT_TAKEN | TAG_INVALID
    detail: str

    def line(self) -> str:
        return f"destination {self.label}: {self.detail}"


def takes_tag(rule: NetworkRule) -> bool:
    """Whether the network takes a memo at all: only withdrawTag false with no memoRegex
    says it takes none (withdrawTag absent says nothing)."""
    return rule.withdraw_tag is not False or bool(rule.memo_regex)


def tag_problem(rule: NetworkRule, tag: str | None) -> tuple[str, str] | None:
    """(code, why) when `tag` does not suit the network, else None."""
    where = f"{rule.coin} on {rule.network}"
    if tag is None:
        if rule.withdraw_tag is True:
            return TAG_REQUIRED, f"has no tag, and the exchange requires one for {where} (withdrawTag true)"
        return None
    if not takes_tag(rule):
        return TAG_NOT_TAKEN, (f"has a tag, and the exchange takes none for {where} "
                               "(withdrawTag false, no memoRegex): remove the tag")
    problem = regex_problem(rule.memo_regex, tag, "tag", "memoRegex", where)
    return (TAG_INVALID, problem) if problem is not None else None


def check_destination(destination: Destination, rules: Mapping[tuple[str, str], NetworkRule]) -> TagFinding | None:
    rule = rules.get((destination.coin, destination.network))
    if rule is None:
        return None  # not offered at all: the whitelist audit and rule 7 say so
    found = tag_problem(rule, destination.tag)
    return None if found is None else TagFinding(destination.label, found[0], found[1])


def check_tags(policy: Policy, rules: Mapping[tuple[str, str], NetworkRule]) -> list[TagFinding]:
    """Every destination whose tag its network's rules refuse, in the file's order."""
    findings = [check_destination(d, rules) for d in policy.destinations]
    return [f for f in findings if f is not None]


def refusal(path: str, findings: list[TagFinding]) -> str:
    """The start's one line, worded like a policy-file error (`FILE: KEY: problem`)."""
    return "; ".join(f"{path}: {f.line()}" for f in findings)
