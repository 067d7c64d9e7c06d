from kefu.privacy import mask_email, mask_name, mask_phone, redact


def test_mask_phone():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("123") == "****"


def test_mask_name_and_email():
    assert mask_name("张三丰") == "张**"
    assert mask_name("") == "*"
    assert mask_email("li.lei@example.com") == "l***@example.com"


def test_redact_free_text():
    text = "我手机13812345678，邮箱li.lei@example.com，订单2611240000012345"
    assert redact(text) == "我手机138****5678，邮箱l***@example.com，订单2611240000012345"
