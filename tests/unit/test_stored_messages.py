import json

from domain.i18n import msg, use_language
from domain.i18n.stored import joined, render_sentence, render_stored, restored, stored, stored_sentences


def test_a_stored_message_is_json_and_renders_in_each_readers_language() -> None:
    message = msg(
        "the tracking aggregator gave up on {tracking}: {reason}", tracking="SF1", reason=msg("no courier record")
    )
    kept = json.loads(json.dumps(stored(message)))
    assert restored(kept) == message
    with use_language("en"):
        assert render_stored(kept, "ignored") == "the tracking aggregator gave up on SF1: no courier record"
    with use_language("zh-CN"):
        assert render_stored(kept, "ignored") == "物流查询平台放弃跟踪 SF1：快递公司无记录"


def test_rows_written_before_keep_their_text() -> None:
    assert render_stored(None, "as written") == "as written"
    assert render_stored({"message": 3}, "as written") == "as written"
    assert render_stored({"message": "x", "params": []}, "as written") == "as written"


def test_a_rows_sentences_are_kept_by_column_and_a_plain_text_forgets_them() -> None:
    notes = joined([msg("{code}: backed off {seconds} s", code="HTTP_429", seconds="2"), msg("rate limited")])
    assert notes is not None and joined([]) is None
    assert str(notes) == "HTTP_429: backed off 2 s; rate limited"
    sentences = json.loads(json.dumps(stored_sentences(last_note=notes, last_code="HTTP_429")))
    assert list(sentences) == ["last_note"]  # a plain text is no sentence of ours
    with use_language("zh-CN"):
        assert render_sentence(sentences, "last_note", str(notes)) == "HTTP_429：等待 2 秒后重试；被限流"
        assert render_sentence(sentences, "last_code", "HTTP_429") == "HTTP_429"
        assert render_sentence(None, "last_note", "as written") == "as written"
    assert stored_sentences(last_message="the channel's own words") is None
