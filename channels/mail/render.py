"""Writing a reply mail: the bot messages of one turn as one mail, a text
part and an HTML alternative.

A mail cannot hold buttons: they are a numbered list (text part) and list
items (HTML part, never mailto links), numbered across the whole mail so that
every number means one thing. The reply continues the saved thread
(In-Reply-To, References) and carries ``Auto-Submitted: auto-replied``
(RFC 3834) so that well-behaved robots do not answer it. Nothing is sent
here: :mod:`channels.mail.output` sends.
"""
from __future__ import annotations

import html
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Dict, List, Optional, Sequence, Tuple

from kefu.core import responses
from kefu.state import Thread

BUTTON_HINT = responses.both("utter_notice_mail_button_hint")


_URL = re.compile(r"https?://[^\s<>\"']+")


def _html_text(text: str) -> str:
    escaped = html.escape(text or "")
    linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
    return linked.replace("\n", "<br>\n")


def render_reply(messages: Sequence[Dict[str, Any]]) -> Tuple[str, str, List[Dict[str, str]]]:
    """Bot messages (Rasa's dicts: text, buttons, image, attachment) as the
    text part, the HTML part and the numbered options, numbered across the
    whole mail so that every number means one thing."""
    text_blocks: List[str] = []
    html_blocks: List[str] = []
    options: List[Dict[str, str]] = []
    for message in messages:
        text, html_parts = [], []
        if message.get("text"):
            text.append(str(message["text"]))
            html_parts.append(f"<p>{_html_text(str(message['text']))}</p>")
        buttons = message.get("buttons") or message.get("quick_replies") or []
        if buttons:
            items = []
            for button in buttons:
                title = str(button.get("title") or button.get("payload") or "")
                url = button.get("url") if button.get("type") == "web_url" else None
                payload = str(button.get("payload") or title)
                if url:
                    text.append(f"- {title}: {url}")
                    items.append(f'<li><a href="{html.escape(str(url), quote=True)}">{html.escape(title)}</a></li>')
                    continue
                options.append({"title": title, "payload": payload})
                text.append(f"{len(options)}. {title}")
                items.append(f"<li value=\"{len(options)}\">{html.escape(title)}</li>")
            html_parts.append("<ol>" + "".join(items) + "</ol>")
        if message.get("image"):
            url = str(message["image"])
            text.append(url)
            html_parts.append(f'<p><img src="{html.escape(url, quote=True)}" alt="" style="max-width:100%"></p>')
        if message.get("attachment"):
            attachment = message["attachment"]
            url = attachment.get("payload", {}).get("src") if isinstance(attachment, dict) else str(attachment)
            if url:
                text.append(str(url))
                html_parts.append(f'<p><a href="{html.escape(str(url), quote=True)}">{html.escape(str(url))}</a></p>')
        if text:
            text_blocks.append("\n".join(text))
            html_blocks.append("\n".join(html_parts))
    if options:
        text_blocks.append(BUTTON_HINT)
        html_blocks.append(f"<p style=\"color:#888\">{html.escape(BUTTON_HINT)}</p>")
    body_html = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="font-family:sans-serif">' + "\n".join(html_blocks) + "</body></html>"
    )
    return "\n\n".join(text_blocks) + "\n", body_html, options


def build_reply(address: str, thread: Thread, messages: Sequence[Dict[str, Any]],
                message_id: Optional[str] = None) -> Tuple[EmailMessage, List[Dict[str, str]]]:
    """The reply mail in ``thread`` (text + HTML alternatives) and the
    numbered options it offers."""
    text, body_html, options = render_reply(messages)
    mail = EmailMessage()
    mail["From"] = address
    mail["To"] = thread.address
    mail["Subject"] = thread.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id or make_msgid(domain=address.rsplit("@", 1)[-1])
    if thread.last_message_id:
        mail["In-Reply-To"] = thread.last_message_id
    if thread.references:
        mail["References"] = thread.references
    mail["Auto-Submitted"] = "auto-replied"
    mail["X-Kefu-Reply"] = "1"
    mail.set_content(text, charset="utf-8")
    mail.add_alternative(body_html, subtype="html", charset="utf-8")
    return mail, options
