"""What the tests run against: local servers that speak the real wire
formats (WeChat, Telegram, IMAP and SMTP) and the production cluster."""
