"""Kefu's channel connectors: one Rasa InputChannel (and its OutputChannel)
per channel. The channel's wire format stays in its module; what connectors
share (retries, message claims, tokens) is in `channels.delivery` and
`kefu.state`."""
