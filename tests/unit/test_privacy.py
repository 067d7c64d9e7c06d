"""Masking and anonymising personal data: what replies, the desk, logs and
analytics may show."""
import pytest

from kefu.core.privacy import anonymise, mask_email, mask_name, mask_phone, redact


def test_a_phone_never_shows_the_digits_that_prove_an_order():
    assert mask_phone("13812345678") == "138********"
    assert "5678" not in mask_phone("13800005678")
    assert mask_phone("123") == "****"


def test_mask_name_and_email():
    assert mask_name("张三丰") == "张**"
    assert mask_name("") == "*"
    assert mask_email("li.lei@example.com") == "l***@example.com"


def test_redact_masks_phones_and_emails_for_staff():
    text = "我手机13812345678，邮箱li.lei@example.com，订单2611240000012345"
    assert redact(text) == "我手机138********，邮箱l***@example.com，订单2611240000012345"


@pytest.mark.parametrize("text, expected", [
    ("我手机13812345678，邮箱li.lei@example.com，订单2611240000012345", "我手机<phone>，邮箱<email>，订单<order>"),
    ("地址改到上海市浦东新区张江路88号3栋1201室 谢谢", "地址改到<address> 谢谢"),
    ("浙江省杭州市余杭区文一西路969号", "<address>"),
    ("5678", "<digits>"),
    ("尾号5678", "尾号<digits>"),
    ("身份证110101199003074512", "身份证<id>"),
    ("上海某某科技有限公司 91310000MA1K4AB12X", "上海某某科技有限公司 <id>"),
    ("座机020-88886666", "座机<phone>"),
    ("卡号6222 0212 3456 7890 123", "卡号<number>"),
    ("ship it to 221B Baker Street please", "ship it to <address> please"),
    ("我要3件 价格199元 在北京", "我要3件 价格199元 在北京"),
])
def test_anonymise_replaces_personal_data_and_keeps_the_words(text, expected):
    assert anonymise(text) == expected
