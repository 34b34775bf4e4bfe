"""Delivery of the event stream to partners' systems (issue #17). Webhooks: signing and
sending (`webhook`), and the background worker that delivers each subscription's events in
order, at least once (`worker`). AMQP: the publisher with confirms (`amqp`), its
background thread (`amqp_worker`) and its source over the outbox (`amqp_stream`)."""
