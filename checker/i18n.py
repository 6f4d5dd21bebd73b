"""Words of the reports in English and Japanese (terms from the glossary of Japanese practice).

Rule messages and principle titles come from the rule pack; this table holds only the words of
the report itself: headings, verdicts, kinds and severities.
"""

from __future__ import annotations

LANGUAGES = ("en", "ja")

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "report": "Consistency report",
        "proposal": "Proposal",
        "verdict": "Verdict",
        "findings": "Findings",
        "no_findings": "No findings: the proposal is consistent with the stated principles.",
        "principle": "Principle",
        "rule": "Rule",
        "kind": "Kind",
        "severity": "Severity",
        "message": "Finding",
        "remedy": "Remedy",
        "evidence": "Evidence",
        "related": "Related records",
        "source": "Rule source",
        "pack": "Rule pack",
        "engine": "Engine",
        "params": "Parameters",
        "summary": "Summary",
        "verdict.consistent": "consistent",
        "verdict.tension": "tension",
        "verdict.conflict": "conflict",
        "kind.conflict": "conflict",
        "kind.reversal": "reversal",
        "kind.tension": "tension",
        "kind.note": "note",
        "severity.high": "high",
        "severity.medium": "medium",
        "severity.low": "low",
        "fallback": "answered by the reference evaluator",
    },
    "ja": {
        "report": "整合性チェック報告書",
        "proposal": "政策案",
        "verdict": "判定",
        "findings": "指摘事項",
        "no_findings": "指摘事項はありません。政策案は表明された原則と整合しています。",
        "principle": "原則",
        "rule": "ルール",
        "kind": "種別",
        "severity": "重大度",
        "message": "指摘",
        "remedy": "改善策",
        "evidence": "根拠 (エビデンス)",
        "related": "関連する政策記録",
        "source": "ルールの定義箇所",
        "pack": "ルールパック",
        "engine": "エンジン",
        "params": "パラメータ",
        "summary": "概要",
        "verdict.consistent": "整合",
        "verdict.tension": "緊張関係 (要調整)",
        "verdict.conflict": "抵触",
        "kind.conflict": "抵触",
        "kind.reversal": "原則なき反転",
        "kind.tension": "緊張関係",
        "kind.note": "留意事項",
        "severity.high": "重大",
        "severity.medium": "中程度",
        "severity.low": "軽微",
        "fallback": "参照評価器による回答",
    },
}


def word(key: str, lang: str) -> str:
    """A report word in `lang`, falling back to English."""
    return _WORDS.get(lang, _WORDS["en"]).get(key) or _WORDS["en"][key]
