"""Which reasons for a return, an exchange or a complaint call for photos.

A person deciding on damage, a wrong item or a quality fault wants to see
it; "changed my mind" or "too small" needs no photo, and asking for one
would only slow the shopper down. Words, not a model: the list is short,
its mistakes are cheap (a shopper may always say 跳过 / skip), and a
trainer can read and extend it.
"""
from __future__ import annotations

import re

_ZH = ("破", "坏", "碎", "裂", "烂", "漏", "划痕", "刮花", "凹", "瘪", "变形", "损", "脏", "污", "霉", "发错",
       "错发", "寄错", "不是我买的", "不是我要的", "货不对", "颜色不对", "型号不对", "少件", "缺件", "少发", "漏发",
       "质量", "瑕疵", "次品", "残次", "假货", "不亮", "不转", "开不了机", "开不机", "故障", "失灵", "掉色", "起球",
       "开线", "脱胶", "异味")
_EN = re.compile(r"\b(broken|broke|damaged?|crack(ed)?|shattered|dent(ed)?|scratch(ed|es)?|torn|leak(ing|ed)?|"
                 r"stain(ed)?|dirty|mou?ldy?|wrong (item|size|colou?r|model|product)|not what i ordered|"
                 r"missing (part|parts|piece|pieces)|defect(ive|s)?|faulty|fake|counterfeit|quality|"
                 r"doesn'?t work|does not work|not working|won'?t (turn on|charge))\b", re.IGNORECASE)


def needs_photos(reason: str) -> bool:
    text = reason or ""
    return any(word in text for word in _ZH) or bool(_EN.search(text))


_DONE_ZH = ("好了", "好啦", "发完", "传完", "拍完", "就这些", "就这几张", "没有了", "没了", "可以了", "行了", "完成")
_SKIP_ZH = ("跳过", "不拍", "拍不了", "没法拍", "没有照片", "没照片", "没有图", "不方便拍", "算了", "不用了")
_DONE_EN = re.compile(r"\b(done|finished|that'?s (all|it)|all sent|sent (them|it)|ok(ay)?|ready)\b", re.IGNORECASE)
_SKIP_EN = re.compile(r"\b(skip|no photos?|no pictures?|can'?t (take|send)|don'?t have (any|a) (photo|picture)s?|"
                      r"none)\b", re.IGNORECASE)


def photo_answer(text: str) -> str | None:
    """What a typed answer to "please send photos" means when the model was
    unsure of it: ``"skipped"``, ``"done"`` or None (not an answer). Skipping
    is read first: 没有照片 ("no photos") also ends in 没了-like words."""
    lowered = (text or "").strip().lower()
    if any(word in lowered for word in _SKIP_ZH) or _SKIP_EN.search(lowered):
        return "skipped"
    if any(word in lowered for word in _DONE_ZH) or _DONE_EN.search(lowered):
        return "done"
    return None
