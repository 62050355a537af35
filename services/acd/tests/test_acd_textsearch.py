"""The desktop's Japanese text folding and FAQ search (``desktop.textsearch``), by property."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.acd.desktop.textsearch import Article, fold, search

JAPANESE = st.text(alphabet=st.sampled_from(
    "あいうえおかがきぎくさしすせそたちつてとなにぬねのはばぱまみむめもやゆよらりるれろわをんー"
    "アイウエオカガキギクサシスセソタチツテトヴャュョッｱｲｳｶﾞｷﾞﾊﾟｰ住民票写請求窓口申分別高髙橋辺邊斎齋浜濵"
    "ＡＢＣａｂｃABCabc０１２3 　-・「」"), max_size=30)
ANY = st.text(max_size=30)


@given(st.one_of(JAPANESE, ANY))
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(st.text(alphabet=st.characters(min_codepoint=0x3041, max_codepoint=0x3096), max_size=20))
def test_hiragana_katakana_and_half_width_fold_alike(hiragana: str) -> None:
    katakana = "".join(chr(ord(c) + 0x60) for c in hiragana)
    assert fold(hiragana) == fold(katakana)


def test_examples_fold_alike() -> None:
    assert fold("ｻﾄｳ　タロウ") == fold("さとう たろう") == fold("サトウタロウ")
    assert fold("髙橋") == fold("高橋") and fold("渡邊") == fold("渡辺") and fold("ＡＢＣ") == fold("abc")
    assert fold("ｶﾞｽ") == fold("ガス") == fold("がす")


@settings(max_examples=300)
@given(st.lists(st.tuples(st.one_of(JAPANESE, ANY), JAPANESE), min_size=1, max_size=6), st.data())
def test_article_found_by_any_substring_of_its_folded_title(rows: list[tuple[str, str]], data: st.DataObject) -> None:
    articles = [Article(f"a{i}", title, body) for i, (title, body) in enumerate(rows)]
    target = data.draw(st.sampled_from(articles))
    title = fold(target.title)
    if not title:
        return
    start = data.draw(st.integers(0, len(title) - 1))
    end = data.draw(st.integers(start + 1, len(title)))
    assert target.id in {f.article.id for f in search(title[start:end], articles, limit=len(articles))}


@given(JAPANESE, JAPANESE)
def test_search_typed_in_another_script_finds_the_same(title: str, body: str) -> None:
    """Typed in hiragana, half-width katakana or full-width letters, a title is found as typed in its own script."""
    articles = [Article("x", title, body)]
    typed = "".join(chr(ord(c) - 0x60) if 0x30A1 <= ord(c) <= 0x30F6 else c for c in fold(title))
    if fold(title):
        assert [f.article.id for f in search(typed, articles)] == ["x"]


def test_ranking_and_misses() -> None:
    articles = [Article("1", "住民票の写しの請求", "窓口かオンラインで申請してください"),
                Article("2", "ゴミの分別", "燃えるごみは月曜、住民票とは関係ありません"),
                Article("3", "犬の登録", "狂犬病の予防注射")]
    assert [f.article.id for f in search("住民票", articles)] == ["1", "2"]
    assert [f.article.id for f in search("ごみ", articles)] == ["2"]
    assert [f.article.id for f in search("ｵﾝﾗｲﾝ", articles)] == ["1"]
    assert search("ﾊﾟｽﾎﾟｰﾄ", articles) == [] and search("  ", articles) == []
