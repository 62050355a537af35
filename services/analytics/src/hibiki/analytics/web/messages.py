"""The message catalogue of the reports, history and planning pages and exports: Japanese
first, English selectable (``lang=en``). Keys are the API's field names."""

from __future__ import annotations

LANGS = ("ja", "en")

COLUMNS: dict[str, dict[str, str]] = {
    "ja": {
        "key": "区分", "incoming": "着信件数", "offered": "受付呼数", "answered": "応答件数", "abandoned": "放棄呼数",
        "abandoned_queue": "放棄（待ち呼）", "abandoned_ivr": "放棄（IVR）", "abandon_rate": "放棄呼率",
        "service_level": "サービスレベル", "asa_seconds": "平均応答時間（秒）", "aht_seconds": "平均処理時間（秒）",
        "att_seconds": "平均通話時間（秒）", "avg_hold_seconds": "平均保留時間（秒）", "transfers": "転送件数",
        "overflowed": "オーバーフロー", "fcr_rate": "一次回答率", "breaches": "SLA未達",
        "node_lost": "障害切断（待ち呼）",
        "call_id": "通話ID", "kind": "種別", "start_time": "開始", "answer_time": "応答", "end_time": "終了",
        "talk_seconds": "通話時間（秒）", "other_number": "相手番号", "other_name": "相手名", "user_id": "ユーザー",
        "did": "着信番号",
    },
    "en": {
        "key": "Group", "incoming": "Incoming", "offered": "Offered", "answered": "Answered", "abandoned": "Abandoned",
        "abandoned_queue": "Abandoned in queue", "abandoned_ivr": "Abandoned in IVR", "abandon_rate": "Abandon rate",
        "service_level": "Service level", "asa_seconds": "ASA (s)", "aht_seconds": "AHT (s)", "att_seconds": "ATT (s)",
        "avg_hold_seconds": "Average hold (s)", "transfers": "Transfers", "overflowed": "Overflowed",
        "fcr_rate": "First-contact resolution", "breaches": "SLA breaches",
        "node_lost": "Lost with a switch node (in queue)",
        "call_id": "Call id", "kind": "Kind", "start_time": "Start", "answer_time": "Answered", "end_time": "End",
        "talk_seconds": "Talk (s)", "other_number": "Other number", "other_name": "Other name", "user_id": "User",
        "did": "DID",
    },
}

VALUES: dict[str, dict[str, str]] = {
    "ja": {"service_level": "サービスレベル", "abandon_rate": "放棄呼率", "aht": "平均処理時間", "att": "平均通話時間",
           "incoming": "着信", "outgoing": "発信", "missed": "不在着信", "total": "合計"},
    "en": {"service_level": "service level", "abandon_rate": "abandon rate", "aht": "AHT", "att": "ATT",
           "incoming": "incoming", "outgoing": "outgoing", "missed": "missed", "total": "total"},
}


def lang_of(value: str | None) -> str:
    return value if value in LANGS else "ja"


def header(columns: tuple[str, ...], lang: str) -> list[str]:
    return [COLUMNS[lang].get(c, c) for c in columns]


def value(text: str, lang: str) -> str:
    return VALUES[lang].get(text, text)

# The pages' own words (``pages/*.html`` mark each with data-i18n="<key>").
PAGE: dict[str, dict[str, str]] = {
    "ja": {
        "reports.title": "コールセンター実績レポート", "planning.title": "要員計画（アーラン C）",
        "token": "アクセストークン", "tenant": "テナント", "from": "開始日", "to": "終了日", "by": "集計単位",
        "queue": "キュー", "agent": "オペレーター", "did": "着信番号", "disposition": "案件種別", "lang": "言語", "skip": "本文へ移動", "nav": "メニュー",
        "show": "表示", "csv": "CSV ダウンロード", "xlsx": "Excel ダウンロード", "loading": "読み込み中…",
        "done": "表示しました", "error": "エラー", "breach": "未達", "met": "達成", "targets": "SLA 目標",
        "by.total": "合計", "by.interval": "30分", "by.hour": "時間", "by.day": "日", "by.dow": "曜日",
        "by.month": "月", "by.queue": "キュー", "by.agent": "オペレーター", "by.did": "着信番号",
        "by.disposition": "案件種別", "by.transfer_target": "転送先", "calls": "呼数（区間あたり）",
        "aht_seconds": "平均処理時間（秒）",
        "interval_minutes": "区間（分）", "target_seconds": "目標応答時間（秒）", "service_level": "目標サービスレベル（%）",
        "shrinkage": "シュリンケージ（%）", "expected_level": "サービスレベル（見込み）", "max_occupancy": "最大稼働率（%）", "needed": "必要オペレーター数",
        "scheduled": "配置必要数（シュリンケージ込み）", "probability_wait": "待ち確率", "asa_seconds": "平均応答時間（秒）",
        "occupancy": "稼働率", "agents": "オペレーター数", "traffic": "呼量（アーラン）", "no_rows": "該当する通話はありません",
        "dow.1": "月", "dow.2": "火", "dow.3": "水", "dow.4": "木", "dow.5": "金", "dow.6": "土", "dow.7": "日",
    },
    "en": {
        "reports.title": "Contact center report", "planning.title": "Staff planning (Erlang C)",
        "token": "Access token", "tenant": "Tenant", "from": "From", "to": "To", "by": "Group by",
        "queue": "Queue", "agent": "Agent", "did": "DID", "disposition": "Case type", "lang": "Language", "skip": "Skip to content", "nav": "Menu",
        "show": "Show", "csv": "Download CSV", "xlsx": "Download Excel", "loading": "Loading…",
        "done": "Shown", "error": "Error", "breach": "missed", "met": "met", "targets": "SLA targets",
        "by.total": "Total", "by.interval": "30 minutes", "by.hour": "Hour", "by.day": "Day", "by.dow": "Weekday",
        "by.month": "Month", "by.queue": "Queue", "by.agent": "Agent", "by.did": "DID",
        "by.disposition": "Case type", "by.transfer_target": "Transfer target",
        "calls": "Calls per interval", "aht_seconds": "Average handle time (s)",
        "interval_minutes": "Interval (minutes)", "target_seconds": "Answer within (s)",
        "service_level": "Service level target (%)", "shrinkage": "Shrinkage (%)",
        "expected_level": "Service level (expected)", "max_occupancy": "Max occupancy (%)",
        "needed": "Agents needed", "scheduled": "Agents to roster (with shrinkage)", "probability_wait": "P(wait)",
        "asa_seconds": "ASA (s)", "occupancy": "Occupancy", "agents": "Agents", "traffic": "Traffic (Erlangs)",
        "no_rows": "No calls", "dow.1": "Mon", "dow.2": "Tue", "dow.3": "Wed", "dow.4": "Thu", "dow.5": "Fri",
        "dow.6": "Sat", "dow.7": "Sun",
    },
}
