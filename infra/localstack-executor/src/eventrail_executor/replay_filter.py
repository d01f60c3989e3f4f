"""EventBridge StartReplay's Destination.FilterArns, as on AWS, for LocalStack 4.13.1.

On AWS, a replay whose destination names FilterArns sends each replayed event only to those
rules of the bus; without FilterArns it goes to every rule. LocalStack 4.13.1 stores
FilterArns with the replay but ignores it: the replayed entries go through the bus like a
PutEvents, to every rule whose pattern matches (`ReplayService.re_format_events_from_archive`
says "TODO deal with filter arn"). `eventrail replay --function NAME` (which passes the rules
of that function as FilterArns) then reached every function.

:func:`install` wraps ``EventsProvider._process_rules`` (called once per rule for each event
put on a bus, replayed ones included): for an event that carries ``replay-name`` (LocalStack's
formatted event keeps it, as AWS's does), the replay is looked up in the events store and a
rule outside its FilterArns is skipped. Events that are not replayed, and replays without
FilterArns, go through unchanged.

It only patches LocalStack 4.13.1: on another version, or when what it patches is missing,
it raises :class:`InstallError` and patches nothing. The ready hook
``infra/localstack-init/ready.d/eventrail_replay_filter.py`` calls it.
"""

import logging

LOG = logging.getLogger("eventrail.replay_filter")

SUPPORTED_LOCALSTACK_VERSION = "4.13.1"

# Attribute set on the wrapper, holding the upstream function (install once).
_MARK = "_eventrail_replay_filter_upstream"


class InstallError(RuntimeError):
    """The patch does not fit the running LocalStack; nothing was patched."""


def replay_reaches(rule_arn, filter_arns) -> bool:
    """Whether a replay whose destination has `filter_arns` sends its events to `rule_arn`.

    No FilterArns (absent or empty): every rule of the bus, as on AWS.
    """
    if not filter_arns:
        return True
    return rule_arn in filter_arns


def filter_arns_of(replay):
    """The FilterArns of a stored replay (LocalStack's ``models.Replay``), or None."""
    destination = getattr(replay, "destination", None)
    if not isinstance(destination, dict):
        return None
    return destination.get("FilterArns")


def rule_is_filtered_out(replays, rule_arn, event) -> bool:
    """Whether `event` is a replayed one that its replay's FilterArns keep from `rule_arn`.

    `replays` maps replay names to LocalStack's stored replays (the events store's
    ``replays``). An event of an unknown replay is not filtered (nothing says to).
    """
    if not isinstance(event, dict):
        return False
    replay_name = event.get("replay-name")
    if not replay_name:
        return False
    replay = replays.get(replay_name)
    if replay is None:
        return False
    return not replay_reaches(rule_arn, filter_arns_of(replay))


def install() -> list[str]:
    """Patches the running LocalStack 4.13.1; returns what it patched (nothing when done before).

    Raises :class:`InstallError` when LocalStack is another version or
    ``EventsProvider._process_rules`` is missing.
    """
    from localstack import version as localstack_version

    found = getattr(localstack_version, "version", None)
    if found != SUPPORTED_LOCALSTACK_VERSION:
        raise InstallError(
            f"eventrail's replay FilterArns patch targets LocalStack "
            f"{SUPPORTED_LOCALSTACK_VERSION}, this is {found}: not installed"
        )
    from localstack.services.events import provider as events_provider

    provider_class = getattr(events_provider, "EventsProvider", None)
    upstream = None if provider_class is None else provider_class.__dict__.get("_process_rules")
    if upstream is None or not hasattr(provider_class, "get_store"):
        raise InstallError(
            "eventrail's replay FilterArns patch cannot find "
            "provider.EventsProvider._process_rules / get_store in LocalStack "
            f"{found}: not installed"
        )
    if getattr(upstream, _MARK, None) is not None:
        return []

    def _process_rules(self, rule, region, account_id, event_formatted, trace_header):
        if isinstance(event_formatted, dict) and event_formatted.get("replay-name"):
            replays = self.get_store(region, account_id).replays
            if rule_is_filtered_out(replays, rule.arn, event_formatted):
                LOG.debug(
                    "replay %s: rule %s is not in its FilterArns; event %s not sent to it",
                    event_formatted.get("replay-name"),
                    rule.arn,
                    event_formatted.get("id"),
                )
                return None
        return upstream(self, rule, region, account_id, event_formatted, trace_header)

    setattr(_process_rules, _MARK, upstream)
    _process_rules.__doc__ = upstream.__doc__
    provider_class._process_rules = _process_rules
    return ["EventsProvider._process_rules"]
