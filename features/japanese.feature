# language: ja
機能: 原則なき政策転換の検出
  選挙日程ではなく根拠に基づいて政策の方向性を定めることが、均衡ある共生モデルの要請である。
  行政書士や政策担当者が、公表前の政策案について原則との抵触を確認する。

  背景:
    前提 ルールパック "rules" を使う
    かつ 次の政策履歴がある:
      | id              | effective_on | direction | target              |
      | JP-2024-SSW-CAP | 2024-04-01   | expand    | low_skilled_workers |

  シナリオ: 根拠を示さずに拡大措置を覆す公約は原則なき反転に当たる
    前提 次の内容の政策案がある:
      | 項目                          | 値                  |
      | target                        | low_skilled_workers |
      | direction                     | restrict            |
      | magnitude                     | major               |
      | context.announced_in_campaign | true                |
      | effective_on                  | 2026-04-01          |
      | proposed_on                   | 2025-07-01          |
    もし 政策案を "ja" で検査する
    ならば 判定は "conflict" である
    かつ ルール "unprincipled_reversal" の指摘があり、種別は "reversal"、重大度は "high" である
    かつ ルール "unprincipled_reversal" の指摘は "JP-2024-SSW-CAP" に基づく
    かつ ルール "unprincipled_reversal" の指摘に "原則なき反転" が含まれる
    かつ ルール "unprincipled_reversal" の指摘に "2024年4月1日" が含まれる

  シナリオ: 司法判断に基づく見直しは原則に基づく転換である
    前提 次の内容の政策案がある:
      | 項目              | 値                  |
      | target            | low_skilled_workers |
      | direction         | restrict            |
      | effective_on      | 2026-04-01          |
      | rationale.trigger | court_ruling        |
    もし 政策案を "ja" で検査する
    ならば ルール "unprincipled_reversal" の指摘はない

  シナリオ: 法的根拠のない変更は法的整合性に抵触する
    前提 次の内容の政策案がある:
      | 項目        | 値 |
      | legal_basis | [] |
    もし 政策案を "ja" で検査する
    ならば 判定は "conflict" である
    かつ ルール "legal_basis_required" の指摘に "法的根拠" が含まれる
