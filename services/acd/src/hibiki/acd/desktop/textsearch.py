"""Japanese text as people type it, and the FAQ search built on it (no search server).

``fold`` is the form texts are compared in: NFKC (full/half width, compatibility ideographs
such as 﨑 -> 崎), case folded, hiragana as katakana (さとう = サトウ = ｻﾄｳ), a few common kanji
variants as their usual form (髙 -> 高, 邊/邉 -> 辺, 齋/齊 -> 斎, 濵 -> 浜), without spaces.
The search scores each article by the query's character bigrams (single characters for a
one-character query) found in its folded title and body: a folded substring of the title or the
body is always found, ranked title first; other articles must share most of the query's bigrams.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_HIRAGANA: dict[int, int | str] = {code: code + 0x60 for code in range(0x3041, 0x3097)}   # ぁ..ゖ -> ァ..ヶ
_VARIANTS: dict[int, int | str] = {ord(k): v for k, v in {"髙": "高", "邊": "辺", "邉": "辺", "齋": "斎", "齊": "斉", "濵": "浜",
                                     "濱": "浜", "嶋": "島", "廣": "広", "澤": "沢", "櫻": "桜", "國": "国",
                                     "眞": "真", "龍": "竜", "﨑": "崎"}.items()}
_TABLE: dict[int, int | str] = {**_HIRAGANA, **_VARIANTS}
MATCH_RATIO = 0.75     # the share of the query's bigrams an article without the whole query needs


def fold(text: str) -> str:
    """The form texts are compared in (idempotent: ``fold(fold(t)) == fold(t)``)."""
    once = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return unicodedata.normalize("NFKC", "".join(once.split()).translate(_TABLE))


def grams(folded: str) -> set[str]:
    """The character bigrams of a folded text (the text itself when shorter than two)."""
    if len(folded) < 2:
        return {folded} if folded else set()
    return {folded[i:i + 2] for i in range(len(folded) - 1)}


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Found:
    article: Article
    score: float


def search(query: str, articles: Iterable[Article], limit: int = 20) -> list[Found]:
    """The articles matching ``query`` best first: the whole folded query in the title (1.0 + ...),
    in the body or tags (1.0), else the share of its bigrams found (at least ``MATCH_RATIO``)."""
    wanted = fold(query)
    if not wanted:
        return []
    query_grams = grams(wanted)
    found: list[Found] = []
    for article in articles:
        title = fold(article.title)
        rest = fold(article.body + "\n" + "\n".join(article.tags))
        if wanted in title:
            score = 2.0 + len(wanted) / max(len(title), 1)
        elif wanted in rest:
            score = 1.0
        else:
            have = grams(title) | grams(rest)
            share = len(query_grams & have) / len(query_grams)
            if share < MATCH_RATIO:
                continue
            score = share * 0.99
        found.append(Found(article, score))
    found.sort(key=lambda f: (-f.score, f.article.title, f.article.id))
    return found[:limit]


def contact_matches(caller_name: str, contact_name: str) -> bool:
    """Whether two names are the same once folded (the screen pop's kana-insensitive match)."""
    return bool(fold(caller_name)) and fold(caller_name) == fold(contact_name)
