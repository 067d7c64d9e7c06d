from kefu.validate import problems, responses_named_in_code


def test_responses_sent_by_actions_are_found_in_the_code():
    named = responses_named_in_code()
    assert {"utter_order_status", "utter_backend_down", "utter_verification_locked"} <= named


def test_only_truly_unused_responses_and_other_warnings_fail():
    messages = [
        "The utterance 'utter_order_status' is not used in any story or rule.",
        "The utterance 'utter_forgotten' is not used in any story or rule.",
        "Slot auto-fill has been removed in 3.0 and replaced with a new explicit mechanism",
        "The intent 'greet' is not used in any story or rule.",
    ]
    assert problems(messages, {"utter_order_status"}) == [messages[1], messages[3]]
