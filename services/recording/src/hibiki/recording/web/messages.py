"""The words of the recordings page (``pages/recordings.html`` marks each with data-i18n="<key>"):
Japanese first, English selectable."""

from __future__ import annotations

PAGE: dict[str, dict[str, str]] = {
    "ja": {
        "title": "通話録音の検索と再生", "token": "アクセストークン", "tenant": "テナント", "from": "開始日",
        "to": "終了日", "agent": "オペレーター", "number": "電話番号", "queue": "キュー", "disposition": "案件種別",
        "lang": "言語", "search": "検索", "results": "検索結果", "start": "開始日時", "duration": "長さ",
        "caller": "発信者番号", "callee": "着信先", "did": "代表番号", "actions": "操作", "play": "再生",
        "download": "ダウンロード", "delete": "削除", "evaluate": "評価", "player": "再生中の録音",
        "nothing_playing": "録音を選んで「再生」を押してください", "confirm_title": "録音の削除",
        "confirm_text": "この録音を削除します。音声と記録は元に戻せません。", "confirm_delete": "削除する",
        "cancel": "キャンセル", "deleted": "削除しました", "loading": "読み込み中…", "found": "件見つかりました",
        "none": "該当する録音はありません", "error": "エラー", "evaluation": "品質評価", "form": "評価フォーム",
        "comment": "コメント", "save_score": "評価を保存", "saved": "評価を保存しました", "total": "合計点",
        "evaluator": "評価者", "at": "日時", "no_forms": "評価フォームがありません（録音管理者が作成します）",
        "scores": "オペレーター別の評価推移", "by": "集計単位", "by.day": "日", "by.week": "週", "by.month": "月",
        "show_scores": "表示", "period": "期間", "count": "評価数", "average": "平均点", "lowest": "最低",
        "highest": "最高", "no_scores": "評価はまだありません", "evaluations_of": "この録音の評価",
        "seconds": "秒", "selected": "選択中の録音", "audit": "アクセス記録（監査ログ）",
        "audit_text": "検索・再生・ダウンロード・削除・評価の記録（誰が、いつ、どこから）。録音管理者と監査担当者が取得できます。",
        "audit_csv": "監査ログ CSV ダウンロード",
    },
    "en": {
        "title": "Call recordings: search and play", "token": "Access token", "tenant": "Tenant", "from": "From",
        "to": "To", "agent": "Agent", "number": "Phone number", "queue": "Queue", "disposition": "Case type",
        "lang": "Language", "search": "Search", "results": "Results", "start": "Started", "duration": "Length",
        "caller": "Caller", "callee": "Callee", "did": "DID", "actions": "Actions", "play": "Play",
        "download": "Download", "delete": "Delete", "evaluate": "Evaluate", "player": "Now playing",
        "nothing_playing": "Choose a recording and press Play", "confirm_title": "Delete the recording",
        "confirm_text": "This recording will be deleted. The audio and its row cannot be restored.",
        "confirm_delete": "Delete", "cancel": "Cancel", "deleted": "Deleted", "loading": "Loading…",
        "found": "found", "none": "No recordings", "error": "Error", "evaluation": "Quality evaluation",
        "form": "Score form", "comment": "Comment", "save_score": "Save the evaluation", "saved": "Evaluation saved",
        "total": "Total", "evaluator": "Evaluator", "at": "When",
        "no_forms": "No score forms yet (a recording administrator creates them)",
        "scores": "Scores per agent over time", "by": "Group by", "by.day": "Day", "by.week": "Week",
        "by.month": "Month", "show_scores": "Show", "period": "Period", "count": "Evaluations",
        "average": "Average", "lowest": "Lowest", "highest": "Highest", "no_scores": "No evaluations yet",
        "evaluations_of": "Evaluations of this recording", "seconds": "s", "selected": "Selected recording",
        "audit": "Access record (audit trail)",
        "audit_text": "Every search, play, download, delete and evaluation (who, when, from where). For recording "
                      "administrators and auditors.",
        "audit_csv": "Download the audit trail (CSV)",
    },
}
