"""Delivery of the event stream to partners' systems (webhooks, AMQP)."""
