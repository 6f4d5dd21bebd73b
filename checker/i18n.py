"""Words of the reports in English and Japanese (terms from the glossary of Japanese practice).

Rule messages and principle titles come from the rule pack; this table holds only the words of
the report itself: headings, labels, verdicts, kinds, severities and the document vocabulary
(areas, directions, instruments, targets) a reader of a report sees.
"""

from __future__ import annotations

import datetime as dt
import re

LANGUAGES = ("en", "ja")

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "report": "Consistency report",
        "reports": "Consistency reports",
        "proposal": "Proposal",
        "title": "Title",
        "scope": "Scope",
        "effective_on": "Effective",
        "proposed_on": "Proposed",
        "change": "Change",
        "instrument": "Instrument",
        "legal_basis": "Legal basis",
        "verdict": "Verdict",
        "findings": "Findings",
        "finding": "finding",
        "findings_count": "findings",
        "no_findings": "No findings: the proposal is consistent with the stated principles.",
        "principle": "Principle",
        "rule": "Rule",
        "kind": "Kind",
        "severity": "Severity",
        "message": "Finding",
        "remedy": "Remedy",
        "evidence": "Evidence",
        "value": "Value",
        "state": "State",
        "statement": "Stated reason",
        "trigger": "Trigger",
        "no": "No.",
        "contents": "Proposals checked",
        "proposals_count": "{n} proposals",
        "related": "Related records",
        "source": "Rule source",
        "pack": "Rule pack",
        "engine": "Engine",
        "params": "Parameters",
        "summary": "Summary",
        "none": "none",
        "date": "Date",
        "direction": "Direction",
        "magnitude": "Magnitude",
        "record": "Record",
        "balance_profile": "Balance profile",
        "balance_profile.caption": (
            "Each principle of the Balanced Coexistence Model, as this proposal stands against it."
        ),
        "trajectory": "Trajectory of the scope",
        "trajectory.caption": (
            "The enacted changes of this scope before the proposal, as a cumulative direction: "
            "each expansion steps up and each restriction steps down by its magnitude (fine "
            "tuning ¼, minor ½, mid-level 1, major 2); the proposal is placed at its planned "
            "date of effect."
        ),
        "trajectory.level": "Level",
        "trajectory.reversal": "reversal",
        "trajectory.oscillation": "oscillation",
        "trajectory.election": "national election",
        "trajectory.axis": "cumulative direction",
        "trajectory.empty": "No enacted change of this scope precedes the proposal.",
        "trajectory.proposal": "this proposal",
        "state.consistent": "consistent",
        "state.tension": "tension",
        "state.conflict": "conflict",
        "verdict.consistent": "consistent",
        "verdict.tension": "tension",
        "verdict.conflict": "conflict",
        "verdict.consistent.lead": "The proposal is consistent with the principles of the model.",
        "verdict.tension.lead": (
            "Principles pull against each other in this proposal: the balance must be argued."
        ),
        "verdict.conflict.lead": "The proposal breaks a principle of the model or reverses "
        "earlier policy without a principled reason.",
        "kind.conflict": "conflict",
        "kind.reversal": "reversal",
        "kind.tension": "tension",
        "kind.note": "note",
        "severity.high": "high",
        "severity.medium": "medium",
        "severity.low": "low",
        "fallback": "answered by the reference evaluator",
        "checked_by": "Checked by bcm against the rule pack",
        "progress": "Checking proposals",
        "area.border_control": "border control",
        "area.entry_stay": "entry and stay",
        "area.integration": "integration",
        "area.exit": "exit",
        "direction.expand": "expand",
        "direction.restrict": "restrict",
        "direction.neutral": "neutral",
        "magnitude.fine_tuning": "fine tuning",
        "magnitude.minor": "minor",
        "magnitude.mid_level": "mid-level",
        "magnitude.major": "major",
        "instrument.act": "act",
        "instrument.cabinet_order": "cabinet order",
        "instrument.ministerial_ordinance": "ministerial ordinance",
        "instrument.landing_criteria": "landing permission criteria",
        "instrument.public_notice": "public notice",
        "instrument.guideline": "guideline",
        "instrument.administrative_practice": "administrative practice",
        "instrument.program": "programme",
        "trigger.evidence": "evidence",
        "trigger.scheduled_review": "scheduled review",
        "trigger.court_ruling": "court ruling",
        "trigger.treaty_obligation": "treaty obligation",
        "trigger.emergency": "emergency",
        "trigger.electoral_pledge": "electoral pledge",
        "trigger.public_pressure": "public pressure",
        "trigger.incident": "incident",
        "trigger.other": "other",
        "junit.passed": "The rule did not fire.",
        "sarif.proposal": "proposal",
    },
    "ja": {
        "report": "整合性チェック報告書",
        "reports": "整合性チェック報告書",
        "proposal": "政策案",
        "title": "件名",
        "scope": "対象範囲",
        "effective_on": "施行予定日",
        "proposed_on": "提案日",
        "change": "変更の内容",
        "instrument": "法形式",
        "legal_basis": "法的根拠",
        "verdict": "判定",
        "findings": "指摘事項",
        "finding": "件",
        "findings_count": "件",
        "no_findings": "指摘事項はありません。政策案は表明された原則と整合しています。",
        "principle": "原則",
        "rule": "ルール",
        "kind": "種別",
        "severity": "重大度",
        "message": "指摘",
        "remedy": "改善策",
        "evidence": "根拠 (エビデンス)",
        "value": "値",
        "state": "状況",
        "statement": "提案理由",
        "trigger": "契機",
        "no": "番号",
        "contents": "チェックした政策案",
        "proposals_count": "政策案 {n}件",
        "related": "関連する政策記録",
        "source": "ルールの定義箇所",
        "pack": "ルールパック",
        "engine": "エンジン",
        "params": "パラメータ",
        "summary": "概要",
        "none": "なし",
        "date": "施行日",
        "direction": "方向",
        "magnitude": "規模",
        "record": "政策記録",
        "balance_profile": "原則別の均衡状況",
        "balance_profile.caption": "均衡ある共生モデルの各原則に照らした本政策案の状況。",
        "trajectory": "対象範囲の政策の方向性",
        "trajectory.caption": (
            "本政策案より前に施行された同一対象範囲の変更の累積方向。拡大は上へ、抑制は下へ、変更の"
            "規模に応じて進む（微調整¼、小規模½、中規模1、大規模2）。本政策案は施行予定日に置いて"
            "いる。"
        ),
        "trajectory.level": "累積",
        "trajectory.reversal": "方針の反転",
        "trajectory.oscillation": "政策の振れ",
        "trajectory.election": "国政選挙",
        "trajectory.axis": "方向の累積",
        "trajectory.empty": "本政策案より前に施行された同一対象範囲の変更はありません。",
        "trajectory.proposal": "本政策案",
        "state.consistent": "整合",
        "state.tension": "緊張関係",
        "state.conflict": "抵触",
        "verdict.consistent": "整合",
        "verdict.tension": "緊張関係 (要調整)",
        "verdict.conflict": "抵触",
        "verdict.consistent.lead": "本政策案はモデルの各原則と整合しています。",
        "verdict.tension.lead": (
            "本政策案では原則間に緊張関係があり、均衡についての説明が必要です。"
        ),
        "verdict.conflict.lead": (
            "本政策案はモデルの原則に抵触するか、原則に基づく理由なく従前の政策を覆しています。"
        ),
        "kind.conflict": "抵触",
        "kind.reversal": "原則なき反転",
        "kind.tension": "緊張関係",
        "kind.note": "留意事項",
        "severity.high": "重大",
        "severity.medium": "中程度",
        "severity.low": "軽微",
        "fallback": "参照評価器による回答",
        "checked_by": "bcm によるチェック・使用したルールパック",
        "progress": "政策案をチェック中",
        "area.border_control": "水際対策",
        "area.entry_stay": "入国・在留",
        "area.integration": "社会統合",
        "area.exit": "出国・退去",
        "direction.expand": "拡大",
        "direction.restrict": "抑制",
        "direction.neutral": "中立",
        "magnitude.fine_tuning": "微調整",
        "magnitude.minor": "小規模",
        "magnitude.mid_level": "中規模",
        "magnitude.major": "大規模",
        "instrument.act": "法律",
        "instrument.cabinet_order": "政令",
        "instrument.ministerial_ordinance": "省令",
        "instrument.landing_criteria": "上陸許可基準",
        "instrument.public_notice": "告示",
        "instrument.guideline": "ガイドライン",
        "instrument.administrative_practice": "運用",
        "instrument.program": "事業・制度",
        "target.all_migrants": "外国人全般",
        "target.low_skilled_workers": "専門的・技術的分野以外の労働者",
        "target.skilled_workers": "専門的・技術的分野の労働者",
        "target.high_skilled_workers": "高度外国人材",
        "target.trainees": "技能実習生",
        "target.students": "留学生",
        "target.family_members": "家族",
        "target.refugees_asylum_seekers": "難民・庇護申請者",
        "target.irregular_migrants": "非正規滞在者",
        "target.ethnic_diaspora": "日系人等",
        "target.investors_entrepreneurs": "投資家・起業家",
        "target.permanent_residents": "永住者",
        "target.specific_nationalities": "特定の国籍の者",
        "target.citizens_abroad": "在外邦人",
        "trigger.evidence": "根拠 (エビデンス)",
        "trigger.scheduled_review": "定期的な見直し",
        "trigger.court_ruling": "司法判断",
        "trigger.treaty_obligation": "条約上の義務",
        "trigger.emergency": "緊急事態",
        "trigger.electoral_pledge": "選挙公約",
        "trigger.public_pressure": "世論の圧力",
        "trigger.incident": "事件・事故",
        "trigger.other": "その他",
        "junit.passed": "このルールは該当しませんでした。",
        "sarif.proposal": "政策案",
    },
}


def word(key: str, lang: str) -> str:
    """A report word in `lang`, falling back to English."""
    return _WORDS.get(lang, _WORDS["en"]).get(key) or _WORDS["en"][key]


def term(group: str, value: str, lang: str) -> str:
    """A value of the document vocabulary (`area`, `target`, ...) as a reader of `lang` knows
    it; a value outside the vocabulary (targets are open) is shown as written."""
    key = f"{group}.{value}"
    found = _WORDS.get(lang, {}).get(key) or _WORDS["en"].get(key)
    return found or value


_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def format_date(value: dt.date | str, lang: str) -> str:
    """A calendar date as the reader expects it: `2019-04-01`, or `2019年4月1日` in Japanese.

    Takes a date or its ISO text (report evidence carries dates as ISO text); other text is
    returned unchanged.
    """
    if isinstance(value, dt.date):
        year, month, day = value.year, value.month, value.day
    else:
        match = _ISO_DATE.fullmatch(value)
        if match is None:
            return value
        year, month, day = (int(part) for part in match.groups())
    if lang == "ja":
        return f"{year}年{month}月{day}日"
    return f"{year:04d}-{month:02d}-{day:02d}"
