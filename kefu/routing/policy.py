"""Which skill group serves a handed-off conversation, and how urgently.

The rules are the shop's, in routing.yml (KEFU_ROUTING): a group per kind
of request, a customer's tier that may send them to their own group and
always moves them up the line, a backup group per group and the wait after
which a conversation overflows to it. Every decision comes with a note that
says why, in both desk languages, so an agent reading the summary sees how
the chat reached them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, FrozenSet, Mapping, Optional, Sequence, Tuple

from kefu.core.config import load_settings
from kefu.core.yamlfile import load_cached

#: customer tiers, lowest first (customers.tier)
TIERS = ("regular", "vip", "svip")


@dataclass(frozen=True)
class Group:
    code: str
    name_zh: str
    name_en: str
    backup: Optional[str]
    intents: FrozenSet[str]

    @property
    def label(self) -> str:
        return f"{self.name_zh} {self.name_en}"


@dataclass(frozen=True)
class Tier:
    code: str
    name_zh: str
    name_en: str
    priority: int
    group: Optional[str]

    @property
    def label(self) -> str:
        return self.name_zh if self.name_zh == self.name_en else f"{self.name_zh} {self.name_en}"


@dataclass(frozen=True)
class Route:
    """Where a conversation goes: the group, its priority in the line, and
    the note that explains it (kept with the handoff)."""

    group: str
    priority: int
    tier: str
    note: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RoutingPolicy:
    groups: Mapping[str, Group]
    tiers: Mapping[str, Tier]
    default_group: str
    reasons: Mapping[str, str]
    keep_for_tiers: FrozenSet[str]
    overflow_after: timedelta
    escalation_group: str
    escalation_priority: int
    category_priority: Mapping[str, int] = field(default_factory=dict)

    def route(self, intents: Sequence[str], reason: str, tier: Optional[str],
              risks: Sequence[str] = (), complaint: Optional[str] = None) -> Route:
        """The group for a conversation whose requests were ``intents``
        (oldest first), handed over for ``reason``, of a customer of
        ``tier`` (None: not known to the shop, served as regular), whose
        messages carried the escalation signals ``risks`` (their names) and
        whose complaint, if any, is of the category ``complaint``."""
        route = self._route(intents, reason, tier, risks)
        extra = self.category_priority.get(complaint or "", 0)
        if not extra:
            return route
        text = (f"{route.note['text']}；投诉类别 {complaint}，优先级 +{extra}"
                f" / complaint: {complaint}, priority +{extra}")
        return Route(route.group, route.priority + extra, route.tier,
                     {**route.note, "priority": route.priority + extra, "text": text})

    def _route(self, intents: Sequence[str], reason: str, tier: Optional[str], risks: Sequence[str]) -> Route:
        level = self.tiers.get(tier or "regular") or self.tiers["regular"]
        if risks:
            priority = level.priority + self.escalation_priority
            return Route(self.escalation_group, priority, level.code,
                         {**self.escalation_note(risks), "tier": level.code, "priority": priority})
        group, why = self._by_request(intents, reason)
        if level.group and level.group in self.groups and group not in self.keep_for_tiers:
            by_request = self.groups[group].label
            group = level.group
            text = (f"客户等级 {level.name_zh}，转{self.groups[group].name_zh}（原为{why[0]} → {by_request}）"
                    f" / {level.name_en} customer: {self.groups[group].name_en} (else {why[1]} → {by_request})")
        else:
            text = f"{why[0]} → {self.groups[group].label} / {why[1]} → {self.groups[group].name_en}"
        if level.priority:
            text += f"；优先级 {level.priority}（{level.name_zh}） / priority {level.priority} ({level.name_en})"
        return Route(group, level.priority, level.code, {"kind": "routed", "group": group, "tier": level.code,
                                                          "priority": level.priority, "text": text})

    def escalation_note(self, risks: Sequence[str]) -> Dict[str, Any]:
        """Why a chat jumped the line: the signals, the group, the extra priority."""
        group = self.groups[self.escalation_group]
        text = (f"风控：{'、'.join(risks)} → {group.name_zh}，优先级 +{self.escalation_priority}"
                f" / risk: {', '.join(risks)} → {group.name_en}, priority +{self.escalation_priority}")
        return {"kind": "risk", "group": group.code, "text": text}

    def overflow_note(self, home: str, backup: str, waited: timedelta) -> Dict[str, Any]:
        minutes = max(1, int(waited.total_seconds() // 60))
        text = (f"等待 {minutes} 分钟超过 {self.overflow_minutes} 分钟，{self.groups[home].name_zh} → "
                f"{self.groups[backup].name_zh}（后备组） / waited {minutes} min, over {self.overflow_minutes}: "
                f"{self.groups[home].name_en} → {self.groups[backup].name_en} (backup group)")
        return {"kind": "overflow", "group": backup, "from": home, "text": text}

    @property
    def overflow_minutes(self) -> int:
        return int(self.overflow_after.total_seconds() // 60)

    def backup_of(self, group: str) -> Optional[str]:
        known = self.groups.get(group)
        return known.backup if known is not None and known.backup in self.groups else None

    def _by_request(self, intents: Sequence[str], reason: str) -> Tuple[str, Tuple[str, str]]:
        if reason in self.reasons:
            return self.reasons[reason], (f"转人工原因 {reason}", f"handoff reason {reason}")
        for intent in reversed(intents):
            for group in self.groups.values():
                if intent in group.intents:
                    return group.code, (f"意图 {intent}", f"intent {intent}")
        return self.default_group, ("无明确意图", "no specific request")


def parse(config: Mapping[str, Any]) -> RoutingPolicy:
    """The policy from routing.yml's contents; a group or tier that names
    an unknown group is refused here, not at the first handoff."""
    groups: Dict[str, Group] = {}
    for code, spec in (config.get("groups") or {}).items():
        spec = spec or {}
        name = spec.get("name") or {}
        groups[str(code)] = Group(str(code), str(name.get("zh", code)), str(name.get("en", code)),
                                  spec.get("backup"), frozenset(spec.get("intents") or ()))
    tiers: Dict[str, Tier] = {}
    for code in TIERS:
        spec = (config.get("tiers") or {}).get(code) or {}
        name = spec.get("name") or {}
        tiers[code] = Tier(code, str(name.get("zh", code)), str(name.get("en", code)), int(spec.get("priority", 0)),
                           spec.get("group"))
    default = str(config.get("default_group") or next(iter(groups), ""))
    escalation = str(config.get("escalation_group") or default)
    named = [default, escalation, *(g.backup for g in groups.values() if g.backup),
             *(t.group for t in tiers.values() if t.group), *(config.get("reasons") or {}).values(),
             *(config.get("keep_for_tiers") or ())]
    unknown = sorted({str(n) for n in named if n not in groups})
    if not groups or unknown:
        raise ValueError(f"routing: unknown groups {unknown}" if unknown else "routing: no groups")
    return RoutingPolicy(groups, tiers, default, dict(config.get("reasons") or {}),
                         frozenset(config.get("keep_for_tiers") or ()),
                         timedelta(minutes=float(config.get("overflow_after_minutes", 3))), escalation,
                         int(config.get("escalation_priority", 3)),
                         {str(k): int(v) for k, v in (config.get("complaint_priority") or {}).items()})


def load(path: Optional[Path] = None) -> RoutingPolicy:
    """The configured policy, read again whenever the file changes, so an
    edited routing.yml counts at the next handoff without a restart."""
    return load_cached(Path(path or load_settings().routing_path), parse)
