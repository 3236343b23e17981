import json

from domain.i18n import msg, use_language
from domain.i18n.stored import render_stored, restored, stored


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
