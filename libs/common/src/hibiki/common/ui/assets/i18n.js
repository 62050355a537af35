// The messages every Hibiki page shares (Japanese first). A page adds its own with addMessages().
export const COMMON = {
  ja: {
    "hb.brand": "響き Hibiki", "hb.skip": "本文へ移動", "hb.nav": "メニュー", "hb.lang": "言語",
    "hb.logout": "ログアウト", "hb.login": "ログイン", "hb.user": "ログイン中: {name}",
    "hb.console": "管理コンソール", "hb.me": "マイページ", "hb.reports": "実績レポート", "hb.planning": "要員計画",
    "hb.recordings": "通話録音", "hb.wallboard": "ウォールボード",
    "hb.save": "保存", "hb.create": "追加", "hb.delete": "削除", "hb.edit": "編集", "hb.cancel": "キャンセル",
    "hb.confirm": "確認", "hb.close": "閉じる", "hb.search": "検索", "hb.loading": "読み込み中…", "hb.saved": "保存しました",
    "hb.deleted": "削除しました", "hb.none": "ありません", "hb.yes": "はい", "hb.no": "いいえ", "hb.actions": "操作",
    "hb.error": "エラー: {message}", "hb.error.field": "エラー（{field}）: {message}",
    "hb.error.network": "サーバーに接続できません", "hb.error.401": "ログインが必要です", "hb.error.403": "この操作の権限がありません",
  },
  en: {
    "hb.brand": "Hibiki", "hb.skip": "Skip to content", "hb.nav": "Menu", "hb.lang": "Language",
    "hb.logout": "Log out", "hb.login": "Log in", "hb.user": "Logged in: {name}",
    "hb.console": "Console", "hb.me": "My page", "hb.reports": "Reports", "hb.planning": "Planning",
    "hb.recordings": "Recordings", "hb.wallboard": "Wallboard",
    "hb.save": "Save", "hb.create": "Add", "hb.delete": "Delete", "hb.edit": "Edit", "hb.cancel": "Cancel",
    "hb.confirm": "Confirm", "hb.close": "Close", "hb.search": "Search", "hb.loading": "Loading…", "hb.saved": "Saved",
    "hb.deleted": "Deleted", "hb.none": "None", "hb.yes": "Yes", "hb.no": "No", "hb.actions": "Actions",
    "hb.error": "Error: {message}", "hb.error.field": "Error ({field}): {message}",
    "hb.error.network": "The server cannot be reached", "hb.error.401": "Please log in", "hb.error.403": "You may not do this",
  },
};
