"""Development sinks: a mail catcher and a Rocket.Chat incoming-webhook catcher.

For the local stack only (compose/env/dev/napops.yml): the relay delivers to them, and
``napops dev inbox`` shows what arrived. Never part of a production stack.
"""
