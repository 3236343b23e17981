from domain.i18n import use_language
from domain.i18n.durations import duration, format_duration


def test_durations_read_in_english() -> None:
    with use_language("en"):
        assert format_duration(36 * 3600) == "1 d 12 h"
        assert format_duration(17 * 3600 + 22 * 60 + 5) == "17 h 22 min"
        assert format_duration(3 * 86400 + 3600) == "3 d 1 h"
        assert format_duration(59) == "0 min"
        assert format_duration(-5) == "0 min"


def test_durations_read_in_chinese() -> None:
    with use_language("zh-CN"):
        assert format_duration(36 * 3600) == "1天12小时"
        assert format_duration(17 * 3600 + 22 * 60 + 5) == "17小时22分钟"
        assert format_duration(3 * 86400) == "3天0小时"
        assert format_duration(125) == "2分钟"


def test_a_kept_duration_is_english_until_someone_reads_it() -> None:
    kept = duration(90 * 60)
    assert str(kept) == "1 h 30 min"
    with use_language("zh-CN"):
        assert format_duration(90 * 60) == "1小时30分钟"
