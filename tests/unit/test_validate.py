from kefu.nlu.validate import problems, responses_named_in_code


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


def test_rasas_own_retrieval_intent_merge_and_form_questions_are_not_failures():
    merged = "The following duplicated intents have been found across multiple domain files: faq, request_return"
    stray = "The following duplicated intents have been found across multiple domain files: greet"
    assert problems([merged, stray], set(), {"faq", "request_return"}) == [stray]


def test_form_questions_are_the_ask_responses_of_required_slots():
    from kefu.nlu.validate import form_questions

    domain = {"forms": {"f": {"required_slots": ["order_id", "phone_last4"]}}}
    assert form_questions(domain) == {"utter_ask_order_id", "utter_ask_phone_last4"}


def test_responses_the_code_composes_by_prefix_count_as_named():
    named = responses_named_in_code(domain_responses=["utter_label_shipped", "utter_topic_faq", "utter_nobody_sends"])
    assert {"utter_label_shipped", "utter_topic_faq"} <= named
    assert "utter_nobody_sends" not in named
