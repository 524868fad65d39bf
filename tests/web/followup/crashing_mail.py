"""A mail backend for the worker-crash test: it logs each message it is handed to a file (the
"mail server" accepted it) and, after the N-th, kills its own process before the worker can
record the outcome, as a power cut or kill -9 would."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Any) -> int:
        log = Path(os.environ["PAINCLINIC_TEST_MAIL_LOG"])
        crash_after = int(os.environ.get("PAINCLINIC_TEST_CRASH_AFTER", "0"))
        for message in email_messages:
            with log.open("a", encoding="utf-8") as handle:
                handle.write(",".join(message.to) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            if crash_after and len(log.read_text(encoding="utf-8").splitlines()) >= crash_after:
                os._exit(9)
        return len(email_messages)
