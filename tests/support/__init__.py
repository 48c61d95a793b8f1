"""What tests run besides the code under test, written once.

- :mod:`support.process`: one runner for external programs (start, wait until ready, log kept
  for the failure message, stop);
- :mod:`support.monitoring`: a real Prometheus and a real Alertmanager as processes;
- :mod:`support.alerting`: both with the project's rules and routes, wired to a relay;
- :mod:`support.smtp`, :mod:`support.rocketchat`: the SMTP server (aiosmtpd, TLS + AUTH) and
  the Rocket.Chat webhook stand-in;
- :mod:`support.relay`: ``napops-relay`` as a process, its test configuration, webhook bodies;
- :mod:`support.restic`: restic repositories copied from one real `restic init`, with a key
  that is cheap to open (scrypt at restic's own cost was most of restic's CPU in the suite);
- :mod:`support.fixtures`: pytest fixtures over these (import them into a conftest.py).
"""
