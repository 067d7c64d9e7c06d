"""Which reasons call for photos, and what a typed answer to "please send
photos" means when the model was unsure of it."""
from __future__ import annotations

import pytest

from kefu.evidence.reasons import needs_photos, photo_answer


@pytest.mark.parametrize("reason", ["收到的时候杯子就碎了", "屏幕有划痕", "发错货了，不是我买的颜色", "质量太差 开线了",
                                    "the mug arrived broken", "wrong colour sent", "it doesn't work at all"])
def test_damage_wrong_items_and_faults_call_for_photos(reason):
    assert needs_photos(reason)


@pytest.mark.parametrize("reason", ["尺码偏小了，不合适", "不想要了", "买多了", "changed my mind", "too small for me",
                                    ""])
def test_a_change_of_mind_needs_no_photo(reason):
    assert not needs_photos(reason)


@pytest.mark.parametrize("text, meaning", [("好了", "done"), ("发完了", "done"), ("就这些", "done"),
                                           ("done", "done"), ("that's all", "done"), ("跳过", "skipped"),
                                           ("没有照片 拍不了", "skipped"), ("skip", "skipped"),
                                           ("I don't have any photos", "skipped"), ("杯子是蓝色的", None),
                                           ("my booking", None), ("", None)])
def test_a_typed_answer_is_read_skip_first(text, meaning):
    assert photo_answer(text) == meaning
