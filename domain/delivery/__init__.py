"""Webhook delivery (issue #17): signing and sending (`webhook`), and the background worker
that delivers each subscription's events in order, at least once (`worker`)."""
