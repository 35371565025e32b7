"""A mail backend for the tests whose mail is sent by worker processes (tests/worker.py), where Django's
locmem outbox cannot be read: each message is written to a file of its own in $TEST_MAILBOX, named by the
sending process, after a pause ($TEST_MAIL_SECONDS) as a mail server's, so two racing workers overlap."""

import os
import time
import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


class FolderBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            time.sleep(float(os.environ.get("TEST_MAIL_SECONDS", "0")))
            name = f"{os.getpid()}-{uuid.uuid4().hex}.eml"
            (Path(os.environ["TEST_MAILBOX"]) / name).write_bytes(message.message().as_bytes())
        return len(email_messages)
